"""The built-in actions, run by real transitions: the shipped purchase receipt flow, create_record,
reserve/release, ship/receive a transfer, notify and the webhook job against a local server."""

from __future__ import annotations

import json
import threading
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

    def do_POST(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_job_posts_json_to_the_url(wf_app, wf_api, wf_org, db):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with db.transaction() as session:
            jobs.enqueue(session, "webhook",
                         {"url": f"http://127.0.0.1:{server.server_port}/hook",
                          "body": {"number": "CR-1", "state": "approved"}})  # fmt: skip
        jobs.run_until_empty(db)
    finally:
        server.shutdown()
        thread.join()
    assert _Hook.received == [{"number": "CR-1", "state": "approved"}]
    with db.session() as session:
        [job] = session.scalars(select(Job)).all()
        assert job.status == JobStatus.done and job.result == {"status": 204}


def test_webhook_to_a_closed_port_fails_the_job_with_the_reason(wf_app, db):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with db.transaction() as session:
        jobs.enqueue(session, "webhook", {"url": f"http://127.0.0.1:{port}/", "body": {}})
    jobs.run_until_empty(db)
    with db.session() as session:
        [job] = session.scalars(select(Job)).all()
        assert job.status == JobStatus.failed
        assert job.error.startswith("The webhook could not be reached: ")


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
