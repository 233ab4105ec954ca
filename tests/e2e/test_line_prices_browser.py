"""A store clerk on a phone adds a sales line before choosing the customer: the line starts at
the retail price and, once the hospital is chosen, shows the price agreed with it (协议价) — and
the order is saved at it. On the draft reopened the price follows the customer still, until the
clerk types one: that stays when the customer changes."""

from __future__ import annotations

from tests.application.purchasing_fixtures import bed_fixture, day, url  # noqa: F401  (bed)
from tests.chain import PASSWORD
from tests.e2e.conftest import PHONE, RECORD_PAGE, fill, pick, save, sign_in

PRICE = "input[name='lines[0].unit_price']"


def shows(page, selector: str, value: str) -> None:
    """Wait until the input at ``selector`` holds ``value`` (the live recompute's answer)."""
    page.wait_for_function(
        "([selector, value]) => document.querySelector(selector).value === value",
        arg=[selector, value], timeout=10_000,
    )  # fmt: skip


def customer(bed, code: str, name: str, **extra) -> int:
    return bed.qualify("customer", {
        "code": code, "name": name, "kind": "hospital", "licence_number": f"沪械2020{code[-3:]}",
        "licence_expiry": day(300), **extra,
    })["id"]  # fmt: skip


def test_a_line_added_first_takes_the_hospitals_agreed_price(live_server, page_factory, bed):
    glc = bed.item("GLC", "0690123456011", wholesale_price="18.00")["data"]["item"]
    customer(bed, "H-009", "瑞金医院",
             prices=[{"item": glc, "price": "16.50", "contract": "ZB-2026-031"}])  # fmt: skip
    customer(bed, "H-008", "华山医院")  # no agreed prices: it would buy at wholesale
    page = page_factory(viewport=PHONE, locale="zh-CN")
    sign_in(page, live_server, "clerk", PASSWORD)

    page.goto(f"{live_server}/forms/sales_order/new")
    page.click("[data-add-row=lines]")
    pick(page, "lines", "GLC")
    shows(page, PRICE, "25.00")  # no customer yet: the retail price
    fill(page, "input[name='lines[0].quantity']", "2")
    pick(page, "customer", "瑞金医院")
    shows(page, PRICE, "16.50")  # the price agreed with the hospital
    save(page)
    order_id = int(RECORD_PAGE.search(page.url).group(0).rsplit("/", 1)[1])
    order = bed.api("clerk").get(url("sales_order", order_id)).json
    assert [(line["unit_price"], line["amount"]) for line in order["data"]["lines"]] == [
        ("16.50", "33.00")
    ]

    # the draft reopened: its price still follows the customer, until the clerk types one
    page.goto(f"{live_server}/forms/sales_order/{order_id}/edit")
    pick(page, "customer", "华山医院")
    shows(page, PRICE, "18.00")  # no agreement: the wholesale price
    fill(page, PRICE, "20.00")
    page.press(PRICE, "Tab")
    page.wait_for_load_state("networkidle")
    pick(page, "customer", "瑞金医院")
    page.wait_for_load_state("networkidle")
    assert page.locator(PRICE).input_value() == "20.00"  # typed: it stays
    save(page)
    order = bed.api("clerk").get(url("sales_order", order_id)).json
    assert [line["unit_price"] for line in order["data"]["lines"]] == ["20.00"]
