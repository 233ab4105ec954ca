"""The till on a phone: the clerk hands over a walk-in sale already scanned — chooses cash, the
cash received appears, the change follows what is typed — and delivers it; the store's
dashboard then shows the till of the day by payment method."""

from __future__ import annotations

from tests.application import sales_fixtures
from tests.application.sales_fixtures import PASSWORD, SO, fire, scan_goods, strip_scan
from tests.application.test_sales import new_order
from tests.e2e.conftest import PHONE, fill, save, sign_in

shop = sales_fixtures.shop  # the fixture, used by name


def test_a_clerk_takes_cash_and_the_till_shows_it(live_server, page_factory, shop, screenshot_dir):
    clerk = shop.api("clerk")
    order = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "2",
                                     "unit_price": "12.50"}])  # fmt: skip
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [strip_scan("A", 2)], paid_by=None)

    page = page_factory(viewport=PHONE, locale="en")
    sign_in(page, live_server, "clerk", PASSWORD)
    page.goto(f"{live_server}/forms/sales_order/{order['id']}/edit")
    method = page.locator("select[name=payment_method]")
    for _attempt in range(3):  # a recompute answer landing mid-change may put the old one back
        method.select_option("cash")
        page.wait_for_load_state("networkidle")
        if method.input_value() == "cash":
            break
    fill(page, "input[name=tendered]", "100")
    page.press("input[name=tendered]", "Tab")
    page.wait_for_function(
        "document.querySelector('[data-computed=change_due]').value === '75.00'", timeout=10_000
    )
    page.screenshot(path=screenshot_dir / "till-cash-phone.png", full_page=True)
    save(page)
    page.click("button[data-transition=deliver]")
    page.wait_for_selector("#movements")
    assert "Paid on" in page.locator("body").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.goto(f"{live_server}/")
    card = page.locator("[data-report-url*=till_summary][data-loaded]")
    card.wait_for(timeout=10_000)
    assert "Cash" in card.inner_text() and "25.00" in card.inner_text()
    page.screenshot(path=screenshot_dir / "till-dashboard-phone.png", full_page=True)
