"""Running the replenishment plan (补货建议) and landing it as suggestion records.

The kernel plans (``app/kernel/replenishment.py``) from SQL selectables; this module builds
them from the application's records — the stock policies, and what open documents already
promise — and writes the plan as ``replenishment`` records, one draft per location: the one
needing the goods, or holding the near-expiry stock. Their approval creates the transfer
requests, purchase orders and supplier returns (``app/plugins/replenishment.py``).

Open commitments, so that a second run never orders twice:

* transfer requests in draft or in approval, and transfer outs not shipped yet: incoming at the
  destination, outgoing at the source (once shipped, the kernel sees the goods in transit);
* purchase orders in draft, in approval or approved, less what receipts against them brought in
  (received goods are on hand, awaiting inspection or available): incoming;
* replenishment suggestions in draft or in approval: their lines, as the documents they become.

Policies are read from the kernel's typed ``stock_policies`` table, a mirror of the
``stock_policy`` records kept in step by every save, edit or delete of one (``app.meta.mirrors``):
extracting five fields from 2M JSON documents on every run cost more than the rest of the plan
(bench/README.md, "replenishment.py").

The plan runs as the job ``replenishment`` (the page's button, or ``lianku enqueue replenishment
--run`` from cron) as the user who asked, planning the locations in their data scope; cron runs
it as the chain's planner.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from app.config import load_settings
from app.db import Quantity
from app.i18n import _, _l
from app.kernel import jobs
from app.kernel import replenishment as kernel
from app.kernel.items import business_today
from app.kernel.locations import Location
from app.kernel.users import User
from app.meta import access, mirrors, records
from app.meta.form_sources import extract, lines_table
from app.meta.models import Record
from app.meta.registry import Registry, build, refresh
from app.meta.sources import building

log = logging.getLogger("lianku.replenishment")

FORM = "replenishment"
#: States in which a document still promises goods it has not moved yet.
OPEN = {
    "transfer_request": ("draft", "in_approval"),
    "transfer_out": ("draft",),
    "purchase_order": ("draft", "in_approval", "approved"),
    FORM: ("draft", "in_approval"),
}
#: How many ids one ``IN`` list carries (SQLite's bound-parameter limit is far above).
CHUNK = 1000


def chain_planner() -> access.JobActor:
    """Who the plan runs as when cron starts it: the planner role, over the whole chain."""
    return access.JobActor("planner", "补货计划 / replenishment planner", "planner")


def plan_settings(registry: Registry) -> kernel.PlanSettings:
    given = registry.metadata.settings.get("replenishment") or {}
    values = {**given}
    if "warehouse_reserve" in values:
        values["warehouse_reserve"] = Decimal(str(values["warehouse_reserve"]))
    return kernel.PlanSettings(**values)


POLICY_FORM = "stock_policy"


def _policy_row(record: Record) -> dict | None:
    """A ``stock_policy`` record as its ``stock_policies`` row (None: incomplete or cancelled)."""
    data = record.data or {}
    if record.state == "cancelled":
        return None
    try:
        location, item = int(data["location"]), int(data["item"])
    except (KeyError, TypeError, ValueError):
        return None

    def quantity(name: str) -> Decimal | None:
        value = data.get(name)
        return None if value in (None, "") else Decimal(str(value))

    return {
        "location_id": location,
        "item_id": item,
        "safety_stock": quantity("safety_stock") or Decimal(0),
        "reorder_point": quantity("reorder_point") or Decimal(0),
        "max_stock": quantity("max_stock"),
    }


mirrors.mirror(POLICY_FORM, kernel.StockPolicy.__table__, _policy_row)


def _promise(location, item, incoming, outgoing):
    return select(
        location.label("location_id"),
        item.label("item_id"),
        incoming.label("incoming"),
        outgoing.label("outgoing"),
    )


def commitments(dialect: str, today: dt.date):
    """What open documents promise: (location, item, incoming, outgoing) rows."""
    zero = literal(0, Quantity)
    with building(dialect, today):
        parts = []
        for form in ("transfer_request", "transfer_out"):
            lines = lines_table(form, "lines")
            item, quantity = _item_and_quantity(lines)
            to, source = (
                extract(lines.c.data, name, "integer") for name in ("to_location", "from_location")
            )
            is_open = lines.c.state.in_(OPEN[form])
            parts += [
                _promise(to, item, quantity, zero).where(is_open),
                _promise(source, item, zero, quantity).where(is_open),
            ]
        orders = lines_table("purchase_order", "lines")
        item, quantity = _item_and_quantity(orders)
        parts.append(
            _promise(orders.c.location_id, item, quantity, zero).where(
                orders.c.state.in_(OPEN["purchase_order"])
            )
        )
        receipts = lines_table("purchase_receipt", "lines")
        item, quantity = _item_and_quantity(receipts)
        order = Record.__table__.alias("ordered")
        parts.append(
            _promise(receipts.c.location_id, item, -quantity, zero)
            .join(order, order.c.id == extract(receipts.c.data, "purchase_order", "integer"))
            .where(receipts.c.state != "cancelled", order.c.state.in_(OPEN["purchase_order"]))
        )
        suggested = lines_table(FORM, "lines")
        item, quantity = _item_and_quantity(suggested)
        action = extract(suggested.c.line, "action", "text")
        is_open = suggested.c.state.in_(OPEN[FORM])
        to, source = (
            extract(suggested.c.line, name, "integer") for name in ("to_location", "from_location")
        )
        parts += [
            _promise(to, item, quantity, zero).where(is_open, action != "return"),
            _promise(source, item, zero, quantity).where(is_open, action != "purchase"),
        ]
    return union_all(*parts)


def _item_and_quantity(lines):
    return extract(lines.c.line, "item", "integer"), extract(lines.c.line, "quantity", "decimal")


def make_plan(session: Session, registry: Registry, user, today: dt.date | None = None):
    """The kernel's plan for the locations in ``user``'s data scope (nothing is written)."""
    today = today or business_today()
    dialect = session.connection().dialect.name
    return kernel.plan(
        session,
        kernel.stock_policies(),
        commitments(dialect, today),
        plan_settings(registry),
        today=today,
        locations=access.visible_location_ids(session, user),
    )


def suggestion_payloads(session: Session, plan: kernel.Plan, run: int | None = None) -> list[dict]:
    """One draft ``replenishment`` per location (by location id), with the suppliers and prices of
    item cards and receipts."""
    items = _item_cards(session, {line.item_id for line in plan.lines})
    suppliers = _receipt_suppliers(session, {line.receipt_document for line in plan.lines})
    by_location: dict[int, list[dict]] = defaultdict(list)
    for line in plan.lines:
        by_location[line.location_id].append(_line(line, items, suppliers))
    return [
        {"location": location_id, "run": run, "lines": by_location[location_id]}
        for location_id in sorted(by_location)
    ]


def write_suggestions(
    session: Session, registry: Registry, user, plan: kernel.Plan, run: int | None = None
) -> list[Record]:
    """The plan's suggestions, written in ``session`` through the record service (every rule of
    the form) as ``user``."""
    return [
        records.create(session, registry, user, FORM, payload)
        for payload in suggestion_payloads(session, plan, run)
    ]


def _figure(value) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.01")))


def _line(line: kernel.SuggestionLine, items: dict, suppliers: dict) -> dict:
    card = items.get(line.item_id, {})
    supplier = None
    if line.action == "purchase":
        supplier = card.get("preferred_supplier")
    elif line.action == "return":
        supplier = suppliers.get(line.receipt_document) or card.get("preferred_supplier")
    return {
        "reason": line.reason,
        "action": line.action,
        "item": line.item_id,
        "from_location": line.from_location_id,
        "to_location": line.to_location_id,
        "supplier": supplier,
        "lot": line.lot_number,
        "expiry_date": line.expiry_date.isoformat() if line.expiry_date else None,
        "quantity": str(line.quantity),
        "unit_price": card.get("purchase_price"),
        "projected": _figure(line.projected),
        "reorder_point": _figure(line.reorder_point),
        "velocity": _figure(line.velocity),
        "days_of_cover": _figure(line.days_of_cover),
        "distance_km": _figure(line.distance_km),
    }


def _chunks(values: set) -> list[list]:
    ordered = sorted(value for value in values if value is not None)
    return [ordered[start : start + CHUNK] for start in range(0, len(ordered), CHUNK)]


def _item_cards(session: Session, item_ids: set[int]) -> dict[int, dict]:
    """Each item's card (preferred supplier, purchase price), by kernel item id."""
    data = Record.__table__.c.data
    item = extract(data, "item", "integer")
    cards = {}
    for chunk in _chunks(item_ids):
        for item_id, values in session.execute(
            select(item, data).where(Record.form == "item_master", item.in_(chunk))
        ):
            cards[item_id] = values
    return cards


def _receipt_suppliers(session: Session, documents: set[str | None]) -> dict[str, int]:
    """The supplier of each purchase receipt, by its number (a lot goes back where it came from)."""
    found = {}
    for chunk in _chunks(documents):
        rows = session.execute(
            select(Record.number, Record.data["supplier"].as_integer()).where(
                Record.form == "purchase_receipt", Record.number.in_(chunk)
            )
        )
        found.update(dict(rows.all()))
    return found


@jobs.handler(FORM, label=_l("Replenishment plan"))
def _replenishment_job(run: jobs.JobRun) -> dict:
    """Plan in one transaction, then write each location's suggestion in a transaction of its
    own: every record saved appends to the audit trail's main chain and holds its head until its
    transaction ends, so one transaction for a chain's thousands of suggestions would hold up
    every other save in the company for minutes. The plan lock (``planning``) spans them all, so
    a second run fails at once, saying another plan is being made, and never suggests the same
    stock twice. A run that fails midway keeps the suggestions written (drafts, which the next
    run counts as promises) and says how many."""
    settings = load_settings()
    run.progress(5, _("Planning"))
    try:
        with kernel.planning(run.database):
            with run.database.transaction() as session:
                registry = _live_registry(session, settings)
                plan = make_plan(session, registry, _runner(session, run.params.get("user_id")))
                payloads = suggestion_payloads(session, plan, run.job_id)
            run.progress(60, _("%(lines)d lines planned", lines=len(plan.lines)))
            created = _write_one_by_one(run, registry, payloads)
    except kernel.PlanInProgress as exc:
        raise jobs.JobFailed(str(exc)) from None
    return {
        "suggestions": len(created),
        "lines": len(plan.lines),
        "without_supplier": sum(_without_supplier(record) for record in created),
        "link": f"/forms/{FORM}/?run={run.job_id}",
    }


def _write_one_by_one(run: jobs.JobRun, registry: Registry, payloads: list[dict]) -> list[Record]:
    """Each suggestion in a transaction of its own, reporting progress from 60 % to 100 %. A
    suggestion the form refuses is left out and the others are written; the job then fails naming
    what was refused and why. Any other error stops the run where it is."""
    created: list[Record] = []
    refused: dict[int, records.ValidationFailed] = {}
    reported = 60
    for done, payload in enumerate(payloads, 1):
        try:
            with run.database.transaction() as session:
                user = _runner(session, run.params.get("user_id"))
                created.append(records.create(session, registry, user, FORM, payload))
        except records.ValidationFailed as refusal:
            refused[payload["location"]] = refusal
        except Exception as exc:
            log.exception("replenishment job %s: writing the suggestions failed", run.job_id)
            raise jobs.JobFailed(
                _(
                    "%(written)d of %(total)d suggestions were written before this error:"
                    " %(error)s. Run the plan again for the rest: the ones written count as"
                    " planned.",
                    written=len(created),
                    total=len(payloads),
                    error=exc,
                )
            ) from exc
        percent = 60 + 40 * done // len(payloads)
        if percent > reported:
            reported = percent
            run.progress(percent, f"{done} / {len(payloads)}")
    if refused:
        raise jobs.JobFailed(
            _(
                "%(written)d of %(total)d suggestions were written. The form refused these"
                " (correct the cause, then run the plan again for them): %(refusals)s",
                written=len(created),
                total=len(payloads),
                refusals="; ".join(_refusals(run.database, refused)),
            )
        )
    return created


def _refusals(database, refused: dict[int, records.ValidationFailed]) -> list[str]:
    """Each refused location's suggestion as "S-SZ: lines[2].supplier: …" (its first reasons)."""
    with database.session() as session:
        query = select(Location.id, Location.code).where(Location.id.in_(refused))
        codes = dict(session.execute(query).all())
    said = []
    for location, refusal in refused.items():
        fields = list(refusal.errors.items())[:3]
        reasons = ", ".join(f"{field}: {' '.join(texts)}" for field, texts in fields)
        said.append(f"{codes.get(location, location)}: {reasons}")
    return said


def _without_supplier(record: Record) -> int:
    """Purchase and return lines of ``record`` whose item card names no preferred supplier."""
    lines = record.data.get("lines") or []
    return sum(1 for line in lines if line["action"] != "transfer" and not line.get("supplier"))


#: The worker's registry, kept between runs and rebuilt only after a publish (as the web does).
_REGISTRIES: dict[tuple[str, str], Registry] = {}


def _live_registry(session: Session, settings) -> Registry:
    key = (str(settings.metadata_dir), str(settings.workflows_dir))
    cached = _REGISTRIES.get(key)
    fresh = (
        build(settings.metadata_dir, settings.workflows_dir, session)
        if cached is None
        else refresh(cached, session)
    )
    _REGISTRIES[key] = fresh
    return fresh


def _runner(session: Session, user_id):
    if not user_id:
        return chain_planner()
    user = session.get(User, user_id)
    if user is None:
        raise jobs.JobFailed(_("The user who started this plan no longer exists."))
    return user
