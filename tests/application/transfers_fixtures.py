"""A small chain for the transfer, adjustment, scrap and print tests, over the shipped metadata.

HQ → region R1 → warehouse WH1 and stores S1, S2; region R2 → store S9 (another region). Staff:
a clerk and a manager per store S1/S2, a clerk and a supervisor at WH1, an HQ manager and QA.
Items: ``STRIP`` (lot-tracked, GTIN 06901234567892) and ``ECG`` (serial-tracked). Opening stock
at WH1: STRIP lot L1 (10, expires 2031), lot RC (5, recalled), ECG units SN1 and SN2.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.kernel.items import (
    Item,
    Lot,
    LotStatus,
    add_item,
    get_or_create_lot,
    get_or_create_unit,
)
from app.kernel.locations import Location, add_location
from app.kernel.stock import LedgerEntry, Movement, Reason, StockBalance, post_movements
from app.kernel.transfers import TransferLine
from app.kernel.users import User
from app.meta.identity import update_user
from app.meta.models import Record
from tests.forms_fixtures import PASSWORD, ApiClient, _password_hash

STAFF = {  # username → (role, location code)
    "clerk1": ("store_clerk", "S1"),
    "manager1": ("store_manager", "S1"),
    "clerk2": ("store_clerk", "S2"),
    "manager2": ("store_manager", "S2"),
    "whclerk": ("warehouse_clerk", "WH1"),
    "whsuper": ("warehouse_supervisor", "WH1"),
    "hq": ("hq_manager", "HQ"),
    "qa": ("qa", "HQ"),
}
GTIN = "06901234567892"
SIGN = {"password": PASSWORD, "meaning": "approved"}
TO = "/api/v1/forms/transfer_out/records"
#: What a review scan says of the goods: a scanned line less its scan and the order's line.
GOODS = ("item", "lot", "expiry_date", "serial", "quantity")


@pytest.fixture
def chain(app, db):
    """The organisation, staff, items and opening stock; returns ids by code/username."""
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        r1 = add_location(session, "R1", "华东", "region", hq)
        r2 = add_location(session, "R2", "华北", "region", hq)
        places = {
            "HQ": hq,
            "WH1": add_location(session, "WH1", "上海仓", "warehouse", r1),
            "S1": add_location(session, "S1", "一号店", "store", r1),
            "S2": add_location(session, "S2", "二号店", "store", r1),
            "S9": add_location(session, "S9", "北京店", "store", r2),
        }
        ids = {code: place.id for code, place in places.items()} | {"R1": r1.id, "R2": r2.id}
        for username, (role, code) in STAFF.items():
            user = User(username=username, full_name=f"{username} 全名", locale="en")
            user.password_hash = _password_hash()
            session.add(user)
            session.flush()
            update_user(session, user, roles=[role], location_ids=[places[code].id])
            ids[username] = user.id
        strip = add_item(session, "STRIP", "血糖试纸 Glucose strips", tracking="lot", gtin=GTIN)
        ecg = add_item(session, "ECG", "心电图机 ECG", tracking="serial")
        good = get_or_create_lot(session, strip, "L1", dt.date(2031, 6, 30))
        recalled = get_or_create_lot(session, strip, "RC", dt.date(2031, 6, 30))
        ecg_lot = get_or_create_lot(session, ecg, "E1", dt.date(2032, 1, 31))
        units = [get_or_create_unit(session, ecg, serial, ecg_lot) for serial in ("SN1", "SN2")]
        opening = [
            Movement(item=strip, quantity=Decimal(10), lot=good, destination=places["WH1"],
                     unit_cost=Decimal("8.50")),
            Movement(item=strip, quantity=Decimal(5), lot=recalled, destination=places["WH1"],
                     unit_cost=Decimal("8.50")),
            *(Movement(item=ecg, quantity=Decimal(1), lot=ecg_lot, unit=unit,
                       destination=places["WH1"], unit_cost=Decimal("3000"))
              for unit in units),
        ]  # fmt: skip
        post_movements(session, opening, reason=Reason.opening, document="OPENING")
        recalled.status = LotStatus.recalled
        ids.update(strip=strip.id, ecg=ecg.id)
        return ids


@pytest.fixture
def as_user(app, chain):
    """``as_user("clerk1")`` → an API client signed in as that member of staff."""

    def make(username: str) -> ApiClient:
        return ApiClient(app.test_client()).login(username, PASSWORD)

    return make


def stock(db) -> dict:
    """Every non-empty balance: (location code, item code, lot, status) → on hand."""
    with db.session() as session:
        codes = {row.id: row.code for row in session.scalars(select(Location))}
        rows = session.scalars(select(StockBalance).where(StockBalance.on_hand != 0))
        return {
            (codes[row.location_id], _item_code(session, row.item_id), _lot(session, row.lot_id),
             str(row.status)): row.on_hand
            for row in rows
        }  # fmt: skip


def book(db, chain, code: str, quantity, reason=Reason.opening, source=False) -> None:
    """Book ``quantity`` of STRIP lot L1 into (or, with ``source``, out of) location ``code``."""
    with db.transaction() as session:
        where = session.get(Location, chain[code])
        side = {"source": where} if source else {"destination": where}
        lot = session.scalar(select(Lot).where(Lot.lot_number == "L1"))
        strip = session.get(Item, chain["strip"])
        movement = Movement(item=strip, quantity=Decimal(quantity), lot=lot, **side)
        post_movements(session, [movement], reason=reason, document=f"T-{code}")


def in_transit(db) -> dict:
    """Open transfer lines: (document, line) → outstanding quantity."""
    with db.session() as session:
        return {
            (line.document, line.line): line.outstanding
            for line in session.scalars(select(TransferLine))
            if line.outstanding
        }


def ledger(db, document: str) -> list[tuple]:
    """The ledger rows of ``document``: (location code, item, lot, status, quantity, reason)."""
    with db.session() as session:
        codes = {row.id: row.code for row in session.scalars(select(Location))}
        rows = session.scalars(
            select(LedgerEntry).where(LedgerEntry.document == document).order_by(LedgerEntry.id)
        )
        return [
            (codes[row.location_id], _item_code(session, row.item_id), _lot(session, row.lot_id),
             str(row.status), row.quantity, row.reason)
            for row in rows
        ]  # fmt: skip


def ledger_count(db) -> int:
    with db.session() as session:
        return len(session.scalars(select(LedgerEntry.id)).all())


def records_of(db, form: str) -> list[Record]:
    with db.session() as session:
        return list(session.scalars(select(Record).where(Record.form == form).order_by(Record.id)))


def _item_code(session, item_id) -> str:
    from app.kernel.items import Item

    return session.get(Item, item_id).code


def _lot(session, lot_id) -> str | None:
    from app.kernel.items import Lot

    return session.get(Lot, lot_id).lot_number if lot_id else None


def approve(db, client: ApiClient, user_id: int, record_id: int, signature=None) -> None:
    """``client`` (signed in as ``user_id``) approves its pending task on ``record_id``."""
    from app.workflow.models import ApprovalTask

    with db.session() as session:
        [task] = session.scalars(
            select(ApprovalTask.id).where(
                ApprovalTask.record_id == record_id, ApprovalTask.approver_id == user_id,
                ApprovalTask.status == "pending",
            )
        ).all()  # fmt: skip
    body = {"decision": "approve", **({"signature": signature} if signature else {})}
    response = client.post(f"/api/v1/approval-tasks/{task}/decision", json=body)
    assert response.status_code == 200, response.json


def scan_picks(client: ApiClient, record_id: int, scans: list[str]) -> None:
    """The picker scans the goods a workflow action wrote onto a transfer out's lines (an order's
    allocation): ``scans[i]`` onto line ``i``, the lines otherwise as written."""
    current = client.get(f"{TO}/{record_id}").json
    lines = [
        {**line, "scan": text} for line, text in zip(current["data"]["lines"], scans, strict=True)
    ]
    saved = client.put(f"{TO}/{record_id}", json={"lines": lines, "version": current["version"]})
    assert saved.status_code == 200, saved.json


def review_and_ship(client: ApiClient, record_id: int, scans: list[dict] | None = None):
    """The outbound review (出库复核) of a warehouse's transfer out: ``client`` (a supervisor or
    HQ) scans the goods again — by default exactly the picked lines — and fires ``review_ship``;
    returns its response. A transfer still being picked is declared picked first (by ``client``,
    who must then be a supervisor)."""
    current = client.get(f"{TO}/{record_id}").json
    if current["state"] == "draft":
        done = client.post(f"{TO}/{record_id}/transitions/finish_picking", json={})
        assert done.status_code == 200, done.json
        current = done.json
    if scans is None:
        scans = [
            {name: line[name] for name in GOODS if line.get(name) not in (None, "")}
            for line in current["data"]["lines"]
        ]
    body = {"review_scans": scans, "version": current["version"]}
    saved = client.put(f"{TO}/{record_id}", json=body)
    assert saved.status_code == 200, saved.json
    return client.post(f"{TO}/{record_id}/transitions/review_ship", json={})
