"""The story's chain: the identity tests' organisation (HQ, warehouse WH-SH, store SH01 …), one
member of staff per role the story needs, and readers of what the story must leave behind —
stock by location/lot/status, a document's ledger rows, and everything at once (``snapshot``) to
prove a refused step wrote nothing. Stock comes in only through documents: there is no opening.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.kernel.items import Item, Lot, Unit
from app.kernel.locations import Location
from app.kernel.reservations import Reservation
from app.kernel.stock import LedgerEntry, StockBalance
from app.meta.models import Record
from app.workflow.models import ApprovalTask
from tests.application.purchasing_fixtures import TODAY, Bed, gtin, make_bed
from tests.application.sales_fixtures import scan_goods

#: username → (role, location code, language)
STAFF = {
    "hq": ("hq_manager", "HQ", "zh_CN"),
    "qa": ("qa", "HQ", "zh_CN"),
    "supervisor": ("warehouse_supervisor", "WH-SH", "zh_CN"),
    "keeper": ("warehouse_clerk", "WH-SH", "en"),
    "clerk": ("store_clerk", "SH01", "en"),
    "manager": ("store_manager", "SH01", "zh_CN"),
}
STRIP_GTIN = gtin("0690123456101")
PACE_GTIN = gtin("0690123456202")


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def label(gtin_code: str, lot: str, expiry: dt.date, serial: str | None = None) -> str:
    """A GS1 label in its human-readable form, as printed under the barcode."""
    text = f"(01){gtin_code}(17){expiry:%y%m%d}(10){lot}"
    return text + (f"(21){serial}" if serial else "")


def raw(gtin_code: str, lot: str, expiry: dt.date, serial: str | None = None) -> str:
    """What a scanner types for a GS1 DataMatrix: the symbology identifier ``]d2``, the element
    strings without parentheses, a group separator (``\\x1d``) after the variable-length lot."""
    text = f"]d201{gtin_code}17{expiry:%y%m%d}10{lot}"
    return text + (f"\x1d21{serial}" if serial else "")


@pytest.fixture(name="story")
def story_fixture(app, db) -> Bed:
    """The organisation and its staff; no stock, no master data (the story qualifies its own)."""
    return make_bed(app, db, STAFF)


def hospital(bed) -> dict:
    """仁济医院, a hospital customer HQ entered and QA approved (its licence valid 300 days)."""
    return bed.qualify("customer", {
        "code": "H-RJ", "name": "仁济医院", "kind": "hospital",
        "licence_number": "沪卫医证2020001", "licence_expiry": day(300).isoformat(),
    })  # fmt: skip


def scan_deliveries(bed, record_id: int, deliveries: list[dict]) -> None:
    """The store clerk's delivery scans saved onto a confirmed sales order."""
    scan_goods(bed.api("clerk"), record_id, deliveries)


def stock(db) -> dict[tuple, tuple[Decimal, Decimal]]:
    """Every non-empty balance: (location, item code, lot, status) → (on hand, reserved)."""
    with db.session() as session:
        rows = session.execute(
            select(StockBalance, Location.code, Item.code, Lot.lot_number)
            .join(Location, Location.id == StockBalance.location_id)
            .join(Item, Item.id == StockBalance.item_id)
            .outerjoin(Lot, Lot.id == StockBalance.lot_id)
        ).all()
        return {
            (where, item, lot, str(balance.status)): (balance.on_hand, balance.reserved)
            for balance, where, item, lot in rows
            if balance.on_hand or balance.reserved
        }


def ledger(db, document: str) -> list[tuple]:
    """A document's ledger rows: (line, location, item, lot, serial, status, quantity, reason)."""
    with db.session() as session:
        rows = session.execute(
            select(LedgerEntry, Location.code, Item.code, Lot.lot_number, Unit.serial)
            .join(Location, Location.id == LedgerEntry.location_id)
            .join(Item, Item.id == LedgerEntry.item_id)
            .outerjoin(Lot, Lot.id == LedgerEntry.lot_id)
            .outerjoin(Unit, Unit.id == LedgerEntry.unit_id)
            .where(LedgerEntry.document == document)
            .order_by(LedgerEntry.id)
        ).all()
        return [
            (entry.document_line, where, item, lot, serial, str(entry.status), entry.quantity,
             entry.reason)
            for entry, where, item, lot, serial in rows
        ]  # fmt: skip


def units(db) -> dict[str, tuple[str, str | None]]:
    """Serial → (unit status, location code)."""
    with db.session() as session:
        codes = {loc.id: loc.code for loc in session.scalars(select(Location))}
        return {
            unit.serial: (str(unit.status), codes.get(unit.location_id))
            for unit in session.scalars(select(Unit))
        }


def snapshot(db) -> tuple:
    """Everything a refused step must leave as it was: stock, ledger, units, reservations,
    records (state and version) and approval tasks."""
    with db.session() as session:
        ledger_rows = session.execute(
            select(LedgerEntry.id, LedgerEntry.document, LedgerEntry.quantity)
        ).all()
        held = session.execute(
            select(Reservation.document, Reservation.item_id, Reservation.quantity)
        ).all()
        records = session.execute(select(Record.id, Record.state, Record.version)).all()
        tasks = session.execute(select(ApprovalTask.id, ApprovalTask.status)).all()
    return stock(db), sorted(ledger_rows), units(db), sorted(held), sorted(records), sorted(tasks)


__all__ = [
    "PACE_GTIN",
    "STRIP_GTIN",
    "day",
    "label",
    "ledger",
    "raw",
    "snapshot",
    "stock",
    "story_fixture",
]
