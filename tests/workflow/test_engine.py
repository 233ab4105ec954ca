"""Firing transitions through the HTTP API and at the engine: checks, actions, rollback."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.kernel.audit import AuditEntry
from app.kernel.stock import LedgerEntry, StockBalance
from app.meta import records
from app.meta.models import Record
from app.workflow import approvals, engine
from app.workflow.models import InboxMessage, Signature, WorkflowEvent
from tests.forms_fixtures import PASSWORD

URL = "/api/v1/forms/cold_receipt/records"


def new_receipt(api, org, **changes) -> dict:
    body = {
        "location": org["S1"],
        "amount": "1200.00",
        "arrival_temp": "5",
        "lines": [{"item": org["item"], "lot": "L1", "expiry_date": "2030-01-31",
                   "quantity": "10"}],
    }  # fmt: skip
    body.update(changes)
    response = api.post(URL, json=body)
    assert response.status_code == 201, response.json
    return response.json


def fire(api, record, transition, **body):
    return api.post(f"{URL}/{record['id']}/transitions/{transition}", json=body)


def stock(db) -> dict:
    with db.session() as session:
        return {
            str(row.status): row.on_hand
            for row in session.scalars(select(StockBalance))
            if row.on_hand
        }


def counts(db) -> tuple[int, int, int, int]:
    with db.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (LedgerEntry, AuditEntry, WorkflowEvent, Signature)
        )


def test_receive_runs_the_plugin_and_posts_the_lines(wf_app, wf_api, wf_org, db):
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    response = fire(clerk, record, "receive", version=record["version"])
    assert response.status_code == 200, response.json
    assert response.json["state"] == "received"
    assert response.json["version"] == record["version"] + 1
    assert stock(db) == {"awaiting_inspection": Decimal(10)}
    with db.session() as session:
        [event] = session.scalars(select(WorkflowEvent)).all()
        assert (event.transition, event.from_state, event.to_state) == (
            "receive", "draft", "received")  # fmt: skip
        assert event.user_id == wf_org["clerk"]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "transition")).one()
        assert entry.changes["state"] == ["draft", "received"]


def test_a_failing_action_rolls_back_everything(wf_app, wf_api, wf_org, db):
    """check_temperature (the example plugin, from its entry point) refuses 12 °C: no stock, no
    state, no timeline, no audit of the transition."""
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org, arrival_temp="12")
    before = counts(db)
    response = fire(clerk, record, "receive")
    assert response.status_code == 409
    assert "outside 2–8" in response.json["error"]
    assert counts(db) == before
    assert stock(db) == {}
    assert clerk.get(f"{URL}/{record['id']}").json["state"] == "draft"


def test_a_kernel_refusal_rolls_back_the_earlier_postings(wf_app, wf_api, wf_org, db):
    """The second line breaks a kernel rule (no lot for a lot-tracked item, after the first line
    was fine): the ledger and balances stay as they were."""
    clerk = wf_api("clerk")
    lines = [
        {"item": wf_org["item"], "lot": "L1", "expiry_date": "2030-01-31", "quantity": "3"},
        {"item": wf_org["item"], "quantity": "4"},
    ]
    record = new_receipt(clerk, wf_org, lines=lines)
    before = counts(db)
    response = fire(clerk, record, "receive")
    assert response.status_code == 409, response.json
    assert counts(db) == before and stock(db) == {}


def test_refusals_say_why_with_403_or_409(wf_app, wf_api, wf_org, db):
    clerk, manager = wf_api("clerk"), wf_api("manager")
    record = new_receipt(clerk, wf_org)
    # not from this state
    response = fire(manager, record, "approve", signature={"password": PASSWORD,
                                                           "meaning": "approved"})  # fmt: skip
    assert response.status_code == 409
    assert response.json["error"] == "'Approve' cannot be done from state 'Draft'."  # labels
    assert fire(clerk, record, "receive").status_code == 200
    # a role the transition does not name
    response = fire(wf_api("hq"), record, "approve")
    assert response.status_code == 403
    assert response.json["error"] == "You are not allowed to do 'Approve' on this record."
    # a read-only role never fires anything
    assert fire(wf_api("auditor"), record, "approve_large").status_code == 403
    # condition false: 1200 is not > 50000
    response = fire(wf_api("hq"), record, "approve_large")
    assert response.status_code == 409  # said in words, not as the raw expression
    assert response.json["error"] == (
        "'HQ approval' is not possible now: only amounts over 50000 need HQ approval."
    )  # the workflow's own words for its condition
    large = new_receipt(clerk, wf_org, amount="60000.00")
    assert fire(clerk, large, "receive").status_code == 200
    response = fire(manager, large, "approve", signature={"password": PASSWORD,
                                                          "meaning": "approved"})  # fmt: skip
    assert response.status_code == 409  # a condition without words of its own
    assert response.json["error"] == "'Approve' is not possible now: its conditions are not met."
    # stale version
    response = fire(manager, record, "reject", comment="damaged", version=record["version"])
    assert response.status_code == 409 and "changed by" in response.json["error"]
    # comment required
    response = fire(manager, record, "reject")
    assert response.status_code == 422 and "comment" in response.json["errors"]
    for not_text in (5, ["damaged"], {"text": "damaged"}):
        response = fire(manager, record, "reject", comment=not_text)
        assert response.status_code == 422 and "comment" in response.json["errors"]
    response = fire(manager, record, "reject", comment="x", version=1.9)
    assert response.status_code == 422 and "version" in response.json["errors"]
    # a manager of another store does not even see it
    assert fire(wf_api("manager2"), record, "reject", comment="x").status_code == 404
    # unknown transition
    assert fire(manager, record, "teleport").status_code == 404


def test_the_creator_may_not_pass_their_own_record_unless_allowed(wf_app, wf_api, wf_org, db):
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200  # the first step is theirs
    response = fire(clerk, record, "reject", comment="mine")
    assert response.status_code == 403 and "someone else" in response.json["error"]
    assert fire(wf_api("clerk2"), record, "reject", comment="theirs").status_code == 200


def test_allow_creator_and_webhook_is_queued_not_called(wf_app, wf_api, wf_org, db):
    from app.kernel.jobs import Job

    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200
    response = fire(clerk, record, "withdraw")
    assert response.status_code == 200, response.json
    with db.session() as session:
        [job] = session.scalars(select(Job)).all()
        assert job.kind == "webhook" and job.params["body"]["state"] == "rejected"


#: Every action audited on a record but a fired transition (which reads as the transition).
RECORD_ACTIONS = [
    "create", "update", "delete", "backfill", "signature_refused", "approval.add_approver",
    *(f"approval.{decision}" for decision in approvals.DECISIONS),
]  # fmt: skip


@pytest.mark.parametrize("action", RECORD_ACTIONS)
def test_every_audit_action_on_a_record_reads_as_words_in_its_history(wf_app, action):
    """The record page's history shows each entry's label, never its code (``backfill``)."""
    form = wf_app.extensions["lianku.registry"].form("cold_receipt")
    entry = AuditEntry(action=action, changes={})
    with wf_app.test_request_context(headers={"Accept-Language": "en"}):
        assert engine.history_label(form, entry, "en") not in ("", action)


def test_signature_is_recorded_with_a_content_hash(wf_app, wf_api, wf_org, db):
    clerk, manager = wf_api("clerk"), wf_api("manager")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200
    response = fire(manager, record, "approve", signature={"password": PASSWORD,
                                                           "meaning": "approved"})  # fmt: skip
    assert response.status_code == 200, response.json
    assert stock(db) == {"available": Decimal(10)}
    with db.session() as session:
        [signature] = session.scalars(select(Signature)).all()
        stored = session.get(Record, record["id"])
        assert signature.user_id == wf_org["manager"]
        assert signature.full_name == "Manager Full" and signature.meaning == "approved"
        assert signature.content_sha256 == engine.content_hash(stored)
        [message] = session.scalars(select(InboxMessage)).all()
        assert message.user_id == wf_org["clerk"]
    page = manager.get(f"/forms/cold_receipt/{record['id']}")
    assert "Manager Full" in page.text and signature.content_sha256[:16] in page.text
    printed = manager.get(f"/forms/cold_receipt/{record['id']}/print")
    assert printed.status_code == 200
    assert "Manager Full" in printed.text and signature.content_sha256 in printed.text


def test_a_wrong_signing_password_is_refused_audited_and_writes_nothing(wf_app, wf_api, wf_org, db):
    clerk, manager = wf_api("clerk"), wf_api("manager")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200
    ledger, audits, events, signatures = counts(db)
    response = fire(manager, record, "approve",
                    signature={"password": "wrong-one", "meaning": "approved"})  # fmt: skip
    assert response.status_code == 403 and "password is wrong" in response.json["error"]
    assert counts(db) == (ledger, audits + 1, events, signatures)
    with db.session() as session:
        refused = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "signature_refused")
        ).one()
        assert refused.user_id == wf_org["manager"]
    assert stock(db) == {"awaiting_inspection": Decimal(10)}
    # no meaning chosen: 422 naming the field
    response = fire(manager, record, "approve", signature={"password": PASSWORD})
    assert response.status_code == 422 and "signature.meaning" in response.json["errors"]
    # the codes a caller sends, each with what it means to a signer who reads Chinese
    assert "approved, reviewed, responsible" in response.json["errors"]["signature.meaning"][0]
    with wf_app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert engine._meaning("approved") == "approved = " + str(engine.SIGNATURE_MEANINGS[
            "approved"])  # fmt: skip
        assert engine._meaning("approved") != "approved"


def test_wrong_signing_passwords_lock_signing_and_signing_in_as_wrong_sign_ins_do(
    wf_app, wf_api, wf_org, db
):
    """Guessing a password by signing is stopped as guessing it at the sign-in page is: five
    wrong ones in a row lock the account; a right one in between starts the count again."""
    from app.kernel.users import MAX_FAILED_LOGINS, User

    clerk, manager = wf_api("clerk"), wf_api("manager")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200
    wrong = {"password": "wrong-one", "meaning": "approved"}
    for _attempt in range(MAX_FAILED_LOGINS - 1):
        assert fire(manager, record, "approve", signature=wrong).status_code == 403
    other = new_receipt(clerk, wf_org)
    assert fire(clerk, other, "receive").status_code == 200
    right = {"password": PASSWORD, "meaning": "approved"}
    assert fire(manager, other, "approve", signature=right).status_code == 200
    for _attempt in range(MAX_FAILED_LOGINS - 1):  # counted again from none
        assert fire(manager, record, "approve", signature=wrong).status_code == 403
    with db.session() as session:
        assert not session.get(User, wf_org["manager"]).is_locked()
    assert fire(manager, record, "approve", signature=wrong).status_code == 403
    locked = fire(manager, record, "approve", signature=right)
    assert locked.status_code == 403
    assert locked.json["message"].startswith("Too many wrong passwords: signing is locked until")
    with db.session() as session:
        assert session.get(User, wf_org["manager"]).is_locked()
        lockout = session.scalars(select(AuditEntry).where(AuditEntry.action == "lockout")).one()
        assert "signature" in lockout.reason
    assert stock(db) == {"awaiting_inspection": Decimal(10), "available": Decimal(10)}


def test_a_signed_record_is_not_deleted_with_its_signatures(wf_app, wf_api, wf_org, db):
    """A record signed once and sent back to draft (a customer card revised) is kept: deleting
    it would delete its signatures, the evidence an inspector reads."""
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    with db.transaction() as session:
        event = WorkflowEvent(record_id=record["id"], transition="revise", from_state="approved",
                              to_state="draft", user_id=wf_org["manager"])  # fmt: skip
        session.add(event)
        session.flush()
        engine.sign(session, session.get(Record, record["id"]), event,
                    session.get(engine.User, wf_org["manager"]), "approved")  # fmt: skip
        from app.kernel.users import update_user

        hq = session.get(engine.User, wf_org["hq"])
        update_user(session, hq, roles=["admin"], location_ids=[wf_org["HQ"]])
    refused = wf_api("hq").delete(f"{URL}/{record['id']}?version={record['version']}")
    assert refused.status_code == 409, refused.json
    assert refused.json["message"].startswith("Manager Full signed this record at ")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Signature)) == 1
        assert session.get(Record, record["id"]) is not None


def test_an_api_token_cannot_sign_and_is_told_a_person_must(wf_app, wf_api, wf_org, db):
    """A token has no person nor password: told so, whatever it sends, and not audited as a
    wrong password (nothing is written)."""
    from app.meta import identity

    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200
    with db.transaction() as session:
        _token, plaintext = identity.issue_token(
            session, "pos", "store_manager", [wf_org["S1"]], None
        )
    headers = {"Authorization": f"Bearer {plaintext}", "Accept-Language": "en"}
    before = counts(db)
    for signature in ({"password": PASSWORD, "meaning": "approved"}, {}):
        response = wf_app.test_client().post(
            f"{URL}/{record['id']}/transitions/approve", json={"signature": signature},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 403, response.json
        assert "an API token cannot sign" in response.json["message"]
    assert counts(db) == before
    assert stock(db) == {"awaiting_inspection": Decimal(10)}


def test_the_preview_of_a_signed_transition_does_not_check_the_password(wf_app, wf_api, wf_org, db):
    """A preview must not let anyone test a signer's password without an audit entry."""
    clerk, manager = wf_api("clerk"), wf_api("manager")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200
    before = counts(db)
    url = f"{URL}/{record['id']}/transitions/approve/preview"
    for password in ("guess-1", PASSWORD):
        response = manager.post(url, json={"signature": {"password": password,
                                                         "meaning": "approved"}})  # fmt: skip
        assert response.status_code == 200, response.json  # the same answer either way
        assert response.json["state"] == "approved"
    assert manager.post(url, json={}).status_code == 200  # no signature needed to preview
    assert counts(db) == before  # and nothing written
    assert stock(db) == {"awaiting_inspection": Decimal(10)}


def test_idempotency_key_replays_the_first_answer(wf_app, wf_api, wf_org, db):
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    headers = {"Idempotency-Key": "fire-1"}
    first = clerk.post(f"{URL}/{record['id']}/transitions/receive", json={}, headers=headers)
    again = clerk.post(f"{URL}/{record['id']}/transitions/receive", json={}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert stock(db) == {"awaiting_inspection": Decimal(10)}


def test_engine_level_fire_and_available(wf_app, wf_org, db):
    from app.kernel.users import User

    registry = wf_app.extensions["lianku.registry"]
    with wf_app.test_request_context(), db.transaction() as session:
        clerk = session.get(User, wf_org["clerk"])
        manager = session.get(User, wf_org["manager"])
        record = records.create(
            session, registry, clerk, "cold_receipt",
            {"location": wf_org["S1"], "amount": "60000", "arrival_temp": "4",
             "lines": [{"item": wf_org["item"], "lot": "L9", "expiry_date": "2031-01-01",
                        "quantity": "2"}]},
        )  # fmt: skip
        form = registry.form("cold_receipt")
        assert [t["name"] for t in engine.available(session, form, record, clerk)] == ["receive"]
        engine.fire(session, registry, record, "receive", clerk)
        assert record.state == "received"
        names = [t["name"] for t in engine.available(session, form, record, manager)]
        assert names == ["reject"]  # approve's condition (<= 50000) is false
        # what others may do now: HQ approves the large amount; the creator may not reject
        # their own receipt (the manager and the other clerks may); withdraw is the clerk's own
        others = engine.done_by_others(session, form, record, clerk)
        assert [
            (t["name"], [r["label"]["en"] for r in roles], barred) for t, roles, barred in others
        ] == [
            ("approve_large", ["HQ manager"], False),
            ("reject", ["Store manager", "Store clerk"], True),  # they could, but created it
        ]
        assert [
            t["name"]
            for t, _roles, _barred in engine.done_by_others(session, form, record, manager)
        ] == [
            "approve_large",
            "withdraw",
        ]
        with pytest.raises(engine.TransitionRefused, match="当前不能执行“批准”：条件不满足"):
            engine.fire(session, registry, record, "approve", manager)
        assert [event.transition for event, _u, _s in engine.timeline(session, record)] == [
            "receive"
        ]


def test_the_detail_page_offers_only_what_the_user_may_fire(wf_app, wf_api, wf_org, db):
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    page = clerk.get(f"/forms/cold_receipt/{record['id']}").text
    assert 'data-transition="receive"' in page and 'data-transition="approve"' not in page
    response = clerk.form(
        f"/forms/cold_receipt/{record['id']}/transitions/receive", {"version": record["version"]}
    )
    assert response.status_code == 302
    page = clerk.get(f"/forms/cold_receipt/{record['id']}").text
    assert 'id="timeline"' in page and "Clerk Full" in page
    assert 'data-transition="receive"' not in page
    assert 'data-transition="reject"' not in page  # the creator may not reject their own
    assert "Others may do now:" in page and "Reject</span> (Store manager, Store clerk, " in page
    # the clerk holds a role that may reject: it is having created the receipt that stops them
    assert "<span data-creator-barred>someone other than you, its creator</span>)" in page
    manager_page = wf_api("manager").get(f"/forms/cold_receipt/{record['id']}").text
    assert 'data-transition="approve"' in manager_page
    assert 'name="password"' in manager_page  # approve asks for a signature


def test_a_transition_aborted_to_break_a_deadlock_is_run_again(wf_api, wf_org, monkeypatch):
    """PostgreSQL answers a deadlock by aborting one transaction (SQLSTATE 40P01); the request
    runs again from the start instead of failing. The abort is simulated once, at the point where
    the kernel would meet it; everything before it must have been rolled back and redone."""
    from sqlalchemy.exc import OperationalError

    from app.workflow import engine

    class Deadlock(Exception):
        sqlstate = "40P01"

    real_fire, calls = engine.fire, []

    def fire_once_deadlocked(*args, **kwargs):
        calls.append(1)
        result = real_fire(*args, **kwargs)
        if len(calls) == 1:
            raise OperationalError("UPDATE stock_balances …", {}, Deadlock())
        return result

    monkeypatch.setattr(engine, "fire", fire_once_deadlocked)
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    response = fire(clerk, record, "receive")
    assert response.status_code == 200, response.json
    assert len(calls) == 2
    assert response.json["state"] == "received"
    assert response.json["version"] == record["version"] + 1  # applied once, not twice

    # the detail page's transition button is run again the same way
    calls.clear()
    record = new_receipt(clerk, wf_org)
    response = clerk.form(
        f"/forms/cold_receipt/{record['id']}/transitions/receive", {"version": record["version"]}
    )
    assert response.status_code == 302
    assert len(calls) == 2
    again = clerk.get(f"/api/v1/forms/cold_receipt/records/{record['id']}").json
    assert again["state"] == "received" and again["version"] == record["version"] + 1


def test_a_records_origin_reads_as_the_making_records_form_and_transition(wf_app):
    """The audit reason of a record an action made (``engine._origin``) is shown in the user's
    words; a reason of another shape, or naming a form no longer there, as written."""
    registry = wf_app.extensions["lianku.registry"]
    with wf_app.test_request_context(headers={"Accept-Language": "en"}):
        assert engine.origin_label(registry, "cold_receipt CR-7 → receive", "en") == (
            "made by Cold-chain receipt CR-7 (Receive)"
        )
        assert engine.origin_label(registry, "gone_form CR-7 → receive", "en") == (
            "gone_form CR-7 → receive"
        )
        assert engine.origin_label(registry, "lost in transit", "en") == "lost in transit"
