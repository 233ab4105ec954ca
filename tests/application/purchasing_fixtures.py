"""A purchasing bed over the shipped metadata: the demo organisation, one user per role that buys,
inspects and approves, and helpers that walk master cards through QA over the HTTP API.

Dates are relative to the business day, so licences and registrations are valid or lapsed
whatever day the suite runs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.kernel.items import gtin_check_digit
from app.kernel.stock import LedgerEntry, StockBalance
from app.kernel.users import User
from app.meta import identity
from app.workflow.models import InboxMessage
from tests.application.clock import TODAY
from tests.chain import PASSWORD, load_locations
from tests.forms_fixtures import ApiClient

SIGN = {"signature": {"password": PASSWORD, "meaning": "approved"}}
VERIFY = {"signature": {"password": PASSWORD, "meaning": "verified"}}
#: What a review scan says of the goods (the lines' other fields are the picker's).
REVIEWED = ("item", "lot", "serial", "quantity")

#: username → (role, location code, language)
USERS = {
    "hq": ("hq_manager", "HQ", "zh_CN"),
    "qa": ("qa", "HQ", "zh_CN"),
    "supervisor": ("warehouse_supervisor", "WH-SH", "zh_CN"),
    "keeper": ("warehouse_clerk", "WH-SH", "en"),
    "clerk": ("store_clerk", "SH01", "zh_CN"),
}


def gtin(body: str) -> str:
    """A GTIN-14 with its GS1 check digit from 13 digits."""
    return body + str(gtin_check_digit(body))


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def url(form: str, record_id=None, transition: str | None = None) -> str:
    path = f"/api/v1/forms/{form}/records"
    if record_id is not None:
        path += f"/{record_id}"
    if transition:
        path += f"/transitions/{transition}"
    return path


class Bed:
    """The organisation's ids and signed-in API clients by username."""

    def __init__(self, app, db, locations, users):
        self.app, self.db, self.locations, self.users = app, db, locations, users
        self._clients: dict[str, ApiClient] = {}

    def api(self, username: str) -> ApiClient:
        if username not in self._clients:
            client = ApiClient(self.app.test_client())
            self._clients[username] = client.login(username, PASSWORD)
        return self._clients[username]

    def create(self, username: str, form: str, data: dict) -> dict:
        response = self.api(username).post(url(form), json=data)
        assert response.status_code == 201, response.json
        return response.json

    def fire(self, username: str, form: str, record_id: int, transition: str, **body):
        return self.api(username).post(url(form, record_id, transition), json=body)

    def review_and_return(self, username: str, record_id: int, scans: list[dict] | None = None):
        """The outbound review (出库复核) of a warehouse's supplier return: ``username`` (QA or the
        warehouse's supervisor, not whoever picked it) scans the goods again — by default exactly
        the lines — and fires ``review_ship``; returns its response. A return still being picked
        is declared picked first (by ``username``)."""
        client = self.api(username)
        current = client.get(url("supplier_return", record_id)).json
        if current["state"] == "draft":
            done = self.fire(username, "supplier_return", record_id, "finish_picking")
            assert done.status_code == 200, done.json
            current = done.json
        if scans is None:
            scans = [
                {name: line[name] for name in REVIEWED if line.get(name) not in (None, "")}
                for line in current["data"]["lines"]
            ]
        body = {"review_scans": scans, "version": current["version"]}
        saved = client.put(url("supplier_return", record_id), json=body)
        assert saved.status_code == 200, saved.json
        return self.fire(username, "supplier_return", record_id, "review_ship")

    def rejected(self, clerk: str, where: str, supplier: int, item: int, lot: str) -> dict:
        """A receipt at ``where`` received by ``clerk``: 5 of ``lot``, all rejected at QA's
        inspection (nonconforming); the receipt as received."""
        record = self.create(clerk, "purchase_receipt", {
            "location": self.loc(where), "supplier": supplier,
            "lines": [{"item": item, "lot": lot, "expiry_date": day(300), "quantity": "5"}],
        })  # fmt: skip
        received = self.fire(clerk, "purchase_receipt", record["id"], "receive").json
        line = {**received["data"]["lines"][0], "accepted_quantity": "0", "rejected_quantity": "5",
                "conclusion": "rejected", "reject_reason": "破损"}  # fmt: skip
        response = self.api("qa").put(url("purchase_receipt", record["id"]), json={
            "version": received["version"], "inspector": self.users["qa"], "inspected_at": day(0),
            "lines": [line],
        })  # fmt: skip
        assert response.status_code == 200, response.json
        inspected = self.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
        assert inspected.status_code == 200, inspected.json
        return received

    def qualify(self, form: str, data: dict) -> dict:
        """A master card created by HQ, submitted and approved (signed) by QA."""
        card = self.create("hq", form, data)
        assert self.fire("hq", form, card["id"], "submit").status_code == 200
        response = self.fire("qa", form, card["id"], "approve", **SIGN)
        assert response.status_code == 200, response.json
        assert response.json["state"] == "approved"
        return response.json

    def supplier(self, code="SUP-HD", name="华东医疗", licence_expiry=None, **extra) -> dict:
        return self.qualify("supplier", {
            "code": code, "name": name, "licence_kind": "permit",
            "licence_number": f"沪食药监械经营许{code}号",
            "licence_expiry": licence_expiry or day(365),
            "business_licence_number": "91310000MA1FL0001X", "contact": "王经理",
            "phone": "021-5555 0001", "address": "上海市闵行区", **extra,
        })  # fmt: skip

    def item(self, code: str, gtin_body: str, registration_expiry=None, **extra) -> dict:
        return self.qualify("item_master", {
            "code": code, "name": f"血糖试纸 {code}", "specification": "50 条/盒",
            "unit_of_measure": "盒", "gtin": gtin(gtin_body),
            "registration_cert": f"国械注准2023{code}", "manufacturer": "鱼跃医疗",
            "registration_expiry": registration_expiry or day(700), "device_class": "II",
            "tracking": "lot", "expiry_required": True, "storage_condition": "normal",
            "near_expiry_days": 90, "purchase_price": "12.00", "retail_price": "25.00",
            **extra,
        })  # fmt: skip

    def loc(self, code: str) -> int:
        return self.locations[code]

    def lot(self, item_id: int, lot_number: str) -> None:
        """Put a lot of the item on record, as a receipt would have (for a complaint about it)."""
        from app.kernel.items import Item, get_or_create_lot

        with self.db.transaction() as session:
            get_or_create_lot(
                session, session.get(Item, item_id), lot_number, dt.date.fromisoformat(day(300))
            )

    def balances(self) -> dict:
        """(location code, item id, lot number, status) → on hand, for every non-zero balance."""
        codes = {value: key for key, value in self.locations.items()}
        from app.kernel.items import Lot

        with self.db.session() as session:
            lots = {lot.id: lot.lot_number for lot in session.scalars(select(Lot))}
            return {
                (codes[row.location_id], row.item_id, lots.get(row.lot_id), str(row.status)):
                    row.on_hand
                for row in session.scalars(select(StockBalance)) if row.on_hand
            }  # fmt: skip

    def ledger(self) -> list[tuple]:
        """(document, line, status, quantity, reason) of every ledger row, in order."""
        with self.db.session() as session:
            return [
                (row.document, row.document_line, str(row.status), row.quantity, row.reason)
                for row in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
            ]

    def messages(self, record_id: int) -> list[tuple[str, str]]:
        """(username, text) of the inbox messages about the record, in order."""
        with self.db.session() as session:
            rows = session.execute(
                select(User.username, InboxMessage.message)
                .join(User, User.id == InboxMessage.user_id)
                .where(InboxMessage.record_id == record_id)
                .order_by(InboxMessage.id)
            )
            return [tuple(row) for row in rows]


def make_bed(app, db, staff: dict[str, tuple[str, str, str]]) -> Bed:
    """The test location tree and ``staff`` (username → role, location code, language)."""
    with db.transaction() as session:
        locations = {code: loc.id for code, loc in load_locations(session).items()}
        users = {}
        for username, (role, code, language) in staff.items():
            user = identity.create_user(
                session, username, f"{username.title()} 用户", PASSWORD, roles=[role],
                location_ids=[locations[code]], locale=language,
            )  # fmt: skip
            users[username] = user.id
    return Bed(app, db, locations, users)


@pytest.fixture(name="bed")
def bed_fixture(app, db) -> Bed:
    return make_bed(app, db, USERS)


__all__ = [
    "SIGN", "TODAY", "VERIFY", "Bed", "Decimal", "bed_fixture", "day", "gtin", "make_bed", "url",
]  # fmt: skip
