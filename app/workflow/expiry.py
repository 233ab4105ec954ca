"""The daily expiry scan (效期预警): near-expiry and expired lots per location, to their managers.

A lot is *expired* the day after its expiry date and *near expiry* within its item's
``near_expiry_days`` (default 90). The scan reads the balances (goods in transit are the
destination's to flag once they arrive), groups what it finds by location and leaves one inbox
message a day for each manager of that location (store manager, warehouse supervisor). Running
it again the same day notifies nobody twice, so cron and an on-demand run may both fire it.
Selling expired stock is refused by the kernel itself; the scan only tells people.

Cron runs it as ``lianku enqueue expiry_scan --run``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import plain_quantity
from app.i18n import _l
from app.kernel import jobs
from app.kernel.items import Item, Lot, business_today, within_near_expiry
from app.kernel.locations import Location, LocationType
from app.kernel.stock import StockBalance
from app.meta import access
from app.workflow.reminders import tell_once

KIND = "expiry"
#: How many lots one message lists before it says "and N more".
LISTED = 8


@dataclass
class LocationFindings:
    location: Location
    expired: list[tuple[Lot, Item, Decimal]] = field(default_factory=list)
    near: list[tuple[Lot, Item, Decimal]] = field(default_factory=list)


def find(session: Session, today: dt.date) -> list[LocationFindings]:
    """Every location's expired and near-expiry lots on ``today`` (on hand in any status)."""
    latest = today + dt.timedelta(days=max_threshold(session))
    rows = session.execute(
        select(Location, Lot, Item, func.sum(StockBalance.on_hand))
        .join(Location, Location.id == StockBalance.location_id)
        .join(Lot, Lot.id == StockBalance.lot_id)
        .join(Item, Item.id == StockBalance.item_id)
        .where(
            StockBalance.on_hand > 0,
            Location.type != LocationType.transit,
            Lot.expiry_date.is_not(None),
            Lot.expiry_date <= latest,
        )
        .group_by(Location.id, Lot.id, Item.id)
        .order_by(Location.code, Lot.expiry_date, Item.code, Lot.lot_number)
    ).all()
    found: dict[int, LocationFindings] = {}
    for location, lot, item, on_hand in rows:
        findings = found.setdefault(location.id, LocationFindings(location))
        if lot.expiry_date < today:
            findings.expired.append((lot, item, on_hand))
        elif within_near_expiry(lot.expiry_date, item.near_expiry_days, today):
            findings.near.append((lot, item, on_hand))
    return [f for f in found.values() if f.expired or f.near]


def max_threshold(session: Session) -> int:
    """The largest near-expiry threshold of any item: how far ahead the scan must look."""
    thresholds = session.scalars(select(Item.near_expiry_days).distinct()).all()
    return max(thresholds, default=0)


def scan(session: Session, today: dt.date | None = None) -> dict:
    """Find, and notify each location's managers once per day; returns the counts per location."""
    today = today or business_today()
    result = {"day": today.isoformat(), "locations": {}, "notified": 0}
    for findings in find(session, today):
        code = findings.location.code
        result["locations"][code] = {"expired": len(findings.expired), "near": len(findings.near)}
        result["notified"] += _notify(session, findings, today)
    session.flush()
    return result


def _notify(session: Session, findings: LocationFindings, today: dt.date) -> int:
    managers = access.managers_of(session, findings.location.id)
    key = f"[{today.isoformat()}] {findings.location.code} "
    return tell_once(session, KIND, managers, key, _message(findings))


def _message(findings: LocationFindings) -> dict:
    """In both languages: each reader reads their own (``InboxMessage.text``)."""
    kinds = {"zh_CN": ("过期", "近效期"), "en": ("expired", "near expiry")}
    return {
        language: " ".join(_parts(findings, expired, near))
        for language, (expired, near) in kinds.items()
    }


def _parts(findings: LocationFindings, expired: str, near: str) -> list[str]:
    parts = [f"{findings.location.name}:"]
    for label, lots in ((expired, findings.expired), (near, findings.near)):
        if lots:
            listed = ", ".join(
                f"{item.code} {lot.lot_number} ({lot.expiry_date}) × {plain_quantity(quantity)}"
                for lot, item, quantity in lots[:LISTED]
            )
            more = f" +{len(lots) - LISTED}" if len(lots) > LISTED else ""
            parts.append(f"{label} {len(lots)}: {listed}{more}.")
    return parts


@jobs.handler("expiry_scan", label=_l("Expiry scan"))
def _expiry_job(run: jobs.JobRun) -> dict:
    day = run.params.get("day")
    with run.database.transaction() as session:
        return scan(session, dt.date.fromisoformat(day) if day else None)
