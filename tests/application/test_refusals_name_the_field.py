"""Refusals name the field the user must change, as the API gives it (``lines[1].quantity``,
``review_scans``) and the page marks it: an over-receipt on an order names the line's quantity;
a review that does not match the picking names the review scans, and a review scan whose expiry
is not its lot's names that scan's expiry date; a report's missing parameter is named by the
label the user reads on the report, not by its key."""

from __future__ import annotations

import pytest

from tests.application.purchasing_fixtures import USERS, day, make_bed
from tests.application.test_purchasing_orders import _receipt
from tests.application.test_purchasing_refusals import _approve, _order
from tests.application.test_supplier_return_review import draft


@pytest.fixture
def bed(app, db):
    return make_bed(app, db, USERS | {"manager": ("store_manager", "SH01", "en")})


@pytest.fixture
def gauze(bed) -> int:
    bed.supplier_id = bed.supplier()["id"]
    return bed.item("GAUZE", "0690123456011")["data"]["item"]


def test_an_over_receipt_names_the_quantity_of_the_line_beyond_the_order(bed, gauze):
    order = _order(bed, bed.supplier_id, gauze, "10")
    assert _approve(bed, "supervisor", order["id"]).status_code == 200

    response = _receipt(bed, "supervisor", order, bed.supplier_id, [(gauze, "L1", "12")])
    assert response.status_code == 409
    assert response.json["error"].startswith("第 1 行：采购订单")
    assert response.json["field"] == "lines[0].quantity"
    # the second line is the one that goes beyond: its own index
    response = _receipt(
        bed, "keeper", order, bed.supplier_id, [(gauze, "L1", "4"), (gauze, "L2", "7")]
    )
    assert response.status_code == 409 and response.json["error"].startswith("Line 2:")
    assert response.json["field"] == "lines[1].quantity"
    assert bed.balances() == {}


def test_a_review_that_does_not_match_the_picking_names_the_review_scans(bed, gauze):
    back = draft(bed, "keeper", "WH-SH", gauze, "4")
    assert bed.fire("keeper", "supplier_return", back["id"], "finish_picking").status_code == 200
    before = bed.balances()

    short = bed.review_and_return("qa", back["id"], [{"item": gauze, "lot": "L1", "quantity": "3"}])
    assert short.status_code == 409
    assert short.json["error"].endswith("复核与拣货扫码不符：GAUZE 批号 L1 拣货 4，复核 3。")
    assert short.json["field"] == "review_scans"
    assert bed.balances() == before


def test_a_review_scan_whose_expiry_is_not_its_lots_is_refused_naming_it(bed, gauze):
    back = draft(bed, "keeper", "WH-SH", gauze, "4")  # lot L1 is on record expiring day(300)
    assert bed.fire("keeper", "supplier_return", back["id"], "finish_picking").status_code == 200
    before = bed.balances()

    scans = [
        {"item": gauze, "lot": "L1", "expiry_date": day(300), "quantity": "1"},
        {"item": gauze, "lot": "L1", "expiry_date": day(400), "quantity": "3"},
    ]
    wrong = bed.review_and_return("qa", back["id"], scans)
    assert wrong.status_code == 409
    assert wrong.json["field"] == "review_scans[1].expiry_date"
    assert wrong.json["error"].startswith("复核扫码")  # the table, then which scan
    assert day(300) in wrong.json["error"] and day(400) in wrong.json["error"]
    assert bed.balances() == before
    record = bed.api("qa").get(f"/api/v1/forms/supplier_return/records/{back['id']}").json
    assert record["state"] == "picked" and not record["data"].get("reviewer")

    scans[1]["expiry_date"] = day(300)  # the label read again: the lot's own expiry
    shipped = bed.review_and_return("qa", back["id"], scans)
    assert shipped.status_code == 200, shipped.json
    assert shipped.json["state"] == "returned"


def test_a_missing_report_parameter_is_named_by_its_label(bed):
    for username, label in (
        ("supervisor", "商品编码 为必填项"),
        ("manager", "Item code is required"),  # each in the user's language
    ):
        response = bed.api(username).get("/api/v1/reports/stock_card")
        assert response.status_code == 400, response.json
        assert response.json["errors"] == {"item": [label]}
        assert response.json["message"] == label
