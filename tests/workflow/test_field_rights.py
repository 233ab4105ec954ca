"""Per-state field rights and submit rules: enforced by the API (403 naming the field), shown
by the page, checked before a transition leaves the state."""

from __future__ import annotations

from tests.workflow.test_engine import URL, fire, new_receipt


def received(wf_api, org, **changes):
    clerk = wf_api("clerk")
    record = new_receipt(clerk, org, **changes)
    response = fire(clerk, record, "receive")
    assert response.status_code == 200, response.json
    return response.json


def test_only_the_listed_fields_change_and_only_by_the_listed_roles(wf_app, wf_api, wf_org, db):
    record = received(wf_api, wf_org)
    manager = wf_api("manager")
    url = f"{URL}/{record['id']}"
    response = manager.put(url, json={"version": record["version"], "arrival_temp": "6"})
    assert response.status_code == 200, response.json
    assert response.json["data"]["arrival_temp"] == "6"
    version = response.json["version"]
    response = manager.put(url, json={"version": version, "amount": "9"})
    assert response.status_code == 403 and "'Amount'" in response.json["error"]  # (its label)
    response = wf_api("clerk2").put(url, json={"version": version, "arrival_temp": "7"})
    assert response.status_code == 403 and "'Arrival temperature'" in response.json["error"]
    # a draft stays wholly editable; a final state not at all
    assert wf_api("clerk").get(url).json["state"] == "received"


def test_fields_not_visible_in_a_state_are_not_returned_or_shown(wf_app, wf_api, wf_org, db):
    record = received(wf_api, wf_org)
    manager = wf_api("manager")
    data = manager.get(f"{URL}/{record['id']}").json["data"]
    assert "amount" not in data and data["arrival_temp"] == "5"
    page = manager.get(f"/forms/cold_receipt/{record['id']}").text
    assert 'data-field="amount"' not in page and 'data-field="arrival_temp"' in page


def test_submit_rules_are_checked_before_the_state_is_left(wf_app, wf_api, wf_org, db):
    from tests.forms_fixtures import PASSWORD

    record = received(wf_api, wf_org, amount="-5")
    manager = wf_api("manager")
    response = fire(manager, record, "approve",
                    signature={"password": PASSWORD, "meaning": "approved"})  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {"_schema": ["The amount cannot be negative"]}
    # a rejection does not need the rules (skip_submit_rules)
    assert fire(manager, record, "reject", comment="wrong price").status_code == 200


def test_a_submit_rule_on_every_line_names_the_lines_that_break_it(wf_app, wf_api, wf_org, db):
    from tests.forms_fixtures import PASSWORD

    lines = [
        {"item": wf_org["item"], "lot": lot, "expiry_date": "2030-01-31", "quantity": quantity}
        for lot, quantity in (("L1", "10"), ("L2", "600"), ("L3", "501"))
    ]
    record = received(wf_api, wf_org, amount="-5", lines=lines)
    manager = wf_api("manager")
    signature = {"password": PASSWORD, "meaning": "approved"}
    response = fire(manager, record, "approve", signature=signature)
    assert response.status_code == 422
    rule = "A line of more than 500 needs an amount of at least 10000"
    assert response.json["errors"] == {
        "_schema": ["The amount cannot be negative"],
        "lines[1].quantity": [rule],
        "lines[2].quantity": [rule],
    }
    assert manager.get(f"{URL}/{record['id']}").json["state"] == "received"
    # the detail page's button says the same, each message after the line and field it is about
    page = f"/forms/cold_receipt/{record['id']}"
    response = manager.form(
        f"{page}/transitions/approve", {"version": record["version"], **signature}
    )
    assert response.status_code == 302
    shown = manager.get(page).text
    assert f"Lines 2 · Quantity: {rule}" in shown and f"Lines 3 · Quantity: {rule}" in shown
    assert "The amount cannot be negative" in shown


def test_the_edit_page_shows_kept_fields_as_text(wf_app, wf_api, wf_org, db):
    """Not as inputs: nothing typed there could be saved (the save would be refused)."""
    record = received(wf_api, wf_org)
    manager = wf_api("manager")
    page = manager.get(f"/forms/cold_receipt/{record['id']}/edit").text
    assert 'name="arrival_temp"' in page
    assert 'id="f-arrival_temp" name="arrival_temp" readonly' not in page
    assert 'name="location"' not in page and 'id="f-location" data-read-only' in page


def test_a_field_made_required_after_the_draft_does_not_block_those_who_cannot_fill_it(
    wf_app, wf_api, wf_org, db
):
    """A field that became required after the record left its draft (an admin added 送货单号)
    is not demanded of a user the state keeps from it — they could neither save without it nor
    fill it; where the state lets them fill it, it is demanded."""
    record = received(wf_api, wf_org, amount=None)
    form = wf_app.extensions["lianku.registry"].forms["cold_receipt"]
    form.field("amount").spec["required"] = True
    manager, url = wf_api("manager"), f"{URL}/{record['id']}"
    response = manager.put(url, json={"version": record["version"], "arrival_temp": "6"})
    assert response.status_code == 200, response.json
    form.field("arrival_temp").spec["required"] = True  # one the manager may fill: demanded
    response = manager.put(url, json={"version": response.json["version"], "arrival_temp": None})
    assert response.status_code == 422
    assert response.json["errors"] == {"arrival_temp": ["This field is required."]}
