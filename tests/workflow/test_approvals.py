"""Multi-level approvals: any/all levels, conditional levels, reject, return, add approver,
self-approval refused, delegation, CC and reminders — through the API and at the engine."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.kernel.audit import AuditEntry
from app.kernel.users import User
from app.meta.identity import update_user
from app.meta.models import Record
from app.workflow import approvals
from app.workflow.models import ApprovalTask, InboxMessage
from tests.forms_fixtures import PASSWORD, appoint
from tests.races import race_behind_a_lock

URL = "/api/v1/forms/spend_request/records"
SIGN = {"password": PASSWORD, "meaning": "approved"}


def submit(api, org, amount="800"):
    record = api.post(URL, json={"location": org["S1"], "amount": amount}).json
    response = api.post(f"{URL}/{record['id']}/transitions/submit", json={})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "in_approval"
    return record["id"]


def tasks(db, record_id, status="pending") -> dict[str, list[int]]:
    """level name → approver ids of the record's tasks with ``status``."""
    with db.session() as session:
        found: dict[str, list[int]] = {}
        for task in session.scalars(
            select(ApprovalTask)
            .where(ApprovalTask.record_id == record_id, ApprovalTask.status == status)
            .order_by(ApprovalTask.approver_id)
        ):
            found.setdefault(task.level_name, []).append(task.approver_id)
        return found


def task_id(db, record_id, approver) -> int:
    with db.session() as session:
        return session.scalar(
            select(ApprovalTask.id).where(
                ApprovalTask.record_id == record_id, ApprovalTask.approver_id == approver,
                ApprovalTask.status == "pending",
            )
        )  # fmt: skip


def decide(api, db, record_id, approver_id, **body):
    tid = task_id(db, record_id, approver_id)
    assert tid is not None, tasks(db, record_id)
    return api.post(f"/api/v1/approval-tasks/{tid}/decision", json=body)


def state(api, record_id) -> str:
    return api.get(f"{URL}/{record_id}").json["state"]


def test_any_level_then_final_then_approved_with_cc(wf_app, wf_api, wf_org, db):
    clerk = wf_api("clerk")
    record_id = submit(clerk, wf_org)
    # 或签: either manager of S1 may approve; the amount skips the HQ level
    assert tasks(db, record_id) == {"store": sorted([wf_org["manager"], wf_org["deputy"]])}
    response = decide(wf_api("deputy"), db, record_id, wf_org["deputy"], decision="approve")
    assert response.status_code == 200, response.json
    assert tasks(db, record_id) == {"final": [wf_org["qa"]]}
    assert tasks(db, record_id, "cancelled") == {"store": [wf_org["manager"]]}
    qa = wf_api("qa")
    response = decide(qa, db, record_id, wf_org["qa"], decision="approve")
    assert response.status_code == 422 and "signature.password" in response.json["errors"]
    response = decide(qa, db, record_id, wf_org["qa"], decision="approve", signature=SIGN)
    assert response.status_code == 200, response.json
    record = clerk.get(f"{URL}/{record_id}").json
    assert record["state"] == "approved"
    assert record["data"]["purpose"] == "approved-spend"  # the transition's actions ran at last
    with db.session() as session:
        [cc] = session.scalars(select(InboxMessage).where(InboxMessage.kind == "cc")).all()
        assert cc.user_id == wf_org["auditor"]
        # in each reader's language
        assert (cc.message[-7:], cc.text("en")[-10:]) == (": 已审批通过", ": approved")
    page = clerk.get("/inbox").text
    assert f"/forms/spend_request/{record_id}" in page  # under "I submitted"


def test_all_level_is_conditional_and_needs_everyone(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org, amount="60000")
    assert decide(wf_api("manager"), db, record_id, wf_org["manager"],
                  decision="approve").status_code == 200  # fmt: skip
    assert tasks(db, record_id) == {"region": sorted([wf_org["hq"], wf_org["qa"]])}
    assert decide(wf_api("hq"), db, record_id, wf_org["hq"], decision="approve").status_code == 200
    assert tasks(db, record_id) == {"region": [wf_org["qa"]]}  # 会签: still waiting for QA
    assert decide(wf_api("qa"), db, record_id, wf_org["qa"], decision="approve").status_code == 200
    assert tasks(db, record_id) == {"final": [wf_org["qa"]]}


def test_reject_goes_to_the_named_step_or_to_draft_with_the_reason(wf_app, wf_api, wf_org, db):
    clerk, manager = wf_api("clerk"), wf_api("manager")
    record_id = submit(clerk, wf_org, amount="60000")
    decide(manager, db, record_id, wf_org["manager"], decision="approve")
    response = decide(wf_api("hq"), db, record_id, wf_org["hq"], decision="reject")
    assert response.status_code == 422 and "comment" in response.json["errors"]
    response = decide(wf_api("hq"), db, record_id, wf_org["hq"], decision="reject",
                      comment="quote missing")  # fmt: skip
    assert response.status_code == 200
    assert tasks(db, record_id) == {"store": sorted([wf_org["manager"], wf_org["deputy"]])}
    assert state(clerk, record_id) == "in_approval"
    # the store level rejects to the approval's reject_to: draft, editable again
    decide(manager, db, record_id, wf_org["manager"], decision="reject", comment="no budget")
    assert state(clerk, record_id) == "draft" and tasks(db, record_id) == {}
    page = clerk.get(f"/forms/spend_request/{record_id}").text
    assert "no budget" in page and "quote missing" in page  # the timeline keeps the reasons


def test_return_to_an_earlier_step_of_the_approvers_choice(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org, amount="60000")
    decide(wf_api("manager"), db, record_id, wf_org["manager"], decision="approve")
    decide(wf_api("hq"), db, record_id, wf_org["hq"], decision="approve")
    decide(wf_api("qa"), db, record_id, wf_org["qa"], decision="approve")
    qa = wf_api("qa")
    response = decide(qa, db, record_id, wf_org["qa"], decision="return", comment="recheck",
                      return_to="final")  # fmt: skip
    assert response.status_code == 422 and "return_to" in response.json["errors"]
    response = decide(qa, db, record_id, wf_org["qa"], decision="return", comment="recheck",
                      return_to="store")  # fmt: skip
    assert response.status_code == 200
    assert tasks(db, record_id) == {"store": sorted([wf_org["manager"], wf_org["deputy"]])}


def test_add_an_approver_before_and_after_me(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org)
    manager = wf_api("manager")
    tid = task_id(db, record_id, wf_org["manager"])
    response = manager.post(f"/api/v1/approval-tasks/{tid}/approvers",
                            json={"user": wf_org["clerk2"], "position": "before"})  # fmt: skip
    assert response.status_code == 201, response.json
    assert tasks(db, record_id, "waiting") == {"store": [wf_org["manager"]]}
    assert decide(wf_api("clerk2"), db, record_id, wf_org["clerk2"],
                  decision="approve").status_code == 200  # fmt: skip
    assert wf_org["manager"] in tasks(db, record_id)["store"]  # my turn again
    response = manager.post(f"/api/v1/approval-tasks/{tid}/approvers",
                            json={"user": wf_org["hq"], "position": "after"})  # fmt: skip
    assert response.status_code == 201
    decide(manager, db, record_id, wf_org["manager"], decision="approve")
    assert tasks(db, record_id) == {"store": [wf_org["hq"]]}  # the added one decides next
    decide(wf_api("hq"), db, record_id, wf_org["hq"], decision="approve")
    assert tasks(db, record_id) == {"final": [wf_org["qa"]]}


def test_an_approver_who_cannot_see_the_record_is_not_added(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org)
    manager = wf_api("manager")
    tid = task_id(db, record_id, wf_org["manager"])
    with db.transaction() as session:  # the auditor loses every role: may read no form
        update_user(session, session.get(User, wf_org["auditor"]), roles=[],
                    location_ids=[wf_org["S1"]])  # fmt: skip
    for other, why in ((wf_org["manager2"], "cannot see records of this location"),
                       (wf_org["auditor"], "may not see")):  # fmt: skip
        response = manager.post(f"/api/v1/approval-tasks/{tid}/approvers",
                                json={"user": other, "position": "before"})  # fmt: skip
        assert response.status_code == 422, response.json
        assert why in response.json["errors"]["user"][0]
    for bad in (True, 8.9, str(wf_org["clerk2"]), 10**30):
        response = manager.post(f"/api/v1/approval-tasks/{tid}/approvers",
                                json={"user": bad, "position": "before"})  # fmt: skip
        assert response.status_code == 422 and "user" in response.json["errors"]
    assert tasks(db, record_id)["store"] == sorted([wf_org["manager"], wf_org["deputy"]])


def test_a_stand_in_who_cannot_see_my_locations_is_refused(wf_app, wf_api, wf_org, db):
    now = utcnow()
    window = {"starts_at": now.isoformat(), "ends_at": (now + dt.timedelta(days=1)).isoformat()}
    deputy = wf_api("deputy")
    response = deputy.post("/api/v1/delegations", json={"to_user": wf_org["manager2"], **window})
    assert response.status_code == 422
    assert "Manager2 Full cannot see every location" in response.json["errors"]["to_user"][0]
    for bad in (True, 8.9, 10**30, None):
        response = deputy.post("/api/v1/delegations", json={"to_user": bad, **window})
        assert response.status_code == 422 and "to_user" in response.json["errors"]
    response = deputy.post("/api/v1/delegations", json={
        "to_user": wf_org["clerk2"], "starts_at": "9999-12-31T23:59:59-13:00",
        "ends_at": "9999-12-31T23:59:59+00:00"})  # fmt: skip
    assert response.status_code == 422 and "starts_at" in response.json["errors"]


def test_a_decision_comment_that_is_not_text_is_a_422(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org)
    for not_text in (5, ["no"]):
        response = decide(wf_api("manager"), db, record_id, wf_org["manager"],
                          decision="reject", comment=not_text)  # fmt: skip
        assert response.status_code == 422 and "comment" in response.json["errors"]
    assert wf_org["manager"] in tasks(db, record_id)["store"]


def test_a_level_of_roles_nobody_holds_says_which_role_would_do(wf_app):
    """QA found a plan's suggestions nobody could approve (its creator may not, nobody held the
    role) and was told only that: the message names the role an administrator can give."""
    level = {"name": "planner", "label": {"zh_CN": "补货计划审批", "en": "Planner approval"},
             "approvers": {"roles": ["planner", "hq_manager"]}}  # fmt: skip
    with wf_app.test_request_context(headers={"Accept-Language": "en"}):
        said = approvals._nobody_approves(level)
    assert said == (
        "Nobody can approve level 'Planner approval' of this record: its creator may not, and no "
        "one else holds the role Replenishment planner / HQ manager for it. Ask an administrator "
        "to give someone the role."
    )


def test_a_managers_own_request_goes_to_the_manager_above(wf_app, wf_api, wf_org, db):
    """Self-approval is refused: the store manager's own request goes to the store's other
    manager; with none left, to the region's manager; with the region's post vacant too (or its
    holder no longer active), to HQ's manager; with nobody above either, the submission is
    refused, nothing written."""
    manager = wf_api("manager")
    record_id = submit(manager, wf_org)  # the manager's own request
    assert tasks(db, record_id) == {"store": [wf_org["deputy"]]}
    appoint(db, "deputy", "store_clerk", wf_org["S1"])
    assert tasks(db, submit(manager, wf_org)) == {"store": [wf_org["hq"]]}
    regional = appoint(db, "regional", "region_manager", wf_org["R1"])
    assert tasks(db, submit(manager, wf_org)) == {"store": [regional]}
    with db.transaction() as session:
        session.get(User, regional).active = False
    assert tasks(db, submit(manager, wf_org)) == {"store": [wf_org["hq"]]}
    appoint(db, "hq", "auditor", wf_org["HQ"])
    record = manager.post(URL, json={"location": wf_org["S1"], "amount": "5"}).json
    response = manager.post(f"{URL}/{record['id']}/transitions/submit", json={})
    assert response.status_code == 409 and "Nobody can approve" in response.json["error"]
    assert state(manager, record["id"]) == "draft"


def test_a_region_level_asks_the_regions_manager_and_a_late_store_manager_is_escalated_there(
    wf_app, wf_api, wf_org, db
):
    """``manager: region`` names the manager of the record's region, not the store's own (a
    vacant region: HQ's manager). A store manager who lets a task run late is escalated to the
    region's manager, not to themselves."""
    regional = appoint(db, "regional", "region_manager", wf_org["R1"])
    appoint(db, "clerk_s2", "store_clerk", wf_org["S2"])
    record = wf_api("clerk_s2").post(URL, json={"location": wf_org["S2"], "amount": "800"}).json
    form = wf_app.extensions["lianku.registry"].form("spend_request")
    with db.transaction() as session:
        saved = session.get(Record, record["id"])
        asked = {
            manager: [user.id for user in approvals.resolve_approvers(
                session, form, saved, {"manager": manager})]
            for manager in (True, "region")
        }  # fmt: skip
        assert asked == {True: [wf_org["manager2"]], "region": [regional]}
        session.get(User, regional).active = False
        vacant = approvals.resolve_approvers(session, form, saved, {"manager": "region"})
        assert [user.id for user in vacant] == [wf_org["hq"]]
        session.get(User, regional).active = True
    response = wf_api("clerk_s2").post(f"{URL}/{record['id']}/transitions/submit", json={})
    assert response.status_code == 200, response.json
    assert tasks(db, record["id"]) == {"store": [wf_org["manager2"]]}
    with db.transaction() as session:
        assert approvals.send_reminders(session, now=utcnow() + dt.timedelta(hours=5)) == 1
        kinds = {(m.kind, m.user_id) for m in session.scalars(select(InboxMessage))}
    assert kinds == {("reminder", wf_org["manager2"]), ("escalation", regional)}


def test_the_submitter_withdraws_a_record_waiting_for_its_approvers(wf_api, wf_org, db):
    """撤回: only whoever submitted it, only while it waits — after a level approved too; its
    open tasks close and their approvers are told; it is back in draft, the step and its
    reason on the timeline and in the history; submitted again, it is approved as before."""
    clerk, manager = wf_api("clerk"), wf_api("manager")
    record_id = submit(clerk, wf_org, amount="60000")  # the HQ countersign level applies too
    assert 'id="withdraw"' in clerk.get(f"/forms/spend_request/{record_id}").text
    assert 'id="withdraw"' not in manager.get(f"/forms/spend_request/{record_id}").text
    refused = manager.post(f"{URL}/{record_id}/withdraw", json={})
    assert refused.status_code == 403 and "Only whoever submitted it" in refused.json["error"]
    decide(manager, db, record_id, wf_org["manager"], decision="approve")
    assert tasks(db, record_id) == {"region": sorted([wf_org["hq"], wf_org["qa"]])}
    response = clerk.post(f"{URL}/{record_id}/withdraw", json={"comment": "wrong amount"})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "draft" and tasks(db, record_id) == {}
    with db.session() as session:
        told = {(m.user_id, m.kind, m.message_en) for m in session.scalars(
            select(InboxMessage).where(InboxMessage.kind == "withdrawn"))}  # fmt: skip
    number = response.json["number"] or record_id
    assert told == {(who, "withdrawn", f"{number}: withdrawn by its submitter, nothing to approve")
                    for who in (wf_org["hq"], wf_org["qa"])}  # fmt: skip
    page = clerk.get(f"/forms/spend_request/{record_id}").text
    assert "Withdrawn by its submitter" in page and "wrong amount" in page
    assert "Approval: withdrawn by its submitter" in page and 'id="withdraw"' not in page
    again = clerk.post(f"{URL}/{record_id}/withdraw", json={})
    assert again.status_code == 409 and "not waiting for an approval" in again.json["error"]
    assert clerk.post(f"{URL}/{record_id}/withdraw", json={"comment": 5}).status_code == 422
    # corrected and submitted again: asked from the first level on, approved as before
    body = {"location": wf_org["S1"], "amount": "800", "version": response.json["version"]}
    changed = clerk.put(f"{URL}/{record_id}", json=body)
    assert changed.status_code == 200, changed.json
    response = clerk.post(f"{URL}/{record_id}/transitions/submit", json={})
    assert response.json["state"] == "in_approval"
    decide(manager, db, record_id, wf_org["manager"], decision="approve")
    decide(wf_api("qa"), db, record_id, wf_org["qa"], decision="approve", signature=SIGN)
    assert state(clerk, record_id) == "approved"
    assert clerk.post(f"{URL}/{record_id}/withdraw", json={}).status_code == 409


def test_withdrawing_from_the_record_page_and_a_flow_that_forbids_it(
    wf_app, wf_api, wf_org, db, monkeypatch
):
    clerk = wf_api("clerk")
    record_id = submit(clerk, wf_org)
    page = clerk.form(f"/forms/spend_request/{record_id}/withdraw", {"comment": "not needed"})
    assert page.status_code == 302 and state(clerk, record_id) == "draft"
    assert "back with you" in clerk.get(page.headers["Location"]).text
    approval = wf_app.extensions["lianku.registry"].form("spend_request").workflow[
        "transitions"][0]["approval"]  # fmt: skip
    monkeypatch.setitem(approval, "withdraw", False)
    record_id = submit(clerk, wf_org)
    assert 'id="withdraw"' not in clerk.get(f"/forms/spend_request/{record_id}").text
    refused = clerk.post(f"{URL}/{record_id}/withdraw", json={})
    assert refused.status_code == 403 and "ask an approver to reject it" in refused.json["error"]
    assert state(clerk, record_id) == "in_approval" and tasks(db, record_id)


@pytest.mark.postgres_only
def test_a_withdrawal_and_the_last_approval_at_once_one_wins(wf_api, wf_org, db):
    """QA approves the last level as the clerk withdraws (real threads on PostgreSQL, held at
    the record's lock until both wait there): one is done, the other refused — never an approved
    record whose approval was withdrawn, nor a draft whose last level approved."""
    clerk, manager, qa = wf_api("clerk"), wf_api("manager"), wf_api("qa")
    record_id = submit(clerk, wf_org)
    decide(manager, db, record_id, wf_org["manager"], decision="approve")
    last = task_id(db, record_id, wf_org["qa"])
    results: dict[str, int] = {}

    def approve():
        body = {"decision": "approve", "signature": SIGN}
        decided = qa.post(f"/api/v1/approval-tasks/{last}/decision", json=body)
        results["approve"] = decided.status_code

    def withdraw():
        results["withdraw"] = clerk.post(f"{URL}/{record_id}/withdraw", json={}).status_code

    race_behind_a_lock(db, record_id, [(approve, (), {}), (withdraw, (), {})])
    assert sorted(results.values()) == [200, 409], results
    expected = "approved" if results["approve"] == 200 else "draft"
    assert state(clerk, record_id) == expected and tasks(db, record_id) == {}


def test_an_approver_hands_a_task_over_to_a_colleague(wf_api, wf_org, db):
    """转交: the colleague decides it in the approver's place — on their behalf, with whoever
    waited for it now waiting for them; a colleague who could not decide it (cannot see the
    store, made the record, already has the step) is refused by name, nothing changed."""
    clerk, manager, hq = wf_api("clerk"), wf_api("manager"), wf_api("hq")
    record_id = submit(clerk, wf_org)
    mine = task_id(db, record_id, wf_org["manager"])
    after = manager.post(f"/api/v1/approval-tasks/{mine}/approvers",
                         json={"user": wf_org["qa"], "position": "after"})  # fmt: skip
    assert after.status_code == 201, after.json
    handover = f"/api/v1/approval-tasks/{mine}/handover"
    for other, why in ((wf_org["deputy"], "already has this step"),
                       (wf_org["manager2"], "cannot see records of this location"),
                       (wf_org["clerk"], "Choose another active user"),
                       ("7", "Choose another active user")):  # fmt: skip
        refused = manager.post(handover, json={"user": other})
        assert refused.status_code == 422 and why in refused.json["errors"]["user"][0], other
    assert tasks(db, record_id) == {"store": sorted([wf_org["manager"], wf_org["deputy"]])}
    # the picker offers who could take it, HQ's manager too (not only the store's staff)
    offered = manager.get(f"/api/v1/approval-tasks/{mine}/candidates").json["results"]
    assert wf_org["hq"] in {choice["value"] for choice in offered}
    assert not {choice["value"] for choice in offered} & {  # (QA waits after me already)
        wf_org["manager"],
        wf_org["deputy"],
        wf_org["qa"],
        wf_org["clerk"],
        wf_org["manager2"],
    }
    named = manager.get(f"/api/v1/approval-tasks/{mine}/candidates?q=HQ").json["results"]
    assert named == [{"value": wf_org["hq"], "label": "Hq Full"}]
    assert wf_api("deputy").get(f"/api/v1/approval-tasks/{mine}/candidates").status_code == 404
    response = manager.post(handover, json={"user": wf_org["hq"], "comment": "on leave"})
    assert response.status_code == 201, response.json
    assert response.json["on_behalf_of"] == wf_org["manager"]
    assert tasks(db, record_id, "handed_over") == {"store": [wf_org["manager"]]}
    assert 'id="hand-over-' not in manager.get(f"/forms/spend_request/{record_id}").text
    decide(hq, db, record_id, wf_org["hq"], decision="approve")
    # the deputy's task closes (或签); the QA added after the manager is asked after HQ
    assert tasks(db, record_id) == {"store": [wf_org["qa"]]}
    page = clerk.get(f"/forms/spend_request/{record_id}").text
    assert "Handed over: Store manager" in page and "on leave" in page
    assert "Approval: handed over" in page


def test_a_task_is_handed_over_from_the_record_page(wf_api, wf_org, db):
    manager = wf_api("manager")
    record_id = submit(wf_api("clerk"), wf_org)
    mine = task_id(db, record_id, wf_org["manager"])
    page = manager.get(f"/forms/spend_request/{record_id}").text
    assert f'id="hand-over-{mine}"' in page and "tom-select.complete.min.js" in page
    url = f"/inbox/tasks/{mine}/handover"
    nobody = manager.form(url, {"user": "", "next": "record"})
    assert nobody.status_code == 302 and nobody.headers["Location"].endswith(f"/{record_id}")
    assert "Choose another active user" in manager.get(nobody.headers["Location"]).text
    handed = manager.form(url, {"user": str(wf_org["hq"]), "comment": "away", "next": "record"})
    assert handed.status_code == 302
    assert tasks(db, record_id)["store"] == sorted([wf_org["deputy"], wf_org["hq"]])


def test_several_tasks_are_approved_at_once_and_the_others_say_why(wf_api, wf_org, db):
    """批量审批: each ticked task is approved as one decision would be; one decided already or
    someone else's is left, with the reason. A level needing a signature takes the password
    once for all; a wrong one approves nothing."""
    clerk, manager, qa = wf_api("clerk"), wf_api("manager"), wf_api("qa")
    first, second = submit(clerk, wf_org), submit(clerk, wf_org)
    mine = [task_id(db, record_id, wf_org["manager"]) for record_id in (first, second)]
    decide(wf_api("deputy"), db, second, wf_org["deputy"], decision="approve")  # 或签: mine closes
    others = task_id(db, first, wf_org["deputy"])
    many = "/api/v1/approval-tasks/decisions"
    response = manager.post(many, json={"tasks": [*mine, others], "comment": "ok"})
    assert response.status_code == 200, response.json
    assert response.json["approved"] == [mine[0]]
    refused = response.json["refused"]
    assert set(refused) == {str(mine[1]), str(others)}
    assert "already decided" in refused[str(mine[1])] and "not found" in refused[str(others)]
    finals = [task_id(db, record_id, wf_org["qa"]) for record_id in (first, second)]
    unsigned = qa.post(many, json={"tasks": finals}).json
    assert unsigned["approved"] == [] and all(
        "Enter your password to sign" in why for why in unsigned["refused"].values()
    )
    wrong = qa.post(many, json={"tasks": finals, "signature": {**SIGN, "password": "nope"}})
    assert wrong.status_code == 403 and tasks(db, first) == {"final": [wf_org["qa"]]}
    with db.session() as session:  # the wrong password is on the audit trail, once
        refusals = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "signature_refused")
        ).all()
        assert len(refusals) == 1 and refusals[0].entity_id == str(first)
    signed = qa.post(many, json={"tasks": finals, "signature": SIGN}).json
    assert signed == {"approved": finals, "refused": {}}
    assert state(clerk, first) == state(clerk, second) == "approved"
    for bad in (None, [], "1", [0], list(range(1, 102))):
        refusal = qa.post(many, json={"tasks": bad})
        assert refusal.status_code == 422 and "tasks" in refusal.json["errors"], bad


def test_several_tasks_are_rejected_at_once_with_one_reason(wf_api, wf_org, db):
    """批量驳回: the ticked tasks rejected with the one reason given — none without it — each
    record back with its submitter as one rejection would leave it; on the page too."""
    clerk, manager = wf_api("clerk"), wf_api("manager")
    records = [submit(clerk, wf_org) for _ in range(3)]
    mine = [task_id(db, record_id, wf_org["manager"]) for record_id in records]
    many = "/api/v1/approval-tasks/decisions"
    for body, field in (({"tasks": mine[:2], "decision": "reject"}, "comment"),
                        ({"tasks": mine[:2], "decision": "return"}, "decision")):  # fmt: skip
        refused = manager.post(many, json=body)
        assert refused.status_code == 422 and list(refused.json["errors"]) == [field], body
    assert [state(clerk, record_id) for record_id in records] == ["in_approval"] * 3
    rejected = manager.post(many, json={"tasks": mine[:2], "decision": "reject",
                                        "comment": "预算已冻结"})  # fmt: skip
    assert rejected.status_code == 200, rejected.json
    assert rejected.json == {"rejected": mine[:2], "refused": {}}
    assert [state(clerk, record_id) for record_id in records] == ["draft", "draft", "in_approval"]
    form = {"task": [str(mine[2])], "decision": "reject", "comment": "重复申请",
            "csrf_token": manager.token}  # fmt: skip
    assert manager.client.post("/inbox/decisions", data=form).status_code == 302
    assert "Rejected: 1." in manager.get("/inbox").text
    assert state(clerk, records[2]) == "draft"


def test_the_inbox_approves_the_ticked_tasks(wf_api, wf_org, db):
    clerk, manager = wf_api("clerk"), wf_api("manager")
    records = [submit(clerk, wf_org) for _ in range(3)]
    ticked = [task_id(db, record_id, wf_org["manager"]) for record_id in records[:2]]
    page = manager.get("/inbox").text
    assert 'id="approve-many"' in page and f'id="tick-{ticked[0]}"' in page
    form = {"task": [str(t) for t in ticked], "comment": "fine", "csrf_token": manager.token}
    sent = manager.client.post("/inbox/decisions", data=form)
    assert sent.status_code == 302
    assert "Approved: 2." in manager.get("/inbox").text
    assert [sorted(tasks(db, record_id)) for record_id in records] == [
        ["final"], ["final"], ["store"]]  # fmt: skip


def test_the_inbox_filters_by_form_and_pages_a_long_list(wf_api, wf_org, db, monkeypatch):
    """An approver with many tasks sees how many wait per form, picks one form, and reads them a
    page at a time, the oldest first — on the page and through the API."""
    from app.web import approvals as inbox_views

    monkeypatch.setattr(inbox_views, "PAGE_SIZE", 2)
    clerk, manager = wf_api("clerk"), wf_api("manager")
    spends = [submit(clerk, wf_org) for _ in range(3)]
    with db.transaction() as session:  # a task of another form, as another flow would open it
        other = Record(form="cold_receipt", state="draft", number="CR-1", location_id=wf_org["S1"])
        session.add(other)
        session.flush()
        session.add(ApprovalTask(record_id=other.id, transition="x", level=0, level_name="x",
                                 approver_id=wf_org["manager"], status="pending"))  # fmt: skip
    page = manager.get("/inbox").text
    assert re.search(r'id="waiting-forms".*data-form="spend_request">[^<]* \(3\)', page, re.S)
    assert 'data-form="cold_receipt"' in page
    assert page.count('name="task"') == 2 and 'id="waiting-pages"' in page
    ids = [task_id(db, record_id, wf_org["manager"]) for record_id in spends]
    second = manager.get("/inbox?form=spend_request&page=2").text
    assert re.findall(r'name="task" value="(\d+)"', second) == [str(ids[2])]
    api = manager.get("/api/v1/inbox", query_string={"form": "spend_request"}).json
    assert [task["record_id"] for task in api["waiting"]] == spends[:2]
    assert (api["page"], api["pages"]) == (1, 2)
    assert {row["form"]: row["count"] for row in api["waiting_by_form"]} == {
        "spend_request": 3, "cold_receipt": 1}  # fmt: skip
    assert api["count"] == 4  # the badge counts every task, whatever the filter
    refused = manager.get("/api/v1/inbox?page=0")
    assert refused.status_code == 422 and list(refused.json["errors"]) == ["page"]


def test_someone_elses_task_is_not_found_and_not_decided(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org)
    tid = task_id(db, record_id, wf_org["manager"])
    response = wf_api("manager2").post(f"/api/v1/approval-tasks/{tid}/decision",
                                       json={"decision": "approve"})  # fmt: skip
    assert response.status_code == 404
    assert tasks(db, record_id)["store"] == sorted([wf_org["manager"], wf_org["deputy"]])


def test_delegation_hands_new_tasks_to_the_stand_in(wf_app, wf_api, wf_org, db):
    now = utcnow()
    response = wf_api("deputy").post("/api/v1/delegations", json={
        "to_user": wf_org["clerk2"], "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (now + dt.timedelta(days=3)).isoformat()})  # fmt: skip
    assert response.status_code == 201, response.json
    record_id = submit(wf_api("clerk"), wf_org)
    assert tasks(db, record_id) == {"store": sorted([wf_org["manager"], wf_org["clerk2"]])}
    with db.session() as session:
        task = session.get(ApprovalTask, task_id(db, record_id, wf_org["clerk2"]))
        assert task.on_behalf_of == wf_org["deputy"]
    assert decide(wf_api("clerk2"), db, record_id, wf_org["clerk2"],
                  decision="approve").status_code == 200  # fmt: skip
    bad = wf_api("deputy").post("/api/v1/delegations", json={
        "to_user": wf_org["deputy"], "starts_at": now.isoformat(),
        "ends_at": now.isoformat()})  # fmt: skip
    assert bad.status_code == 422


def test_an_unknown_approval_task_is_named_in_the_readers_words(wf_app, wf_api, wf_org):
    response = wf_api("manager").post("/api/v1/approval-tasks/999999/decision",
                                      json={"decision": "approve"})  # fmt: skip
    assert response.status_code == 404
    assert response.json["message"] == "Approval task 999999 was not found."


def test_a_read_only_user_may_not_delegate(wf_app, wf_api, wf_org, db):
    """The auditor approves nothing and changes nothing: not who would stand in for them."""
    from app.workflow.models import Delegation

    now = utcnow()
    response = wf_api("auditor").post("/api/v1/delegations", json={
        "to_user": wf_org["hq"], "starts_at": now.isoformat(),
        "ends_at": (now + dt.timedelta(days=1)).isoformat()})  # fmt: skip
    assert response.status_code == 403, response.json
    with db.session() as session:
        assert session.scalars(select(Delegation)).all() == []


def test_overdue_tasks_are_reminded_once_and_escalated(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("manager"), wf_org)  # deputy approves; manager is escalated to
    later = utcnow() + dt.timedelta(hours=5)
    with db.transaction() as session:
        assert approvals.send_reminders(session, now=later) == 1
    with db.transaction() as session:
        assert approvals.send_reminders(session, now=later) == 0  # once
        kinds = {(m.kind, m.user_id) for m in session.scalars(select(InboxMessage))}
    assert kinds == {("reminder", wf_org["deputy"]), ("escalation", wf_org["manager"])}
    assert record_id
    page = wf_api("deputy").get("/inbox").text
    # the deputy reads English: the message in it alone
    assert "approval overdue" in page and 'data-task="' in page and "审批已超时" not in page
    told = [m["message"] for m in wf_api("deputy").get("/api/v1/inbox").json["messages"]]
    assert len(told) == 1 and told[0].endswith(": approval overdue")


def test_approve_and_comment_from_the_record_page(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org)
    manager = wf_api("manager")
    page = manager.get(f"/forms/spend_request/{record_id}").text
    tid = task_id(db, record_id, wf_org["manager"])
    assert f'id="my-task-{tid}"' in page
    response = manager.form(f"/inbox/tasks/{tid}/decision",
                            {"decision": "comment", "comment": "checking the quote",
                             "next": "record"})  # fmt: skip
    assert response.status_code == 302 and f"/forms/spend_request/{record_id}" in response.location
    assert wf_org["manager"] in tasks(db, record_id)["store"]  # still open
    response = manager.form(f"/inbox/tasks/{tid}/decision", {"decision": "approve"})
    assert response.status_code == 302
    assert tasks(db, record_id) == {"final": [wf_org["qa"]]}
    assert "checking the quote" in manager.get(f"/forms/spend_request/{record_id}").text


# --- the workflow's levels change while records wait --------------------------------------------

CHECK_LEVEL = """        - name: check
          label: {zh_CN: 预审, en: Pre-check}
          approvers: {roles: [hq_manager]}
"""
REGION_LEVEL = """        - name: region
          label: {zh_CN: 总部会签, en: HQ countersign}
          approvers: {roles: [hq_manager, qa]}
          mode: all
          when: amount > 50000
          reject_to: store
"""


def publish_workflow(app, db, edit) -> None:
    """An admin publishes a change of the spend_request workflow, as the workflow editor does:
    ``edit(text)`` is its new text, live at the next request."""
    from app.meta import versions
    from app.meta.registry import WORKFLOWS

    current = app.extensions["lianku.registry"]
    text = current.metadata.workflows["spend_request"].text
    edited = edit(text)
    assert edited != text
    with db.transaction() as session:
        versions.publish(session, current, None, "spend_request", edited, kind=WORKFLOWS)


def test_a_level_added_before_the_waiting_one_is_not_asked_and_nobody_asked_twice(
    wf_app, wf_api, wf_org, db
):
    record_id = submit(wf_api("clerk"), wf_org)
    publish_workflow(wf_app, db, lambda t: t.replace("      levels:\n", "      levels:\n"
                                                     + CHECK_LEVEL))  # fmt: skip
    response = decide(wf_api("manager"), db, record_id, wf_org["manager"], decision="approve")
    assert response.status_code == 200, response.json
    assert tasks(db, record_id) == {"final": [wf_org["qa"]]}  # not "store" again
    response = decide(wf_api("qa"), db, record_id, wf_org["qa"], decision="approve",
                      signature=SIGN)  # fmt: skip
    assert response.status_code == 200, response.json
    assert state(wf_api("clerk"), record_id) == "approved"


def test_a_removed_level_still_waited_at_is_decided_and_the_record_moves_on(
    wf_app, wf_api, wf_org, db
):
    approved = submit(wf_api("clerk"), wf_org, amount="60000")
    rejected = submit(wf_api("clerk"), wf_org, amount="70000")
    for record_id in (approved, rejected):
        decide(wf_api("manager"), db, record_id, wf_org["manager"], decision="approve")
        assert tasks(db, record_id) == {"region": sorted([wf_org["hq"], wf_org["qa"]])}
    publish_workflow(wf_app, db, lambda t: t.replace(REGION_LEVEL, ""))
    hq = wf_api("hq")
    response = decide(hq, db, approved, wf_org["hq"], decision="approve")
    assert response.status_code == 200, response.json  # was a 500 (IndexError)
    # the level is gone: one yes closes it, and the levels after it are asked
    assert tasks(db, approved) == {"final": [wf_org["qa"]]}
    response = decide(hq, db, rejected, wf_org["hq"], decision="reject", comment="too much")
    assert response.status_code == 200, response.json
    assert state(hq, rejected) == "draft" and tasks(db, rejected) == {}


def test_a_removed_last_level_lets_the_record_finish_its_approval(wf_app, wf_api, wf_org, db):
    record_id = submit(wf_api("clerk"), wf_org)
    decide(wf_api("manager"), db, record_id, wf_org["manager"], decision="approve")
    final = "        - name: final\n"
    publish_workflow(wf_app, db, lambda t: t[: t.index(final)])
    response = decide(wf_api("qa"), db, record_id, wf_org["qa"], decision="approve")
    assert response.status_code == 200, response.json  # no signature asked: the level is gone
    assert state(wf_api("clerk"), record_id) == "approved"


def test_the_record_page_names_steps_and_history_by_their_labels(wf_app, wf_api, wf_org, db):
    with db.transaction() as session:
        session.get(User, wf_org["clerk"]).locale = "zh_CN"
    clerk = wf_api("clerk")
    record_id = submit(clerk, wf_org)
    decide(wf_api("manager"), db, record_id, wf_org["manager"], decision="approve")
    page = clerk.get(f"/forms/spend_request/{record_id}").text
    for raw in ("submit", "approve:store", "create", "transition", "approval.approve"):
        assert f"<strong>{raw}</strong>" not in page
    for label in ("提交审批", "已审批：店长审批", "创建", "审批：同意"):
        assert f"<strong>{label}</strong>" in page
    inbox = clerk.get("/inbox").text  # "I submitted": the state's label
    assert "审批中" in inbox and "· in_approval" not in inbox
    waiting = wf_api("qa").get("/inbox").text  # "Waiting for me": the level's label
    assert "· QA final" in waiting and "· final" not in waiting
    # a refusal names the transition and the state by their labels too
    response = clerk.post(f"{URL}/{record_id}/transitions/submit", json={})
    assert response.json["error"] == "当前状态“审批中”下不能执行“提交审批”。"


def badge(page: str) -> int | None:
    """The number beside Inbox in the navigation (None when there is none)."""
    found = re.search(r'id="inbox-count"[^>]*>(\d+)<', page)
    return int(found.group(1)) if found else None


def test_the_inbox_badge_counts_what_waits_and_new_messages_show_once(wf_api, wf_org, db):
    """Every page counts beside Inbox the approval tasks waiting for the user and the messages
    not read yet; the inbox shows those messages as new once, then the count is the tasks."""
    record_id = submit(wf_api("clerk"), wf_org)
    with db.transaction() as session:
        for user in ("manager", "manager", "hq"):
            session.add(InboxMessage(user_id=wf_org[user], record_id=record_id, message="看一下"))
    manager = wf_api("manager")
    assert wf_org["manager"] in tasks(db, record_id)["store"]
    assert badge(manager.get("/reports/").text) == 1 + 2
    # a page left open asks every minute: both places, swapped in by id
    fresh = manager.get("/inbox/count").text
    assert 'id="inbox-phone" hx-swap-oob="innerHTML"' in fresh and badge(fresh) == 3
    assert 'id="inbox-nav" hx-swap-oob="innerHTML"' in fresh
    inbox = manager.get("/inbox").text
    assert inbox.count("data-new") == 2 and badge(inbox) == 1  # seen now: only the task is left
    assert "data-new" not in manager.get("/inbox").text
    assert decide(manager, db, record_id, wf_org["manager"], decision="approve").status_code == 200
    assert badge(manager.get("/reports/").text) is None
    assert "<a " not in manager.get("/inbox/count").text  # nothing waits: no button, no count
    assert badge(wf_api("hq").get("/reports/").text) == 1  # another's messages stay unread


def test_a_task_on_a_record_the_approver_no_longer_sees_neither_waits_nor_counts(
    wf_api, wf_org, db
):
    """The manager moves to another store: the first store's order left waiting is out of
    their data scope — not listed, not counted beside Inbox (the count is the list's length)."""
    submit(wf_api("clerk"), wf_org)
    manager = wf_api("manager")
    assert badge(manager.get("/reports/").text) == 1
    assert len(manager.get("/api/v1/inbox").json["waiting"]) == 1
    with db.transaction() as session:
        update_user(session, session.get(User, wf_org["manager"]), location_ids=[wf_org["S2"]])
    assert badge(manager.get("/reports/").text) is None
    assert manager.get("/api/v1/inbox").json["waiting"] == []
    assert manager.get("/api/v1/inbox").json["count"] == 0


def test_the_inbox_through_the_api_reads_and_marks_read_only_when_asked(wf_api, wf_org, db):
    """``GET /api/v1/inbox``: the tasks waiting, the latest messages with ``read`` and the count
    beside Inbox, marking nothing; ``POST /api/v1/inbox/read`` marks the caller's own messages
    only, and refuses anything but a list of ids, naming ``ids``."""
    record_id = submit(wf_api("clerk"), wf_org)
    with db.transaction() as session:
        mine, theirs = (InboxMessage(user_id=wf_org[user], record_id=record_id, message="看一下")
                        for user in ("manager", "hq"))  # fmt: skip
        session.add_all([mine, theirs])
        session.flush()
        ids = (mine.id, theirs.id)
    manager = wf_api("manager")
    inbox = manager.get("/api/v1/inbox").json
    assert [(task["form"], task["record_id"]) for task in inbox["waiting"]] == [
        ("spend_request", record_id)
    ]
    [message] = inbox["messages"]
    assert (message["id"], message["read"], message["form"]) == (ids[0], False, "spend_request")
    assert inbox["count"] == 2 and manager.get("/api/v1/inbox").json["count"] == 2
    for bad in ({}, {"ids": "1"}, {"ids": [1.5]}, {"ids": [True]}, {"ids": [0]}):
        refused = manager.post("/api/v1/inbox/read", json=bad)
        assert refused.status_code == 422 and list(refused.json["errors"]) == ["ids"], bad
    marked = manager.post("/api/v1/inbox/read", json={"ids": list(ids)})
    assert marked.status_code == 200 and marked.json == {"count": 1}
    assert manager.get("/api/v1/inbox").json["messages"][0]["read"] is True
    assert wf_api("hq").get("/api/v1/inbox").json["messages"][0]["read"] is False
