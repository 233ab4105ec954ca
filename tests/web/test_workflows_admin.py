"""Admins edit workflows live, as they edit forms: a new approval step works at once, in every
worker, with no restart; the editor draws the flow being typed; an edit that would strand records
under way is refused with the count; a rollback brings the old flow back."""

from __future__ import annotations

from app import create_app
from app.kernel.audit import AuditEntry
from app.workflow.models import ApprovalTask
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_admin import COLD_CHAIN
from tests.web.test_forms_api import URL, valid

ADMIN = "/admin/workflows"

#: field_lab's flow with a check between open and closed: the clerk approves each closing.
REVIEWED = """form: field_lab
label: {zh_CN: 字段实验流程, en: Field lab flow}
initial: open
states:
  open: {label: {zh_CN: 进行中, en: Open}, editable: true}
  in_review: {label: {zh_CN: 复核中, en: In review}}
  closed: {label: {zh_CN: 已关闭, en: Closed}, final: true}
transitions:
  - name: close
    from: open
    to: closed
    label: {zh_CN: 关闭, en: Close}
    roles: [admin]
    approval:
      pending: in_review
      reject_to: open
      levels:
        - name: check
          label: {zh_CN: 复核, en: Second check}
          approvers: {users: [clerk]}
          time_limit_hours: 24
"""

COLD_CHAIN_FLOW = """form: cold_chain_log
label: {zh_CN: 冷链记录流程, en: Cold-chain log flow}
initial: draft
states:
  draft: {label: {zh_CN: 草稿, en: Draft}, editable: true}
  confirmed: {label: {zh_CN: 已确认, en: Confirmed}, final: true}
transitions:
  - name: confirm
    from: draft
    to: confirmed
    label: {zh_CN: 确认, en: Confirm}
    roles: [admin]
"""


def shipped_flow(app) -> str:
    return app.extensions["lianku.registry"].metadata.workflows["field_lab"].text


def publish(api, name, text):
    return api.form(f"{ADMIN}/{name}/publish", {"yaml": text})


def close(client, record_id):
    return client.post(f"{URL}/{record_id}/transitions/close", json={})


def approve_all(lab_app, clerk, record_id):
    with lab_app.extensions["lianku.db"].session() as session:
        tasks = session.query(ApprovalTask).filter_by(record_id=record_id, status="pending").all()
        ids = [task.id for task in tasks]
    assert ids, "no approval task was opened"
    for task_id in ids:
        decided = clerk.post(f"/api/v1/approval-tasks/{task_id}/decision",
                             json={"decision": "approve"})  # fmt: skip
        assert decided.status_code == 200, decided.text


def test_an_approval_step_is_live_in_every_worker_and_blocks_its_own_rollback(
    api, lab_app, lab_config, org
):
    other_worker = create_app(lab_config)  # a second gunicorn worker, loaded before the edit
    other = ApiClient(other_worker.test_client()).login("admin", PASSWORD)
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    first = api.post(URL, json=valid(org)).json

    response = publish(api, "field_lab", REVIEWED)
    assert response.status_code == 302, response.text
    closing = close(other, first["id"])
    assert closing.status_code == 200, closing.text
    assert closing.json["state"] == "in_review"
    approve_all(lab_app, clerk, first["id"])
    assert api.get(f"{URL}/{first['id']}").json["state"] == "closed"

    versions = api.get(f"{ADMIN}/field_lab/versions").text
    assert "<td>v2" in versions and "<td>v1" in versions
    assert "+    approval:" in api.get(f"{ADMIN}/field_lab/versions/2?against=1").text

    # a second record waits in review: the old flow has neither that state nor that approval
    waiting = api.post(URL, json=valid(org, title="Beta")).json
    assert close(api, waiting["id"]).json["state"] == "in_review"
    refused = api.form(f"{ADMIN}/field_lab/versions/1/rollback", {})
    assert refused.status_code == 302
    page = api.get(f"{ADMIN}/field_lab/versions").text
    assert "1 records are in state &#39;in_review&#39;" in page
    assert "1 records wait for approval of &#39;close&#39;" in page
    assert "<td>v3" not in page  # (a CSRF token may hold "v3")

    approve_all(lab_app, clerk, waiting["id"])
    assert api.form(f"{ADMIN}/field_lab/versions/1/rollback", {}).status_code == 302
    third = other.post(URL, json=valid(org, title="Gamma")).json
    assert close(other, third["id"]).json["state"] == "closed"  # no approval any more
    other_worker.extensions["lianku.db"].dispose()

    with lab_app.extensions["lianku.db"].session() as session:
        publishes = session.query(AuditEntry).filter_by(action="publish").order_by(AuditEntry.id)
        assert [(e.entity, e.entity_id, e.changes["version"]) for e in publishes] == [
            ("workflow", "field_lab", [1, 2]),
            ("workflow", "field_lab", [2, 3]),
        ]


def test_a_state_in_use_cannot_be_renamed(api, lab_app, org):
    api.post(URL, json=valid(org))
    renamed = shipped_flow(lab_app).replace("open", "running")
    response = publish(api, "field_lab", renamed)
    assert response.status_code == 409
    assert "1 records are in state &#39;open&#39;, which this version removes" in response.text


def test_a_broken_flow_is_refused_with_its_path_and_the_check_draws_the_flow(api, lab_app):
    broken = REVIEWED.replace("    to: closed", "    to: shut")
    response = publish(api, "field_lab", broken)
    assert response.status_code == 422
    assert "field_lab.yaml:11 transitions[0].to: unknown state &#39;shut&#39;" in response.text

    misnamed = publish(api, "field_lab", REVIEWED.replace("form: field_lab", "form: supplier"))
    assert misnamed.status_code == 422
    assert "workflows/field_lab.yaml:1 form: the workflow must be for the form" in misnamed.text

    check = api.form(f"{ADMIN}/field_lab/check", {"yaml": REVIEWED})
    assert "No problems found." in check.text and 'id="preview"' in check.text
    assert "Open → In review → Closed" in check.text
    assert "Second check: clerk (any one approves, within 24 hours)" in check.text
    assert "Administrator" in check.text  # who may close, by the role's label
    assert shipped_flow(lab_app) == api.get(f"{ADMIN}/field_lab/export").text  # nothing live


def test_a_new_workflow_gives_a_form_its_flow(api, lab_app, org):
    form = api.form("/admin/forms/new", {"name": "cold_chain_log", "yaml": COLD_CHAIN})
    assert form.status_code == 302
    url = "/api/v1/forms/cold_chain_log/records"
    created = api.post(url, json={"location": org["s1"], "temperature": "4.5"}).json
    assert api.post(f"{url}/{created['id']}/transitions/confirm", json={}).status_code == 404

    response = api.form(f"{ADMIN}/new", {"name": "cold_chain_log", "yaml": COLD_CHAIN_FLOW})
    assert response.status_code == 302, response.text
    confirmed = api.post(f"{url}/{created['id']}/transitions/confirm", json={})
    assert confirmed.status_code == 200 and confirmed.json["state"] == "confirmed"
    assert "Cold-chain log flow" in api.get(f"{ADMIN}/").text

    taken = api.form(f"{ADMIN}/new", {"name": "field_lab", "yaml": REVIEWED})
    assert taken.status_code == 422 and "already has a workflow" in taken.text
    nowhere = COLD_CHAIN_FLOW.replace("cold_chain_log", "no_such_form")
    unknown = api.form(f"{ADMIN}/new", {"name": "no_such_form", "yaml": nowhere})
    assert unknown.status_code == 422 and "no_such_form" in unknown.text


def test_a_form_edit_keeps_the_published_flow(api, lab_app, org):
    assert publish(api, "field_lab", REVIEWED).status_code == 302
    text = lab_app.extensions["lianku.registry"].form("field_lab").yaml_text
    note = "  - {name: remark, type: text, label: {zh_CN: 附注, en: Remark}}\nsections:"
    edited = text.replace("sections:", note, 1)
    assert api.form("/admin/forms/field_lab/publish", {"yaml": edited}).status_code == 302
    record = api.post(URL, json=valid(org, remark="x")).json
    assert record["data"]["remark"] == "x"
    assert close(api, record["id"]).json["state"] == "in_review"


def test_drafts_stay_out_of_the_live_flow(api, lab_app):
    assert api.form(f"{ADMIN}/field_lab/draft", {"yaml": REVIEWED}).status_code == 302
    assert "in_review" in api.get(f"{ADMIN}/field_lab/edit").text  # the draft comes back
    exported = api.get(f"{ADMIN}/field_lab/export")
    assert "in_review" not in exported.text
    assert exported.headers["Content-Disposition"] == "attachment; filename=field_lab.yaml"
    assert "Workflow design" in api.get("/").text


def test_only_admins_edit_workflows(lab_app, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.get(f"{ADMIN}/").status_code == 403
    assert clerk.get(f"{ADMIN}/field_lab/edit").status_code == 403
    assert publish(clerk, "field_lab", REVIEWED).status_code == 403


def test_the_editor_lists_the_actions_and_counts_the_records_in_each_state(api, lab_app, org):
    editor = api.get(f"{ADMIN}/field_lab/edit").text
    assert 'id="action-palette"' in editor
    for action in ("post_stock", "create_record", "check_temperature"):  # built-in and plugin
        assert f"<code>{action}</code>" in editor
    assert "<strong><code>field</code></strong>" in editor  # set_field's required parameter
    assert "Refuse the transition when a temperature is out of range" in editor  # its label

    api.post(URL, json=valid(org))
    api.post(URL, json=valid(org, title="Beta"))
    check = api.form(f"{ADMIN}/field_lab/check", {"yaml": REVIEWED}).text
    row = check[check.index("<code>open</code>") : check.index("<code>in_review</code>")]
    assert "<td>2</td>" in row


def test_a_record_page_shows_where_the_record_is_in_its_flow(api, lab_app, org):
    record = api.post(URL, json=valid(org)).json
    page = api.get(f"/forms/field_lab/{record['id']}").text
    assert 'id="flow"' in page and "Where this record is in its flow: Open" in page
    current = page[page.index("data-current") :]
    assert current.index(">Open<") < current.index("</g>")  # the filled box is the open state
    assert page.count("data-current") == 1
