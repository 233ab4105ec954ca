"""The workflow designer over HTTP: states, transitions, approval levels and actions drawn as forms
from the YAML being edited; each change comes back as YAML that publishes and runs (an approval
level added in the designer is the one a record then waits for, an action added there runs when
the transition fires); a refused change names its input and leaves the YAML alone; a state still
used is not removed; only admins design."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.workflow.models import InboxMessage
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_designer import new_yaml

DESIGN = "/admin/workflows/scrap/design"


@pytest.fixture
def scrap_flow(lab_app) -> str:
    return lab_app.extensions["lianku.registry"].metadata.workflows["scrap"].text


def inputs(response, form_id: str) -> list[tuple[str, str]]:
    """The values of one of the designer's forms as the browser would send them."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', response.text, re.S).group(0)
    values = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
    typed = r'<input class="form-control[^"]*" id="[^"]+" name="([\w.]+)" value="([^"]*)"'
    values += [(name, unescape(value)) for name, value in re.findall(typed, form)]
    for chooser, body in re.findall(r'<select[^>]*name="([\w.]+)">(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        values.append((chooser, chosen[1] if chosen else ""))
    for box in re.findall(r'<input class="form-check-input" type="checkbox"[^>]*>', form):
        if " checked" in box:
            values.append(
                (re.search(r'name="([\w.]+)"', box)[1], re.search(r'value="([^"]*)"', box)[1])
            )
    return values


SCRAPS = "/api/v1/forms/scrap/records"


def published_with_a_scrap(api, org, flow: str) -> dict:
    """Publish ``flow`` as the scrap workflow and create a scrap record under it (its JSON)."""
    assert api.form("/admin/workflows/scrap/publish", {"yaml": flow}).status_code == 302
    api.get("/admin/workflows/")  # the app reloads its definitions at a request after a publish
    scrap = {"location": org["s1"], "explanation": "破损", "destruction_method": "crushing",
             "destruction_date": "2026-12-05", "witnesses": "QA"}  # fmt: skip
    created = api.post(SCRAPS, json=scrap)
    assert created.status_code == 201, created.json
    return created.json


def post(api, text, values):
    data = MultiDict([*values, ("yaml", text), ("csrf_token", api.token)])
    return api.client.post(DESIGN, data=data)


def test_the_designer_draws_states_transitions_and_levels(api, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    assert shown.status_code == 200 and new_yaml(shown) is None
    assert [*re.findall(r'data-state="(\w+)"', shown.text)] == [
        "draft", "in_approval", "scrapped", "cancelled"
    ]  # fmt: skip
    assert 'id="level-0-1"' in shown.text
    assert ">In approval (in_approval)</option>" in shown.text  # in the admin's language
    assert ("roles", "qa") in inputs(shown, "level-0-1")


def test_every_part_saved_unchanged_leaves_the_yaml_as_it_was(api, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    for form_id in (
        "state-draft",
        "transition-0",
        "transition-1",
        "level-0-0",
        "level-0-1",
        "step-0-0",
    ):
        assert new_yaml(post(api, scrap_flow, inputs(shown, form_id))) == scrap_flow, form_id


def test_an_approval_level_added_in_the_designer_is_waited_for(api, lab_app, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    removed = new_yaml(post(api, scrap_flow, [("op", "level_remove"), ("path", "0.1")]))
    assert "name: qa" not in removed
    level = [("op", "level_add"), ("path", "0"), ("name", "finance"), ("label_zh", "财务审批")]
    added = new_yaml(post(api, removed, [*level, ("label_en", "Finance")]))
    shown = api.form(DESIGN, {"yaml": added})
    changed = ("manager", "mode", "time_limit_hours")
    level = [pair for pair in inputs(shown, "level-0-1") if pair[0] not in changed]
    level += [("roles", "finance"), ("mode", "all"), ("time_limit_hours", "24")]
    final = new_yaml(post(api, added, level))
    assert "approvers: {roles: [finance]}" in final and "time_limit_hours: 24" in final
    assert "mode: all" in final
    response = api.form("/admin/workflows/scrap/publish", {"yaml": final})
    assert response.status_code == 302, response.text
    api.get("/admin/workflows/")  # the app reloads its definitions at a request after a publish
    flow = lab_app.extensions["lianku.registry"].form("scrap").workflow
    levels = flow["transitions"][0]["approval"]["levels"]
    assert [(lv["name"], lv["approvers"], lv.get("mode")) for lv in levels] == [
        ("manager", {"manager": True}, None), ("finance", {"roles": ["finance"]}, "all")
    ]  # fmt: skip


def test_a_level_is_given_to_the_regions_manager_in_the_designer(api, scrap_flow):
    """The level's manager is chosen, not ticked: the location's (as shipped), its region's or
    none; the region's comes back as ``manager: region`` and shows chosen."""
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    level = inputs(shown, "level-0-0")
    assert ("manager", "location") in level
    regional = [pair for pair in level if pair[0] != "manager"] + [("manager", "region")]
    changed = new_yaml(post(api, scrap_flow, regional))
    assert "approvers: {manager: region}" in changed
    assert ("manager", "region") in inputs(api.form(DESIGN, {"yaml": changed}), "level-0-0")
    assert "the manager of its region" in shown.text


def test_transitions_are_changed_added_and_removed(api, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    cancel = [pair for pair in inputs(shown, "transition-1") if pair[0] != "comment"]
    cancel += [("comment", "optional"), ("roles", "store_manager"), ("from", "in_approval")]
    changed = new_yaml(post(api, scrap_flow, cancel))
    assert "    from: [draft, in_approval]\n" in changed and "comment: optional" in changed
    assert "roles: [store_manager]" in changed
    reopen = [("op", "add"), ("name", "reopen"), ("from", "cancelled"), ("to", "draft")]
    added = new_yaml(post(api, scrap_flow, [*reopen, ("label_zh", "重新打开")]))
    assert "  - name: reopen\n    from: cancelled\n    to: draft\n" in added
    assert "name: reopen" not in new_yaml(post(api, added, [("op", "remove"), ("path", "2")]))
    off = [pair for pair in inputs(shown, "transition-0") if pair[0] != "approval"]
    assert "    approval:\n" not in new_yaml(post(api, scrap_flow, off))


def test_refusals_name_their_input_and_keep_the_yaml(api, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    no_source = [pair for pair in inputs(shown, "transition-1") if pair[0] != "from"]
    refused = post(api, scrap_flow, no_source)
    assert new_yaml(refused) is None and "Tick at least one state" in refused.text
    used = post(api, scrap_flow, [("op", "state_remove"), ("state", "cancelled")])
    assert new_yaml(used) is None and "cancel" in used.text and "still use" in used.text
    first = post(api, scrap_flow, [("op", "state_remove"), ("state", "draft")])
    assert "starts in draft" in first.text
    taken = post(api, scrap_flow, [("op", "state_add"), ("name", "draft")])
    assert new_yaml(taken) is None and "is-invalid" in taken.text
    hours = [pair for pair in inputs(shown, "level-0-0") if pair[0] != "time_limit_hours"]
    late = post(api, scrap_flow, [*hours, ("time_limit_hours", "-1")])
    assert new_yaml(late) is None and "above 0" in late.text
    nobody = [pair for pair in inputs(shown, "level-0-0") if pair[0] != "manager"]
    assert "Say who approves" in post(api, scrap_flow, nobody).text
    only = post(api, scrap_flow, [("op", "level_remove"), ("path", "0.0")])
    assert new_yaml(only) is not None  # two levels: one may go
    stale = post(api, scrap_flow, [("op", "remove"), ("path", "9")])
    assert 'id="designer-message"' in stale.text


def test_states_are_added_relabelled_and_removed_and_only_admins_design(api, lab_app, scrap_flow):
    hold = [("op", "state_add"), ("name", "on_hold"), ("label_zh", "暂停")]
    added = new_yaml(post(api, scrap_flow, [*hold, ("label_en", "On hold")]))
    assert "  on_hold: {label: {zh_CN: 暂停, en: On hold}}\n" in added
    shown = api.form(DESIGN, {"yaml": added})
    hold = [pair for pair in inputs(shown, "state-on_hold") if pair[0] != "label_zh"]
    relabelled = new_yaml(post(api, added, [*hold, ("label_zh", "挂起"), ("final", "1")]))
    assert "  on_hold: {label: {zh_CN: 挂起, en: On hold}, final: true}\n" in relabelled
    assert new_yaml(post(api, relabelled, [("op", "state_remove"), ("state", "on_hold")])) == (
        scrap_flow
    )
    flow = [("op", "flow"), ("initial", "in_approval"), ("label_zh", "报损流程"),
            ("label_en", "Scrap flow")]  # fmt: skip
    first = new_yaml(post(api, scrap_flow, flow))
    assert "initial: in_approval" in first and "label: {zh_CN: 报损流程, en: Scrap flow}" in first
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.form(DESIGN, {"yaml": scrap_flow}).status_code == 403


def test_transitions_and_levels_are_reordered(api, scrap_flow):
    up = new_yaml(post(api, scrap_flow, [("op", "up"), ("path", "1")]))
    assert up.index("- name: cancel") < up.index("- name: submit")
    assert new_yaml(post(api, scrap_flow, [("op", "up"), ("path", "0")])) == scrap_flow
    down = new_yaml(post(api, scrap_flow, [("op", "level_down"), ("path", "0.0")]))
    assert down.index("- name: qa") < down.index("- name: manager")
    stale = post(api, scrap_flow, [("op", "level_up"), ("path", "1.0")])  # cancel: no approval
    assert new_yaml(stale) is None and 'id="designer-message"' in stale.text


def test_an_entry_rule_set_in_the_designer_goes_live(api, lab_app, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    draft = [pair for pair in inputs(shown, "state-draft") if not pair[0].startswith("rule_")]
    rule = [("rule_expr", "count(lines) > 1"), ("rule_field", "lines"),
            ("rule_zh", "至少两行"), ("rule_en", "Two lines at least")]  # fmt: skip
    changed = new_yaml(post(api, scrap_flow, [*draft, *rule]))
    assert "      - expr: count(lines) > 1\n        field: lines\n" in changed
    assert api.form("/admin/workflows/scrap/publish", {"yaml": changed}).status_code == 302
    api.get("/admin/workflows/")  # the app reloads its definitions at a request after a publish
    rules = lab_app.extensions["lianku.registry"].form("scrap").workflow["states"]["draft"]
    assert [r["expr"] for r in rules["submit_rules"]] == ["count(lines) > 1"]


def test_actions_are_drawn_with_their_parameters_from_their_schema(api, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    adjust = dict(inputs(shown, "step-0-0"))
    assert adjust["param.item"] == "item" and adjust["param.reason"] == "scrap"
    assert adjust["param.direction"] == "out" and adjust["path"] == "0/0"
    assert 'data-action="adjust_stock"' in shown.text and 'list="form-fields"' in shown.text
    assert '<option value="witnesses">' in shown.text  # the form's fields, to name
    assert '<option value="notify">' in shown.text  # the installed actions, to add


def test_an_action_added_in_the_designer_runs_when_the_transition_fires(api, lab_app, org,
                                                                        scrap_flow):  # fmt: skip
    add = [("op", "step_add"), ("path", "1"), ("action", "notify")]
    added = new_yaml(post(api, scrap_flow, add))
    assert added.endswith("    actions:\n      - action: notify\n")
    shown = api.form(DESIGN, {"yaml": added})
    # the message in a box per language
    step = [pair for pair in inputs(shown, "step-1-0") if not pair[0].startswith("param.message")]
    assert {"param.message.zh_CN", "param.message.en"} <= {name for name, _v in
                                                           inputs(shown, "step-1-0")}  # fmt: skip
    message = [("param.message.zh_CN", "报损单已取消"), ("param.message.en", "Scrap cancelled")]
    filled = new_yaml(post(api, added, [*step, *message, ("param.creator", "1")]))
    assert "params: {message: {zh_CN: 报损单已取消, en: Scrap cancelled}, creator: true}" in filled
    created = published_with_a_scrap(api, org, filled)
    fired = api.post(f"{SCRAPS}/{created['id']}/transitions/cancel", json={"comment": "no"})
    assert fired.status_code == 200, fired.json
    with lab_app.extensions["lianku.db"].transaction() as session:
        messages = session.execute(select(InboxMessage.message, InboxMessage.message_en)).all()
    number = created["number"]
    assert messages == [(f"{number}: 报损单已取消", f"{number}: Scrap cancelled")]


def test_action_refusals_name_their_input_and_keep_the_yaml(api, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    step = [pair for pair in inputs(shown, "step-0-0") if pair[0] != "param.reason"]
    refused = post(api, scrap_flow, [*step, ("param.reason", "stolen")])
    assert new_yaml(refused) is None and "is-invalid" in refused.text
    assert "choose one of" in refused.text and 'aria-invalid="true"' in refused.text
    unknown = post(api, scrap_flow, [("op", "step_add"), ("path", "1"), ("action", "launch")])
    assert new_yaml(unknown) is None and "Choose one of the installed actions" in unknown.text
    stale = post(api, scrap_flow, [("op", "step_remove"), ("path", "1/0")])
    assert new_yaml(stale) is None and 'id="designer-message"' in stale.text


def test_actions_are_reordered_and_removed(api, scrap_flow):
    added = new_yaml(
        post(api, scrap_flow, [("op", "step_add"), ("path", "0"), ("action", "notify")])
    )
    up = new_yaml(post(api, added, [("op", "step_up"), ("path", "0/1")]))
    assert up.index("- action: notify") < up.index("- action: adjust_stock")
    removed = new_yaml(post(api, up, [("op", "step_remove"), ("path", "0/0")]))
    assert removed == scrap_flow


def test_field_rights_ticked_in_the_designer_keep_a_field_from_other_roles(api, lab_app, org,
                                                                           scrap_flow):  # fmt: skip
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    assert 'id="state-draft-editable-witnesses"' in shown.text  # the form's fields, to tick
    rights = inputs(shown, "state-draft-rights")
    assert ("op", "state_rights") in rights and ("limit_visible", "1") not in rights
    changed = new_yaml(post(api, scrap_flow, [*rights, ("roles", "qa")]))
    assert "    fields: {roles: [qa]}\n" in changed
    created = published_with_a_scrap(api, org, changed)
    edit = {"explanation": "过期", "version": created["version"]}
    refused = api.put(f"{SCRAPS}/{created['id']}", json=edit)
    assert refused.status_code == 403 and refused.json["field"] == "explanation"
    nothing = post(api, scrap_flow, [("op", "state_rights"), ("state", "draft"),
                                     ("limit_visible", "1")])  # fmt: skip
    assert "visible: [location, explanation" in new_yaml(nothing)  # all shown, to untick


def test_an_approvals_hooks_are_drawn_and_take_actions(api, lab_app):
    text = lab_app.extensions["lianku.registry"].metadata.workflows["stocktake"].text
    url = "/admin/workflows/stocktake/design"
    shown = api.form(url, {"yaml": text})
    hooked = re.search(r'id="step-(\d+)-on_pending-0" data-path="[^"]+" data-action="(\w+)"',
                       shown.text)  # fmt: skip
    assert hooked and hooked[2] == "review_stocktake"
    where = f"{hooked[1]}/on_reject"
    assert f'id="add-step-{hooked[1]}-on_reject"' in shown.text
    data = {"yaml": text, "op": "step_add", "path": where, "action": "notify"}
    added = new_yaml(api.form(url, data))
    assert "on_reject:\n        - {action: resume_stocktake}\n        - action: notify\n" in added


def test_the_preview_says_what_each_transition_does(api, lab_app):
    text = lab_app.extensions["lianku.registry"].metadata.workflows["maintenance_check"].text
    checked = api.form("/admin/workflows/maintenance_check/check", {"yaml": text}).text
    assert "<code>fill_from_stock</code>" in checked and "<code>climate_ok</code>" not in checked
    assert "<code>not climate_ok</code>" in checked  # notify runs only when the climate is off
    assert "Send an inbox message" in checked or "发送站内消息" in checked


def test_an_approval_copies_whoever_the_record_names(api, scrap_flow):
    shown = api.form(DESIGN, {"yaml": scrap_flow})
    submit = inputs(shown, "transition-0")
    assert ("cc_expr", "") in submit
    submit = [pair for pair in submit if pair[0] != "cc_expr"] + [("cc_expr", "[created_by]")]
    copied = new_yaml(post(api, scrap_flow, submit))
    assert "      cc: {expr: '[created_by]'}\n" in copied
    drawn = api.form(DESIGN, {"yaml": copied})
    assert ("cc_expr", "[created_by]") in inputs(drawn, "transition-0")
    assert api.form("/admin/workflows/scrap/publish", {"yaml": copied}).status_code == 302
