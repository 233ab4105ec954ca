"""A recall refused through the HTTP API names the field to fix (a serial range missing one end,
no lots, a lot the item does not have), and closing it while tasks are open names every location
still to do (the first few and how many more), not only the first."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select

from app.kernel.items import Item, Lot, LotStatus
from app.kernel.locations import Location, add_location
from app.kernel.stock import Movement, Reason, post_movements
from tests.application import sales_fixtures
from tests.application.test_recall import RC, SIGNED, new_recall
from tests.application.test_sales import fire

shop = sales_fixtures.shop  # the fixture, used by name


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"serial_from": "SN1"}, "serial_to", "both"),
        ({"serial_to": "SN2"}, "serial_from", "both"),
        ({}, "lots", "Name the lots"),
        ({"lots": "A, NOPE"}, "lots", "NOPE"),
    ],
)
def test_a_recall_that_cannot_be_issued_names_the_field(shop, db, data, field, words):
    qa = shop.api("qa")
    item = {"item": shop["PACE"]} if "serial_from" in data or "serial_to" in data else {}
    recall = new_recall(qa, shop, **item, **data)
    response = fire(qa, RC, recall, "issue", **SIGNED)
    assert response.status_code == 409, response.json
    assert response.json["field"] == field, response.json
    assert words in response.json["error"]
    with db.session() as session:  # nothing recalled
        assert set(session.scalars(select(Lot.status))) == {LotStatus.released}
    assert qa.get(f"{RC}/{recall['id']}").json["state"] == "draft"


def _stores_holding_a(db, count: int) -> None:
    """``count`` more stores (S2, S3 …) each hold 2 of lot A, besides S1's 3."""
    with db.transaction() as session:
        region = session.scalar(select(Location).where(Location.code == "R1"))
        strip = session.scalar(select(Item).where(Item.code == "STRIP"))
        lot = session.scalar(select(Lot).where(Lot.lot_number == "A"))
        for number in range(2, count + 2):
            store = add_location(session, f"S{number}", f"{number}号店", "store", region)
            post_movements(
                session,
                [Movement(item=strip, quantity=D(2), destination=store, lot=lot)],
                reason=Reason.opening, document=f"OPENING-{number}",
            )  # fmt: skip


def test_closing_with_open_tasks_names_every_location_still_to_do(shop, db):
    _stores_holding_a(db, 2)
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A")
    assert fire(qa, RC, recall, "issue", **SIGNED).status_code == 200
    response = fire(qa, RC, recall, "close", **SIGNED)
    assert response.status_code == 409, response.json
    error = response.json["error"]
    for still in ("S1 一号店 still holds 3", "S2 2号店 still holds 2", "S3 3号店 still holds 2"):
        assert still in error, error
    assert response.json["field"] == "tasks"
    assert qa.get(f"{RC}/{recall['id']}").json["state"] == "issued"


def test_a_long_list_of_open_tasks_names_the_first_few_and_counts_the_rest(shop, db):
    _stores_holding_a(db, 7)  # S1 … S8
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A")
    assert fire(qa, RC, recall, "issue", **SIGNED).status_code == 200
    response = fire(qa, RC, recall, "close", **SIGNED)
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error.count("still holds") == 5, error
    assert error.endswith(" and 3 more location(s)."), error
