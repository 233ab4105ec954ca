"""A real Chromium on a phone-sized screen fills and saves generated forms."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.meta import records
from tests.e2e.conftest import PHONE, fill, pick, save, served, sign_in
from tests.forms_fixtures import PASSWORD
from tests.web.test_forms_api import SCAN


@pytest.fixture
def server(lab_app, org):
    """The app with the ``field_lab`` test form, served."""
    with served(lab_app) as address:
        yield address


@pytest.fixture
def phone(page_factory):
    return page_factory(viewport=PHONE, locale="en-US")


def test_phone_fills_and_saves_a_generated_form(server, phone, tmp_path):
    page = phone
    sign_in(page, server, "admin", PASSWORD)

    page.goto(f"{server}/forms/supplier/new")
    page.fill("input[name=code]", "SUP-01")
    page.fill("input[name=name]", "Acme Medical")
    page.fill("input[name=licence_number]", "沪药监械经营许 2026-0001")
    page.fill("input[name=licence_expiry]", "2030-06-30")
    save(page)
    assert page.locator("dd[data-field=code]").inner_text() == "SUP-01"
    assert "Created" in page.locator("#history").inner_text()  # (the admin reads English)

    page.goto(f"{server}/forms/field_lab/new")
    pick(page, "location", "S1", "一号店")
    page.fill("input[name=title]", "Phone order")
    page.fill("input[name=count]", "2")
    page.click("[data-add-row=lines]")
    page.fill("input[name='lines[0].item']", "Gloves")
    page.fill("input[name='lines[0].quantity']", "3")
    page.fill("input[name='lines[0].unit_price']", "2.5")
    page.press("input[name='lines[0].unit_price']", "Tab")
    page.wait_for_function(
        "document.querySelector('[data-computed=total]').value === '7.50'", timeout=5000
    )
    assert page.locator("#in-lines-0-amount input").input_value() == "7.50"
    page.check("input[name=urgent]")
    page.wait_for_selector("[data-field=reason]:not(.d-none)", timeout=5000)
    shot = Path(os.environ.get("LIANKU_E2E_SHOTS", tmp_path)) / "field_lab_phone.png"
    page.fill("input[name=reason]", "Patient waiting")
    page.locator("[data-field=lines]").screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    save(page)
    assert page.locator("dd[data-field=total]").inner_text() == "7.50"
    assert page.locator("dd[data-field=location]").inner_text() == "S1 一号店"
    assert page.locator("h1").inner_text().startswith("Field lab · FL-S1-")


@pytest.fixture
def slow_recompute(monkeypatch):
    """The live recompute answering 1.5 s late, as on a phone on a slow network."""
    real = records.evaluate

    def late(*args, **kwargs):
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(records, "evaluate", late)


def test_a_late_recompute_does_not_put_back_what_the_clerk_replaced(server, phone, slow_recompute):
    """A scan read wrong is scanned again before the first scan's answer is back: that answer
    must not put the wrong scan back over the new one (it did: the new scan was lost and its
    own recompute then sent the wrong one again)."""
    page = phone
    sign_in(page, server, "admin", PASSWORD)
    page.goto(f"{server}/forms/field_lab/new")
    scan = page.locator("input[name=scan]")
    scan.click()
    page.keyboard.type("(01)04012345678900(17)271231(10)LOT7")  # a wrong check digit
    page.keyboard.press("Enter")
    scan.fill("")
    page.keyboard.type(SCAN)
    page.keyboard.press("Enter")  # while the first answer is on its way
    page.wait_for_function(
        "document.querySelector('input[name=lot]').value === 'LOT7'", timeout=10_000
    )
    assert page.locator("input[name=scan]").input_value() == SCAN
    assert page.locator("input[name=serial]").input_value() == "SN9"
    assert page.locator("[data-error-for=scan]").count() == 0
    # the scan field answered again keeps the cursor (htmx keeps the focus), ready for the next scan
    assert page.evaluate("document.activeElement.name") == "scan"


def test_phone_imports_a_sheet_and_sees_the_refused_rows(server, phone, tmp_path):
    from tests.web.test_forms_import import sheet

    page = phone
    sign_in(page, server, "admin", PASSWORD)
    page.goto(f"{server}/forms/field_lab/")
    page.click("text=Import")
    bad = tmp_path / "lab.xlsx"
    bad.write_bytes(sheet(("Location", "Title"), ("S1", "Alpha"), ("S1", "lower")).getvalue())
    page.set_input_files("#import-file", str(bad))
    page.click("button[type=submit]:has-text('Import')")
    refusals = page.locator("#import-refusals tbody tr")
    assert refusals.count() == 1
    assert refusals.first.inner_text().split("\t")[:2] == ["3", "Title"]
    good = tmp_path / "good.xlsx"
    good.write_bytes(sheet(("Location", "Title"), ("S1", "Alpha"), ("S1", "Beta")).getvalue())
    page.set_input_files("#import-file", str(good))
    page.click("button[type=submit]:has-text('Import')")
    page.wait_for_url(f"{server}/forms/field_lab/")
    assert "2 records imported." in page.content()
    assert page.locator("tbody tr").count() == 2


def test_a_discount_over_100_stays_as_typed_with_its_error(server, phone):
    """A percent over 100 was set back to the default 0 without a word when the field was left,
    and the form then saved at 0 %: it stays as typed with the server's reason, goes when put
    right, and a save of it is refused on that field."""
    page = phone
    sign_in(page, server, "admin", PASSWORD)
    page.goto(f"{server}/forms/field_lab/new")
    pick(page, "location", "S1", "一号店")
    fill(page, "input[name=title]", "Too much off")
    discount, error = "input[name=discount]", page.locator("[data-error-for=discount]")

    def left_at(value: str) -> None:  # typed, then the field left and its recompute back
        fill(page, discount, value)
        with page.expect_response(lambda response: response.url.endswith("/evaluate")):
            page.press(discount, "Tab")
        page.wait_for_load_state("networkidle")

    left_at("120")
    error.wait_for(timeout=5000)
    assert "100" in error.inner_text()
    assert page.input_value(discount) == "120"
    # (the class is asserted with waiting: a swap may still be settling when the error shows)
    expect(page.locator(discount)).to_have_class(re.compile(r"\bis-invalid\b"))
    left_at("20")
    expect(error).to_have_count(0)
    assert page.input_value(discount) == "20"
    expect(page.locator(discount)).not_to_have_class(re.compile(r"\bis-invalid\b"))
    left_at("120")
    error.wait_for(timeout=5000)
    with page.expect_navigation():
        page.click("#record-form button[type=submit]")
    assert page.url.endswith("/forms/field_lab/new")  # refused, not saved at 0 %
    assert page.input_value(discount) == "120" and error.count() == 1
    left_at("20")  # the save's error, beside the input, goes once it is put right too
    expect(error).to_have_count(0)
