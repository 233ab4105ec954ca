"""A receipt against a purchase order, through the API: the order's supplier and location, only
its items, and over all its receipts never more than ordered; each refusal names the order (and
the line), writes nothing, and what is received is counted on the order's lines."""

from __future__ import annotations

from tests.application.purchasing_fixtures import (
    Decimal,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    url,
)
from tests.application.test_purchasing_refusals import _approve, _order


def _receipt(
    bed, username: str, order: dict, supplier: int, lines: list, location="WH-SH", creator=None
):
    record = bed.create(creator or username, "purchase_receipt", {
        "location": bed.loc(location), "supplier": supplier, "purchase_order": order["id"],
        "lines": [{"item": item, "lot": lot, "expiry_date": day(300), "quantity": quantity}
                  for item, lot, quantity in lines],
    })  # fmt: skip
    return bed.fire(username, "purchase_receipt", record["id"], "receive")


def _received(bed, order: dict) -> list:
    lines = bed.api("hq").get(url("purchase_order", order["id"])).json["data"]["lines"]
    return [line.get("received") for line in lines]


def test_a_receipt_must_match_its_purchase_order(bed):
    supplier = bed.supplier()["id"]
    other = bed.supplier("SUP-HN", "华南医疗")["id"]
    gauze = bed.item("GAUZE", "0690123456011")["data"]["item"]
    strips = bed.item("STRIP", "0690123456012")["data"]["item"]
    order = _order(bed, supplier, gauze, "10")
    assert _approve(bed, "supervisor", order["id"]).status_code == 200
    number = order["number"]

    response = _receipt(bed, "keeper", order, other, [(gauze, "L1", "2")])
    assert response.status_code == 409
    assert response.json["error"] == (
        f"Purchase order {number} is with supplier 华东医疗, not 华南医疗."
    )
    response = _receipt(bed, "supervisor", order, other, [(gauze, "L1", "2")])
    assert response.json["error"] == f"采购订单 {number} 的供应商为 华东医疗，而不是 华南医疗。"
    # HQ sees every order: its receipt for the store, received by the store
    response = _receipt(
        bed, "clerk", order, supplier, [(gauze, "L1", "2")], location="SH01", creator="hq"
    )
    assert response.status_code == 409
    assert response.json["error"] == (
        f"采购订单 {number} 的收货地点为 上海中心仓，而不是 上海徐汇店。"
    )
    response = _receipt(bed, "keeper", order, supplier, [(gauze, "L1", "2"), (strips, "S1", "1")])
    assert response.status_code == 409
    assert response.json["error"] == f"Line 2: STRIP is not on purchase order {number}."
    assert bed.balances() == {}

    assert _receipt(bed, "keeper", order, supplier, [(gauze, "L1", "6")]).status_code == 200
    assert _received(bed, order) == ["6"]
    response = _receipt(bed, "keeper", order, supplier, [(gauze, "L2", "3"), (gauze, "L3", "2")])
    assert response.status_code == 409
    assert response.json["error"] == (
        f"Line 2: purchase order {number} orders 10 of GAUZE, 6 are received already and this "
        "receipt brings 5."
    )
    assert _receipt(bed, "keeper", order, supplier, [(gauze, "L2", "4")]).status_code == 200
    assert _received(bed, order) == ["10"]
    assert bed.balances() == {
        ("WH-SH", gauze, "L1", "awaiting_inspection"): Decimal(6),
        ("WH-SH", gauze, "L2", "awaiting_inspection"): Decimal(4),
    }


def test_the_received_quantity_of_an_order_is_not_entered_by_hand(bed):
    supplier = bed.supplier()["id"]
    gauze = bed.item("GAUZE", "0690123456011")["data"]["item"]
    response = bed.api("keeper").post(url("purchase_order"), json={
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"item": gauze, "quantity": "10", "unit_price": "1", "received": "-50"}],
    })  # fmt: skip
    # (read-only: what a person sends for it is ignored, as for every read-only field)
    assert response.status_code == 201, response.json
    assert response.json["data"]["lines"][0].get("received") is None
