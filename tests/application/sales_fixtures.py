"""A store with stock to sell, set up through the kernel, and its staff signed in to the API.

Store S1 holds glucose strips (class II, lot-tracked) in an early lot ``A``, a lot ``A2`` with
the same expiry, a later lot ``B`` and an expired lot ``X``; and pacemakers (class III,
serial-tracked) of lot ``P1``, units ``SN1``–``SN3``. Customers are created and approved through
the API, as QA would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.kernel.items import (
    Lot,
    Unit,
    add_item,
    get_or_create_lot,
    get_or_create_unit,
    gtin_check_digit,
)
from app.kernel.locations import add_location
from app.kernel.stock import LedgerEntry, Movement, Reason, StockBalance, post_movements
from app.meta import identity
from tests.application.clock import TODAY
from tests.forms_fixtures import ApiClient

PASSWORD = "correct horse battery"
SO = "/api/v1/forms/sales_order/records"
CR = "/api/v1/forms/customer_return/records"
CUSTOMERS = "/api/v1/forms/customer/records"
ITEM_CARDS = "/api/v1/forms/item_master/records"

#: username → (role, location code)
STAFF = {
    "clerk": ("store_clerk", "S1"),
    "manager": ("store_manager", "S1"),
    "qa": ("qa", "HQ"),
    "buyer": ("hq_manager", "HQ"),  # HQ keeps the customer cards (首营)
}


def gtin(body: str) -> str:
    return body + str(gtin_check_digit(body))


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


STRIP_GTIN = gtin("0695012345678")
PACE_GTIN = gtin("0695012345699")
#: lot → (expiry, quantity at S1)
STRIP_LOTS = {"A": (day(100), 3), "A2": (day(100), 4), "B": (day(200), 10), "X": (day(-10), 5)}


@dataclass
class Shop:
    ids: dict[str, int] = field(default_factory=dict)
    make_client: object = None

    def __getitem__(self, key: str) -> int:
        return self.ids[key]

    def api(self, username: str) -> ApiClient:
        return self.make_client(username)


def scan(gtin_: str, lot: str, expiry: dt.date, serial: str | None = None) -> str:
    """What a scanner reads from a GS1 DataMatrix, in its human-readable form."""
    text = f"(01){gtin_}(17){expiry:%y%m%d}(10){lot}"
    return text + (f"(21){serial}" if serial else "")


@pytest.fixture
def shop(app, db) -> Shop:
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        region = add_location(session, "R1", "华东", "region", hq)
        s1 = add_location(session, "S1", "一号店", "store", region)
        ids = {"HQ": hq.id, "S1": s1.id}
        for username, (role, code) in STAFF.items():
            user = identity.create_user(
                session, username, f"{username.title()} User", PASSWORD,
                roles=[role], location_ids=[ids[code]], locale="en",
            )  # fmt: skip
            ids[username] = user.id
        strip = add_item(
            session, "STRIP", "血糖试纸", specification="50片/盒", gtin=STRIP_GTIN,
            registration_cert="国械注准20192220001", registration_expiry=day(900),
            manufacturer="鱼跃医疗", device_class="II", tracking="lot",
        )  # fmt: skip
        pace = add_item(
            session, "PACE", "植入式心脏起搏器", specification="SR-200", gtin=PACE_GTIN,
            registration_cert="国械注准20193120002", registration_expiry=day(900),
            manufacturer="创领心律", device_class="III", tracking="serial",
        )  # fmt: skip
        ids |= {"STRIP": strip.id, "PACE": pace.id}
        movements = []
        for number, (expiry, quantity) in STRIP_LOTS.items():
            lot = get_or_create_lot(session, strip, number, expiry)
            movements.append(Movement(item=strip, quantity=Decimal(quantity), destination=s1,
                                      lot=lot, reason=Reason.opening))  # fmt: skip
        p1 = get_or_create_lot(session, pace, "P1", day(400))
        for serial in ("SN1", "SN2", "SN3"):
            unit = get_or_create_unit(session, pace, serial, p1)
            movements.append(Movement(item=pace, quantity=Decimal(1), destination=s1, lot=p1,
                                      unit=unit, reason=Reason.opening))  # fmt: skip
        post_movements(session, movements, document="OPENING")

    def make_client(username: str) -> ApiClient:
        return ApiClient(app.test_client()).login(username, PASSWORD)

    return Shop(ids=ids, make_client=make_client)


def fire(api, url: str, record: dict, transition: str, **body):
    return api.post(f"{url}/{record['id']}/transitions/{transition}", json=body)


def scan_goods(api, record_id: int, deliveries: list[dict], paid_by: str = "cash") -> dict:
    """The clerk's delivery scans saved onto a confirmed sales order — with, for a walk-in
    sale, how the customer paid at the counter (asked for at delivery)."""
    current = api.get(f"{SO}/{record_id}").json["data"]
    walk_in = current["sale_kind"] == "retail" and not current.get("parent_order")
    return _save_scans(api, record_id, "deliveries", deliveries,
                       {"payment_method": paid_by} if walk_in else {})  # fmt: skip


def paid(api, record_id: int, paid_by: str = "cash") -> dict:
    """How the walk-in customer paid, saved onto a confirmed sales order (asked for at delivery,
    before the goods are checked)."""
    current = api.get(f"{SO}/{record_id}").json
    response = api.client.patch(
        f"{SO}/{record_id}",
        json={"payment_method": paid_by, "version": current["version"]},
        headers={"X-CSRFToken": api.token},
    )
    assert response.status_code == 200, response.json
    return response.json


def review_goods(api, record_id: int, scans: list[dict]) -> dict:
    """The reviewer's second scans (出库复核) saved onto a picked wholesale or hospital order; one
    still confirmed is declared picked first (by ``api``'s user)."""
    if api.get(f"{SO}/{record_id}").json["state"] == "confirmed":
        done = api.post(f"{SO}/{record_id}/transitions/finish_picking", json={})
        assert done.status_code == 200, done.json
    return _save_scans(api, record_id, "review_scans", scans)


def _save_scans(api, record_id: int, table: str, rows: list[dict], more=None) -> dict:
    current = api.get(f"{SO}/{record_id}").json
    response = api.client.patch(
        f"{SO}/{record_id}",
        json={table: rows, "version": current["version"], **(more or {})},
        headers={"X-CSRFToken": api.token},
    )
    assert response.status_code == 200, response.json
    return response.json


def approved_customer(shop: Shop, code: str, **data) -> int:
    """A customer card entered at HQ and approved (signed) by QA."""
    manager, qa = shop.api("buyer"), shop.api("qa")
    response = manager.post(CUSTOMERS, json={"code": code, "name": code, **data})
    assert response.status_code == 201, response.json
    customer = response.json["id"]
    response = manager.post(f"{CUSTOMERS}/{customer}/transitions/submit", json={})
    assert response.status_code == 200, response.json
    response = qa.post(
        f"{CUSTOMERS}/{customer}/transitions/approve",
        json={"signature": {"password": PASSWORD, "meaning": "approved"}},
    )
    assert response.status_code == 200, response.json
    return customer


def strip_scan(lot: str, quantity) -> dict:
    """A delivery or review scan of ``quantity`` strips of ``lot`` (one of ``STRIP_LOTS``)."""
    return {"scan": scan(STRIP_GTIN, lot, STRIP_LOTS[lot][0]), "quantity": str(quantity)}


def hospital_order(shop: Shop, creator: str = "clerk") -> dict:
    """Five strips sold to a hospital, confirmed (A × 3, A2 × 2 reserved) and scanned as picked
    (not yet said to be picked: ``finish_picking``)."""
    hospital = approved_customer(shop, "H-1", kind="hospital", licence_number="沪械经营2020001",
                                 licence_expiry=str(day(300)))  # fmt: skip
    api = shop.api(creator)
    line = {"item": shop["STRIP"], "quantity": "5", "unit_price": "20"}
    response = api.post(SO, json={"location": shop["S1"], "customer": hospital, "lines": [line]})
    assert response.status_code == 201, response.json
    order = response.json
    assert fire(api, SO, order, "confirm").status_code == 200
    scan_goods(api, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    return order


def stock(db) -> dict[tuple[str, str | None, str], tuple[Decimal, Decimal]]:
    """Every non-empty balance as (item code, lot, status) → (on hand, reserved)."""
    with db.session() as session:
        from app.kernel.items import Item

        rows = session.execute(
            select(StockBalance, Item.code, Lot.lot_number)
            .join(Item, Item.id == StockBalance.item_id)
            .outerjoin(Lot, Lot.id == StockBalance.lot_id)
        ).all()
        return {
            (code, lot, str(balance.status)): (balance.on_hand, balance.reserved)
            for balance, code, lot in rows
            if balance.on_hand or balance.reserved
        }


def ledger(db, document: str) -> list[tuple]:
    """The ledger rows of one document: (line, lot, serial, status, quantity, reason)."""
    with db.session() as session:
        rows = session.execute(
            select(LedgerEntry, Lot.lot_number, Unit.serial)
            .outerjoin(Lot, Lot.id == LedgerEntry.lot_id)
            .outerjoin(Unit, Unit.id == LedgerEntry.unit_id)
            .where(LedgerEntry.document == document)
            .order_by(LedgerEntry.id)
        ).all()
        return [
            (entry.document_line, lot, serial, str(entry.status), entry.quantity, entry.reason)
            for entry, lot, serial in rows
        ]


def units(db) -> dict[str, str]:
    with db.session() as session:
        return {unit.serial: str(unit.status) for unit in session.scalars(select(Unit))}


def strip_card_data(tax_rate: str) -> dict:
    """The strips' item card (a draft is enough: a line reads the rate off it)."""
    return {
        "code": "STRIP", "name": "血糖试纸", "unit_of_measure": "盒",
        "registration_cert": "国械注准20192220001", "registration_expiry": day(900).isoformat(),
        "device_class": "II", "tracking": "lot", "storage_condition": "normal",
        "tax_rate": tax_rate,
    }  # fmt: skip
