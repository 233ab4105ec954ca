"""The stock view in a real browser on a phone: pick the item by searching, then a sale posted
elsewhere shows on the page by itself — no reload — and each location reads as a card."""

from __future__ import annotations

from playwright.sync_api import expect

from app.kernel.stock import Reason
from app.web import stock
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import book
from tests.e2e.conftest import PHONE, sign_in
from tests.forms_fixtures import PASSWORD

chain = fixtures.chain  # the fixture, used by name


def test_the_stock_view_updates_without_a_reload(
    live_server, page_factory, db, chain, monkeypatch, screenshot_dir
):
    monkeypatch.setattr(stock, "REFRESH_SECONDS", 1)  # poll often: the test waits less
    book(db, chain, "S1", 3)
    page = page_factory(viewport=PHONE)
    sign_in(page, live_server, "clerk1", PASSWORD)
    page.goto(f"{live_server}/stock/items")
    page.click(".stock-search .ts-control")
    page.keyboard.type("STRIP")
    page.click(".ts-dropdown .option:has-text('STRIP')")
    page.wait_for_url(f"{live_server}/stock/items/{chain['strip']}")
    on_hand = page.locator('tr[data-location="S1"] td[data-figure="on_hand"]')
    assert on_hand.inner_text().strip().endswith("3")
    assert not page.locator(".stock-table thead").is_visible()  # a card per location
    page.evaluate("window.notReloaded = true")

    book(db, chain, "S1", 1, reason=Reason.sale, source=True)  # a sale at S1, elsewhere
    page.wait_for_function(
        'document.querySelector(\'tr[data-location="S1"] td[data-figure="on_hand"]\')'
        ".innerText.trim().endsWith('2')",
        timeout=10_000,
    )
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=screenshot_dir / "stock-view-390.png", full_page=True)


def test_the_item_picker_finds_an_item_by_its_gtin_or_a_whole_scan(
    live_server, page_factory, db, chain
):
    """A scanner types the GTIN (or the whole GS1 string) into the picker: the server matches
    it, and the picker shows that match — and only it, not what it offered on opening — instead
    of filtering it away by its label (which holds the code and name, not the GTIN); what matches
    nothing says so in the user's language."""
    page = page_factory(viewport=PHONE)
    sign_in(page, live_server, "clerk1", PASSWORD)
    typed_and_found = [
        (fixtures.GTIN, ["STRIP"]),
        (f"01{fixtures.GTIN}17310630" + "10L1", ["STRIP"]),
        ("NO-SUCH-ITEM", []),
    ]
    for typed, found in typed_and_found:  # each on a page of its own: one search at a time
        page.goto(f"{live_server}/stock/items")
        page.click(".stock-search .ts-control")
        with page.expect_response(lambda r, typed=typed: r.url.endswith(f"?q={typed}")):
            page.keyboard.type(typed)
        options = page.locator(".ts-dropdown .option")
        expect(options).to_have_count(len(found))
        for code, option in zip(found, options.all(), strict=True):
            expect(option).to_contain_text(code)
    expect(page.locator(".ts-dropdown .no-results")).to_have_text("Nothing matches.")
