"""出库复核 of a warehouse's transfer in a real browser: the clerk, on a phone, says the picking
is done; the supervisor, on a phone, sees the inbox count and the clerk's message, finds the
picked transfer on the warehouse dashboard, opens it from there, scans the goods again and ships
them; the goods are in transit and the page shows who reviewed them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.application import transfers_fixtures as fixtures
from tests.application.story_fixtures import raw
from tests.application.transfers_fixtures import GTIN, TO, approve, records_of, stock
from tests.e2e.conftest import PHONE, fill, save, scan_into_new_row, sign_in
from tests.forms_fixtures import PASSWORD

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses
L1_EXPIRY = dt.date(2031, 6, 30)


def approved_transfer(db, as_user, chain):
    """S1's request for 4 strips, approved by its manager: the transfer out it made at WH1."""
    clerk = as_user("clerk1")
    body = {"from_location": chain["WH1"], "to_location": chain["S1"],
            "lines": [{"item": chain["strip"], "quantity": "4", "unit_price": "10"}]}  # fmt: skip
    asked = clerk.post("/api/v1/forms/transfer_request/records", json=body).json
    submitted = clerk.post(
        f"/api/v1/forms/transfer_request/records/{asked['id']}/transitions/submit"
    )
    assert submitted.status_code == 200, submitted.json
    approve(db, as_user("manager1"), chain["manager1"], asked["id"])
    [out] = records_of(db, "transfer_out")
    return out


def picked_transfer(db, as_user, chain):
    """The approved transfer, the warehouse clerk having picked lot L1."""
    out = approved_transfer(db, as_user, chain)
    keeper = as_user("whclerk")
    version = keeper.get(f"{TO}/{out.id}").json["version"]
    lines = [{"item": chain["strip"], "lot": "L1", "quantity": "4"}]
    assert (
        keeper.put(f"{TO}/{out.id}", json={"lines": lines, "version": version}).status_code == 200
    )
    return out


def test_a_supervisor_reviews_a_transfer_from_the_dashboard_on_a_phone(
    live_server, page_factory, db, as_user, chain
):
    out = picked_transfer(db, as_user, chain)
    picker = page_factory(viewport=PHONE, locale="en")
    sign_in(picker, live_server, "whclerk", PASSWORD)
    picker.goto(f"{live_server}/forms/transfer_out/{out.id}")
    picker.click("button[data-transition=finish_picking]")
    # the record page after the transition: its content is empty while the redirect is under way
    picker.wait_for_selector("text=Awaiting review")
    assert picker.locator("button[data-transition=finish_picking]").count() == 0
    assert records_of(db, "transfer_out")[0].state == "picked"

    page = page_factory(viewport=PHONE, locale="en")
    sign_in(page, live_server, "whsuper", PASSWORD)
    # beside the menu button, the inbox says one thing waits: the clerk's message, read once
    waiting = page.locator("#inbox-phone a")
    assert waiting.inner_text().split() == ["Inbox", "1"]
    waiting.click()
    page.wait_for_url(f"{live_server}/inbox")
    unread = page.locator("#messages [data-new]")
    assert unread.count() == 1 and f"{out.number}: Picked" in unread.inner_text()
    page.goto(f"{live_server}/")
    assert page.locator("#inbox-phone a").count() == 0
    card = page.locator("[data-report-url*=transfers_to_ship][data-loaded]")
    card.wait_for(timeout=10_000)
    card.locator("a", has_text=out.number).click()
    page.wait_for_url(f"{live_server}/forms/transfer_out/{out.id}")

    page.click("a:has-text('Edit')")
    scan_into_new_row(page, "review_scans", raw(GTIN, "L1", L1_EXPIRY), "L1")
    fill(page, "input[name='review_scans[0].quantity']", "4")
    save(page)
    page.click("button[data-transition=review_ship]")
    page.wait_for_selector("#movements")
    assert "whsuper 全名" in page.locator("[data-field='reviewer']").inner_text()
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == Decimal(6)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_clerk_asks_which_lots_to_pick_on_a_phone(
    live_server, page_factory, db, as_user, chain, screenshot_dir
):
    out = approved_transfer(db, as_user, chain)
    page = page_factory(viewport=PHONE, locale="zh-CN")
    sign_in(page, live_server, "whclerk", PASSWORD)
    page.goto(f"{live_server}/forms/transfer_out/{out.id}")
    page.click("button[data-transition=suggest_lots]")
    page.wait_for_selector("text=L1 (2031-06-30) × 4")
    assert "Lots to pick" in page.content()  # the clerk reads English
    page.screenshot(path=screenshot_dir / "transfer-suggested-lots-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
