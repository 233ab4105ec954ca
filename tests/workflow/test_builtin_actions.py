"""The built-in actions, run by real transitions: the shipped purchase receipt flow, create_record,
reserve/release, ship/receive a transfer, notify and the webhook job against a local server."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from app.kernel import jobs
from app.kernel.jobs import Job, JobStatus
from app.kernel.reservations import Reservation
from app.kernel.stock import StockBalance
from app.kernel.users import User
from app.meta import records
from app.meta.models import Record
from app.workflow import engine
from app.workflow.models import ApprovalTask, InboxMessage, WorkflowEvent
from tests.forms_fixtures import PASSWORD

PR = "/api/v1/forms/purchase_receipt/records"


def balances(db) -> dict:
    with db.session() as session:
        return {
            (row.location_id, str(row.status)): (row.on_hand, row.reserved)
            for row in session.scalars(select(StockBalance))
            if row.on_hand or row.reserved
        }


def supplier(api, qa=None) -> int:
    """A supplier card; approved by ``qa`` (首营) when given, as receipts need."""
    response = api.post(
        "/api/v1/forms/supplier/records",
        json={"code": "SUP1", "name": "Acme", "licence_number": "L-1",
              "licence_expiry": "2035-01-01"},
    )  # fmt: skip
    assert response.status_code == 201, response.json
    supplier_id = response.json["id"]
    if qa is not None:
        url = f"/api/v1/forms/supplier/records/{supplier_id}/transitions"
        assert api.post(f"{url}/submit", json={}).status_code == 200
        sign = {"signature": {"password": PASSWORD, "meaning": "approved"}}
        assert qa.post(f"{url}/approve", json=sign).status_code == 200
    return supplier_id


def test_shipped_purchase_receipt_receive_then_inspect(wf_app, wf_api, wf_org, db):
    hq, clerk, manager = wf_api("hq"), wf_api("clerk"), wf_api("manager")
    body = {
        "location": wf_org["S1"], "supplier": supplier(hq, wf_api("qa")),
        "lines": [{"item": wf_org["item"], "lot": "P1", "expiry_date": "2030-06-30",
                   "quantity": "6", "unit_cost": "12.50"}],
    }  # fmt: skip
    record = clerk.post(PR, json=body).json
    assert "id" in record, record
    response = clerk.post(f"{PR}/{record['id']}/transitions/receive", json={})
    assert response.status_code == 200, response.json
    assert balances(db) == {(wf_org["S1"], "awaiting_inspection"): (Decimal(6), Decimal(0))}
    inspected = dict(body["lines"][0], accepted_quantity="6", conclusion="accepted")
    response = manager.put(f"{PR}/{record['id']}", json={
        "lines": [inspected], "inspector": wf_org["manager"], "inspected_at": "2026-11-25",
        "version": response.json["version"],
    })  # fmt: skip
    assert response.status_code == 200, response.json
    response = manager.post(
        f"{PR}/{record['id']}/transitions/inspect",
        json={"signature": {"password": PASSWORD, "meaning": "verified"}},
    )
    assert response.status_code == 200, response.json
    assert response.json["state"] == "done"
    assert balances(db) == {(wf_org["S1"], "available"): (Decimal(6), Decimal(0))}
    with db.session() as session:
        [message] = session.scalars(select(InboxMessage)).all()
        assert message.user_id == wf_org["clerk"] and "已验收" in message.message
        assert message.text("en").endswith(": Inspected")


@pytest.fixture
def ctx(wf_app, wf_org, db):
    """An engine-level bed: a session, the registry and users, inside one request context."""
    registry = wf_app.extensions["lianku.registry"]
    with wf_app.test_request_context(), db.transaction() as session:
        users = {name: session.get(User, wf_org[name]) for name in ("clerk", "manager", "hq")}
        yield session, registry, users


def _receipt(session, registry, user, org, **changes):
    data = {"location": org["S1"], "amount": "100", "arrival_temp": "4",
            "lines": [{"item": org["item"], "lot": "R1", "expiry_date": "2031-01-01",
                       "quantity": "5"}]}  # fmt: skip
    data.update(changes)
    return records.create(session, registry, user, "cold_receipt", data)


def _run(session, registry, record, action, params, user):
    """Run one installed action directly, as the engine would inside a transition."""
    from app.workflow.actions import ActionContext, installed_actions

    context = ActionContext(
        session=session, record=record, user=user, params=params, transition="t",
        records=engine.RecordsInterface(session, registry, user),
    )  # fmt: skip
    installed_actions().get(action).run(context)
    return context


def test_reserve_and_release(ctx, wf_org):
    session, registry, users = ctx
    record = _receipt(session, registry, users["clerk"], wf_org)
    engine.fire(session, registry, record, "receive", users["clerk"])
    engine.fire(session, registry, record, "approve", users["manager"],
                signature={"password": PASSWORD, "meaning": "approved"})  # fmt: skip
    order = _receipt(session, registry, users["clerk"], wf_org,
                     lines=[{"item": wf_org["item"], "quantity": "3"}])  # fmt: skip
    params = {"lines": "lines", "item": "item", "quantity": "quantity", "lot": "lot",
              "location": "location"}  # fmt: skip
    _run(session, registry, order, "reserve", params, users["clerk"])
    held = session.scalars(select(Reservation)).all()
    assert sum(r.quantity for r in held) == Decimal(3)
    _run(session, registry, order, "release", {}, users["clerk"])
    assert session.scalars(select(Reservation)).all() == []
    # more than there is: the kernel refuses, the action reports it
    too_much = _receipt(session, registry, users["clerk"], wf_org,
                        lines=[{"item": wf_org["item"], "quantity": "99"}])  # fmt: skip
    from app.kernel.errors import KernelError

    with pytest.raises(KernelError):
        _run(session, registry, too_much, "reserve", params, users["clerk"])


def test_ship_and_receive_a_transfer(ctx, wf_org):
    session, registry, users = ctx
    record = _receipt(session, registry, users["clerk"], wf_org)
    engine.fire(session, registry, record, "receive", users["clerk"])
    engine.fire(session, registry, record, "approve", users["manager"],
                signature={"password": PASSWORD, "meaning": "approved"})  # fmt: skip
    transfer = _receipt(session, registry, users["clerk"], wf_org,
                        lines=[{"item": wf_org["item"], "lot": "R1", "quantity": "2"}]
                        )  # fmt: skip
    transfer.data = {**transfer.data, "to": wf_org["S2"]}
    _run(session, registry, transfer, "ship_transfer",
         {"lines": "lines", "item": "item", "quantity": "quantity", "lot": "lot",
          "source": "location", "destination": "to"}, users["clerk"])  # fmt: skip
    at = {(row.location_id, str(row.status)): row.on_hand
          for row in session.scalars(select(StockBalance)) if row.on_hand}  # fmt: skip
    assert at[(wf_org["S1"], "available")] == Decimal(3)
    assert Decimal(2) in at.values()  # in transit
    _run(session, registry, transfer, "receive_transfer", {}, users["manager"])
    at = {(row.location_id, str(row.status)): row.on_hand
          for row in session.scalars(select(StockBalance)) if row.on_hand}  # fmt: skip
    assert at[(wf_org["S2"], "available")] == Decimal(2)


def test_create_record_goes_through_the_record_service(ctx, wf_org):
    session, registry, users = ctx
    source = _receipt(session, registry, users["clerk"], wf_org)
    context = _run(
        session, registry, source, "create_record",
        {"form": "cold_receipt", "copy": {"location": "location", "amount": "amount"},
         "values": {"arrival_temp": "3"}, "lines": {"from": "lines", "to": "lines"}},
        users["clerk"],
    )  # fmt: skip
    created = session.get(Record, context.outputs["created_record"])
    assert created.form == "cold_receipt" and created.state == "draft"
    assert created.data["lines"][0]["lot"] == "R1"
    # the form's own rules apply: a missing location is refused with the field named
    from app.workflow.actions import ActionError

    with pytest.raises(ActionError, match="location"):
        _run(session, registry, source, "create_record", {"form": "cold_receipt"}, users["clerk"])


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    deliveries: list = []
    #: What the endpoint answers, in turn (then 204): a status, or (status, headers).
    answers: list = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        raw = self.rfile.read(length)
        _Hook.received.append(json.loads(raw))
        _Hook.deliveries.append((dict(self.headers), raw))
        status, headers = _Hook.answers.pop(0) if _Hook.answers else (204, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    """A local endpoint that records each delivery's headers and body."""
    _Hook.received, _Hook.deliveries, _Hook.answers = [], [], []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    thread.join()


def _deliver(db, url: str, **params) -> int:
    with db.transaction() as session:
        body = {"event_id": "e-1", "number": "CR-1"}
        job_id = jobs.enqueue(session, "webhook", {"url": url, "body": body, **params}).id
    jobs.run_until_empty(db)
    return job_id


def _job(db, job_id: int) -> Job:
    with db.session() as session:
        return session.get(Job, job_id)


def _due_now(db, job_id: int) -> None:
    with db.transaction() as session:
        session.get(Job, job_id).run_after = dt.datetime.now(dt.UTC)


def test_a_webhook_with_a_secret_is_signed_over_its_timestamp_and_body(
    wf_app, db, hook, monkeypatch
):
    monkeypatch.setenv("LIANKU_TEST_HOOK_SECRET", "s3cret")
    job_id = _deliver(db, hook, secret_env="LIANKU_TEST_HOOK_SECRET")
    [(headers, raw)] = _Hook.deliveries
    signed = headers["X-Lianku-Timestamp"].encode() + b"." + raw
    expected = hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert headers["X-Lianku-Signature"] == f"sha256={expected}"
    assert headers["X-Lianku-Event-Id"] == "e-1" and headers["X-Lianku-Delivery-Attempt"] == "1"
    assert abs(int(headers["X-Lianku-Timestamp"]) - time.time()) < 60
    assert _job(db, job_id).result == {"status": 204, "attempts": 1}


def test_a_webhook_whose_secret_is_not_set_is_not_sent_unsigned(wf_app, db, hook, monkeypatch):
    monkeypatch.delenv("LIANKU_TEST_HOOK_SECRET", raising=False)
    job = _job(db, _deliver(db, hook, secret_env="LIANKU_TEST_HOOK_SECRET"))
    assert _Hook.deliveries == []
    assert job.status == JobStatus.failed and "LIANKU_TEST_HOOK_SECRET" in job.error


def test_a_webhook_whose_endpoint_is_down_is_tried_again_with_the_same_event(wf_app, db, hook):
    _Hook.answers = [(503, {}), (429, {"Retry-After": "600"})]
    job_id = _deliver(db, hook)
    job = _job(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.queued, 1)
    assert (
        job.message == "Attempt 1 failed: The webhook answered HTTP 503. It is tried again later."
    )
    waited = job.run_after - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=50) < waited <= dt.timedelta(minutes=1)
    _due_now(db, job_id)
    jobs.run_until_empty(db)
    waited = _job(db, job_id).run_after - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=9) < waited <= dt.timedelta(minutes=10)  # as the endpoint asked
    _due_now(db, job_id)
    jobs.run_until_empty(db)
    job = _job(db, job_id)
    assert (job.status, job.result) == (JobStatus.done, {"status": 204, "attempts": 3})
    sent = [(h["X-Lianku-Event-Id"], h["X-Lianku-Delivery-Attempt"]) for h, _ in _Hook.deliveries]
    assert sent == [("e-1", "1"), ("e-1", "2"), ("e-1", "3")]


def test_a_webhook_refused_by_its_endpoint_fails_at_once(wf_app, db, hook):
    _Hook.answers = [(400, {})]
    job = _job(db, _deliver(db, hook))
    assert (job.status, job.attempts) == (JobStatus.failed, 1)
    assert job.error == "The webhook answered HTTP 400."


def test_a_webhook_gives_up_after_six_attempts(wf_app, db, hook):
    _Hook.answers = [(500, {})] * 6
    job_id = _deliver(db, hook)
    for _attempt in range(5):
        _due_now(db, job_id)
        jobs.run_until_empty(db)
    job = _job(db, job_id)
    assert (job.status, job.attempts, len(_Hook.deliveries)) == (JobStatus.failed, 6, 6)
    assert job.error == "The webhook answered HTTP 500. Gave up after 6 attempts."


def test_webhook_job_posts_json_to_the_url(wf_app, db, hook):
    with db.transaction() as session:
        jobs.enqueue(session, "webhook", {"url": hook, "body": {"number": "CR-1", "state": "ok"}})
    jobs.run_until_empty(db)
    assert _Hook.received == [{"number": "CR-1", "state": "ok"}]
    [(headers, _raw)] = _Hook.deliveries
    assert "X-Lianku-Signature" not in headers  # no secret named: not signed
    with db.session() as session:
        [job] = session.scalars(select(Job)).all()
        assert job.status == JobStatus.done and job.result == {"status": 204, "attempts": 1}


def test_webhook_to_a_closed_port_is_tried_again_with_the_reason(wf_app, db):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with db.transaction() as session:
        jobs.enqueue(session, "webhook", {"url": f"http://127.0.0.1:{port}/", "body": {}})
    jobs.run_until_empty(db)
    with db.session() as session:
        [job] = session.scalars(select(Job)).all()
        assert job.status == JobStatus.queued and job.run_after is not None
        assert job.message.startswith("Attempt 1 failed: The webhook could not be reached: ")


def test_an_action_on_a_record_without_lines_names_the_table_in_the_users_language(ctx, wf_org):
    session, registry, users = ctx
    empty = _receipt(session, registry, users["clerk"], wf_org, lines=[])
    params = {"lines": "lines", "item": "item", "quantity": "quantity", "source": "location",
              "destination": "location"}  # fmt: skip
    from app.plugins._common import NoLines

    with pytest.raises(NoLines) as refused:
        _run(session, registry, empty, "ship_transfer", params, users["clerk"])
    label = registry.form("cold_receipt").field("lines").label("zh_CN")
    assert str(refused.value) == f"{label}没有明细：请至少添加一行。"
    assert refused.value.field == "lines" and "/" not in str(refused.value)


SCRAP = "/api/v1/forms/scrap/records"
REQUEST = "/api/v1/forms/transfer_request/records"


def test_shipped_documents_without_lines_cannot_be_submitted_but_can_be_cancelled(
    wf_app, wf_api, wf_org, db
):
    clerk = wf_api("clerk")
    scrap = clerk.post(SCRAP, json={
        "location": wf_org["S1"], "explanation": "expired", "destruction_method": "incineration",
        "destruction_date": "2026-12-01", "witnesses": "A, B", "lines": []}).json  # fmt: skip
    request = clerk.post(REQUEST, json={"from_location": wf_org["S2"],
                                        "to_location": wf_org["S1"], "lines": []}).json  # fmt: skip
    said = {SCRAP: "Add at least one line", REQUEST: "Enter at least one line of goods to transfer"}
    for url, record in ((SCRAP, scrap), (REQUEST, request)):
        assert "id" in record, record
        response = clerk.post(f"{url}/{record['id']}/transitions/submit", json={})
        assert response.status_code == 422, response.json
        assert response.json["errors"] == {"lines": [said[url]]}
        assert clerk.get(f"{url}/{record['id']}").json["state"] == "draft"
    with db.session() as session:
        assert session.scalars(select(ApprovalTask)).all() == []  # nobody was asked
    manager = wf_api("manager")
    response = manager.post(f"{SCRAP}/{scrap['id']}/transitions/cancel", json={"comment": "empty"})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "cancelled"


def test_count_against_counts_within_the_document_and_its_party_and_undoes(wf_api, wf_org, db):
    """``count_against`` on its own (no link filter in front of it): a bill's lines counted on
    the spend requests they name, refused beyond a request's amount, for another vendor's
    request or one no longer in the states named; a voided bill takes its amounts off."""
    clerk, manager = wf_api("clerk"), wf_api("manager")

    def request(vendor: str, amount: str) -> dict:
        body = {"location": wf_org["S1"], "amount": amount, "vendor": vendor, "purpose": "x"}
        response = clerk.post("/api/v1/forms/spend_request/records", json=body)
        assert response.status_code == 201, response.json
        return response.json

    def bill(vendor: str, lines: list[tuple[dict, str]]) -> dict:
        response = clerk.post("/api/v1/forms/vendor_bill/records", json={
            "location": wf_org["S1"], "vendor": vendor,
            "lines": [{"request": doc["id"], "amount": amount} for doc, amount in lines],
        })  # fmt: skip
        assert response.status_code == 201, response.json
        return response.json

    def fire(record: dict, transition: str):
        url = f"/api/v1/forms/vendor_bill/records/{record['id']}/transitions/{transition}"
        return manager.post(url, json={})

    def billed(record: dict):
        with db.session() as session:
            return session.get(Record, record["id"]).data.get("billed")

    def account(record: dict):
        with db.session() as session:
            return session.get(Record, record["id"]).data.get("account")

    acme, other = request("Acme", "100.00"), request("Other", "50.00")
    first = bill("Acme", [(acme, "60.00")])
    assert fire(first, "book").status_code == 200
    assert billed(acme) == "60.00"
    assert account(first) == "key"  # the step whose ``when`` holds ran
    small = bill("Other", [(other, "5.00")])
    assert fire(small, "book").status_code == 200
    assert account(small) is None and billed(other) == "5.00"  # this one's did not
    too_much = bill("Acme", [(acme, "30.00"), (acme, "20.00")])  # 60 + 30 + 20 > 100
    refused = fire(too_much, "book")
    assert refused.status_code == 409 and refused.json["field"] == "lines[1].amount"
    assert "100.00" in refused.json["error"] and "50.00" in refused.json["error"]
    wrong_vendor = bill("Acme", [(other, "10.00")])
    refused = fire(wrong_vendor, "book")
    assert refused.status_code == 409 and refused.json["field"] == "lines[0].request"
    assert billed(other) == "5.00" and billed(acme) == "60.00"  # nothing half-written
    submitted = clerk.post(
        f"/api/v1/forms/spend_request/records/{other['id']}/transitions/submit", json={}
    )
    assert submitted.status_code == 200, submitted.json  # in approval: no longer billable
    late = bill("Other", [(other, "10.00")])
    refused = fire(late, "book")
    assert refused.status_code == 409 and "In approval" in refused.json["error"]
    assert fire(first, "void").status_code == 200
    assert billed(acme) == "0.00"


def test_notify_about_a_linked_record_needs_a_link_to_a_form(ctx, wf_org):
    """``about`` names the link field whose record the message is about; a field that links
    nowhere, or to a location rather than a record, is refused with its name."""
    from app.workflow.actions import ActionError

    session, registry, users = ctx
    record = _receipt(session, registry, users["clerk"], wf_org)
    for name in ("amount", "location", "nothing"):
        with pytest.raises(ActionError, match=name):  # in the user's language
            params = {"about": name, "message": "x", "creator": True}
            _run(session, registry, record, "notify", params, users["clerk"])
    assert session.scalars(select(InboxMessage)).all() == []


def test_notify_fired_by_tells_who_last_fired_that_transition(ctx, wf_org):
    """``fired_by`` tells the user of the transition's latest event on the record, not earlier
    ones, and nobody while no one has fired it."""
    session, registry, users = ctx
    record = _receipt(session, registry, users["clerk"], wf_org)
    params = {"fired_by": "pick", "message": "back"}
    _run(session, registry, record, "notify", params, users["hq"])
    assert session.scalars(select(InboxMessage)).all() == []
    for who, transition in (("clerk", "pick"), ("manager", "pick"), ("hq", "check")):
        session.add(WorkflowEvent(record_id=record.id, transition=transition, from_state="a",
                                  to_state="b", user_id=users[who].id))  # fmt: skip
    session.flush()
    _run(session, registry, record, "notify", params, users["hq"])
    [message] = session.scalars(select(InboxMessage)).all()
    assert (message.user_id, message.sender_id) == (users["manager"].id, users["hq"].id)
    assert message.message.endswith(": back")
