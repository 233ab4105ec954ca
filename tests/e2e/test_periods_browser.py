"""The month-end close in a browser: finance finds it in the menu, closes the month it proposes
(a month input, as Chromium draws it) and reopens it saying why."""

from __future__ import annotations

import datetime as dt

from app.kernel.items import business_today
from app.kernel.users import User
from app.meta.identity import update_user
from tests.application import transfers_fixtures as fixtures
from tests.e2e.conftest import sign_in
from tests.forms_fixtures import PASSWORD, _password_hash

chain = fixtures.chain  # the fixture, used by name


def test_finance_closes_and_reopens_a_month_on_the_page(live_server, page_factory, db, chain):
    with db.transaction() as session:
        cashier = User(username="cashier", full_name="出纳 王芳", locale="en")
        cashier.password_hash = _password_hash()
        session.add(cashier)
        session.flush()
        update_user(session, cashier, roles=["finance"], location_ids=[chain["HQ"]])
    last_month = (business_today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    page = page_factory(locale="en-US")
    sign_in(page, live_server, "cashier", PASSWORD)
    page.click("nav a:has-text('Month-end close')")
    assert page.input_value("#month") == last_month  # the month next in order
    page.click("#close-month button")
    page.wait_for_selector(".alert:has-text('is closed')")
    assert "closed through" in page.inner_text("[data-closed-through]")
    assert page.locator(f"tr[data-period='{last_month}'] a:has-text('Closing stock')").count()
    page.fill("#reason", "a late invoice")
    page.click("#reopen-month button")
    page.wait_for_selector(".alert:has-text('is open again')")
    assert "a late invoice" in page.inner_text(f"tr[data-period='{last_month}']")
    assert "No month is closed yet." in page.inner_text("[data-closed-through]")
