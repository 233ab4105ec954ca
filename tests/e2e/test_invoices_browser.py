"""A real Chromium: the invoice's receipt picker offers the chosen supplier's inspected receipts
only, and offers the other supplier's once the header's supplier changes (``this('supplier')`` in
the line's link filter, sent by the page with each search); a confirmed invoice's page makes its
red-letter reversal, the new page filled in from it (参照生单) and saved once cut down."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.application import purchasing_fixtures as purchasing
from tests.application.test_invoice_returns import confirmed
from tests.application.test_invoices import INVOICES, STAFF, accepted_receipt, invoice, number
from tests.e2e.conftest import DESKTOP, pick, save, served, sign_in


@pytest.fixture
def invoicing(app, db):
    bed = purchasing.make_bed(app, db, STAFF)
    bed.glc = bed.item("GLC", "0690123456011")["data"]["item"]
    east, north = bed.supplier(), bed.supplier(code="SUP-HB", name="华北医疗")
    receipts = accepted_receipt(bed, east, "2", "10.00"), accepted_receipt(bed, north, "3", "10.00")
    blue = confirmed(bed, invoice(bed, east, 1, [(receipts[0], "20.00")]))
    with served(app) as address:
        yield address, receipts, blue


def offered(page) -> list[str]:
    """The choices the first line's receipt picker offers when opened. (A click right after a
    choice in another picker may lose the focus back to it, as tom-select refocuses the field
    just chosen in: the test clicks again, as a person would.)"""
    picker = "#in-lines-0-purchase_receipt"
    for _attempt in range(5):
        page.locator(f"{picker} .ts-control").click()
        try:
            page.wait_for_selector(f"{picker} .ts-dropdown .option", timeout=1000)
            break
        except PlaywrightTimeout:
            continue
    texts = page.locator(f"{picker} .ts-dropdown .option").all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def test_the_receipt_picker_follows_the_invoice_supplier(invoicing, page_factory):
    server, (east_receipt, north_receipt), _blue = invoicing
    page = page_factory(viewport=DESKTOP, locale="en-US")
    sign_in(page, server, "cashier", purchasing.PASSWORD)
    page.goto(f"{server}/forms/purchase_invoice/new")
    assert not page.locator("[data-field=original_invoice]").is_visible()  # a regular invoice
    pick(page, "supplier", "华东", "华东医疗")
    page.click("[data-add-row=lines]")
    assert offered(page) == [east_receipt["number"]]
    pick(page, "supplier", "华北", "华北医疗")
    assert offered(page) == [north_receipt["number"]]


def test_a_confirmed_invoice_makes_its_red_letter_reversal(invoicing, page_factory):
    server, (east_receipt, _north), blue = invoicing
    page = page_factory(viewport=DESKTOP, locale="en-US")
    sign_in(page, server, "cashier", purchasing.PASSWORD)
    page.goto(f"{server}/forms/{INVOICES}/{blue['id']}")
    page.click(f"[data-make={INVOICES}]")
    page.wait_for_load_state("networkidle")
    # filled in from the invoice reversed: red, naming it, its line negated
    assert page.locator("[name=invoice_colour]").input_value() == "red"
    original = page.locator("[data-field=original_invoice]")
    assert original.is_visible() and blue["number"] in original.inner_text()
    assert east_receipt["number"] in page.locator("[data-field=lines]").inner_text()
    assert page.locator("input[name='lines[0].amount']").input_value() == "-20.00"
    page.fill("input[name='lines[0].amount']", "-5.00")
    page.fill("input[name=invoice_number]", number(2))
    save(page)
    assert "Red-letter invoice" in page.content() and "-5.00" in page.content()
