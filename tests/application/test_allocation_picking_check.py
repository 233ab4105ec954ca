"""Picking done (拣货完成) on the transfer an order's allocation made, through the HTTP API: the
shipment's check runs the shipment in full — the order's hold on the goods released as they would
leave — and rolls it back, so the goods stay held for the order until the review ships them."""

from __future__ import annotations

from tests.allocation_chain import PACE_GTIN
from tests.application import allocation_fixtures
from tests.application.allocation_fixtures import SO, TO, held, records
from tests.application.sales_fixtures import day, fire, scan
from tests.application.story_fixtures import stock
from tests.application.transfers_fixtures import review_and_ship, scan_picks

chain = allocation_fixtures.chain  # the fixture, used by name


def test_checking_the_picking_keeps_the_orders_hold(chain, db):
    clerk = chain.api("clerk")
    body = {"location": chain["SH01"], "lines": [
        {"item": chain["PACE"], "quantity": "2", "unit_price": "10"}]}  # fmt: skip
    record = clerk.post(SO, json=body).json
    assert fire(clerk, SO, record, "confirm").status_code == 200  # WH-SH's SN1 and SN2, held
    (transfer,) = records(db, "transfer_out")
    wh_clerk = chain.api("wh_clerk")
    scan_picks(wh_clerk, transfer.id,
               [scan(PACE_GTIN, "P1", day(400), serial) for serial in ("SN1", "SN2")])  # fmt: skip
    before = (held(db), stock(db))
    assert len(before[0]) == 2

    done = wh_clerk.post(f"{TO}/{transfer.id}/transitions/finish_picking", json={})
    assert done.status_code == 200, done.json
    assert (held(db), stock(db)) == before  # still held for the order, nothing moved

    assert review_and_ship(chain.api("wh_supervisor"), transfer.id).status_code == 200
    assert [row[0] for row in held(db)] == []  # what left was the hold's, given up as it left
