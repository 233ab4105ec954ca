"""A document line's price comes off the item card (``card_of: item``): the retail price on a
sale to a walk-in customer, the wholesale price (if the card has one) to a hospital — or the price
agreed with it (协议价, on the customer's card) — the purchase price on an order, a receipt (or
the supplier's agreed price) and a transfer; a price typed by hand stays. Through the API and the
page's live recompute (the price appears as soon as the item is chosen)."""

from __future__ import annotations

import re

import pytest

from tests.application import purchasing_fixtures as purchasing
from tests.application.clock import days_ahead
from tests.application.purchasing_fixtures import day


@pytest.fixture(name="bed")
def bed_fixture(app, db):
    bed = purchasing.make_bed(app, db, purchasing.USERS)
    # purchase price 12.00, retail 25.00 (the bed's card), wholesale 18.00
    bed.glc = bed.item("GLC", "0690123456011", wholesale_price="18.00")["data"]["item"]
    return bed


def line_prices(record: dict, field: str = "unit_price") -> list[tuple[str, str]]:
    return [(line[field], line["amount"]) for line in record["data"]["lines"]]


def test_a_sale_is_priced_off_the_item_card_unless_the_clerk_typed_a_price(bed):
    walk_in = bed.create("clerk", "sales_order", {
        "location": bed.loc("SH01"),
        "lines": [{"item": bed.glc, "quantity": "2"},
                  {"item": bed.glc, "quantity": "1", "unit_price": "20.00"}],
    })  # fmt: skip
    assert line_prices(walk_in) == [("25.00", "50.00"), ("20.00", "20.00")]
    hospital = bed.qualify("customer", {
        "code": "H-9", "name": "瑞金医院", "kind": "hospital", "licence_number": "沪械2020009",
        "licence_expiry": day(300), "contact": "李主任", "phone": "021-6437 0045",
    })  # fmt: skip
    sale = bed.create("clerk", "sales_order", {
        "location": bed.loc("SH01"), "customer": hospital["id"],
        "lines": [{"item": bed.glc, "quantity": "10"}],
    })  # fmt: skip
    assert line_prices(sale) == [("18.00", "180.00")]  # the wholesale price


def test_a_hospital_buys_at_its_agreed_price_where_it_has_one(bed):
    other = bed.item("GLC-2", "0690123456012", wholesale_price="30.00")["data"]["item"]
    hospital = bed.qualify("customer", {
        "code": "H-8", "name": "华山医院", "kind": "hospital", "licence_number": "沪械2020008",
        "licence_expiry": day(300),
        "prices": [{"item": bed.glc, "price": "16.50", "contract": "ZB-2026-031"}],
    })  # fmt: skip
    sale = bed.create("clerk", "sales_order", {
        "location": bed.loc("SH01"), "customer": hospital["id"],
        "lines": [{"item": bed.glc, "quantity": "10"}, {"item": other, "quantity": "1"},
                  {"item": bed.glc, "quantity": "1", "unit_price": "17.00"}],
    })  # fmt: skip
    # agreed for GLC, wholesale for the other item, and what the clerk typed stays
    assert line_prices(sale) == [("16.50", "165.00"), ("30.00", "30.00"), ("17.00", "17.00")]
    html = bed.api("clerk").form("/forms/sales_order/evaluate", {
        "location": str(bed.loc("SH01")), "customer": str(hospital["id"]),
        "lines[0].item": str(bed.glc), "lines[0].quantity": "2",
    }).text  # fmt: skip
    assert 'value="16.50"' in html and 'value="33.00"' in html  # on the page at once
    # one agreed price per item on a card, refused on the line that repeats it
    response = bed.api("hq").post(purchasing.url("customer"), json={
        "code": "H-7", "name": "长海医院", "kind": "hospital", "licence_number": "沪械2020007",
        "licence_expiry": day(300),
        "prices": [{"item": bed.glc, "price": "16.00"}, {"item": bed.glc, "price": "15.00"}],
    })  # fmt: skip
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"prices[0].item", "prices[1].item"}


def test_an_agreed_price_applies_only_within_its_term(bed):
    """A tender's price holds from its start to its end: a sale dated outside takes the card's
    wholesale price; a supplier's contract price likewise on an order and a receipt."""
    hospital = bed.qualify("customer", {
        "code": "H-6", "name": "仁济医院", "kind": "hospital", "licence_number": "沪械2020006",
        "licence_expiry": day(300),
        "prices": [{"item": bed.glc, "price": "16.50", "contract": "ZB-2026-006",
                    "valid_from": day(-10), "valid_until": day(20)}],
    })  # fmt: skip

    def priced(days: int) -> list[tuple[str, str]]:
        """A sale on the day ``days`` from today (made on it, if ahead)."""
        with days_ahead(days):
            return line_prices(bed.create("clerk", "sales_order", {
                "location": bed.loc("SH01"), "customer": hospital["id"], "sale_date": day(days),
                "lines": [{"item": bed.glc, "quantity": "2"}],
            }))  # fmt: skip

    assert priced(0) == [("16.50", "33.00")]
    assert priced(20) == [("16.50", "33.00")]  # its last day
    assert priced(21) == [("18.00", "36.00")]  # ran out: the wholesale price
    assert priced(-11) == [("18.00", "36.00")]  # not yet in force
    ending = bed.api("hq").get(f"/api/v1/reports/agreed_prices_expiring?until={day(30)}").json
    assert [(row["values"]["customer"], row["values"]["contract"], row["values"]["valid_until"])
            for row in ending["rows"]] == [("仁济医院", "ZB-2026-006", str(day(20)))]  # fmt: skip
    later = bed.api("hq").get(f"/api/v1/reports/agreed_prices_expiring?until={day(19)}").json
    assert later["rows"] == []
    supplier = bed.supplier(prices=[{"item": bed.glc, "price": "11.20", "contract": "CG-032",
                                     "valid_until": day(-1)}])  # fmt: skip
    order = bed.create("keeper", "purchase_order", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "expected_date": day(7),
        "lines": [{"item": bed.glc, "quantity": "10"}],
    })  # fmt: skip
    assert line_prices(order) == [("12.00", "120.00")]  # the contract ended yesterday
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "arrival_date": day(-3),
        "lines": [{"item": bed.glc, "lot": "L1", "expiry_date": day(400), "quantity": "10"}],
    })  # fmt: skip
    assert receipt["data"]["lines"][0]["unit_cost"] == "11.20"  # arrived while it held
    # a term that ends before it starts is refused on its end
    response = bed.api("hq").post(purchasing.url("customer"), json={
        "code": "H-5", "name": "新华医院", "kind": "hospital", "licence_number": "沪械2020005",
        "licence_expiry": day(300),
        "prices": [{"item": bed.glc, "price": "16.00", "valid_from": day(5),
                    "valid_until": day(4)}],
    })  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {"prices[0].valid_until": ["截止日期不能早于生效日期"]}


def test_orders_receipts_and_transfers_are_priced_at_the_purchase_price(bed):
    supplier = bed.supplier()
    order = bed.create("keeper", "purchase_order", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "expected_date": day(7),
        "lines": [{"item": bed.glc, "quantity": "100"}],
    })  # fmt: skip
    assert line_prices(order) == [("12.00", "1200.00")]
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": bed.glc, "lot": "L1", "expiry_date": day(400), "quantity": "10"}],
    })  # fmt: skip
    assert receipt["data"]["lines"][0]["unit_cost"] == "12.00"
    asked = bed.create("clerk", "transfer_request", {
        "to_location": bed.loc("SH01"), "from_location": bed.loc("WH-SH"),
        "lines": [{"item": bed.glc, "quantity": "4"}],
    })  # fmt: skip
    assert line_prices(asked) == [("12.00", "48.00")]


def test_a_supplier_sells_at_its_agreed_price_where_it_has_one(bed):
    other = bed.item("GLC-2", "0690123456012", purchase_price="7.00")["data"]["item"]
    supplier = bed.supplier(prices=[{"item": bed.glc, "price": "11.20", "contract": "CG-031"}])
    order = bed.create("keeper", "purchase_order", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "expected_date": day(7),
        "lines": [{"item": bed.glc, "quantity": "100"}, {"item": other, "quantity": "10"}],
    })  # fmt: skip
    assert line_prices(order) == [("11.20", "1120.00"), ("7.00", "70.00")]
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": bed.glc, "lot": "L1", "expiry_date": day(400), "quantity": "10"}],
    })  # fmt: skip
    assert receipt["data"]["lines"][0]["unit_cost"] == "11.20"


def test_an_item_without_a_card_price_still_asks_for_one(bed):
    bare = bed.item("GLC-2", "0690123456012", retail_price=None)["data"]["item"]
    response = bed.api("clerk").post(purchasing.url("sales_order"), json={
        "location": bed.loc("SH01"), "lines": [{"item": bare, "quantity": "1"}],
    })  # fmt: skip
    assert response.status_code == 422
    assert "lines[0].unit_price" in response.json["errors"]


def test_the_price_appears_on_the_page_as_soon_as_the_item_is_chosen(bed):
    clerk = bed.api("clerk")
    html = clerk.form("/forms/sales_order/evaluate", {
        "location": str(bed.loc("SH01")), "lines[0].item": str(bed.glc),
        "lines[0].quantity": "3",
    }).text  # fmt: skip
    price = re.search(r'<input[^>]*name="lines\[0\]\.unit_price"[^>]*>', html)
    assert price and 'value="25.00"' in price.group(0)
    assert 'value="75.00"' in html  # the line's amount follows
