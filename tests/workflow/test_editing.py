"""A workflow edit that would strand records under way is refused before anything is written;
once those records have moved on, the same edit goes live."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.meta import registry as meta_registry
from app.meta import versions
from app.meta.models import WorkflowVersion
from app.meta.registry import WORKFLOWS
from tests.workflow.test_approvals import SIGN, decide, state, submit, tasks


def without_approval(text: str) -> str:
    """spend_request approved at once on submit: no waiting state, no approval."""
    flow = text[: text.index("    approval:\n")]
    return flow.replace("  in_approval: {label: {zh_CN: 审批中, en: In approval}}\n", "")


def publish(app, db, text):
    with db.transaction() as session:
        return versions.publish(
            session, app.extensions["lianku.registry"], None, "spend_request", text, kind=WORKFLOWS
        )


def test_records_waiting_for_approval_keep_their_state_and_approval(wf_app, wf_api, wf_org, db):
    waiting = submit(wf_api("clerk"), wf_org)
    text = wf_app.extensions["lianku.registry"].metadata.workflows["spend_request"].text
    flat = without_approval(text)
    with db.session() as session:
        registry = wf_app.extensions["lianku.registry"]
        _, checked = versions.check_text(session, registry, "spend_request", flat, WORKFLOWS)
    assert set(checked.workflow["states"]) == {"draft", "approved"}  # the text itself is fine

    with pytest.raises(versions.ChangeRefused) as refused:
        publish(wf_app, db, flat)
    assert str(refused.value) == (
        "1 records are in state 'in_approval', which this version removes; keep the state or "
        "move those records on first; 1 records wait for approval of 'submit'; this version must "
        "keep that transition and its approval until they are decided"
    )
    with db.session() as session:  # nothing written, nothing reloaded
        assert session.scalar(select(func.count()).select_from(WorkflowVersion)) == 0
        assert meta_registry.generation(session) == 0

    decide(wf_api("manager"), db, waiting, wf_org["manager"], decision="approve")
    decide(wf_api("qa"), db, waiting, wf_org["qa"], decision="approve", signature=SIGN)
    assert state(wf_api("clerk"), waiting) == "approved" and tasks(db, waiting) == {}
    assert publish(wf_app, db, flat).version == 2

    clerk = wf_api("clerk")
    record = clerk.post("/api/v1/forms/spend_request/records",
                        json={"location": wf_org["S1"], "amount": "800"}).json  # fmt: skip
    fired = clerk.post(f"/api/v1/forms/spend_request/records/{record['id']}/transitions/submit",
                       json={})  # fmt: skip
    assert fired.status_code == 200 and fired.json["state"] == "approved"


def test_approvers_copies_and_messages_must_name_active_users(wf_app, wf_api, wf_org, db):
    """A level whose approver does not exist would hold every document reaching it."""
    text = wf_app.extensions["lianku.registry"].metadata.workflows["spend_request"].text
    wrong = (
        text.replace("approvers: {users: [qa]}", "approvers: {users: [zhang_director]}")
        .replace("cc: {users: [auditor]}", "cc: {users: [auditor, no_such_person]}")
        .replace(
            "params: {field: purpose, value: approved-spend}",
            "params: {field: purpose, value: approved-spend}\n"
            "      - action: notify\n"
            "        params: {users: [ghost_user], message: {zh_CN: 已提交, en: Submitted}}",
        )
    )
    assert wrong.count("zhang_director") == wrong.count("no_such_person") == 1
    with pytest.raises(versions.ChangeRefused) as refused:
        publish(wf_app, db, wrong)
    assert str(refused.value) == "; ".join(
        f"no active user has the username '{name}' (named in transition 'submit')"
        for name in ("ghost_user", "no_such_person", "zhang_director")
    )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(WorkflowVersion)) == 0
