"""销售毛利 through the HTTP API: a delivery keeps, on each of its rows, the order's price of the
item after discount and what the row's lot cost (on its ledger row too); the gross margin report
adds them up by location and item; goods the customer brings back come off the sale; a lot never
costed leaves its cost and margin empty instead of counting it free."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import select

from app.kernel.items import Item, Lot
from app.kernel.locations import Location
from app.kernel.stock import LedgerEntry, Movement, Reason, post_movements
from tests.application import sales_fixtures
from tests.application.sales_fixtures import (
    CR,
    ITEM_CARDS,
    SO,
    day,
    fire,
    scan_goods,
    strip_card_data,
    strip_scan,
)

shop = sales_fixtures.shop  # the fixture, used by name


def cost_lots(db, shop, costs: dict[str, str]) -> None:
    """One more strip of each lot in ``costs`` received at that unit cost: the lot's cost."""
    with db.transaction() as session:
        strip, store = session.get(Item, shop["STRIP"]), session.get(Location, shop["S1"])
        movements = [
            Movement(item=strip, quantity=D(1), destination=store, unit_cost=D(cost),
                     lot=session.scalar(select(Lot).where(Lot.lot_number == number)))
            for number, cost in costs.items()
        ]  # fmt: skip
        post_movements(session, movements, reason=Reason.purchase_receipt, document="COSTS")


def sell(shop, lines, scans) -> dict:
    clerk = shop.api("clerk")
    created = clerk.post(SO, json={"location": shop["S1"], "lines": lines})
    assert created.status_code == 201, created.json
    assert fire(clerk, SO, created.json, "confirm").status_code == 200
    scan_goods(clerk, created.json["id"], scans)
    delivered = fire(clerk, SO, created.json, "deliver")
    assert delivered.status_code == 200, delivered.json
    return delivered.json


def margin(api) -> list[tuple]:
    """The report's rows by item (not the location's subtotal): item, quantity, sales, cost,
    margin, margin rate."""
    response = api.get(f"/api/v1/reports/gross_margin?period={day(-1)}..{day(1)}")
    assert response.status_code == 200, response.json
    return [
        (row["values"]["item_code"], D(row["values"]["quantity"]),
         *(None if row["values"][name] is None else D(row["values"][name])
           for name in ("sales", "cost", "margin", "margin_rate")))
        for row in response.json["rows"] if row["level"] == 0
    ]  # fmt: skip


def test_a_delivery_keeps_what_each_row_sold_for_and_cost(shop, db):
    cost_lots(db, shop, {"A": "6.00", "A2": "7.00"})  # A: 4 on hand, A2: 5
    order = sell(
        shop, [{"item": shop["STRIP"], "quantity": "5", "unit_price": "12.50", "discount": "10"}],
        [strip_scan("A", 4), strip_scan("A2", 1)],
    )  # fmt: skip
    rows = [(row["lot"], D(row["unit_price"]), D(row["unit_cost"]), D(row["sales_amount"]),
             D(row["cost_amount"])) for row in order["data"]["deliveries"]]  # fmt: skip
    assert rows == [  # 12.50 less 10 %: 11.25 a strip
        ("A", D("11.25"), D("6.00"), D("45.00"), D("24.00")),
        ("A2", D("11.25"), D("7.00"), D("11.25"), D("7.00")),
    ]
    with db.session() as session:  # the sale's ledger rows carry what the goods cost
        costs = session.scalars(
            select(LedgerEntry.unit_cost)
            .where(LedgerEntry.document == order["number"])
            .order_by(LedgerEntry.id)
        ).all()
    assert costs == [D("6.00"), D("7.00")]
    # 56.25 sold, 31.00 cost: 25.25 earned, 44.89 %
    assert margin(shop.api("manager")) == [
        ("STRIP", D(5), D("56.25"), D("31.00"), D("25.25"), D("44.89"))
    ]
    # the store dashboard's figure: the same, all items together
    summary = shop.api("manager").get("/api/v1/reports/gross_margin_summary").json
    [row] = summary["rows"]
    assert {name: D(row["values"][name]) for name in ("sales", "cost", "margin")} == {
        "sales": D("56.25"), "cost": D("31.00"), "margin": D("25.25")}  # fmt: skip


def test_lines_of_one_item_at_two_prices_sell_at_their_average(shop, db):
    cost_lots(db, shop, {"A": "6.00"})
    order = sell(
        shop, [{"item": shop["STRIP"], "quantity": "1", "unit_price": "10"},
               {"item": shop["STRIP"], "quantity": "3", "unit_price": "14"}],
        [strip_scan("A", 4)],
    )  # fmt: skip
    [row] = order["data"]["deliveries"]
    assert (D(row["unit_price"]), D(row["sales_amount"])) == (D("13.00"), D("52.00"))
    assert margin(shop.api("manager")) == [
        ("STRIP", D(4), D("52.00"), D("24.00"), D("28.00"), D("53.85"))
    ]


def test_goods_brought_back_come_off_the_sale(shop, db):
    cost_lots(db, shop, {"A": "6.00", "A2": "7.00"})
    order = sell(shop, [{"item": shop["STRIP"], "quantity": "5", "unit_price": "10"}],
                 [strip_scan("A", 4), strip_scan("A2", 1)])  # fmt: skip
    clerk = shop.api("clerk")
    back = clerk.post(CR, json={"location": shop["S1"], "sales_order": order["id"],
                                "reason": "包装破损", "lines": [strip_scan("A", 1)]})  # fmt: skip
    assert back.status_code == 201, back.json
    assert fire(clerk, CR, back.json, "receive").status_code == 200
    [a_row, _a2_row] = clerk.get(f"{SO}/{order['id']}").json["data"]["deliveries"]
    assert (D(a_row["net_quantity"]), D(a_row["sales_amount"]), D(a_row["cost_amount"])) == (
        D(3), D("30.00"), D("18.00"))  # fmt: skip
    assert margin(shop.api("manager")) == [
        ("STRIP", D(4), D("40.00"), D("25.00"), D("15.00"), D("37.50"))
    ]


def test_a_lot_never_costed_leaves_cost_and_margin_empty(shop, db):
    """The shop's opening stock carries no cost: the sale is counted, its cost is not made 0."""
    order = sell(shop, [{"item": shop["STRIP"], "quantity": "2", "unit_price": "10"}],
                 [strip_scan("A", 2)])  # fmt: skip
    [row] = order["data"]["deliveries"]
    assert row["unit_cost"] is None and row["cost_amount"] is None
    assert D(row["sales_amount"]) == D("20.00")
    assert margin(shop.api("manager")) == [("STRIP", D(2), D("20.00"), None, None, None)]


def test_a_store_clerk_does_not_read_the_margin(shop, db):
    """Margins are the manager's: the clerk gets neither report nor the dashboard's figure."""
    clerk, manager = shop.api("clerk"), shop.api("manager")
    for report in ("gross_margin", "gross_margin_summary"):
        assert clerk.get(f"/api/v1/reports/{report}").status_code == 404
        assert manager.get(f"/api/v1/reports/{report}").status_code == 200
    assert "/api/v1/reports/gross_margin_summary" in manager.get("/").text
    assert "/api/v1/reports/gross_margin_summary" not in clerk.get("/").text


def strip_card(shop, tax_rate: str):
    return shop.api("buyer").post(ITEM_CARDS, json=strip_card_data(tax_rate))


def excl_tax(api) -> tuple:
    """Sales and cost without VAT (the dashboard's summary) and the margin without it (the
    report's strips row: the same, as the report keeps to the margins)."""
    response = api.get(f"/api/v1/reports/gross_margin?period={day(-1)}..{day(1)}")
    [row] = [row["values"] for row in response.json["rows"] if row["level"] == 0]
    [summary] = api.get("/api/v1/reports/gross_margin_summary").json["rows"]
    figures = tuple(D(summary["values"][name]) for name in ("sales_excl_tax", "cost_excl_tax"))
    assert D(summary["values"]["margin_excl_tax"]) == D(row["margin_excl_tax"])
    return (*figures, D(row["margin_excl_tax"]))


def test_the_margin_without_vat_is_read_at_the_rate_the_line_was_sold_at(shop, db):
    card = strip_card(shop, "13")
    assert card.status_code == 201, card.json
    cost_lots(db, shop, {"A": "6.00", "A2": "7.00"})
    order = sell(
        shop, [{"item": shop["STRIP"], "quantity": "5", "unit_price": "12.50", "discount": "10",
                "tax_rate": "3"}],  # the rate is the card's, not the clerk's
        [strip_scan("A", 4), strip_scan("A2", 1)],
    )  # fmt: skip
    assert D(order["data"]["lines"][0]["tax_rate"]) == 13
    rows = [(D(row["tax_rate"]), D(row["sales_excl_tax"]), D(row["cost_excl_tax"]))
            for row in order["data"]["deliveries"]]  # fmt: skip
    # 45.00 and 24.00 / 1.13; 11.25 and 7.00 / 1.13
    assert rows == [(13, D("39.82"), D("21.24")), (13, D("9.96"), D("6.19"))]
    manager = shop.api("manager")
    assert excl_tax(manager) == (D("49.78"), D("27.43"), D("22.35"))
    page = manager.get(f"/reports/gross_margin?period={day(-1)}..{day(1)}").text
    assert "Gross margin excl. tax" in page and "22.35" in page
    assert "Sales excl. tax" not in page  # what it is made of stays off the page
    # the card's rate changes: a sale made now takes the new one; the sale made before keeps
    # its own, even when a return recomputes its rows
    buyer = shop.api("buyer")
    changed = buyer.put(
        f"{ITEM_CARDS}/{card.json['id']}",
        json=strip_card_data("9") | {"version": card.json["version"]},
    )
    assert changed.status_code == 200, changed.json
    back = shop.api("clerk").post(CR, json={
        "location": shop["S1"], "sales_order": order["id"], "reason": "包装破损",
        "lines": [strip_scan("A2", 1)],
    })  # fmt: skip
    assert fire(shop.api("clerk"), CR, back.json, "receive").status_code == 200
    assert excl_tax(manager) == (D("39.82"), D("21.24"), D("18.58"))
    later = shop.api("clerk").post(SO, json={
        "location": shop["S1"],
        "lines": [{"item": shop["STRIP"], "quantity": "1", "unit_price": "12"}],
    })  # fmt: skip
    assert later.status_code == 201, later.json
    assert D(later.json["data"]["lines"][0]["tax_rate"]) == 9
    summary = manager.get("/api/v1/reports/gross_margin_summary").json
    [row] = summary["rows"]
    assert D(row["values"]["margin_excl_tax"]) == D("18.58")


def test_an_order_made_before_its_lines_kept_a_rate_reads_the_cards(shop, db):
    cost_lots(db, shop, {"A": "6.00"})
    order = sell(shop, [{"item": shop["STRIP"], "quantity": "2", "unit_price": "11.30"}],
                 [strip_scan("A", 2)])  # fmt: skip
    [row] = order["data"]["deliveries"]
    assert order["data"]["lines"][0]["tax_rate"] is None  # no card: no rate, no margin w/o VAT
    assert row["sales_excl_tax"] is None and D(row["sales_amount"]) == D("22.60")
    assert strip_card(shop, "13").status_code == 201
    back = shop.api("clerk").post(CR, json={
        "location": shop["S1"], "sales_order": order["id"], "reason": "包装破损",
        "lines": [strip_scan("A", 1)],
    })  # fmt: skip
    assert fire(shop.api("clerk"), CR, back.json, "receive").status_code == 200
    assert excl_tax(shop.api("manager")) == (D("10.00"), D("5.31"), D("4.69"))


def test_an_item_card_takes_only_a_vat_rate_in_force(shop, db):
    refused = strip_card(shop, "0.13")
    assert refused.status_code == 422, refused.json
    assert "13" in refused.json["errors"]["tax_rate"][0]
    assert shop.api("buyer").get(ITEM_CARDS).json["total"] == 0


def test_a_draft_lines_rate_follows_its_item(shop):
    """The rate is the line's item's, whichever line it is after an edit (a line removed, an
    item changed): never the rate a line before it held in that place."""
    assert strip_card(shop, "9").status_code == 201
    clerk = shop.api("clerk")
    pace = {"item": shop["PACE"], "quantity": "1", "unit_price": "5000"}
    strip = {"item": shop["STRIP"], "quantity": "2", "unit_price": "12"}
    draft = clerk.post(SO, json={"location": shop["S1"], "lines": [pace, strip]}).json
    assert [line["tax_rate"] for line in draft["data"]["lines"]] == [None, "9"]
    lines = [strip, pace | strip]  # the first line removed, the second's item changed
    edited = clerk.put(f"{SO}/{draft['id']}", json={
        "version": draft["version"], "location": shop["S1"], "lines": lines})  # fmt: skip
    assert edited.status_code == 200, edited.json
    assert [line["tax_rate"] for line in edited.json["data"]["lines"]] == ["9", "9"]
