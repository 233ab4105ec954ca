"""Approvals on a phone: a store manager hands a task to HQ's manager by picking them (someone
the store's own staff list would not show), and a clerk takes back what they submitted."""

from __future__ import annotations

from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import approve
from tests.e2e.conftest import PHONE, sign_in
from tests.forms_fixtures import PASSWORD

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures, used by name

AJ = "/api/v1/forms/stock_adjustment/records"


def submitted_adjustment(as_user, chain) -> dict:
    """A count surplus at S1 entered and submitted by its clerk: waiting for its manager."""
    line = {"item": chain["strip"], "lot": "L1", "quantity": "1", "unit_cost": "8.50"}
    body = {"location": chain["S1"], "reason": "count_surplus", "explanation": "counted",
            "lines": [line]}  # fmt: skip
    created = as_user("clerk1").post(AJ, json=body)
    assert created.status_code == 201, created.json
    fired = as_user("clerk1").post(f"{AJ}/{created.json['id']}/transitions/submit", json={})
    assert fired.json["state"] == "in_approval", fired.json
    return created.json


def test_a_manager_hands_a_task_over_by_picking_hqs_manager(
    live_server, page_factory, db, chain, as_user, screenshot_dir
):
    record = submitted_adjustment(as_user, chain)
    page = page_factory(viewport=PHONE, locale="en-US")
    sign_in(page, live_server, "manager1", PASSWORD)
    page.goto(f"{live_server}/forms/stock_adjustment/{record['id']}")
    handing = page.locator("form[id^=hand-over-]")
    handing.locator(".ts-control").click()
    page.keyboard.type("hq")
    page.locator(".ts-dropdown .option:has-text('hq 全名')").click()
    handing.locator("input[name=comment]").fill("on leave")
    page.screenshot(path=screenshot_dir / "hand-over-390.png", full_page=True)
    handing.locator("button").click()
    page.wait_for_selector(".alert:has-text('Done.')")
    assert page.locator("form[id^=hand-over-]").count() == 0  # no longer mine
    assert "on leave" in page.inner_text("#timeline")
    approve(db, as_user("hq"), chain["hq"], record["id"])
    assert as_user("clerk1").get(f"{AJ}/{record['id']}").json["state"] == "posted"


def test_a_clerk_withdraws_what_they_submitted(live_server, page_factory, chain, as_user):
    record = submitted_adjustment(as_user, chain)
    page = page_factory(viewport=PHONE, locale="en-US")
    sign_in(page, live_server, "clerk1", PASSWORD)
    page.goto(f"{live_server}/forms/stock_adjustment/{record['id']}")
    page.fill("#withdraw input[name=comment]", "wrong lot")
    page.click("#withdraw button")
    page.wait_for_selector(".alert:has-text('back with you')")
    assert as_user("clerk1").get(f"{AJ}/{record['id']}").json["state"] == "draft"
    assert page.locator("#withdraw").count() == 0
