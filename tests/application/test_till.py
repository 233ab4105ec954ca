"""The till at the counter, through the HTTP API: a walk-in sale is handed over once the clerk
says how the customer paid (cash received and change for cash), the day it was paid is stamped
at delivery; a refund at the counter goes back as the customer paid, at most what the goods cost;
the till summary (收银日报) adds each store's day up by payment method, refunds taken off, and
leaves out what hospitals buy on account."""

from __future__ import annotations

from decimal import Decimal as D

from app.kernel.items import business_today
from tests.application import sales_fixtures
from tests.application.sales_fixtures import (
    CR,
    SO,
    fire,
    hospital_order,
    ledger,
    review_goods,
    scan_goods,
    strip_scan,
)
from tests.application.test_sales import new_order

shop = sales_fixtures.shop  # the fixture, used by name


def till(api, **params) -> list[tuple]:
    """(store, day, payment method, net takings, documents) of each row of the till summary."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    response = api.get(f"/api/v1/reports/till_summary?{query}")
    assert response.status_code == 200, response.json
    return [(row["store"], row["day"], line["labels"].get("method", row["method"]),
             D(row["takings"]), row["documents"])
            for line in response.json["rows"] for row in [line["values"]]]  # fmt: skip


def save(api, order: dict, **data):
    current = api.get(f"{SO}/{order['id']}").json
    return api.client.patch(f"{SO}/{order['id']}", json={**data, "version": current["version"]},
                            headers={"X-CSRFToken": api.token})  # fmt: skip


def sold(shop, lot: str, quantity: int, paid_by: str) -> dict:
    """A walk-in sale of ``quantity`` strips of ``lot`` at 12.50, paid ``paid_by``, handed over."""
    clerk = shop.api("clerk")
    order = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": str(quantity),
                                     "unit_price": "12.50"}])  # fmt: skip
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [strip_scan(lot, quantity)], paid_by=paid_by)
    delivered = fire(clerk, SO, order, "deliver")
    assert delivered.status_code == 200, delivered.json
    return delivered.json


def test_a_walk_in_sale_is_handed_over_once_paid_and_counted_by_how(shop, db):
    clerk = shop.api("clerk")
    order = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "2",
                                     "unit_price": "12.50"}])  # fmt: skip
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [strip_scan("A", 2)], paid_by=None)
    refused = fire(clerk, SO, order, "deliver")
    assert refused.status_code == 422
    assert refused.json["errors"] == {"payment_method": ["Choose how the customer paid"]}
    assert ledger(db, order["number"]) == []  # nothing handed over

    short = save(clerk, order, payment_method="cash", tendered="20")
    assert short.status_code == 422
    assert short.json["errors"] == {"tendered": ["The cash received is less than the total"]}
    paid = save(clerk, order, payment_method="cash", tendered="50")
    assert paid.status_code == 200, paid.json
    assert paid.json["data"]["change_due"] == "25.00"
    delivered = fire(clerk, SO, order, "deliver")
    assert delivered.status_code == 200, delivered.json
    today = business_today().isoformat()
    assert delivered.json["data"]["paid_on"] == today
    assert till(clerk) == [("一号店", today, "Cash", D("25.00"), 1)]


def test_a_refund_at_the_counter_comes_off_the_till_as_the_customer_paid(shop, db):
    by_phone = sold(shop, "A", 2, "wechat")
    sold(shop, "A", 1, "cash")
    clerk = shop.api("clerk")
    body = {"location": shop["S1"], "sales_order": by_phone["id"], "reason": "买多了"}

    too_much = clerk.post(CR, json={**body, "lines": [strip_scan("A", 1)], "refund_amount": "13"})
    assert too_much.status_code == 422
    assert list(too_much.json["errors"]) == ["refund_amount"]
    back = clerk.post(CR, json={**body, "lines": [strip_scan("A", 1)]})
    assert back.status_code == 201, back.json
    # the goods' value at the order's price, going back the way it came
    assert (back.json["data"]["refund_amount"], back.json["data"]["refund_method"]) == (
        "12.50",
        "wechat",
    )
    today = business_today().isoformat()
    rows = [("一号店", today, "Cash", D("12.50"), 1),
            ("一号店", today, "WeChat Pay", D("25.00"), 1)]  # fmt: skip
    assert till(clerk) == rows  # a draft return refunded nothing yet
    assert fire(clerk, CR, back.json, "receive").status_code == 200
    rows[1] = ("一号店", today, "WeChat Pay", D("12.50"), 2)
    assert till(clerk) == rows
    assert till(clerk, period=f"{today}..{today}", location=shop["S1"]) == rows


def test_a_hospital_pays_on_account_not_at_the_till(shop, db):
    order = hospital_order(shop)
    manager = shop.api("manager")
    review_goods(manager, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    delivered = fire(manager, SO, order, "review_deliver")
    assert delivered.status_code == 200, delivered.json
    assert delivered.json["data"].get("paid_on") is None  # nothing through the till
    returned = shop.api("clerk").post(CR, json={
        "location": shop["S1"], "sales_order": order["id"], "reason": "多发",
        "lines": [strip_scan("A", 1)],
    })  # fmt: skip
    assert returned.status_code == 201, returned.json
    assert returned.json["data"]["refund_amount"] is None  # credited to its account instead
    assert fire(shop.api("clerk"), CR, returned.json, "receive").status_code == 200
    assert till(manager) == []
