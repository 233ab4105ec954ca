"""The ``webhook`` action and its job, end to end: what a delivery does with a redirect, who
follows its job on /jobs, and what the job says it delivers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select, update

from app.kernel import jobs
from app.kernel.audit import AuditEntry
from app.kernel.jobs import Job, JobStatus
from app.kernel.users import User
from app.meta.identity import update_user
from tests.conftest import csrf_token
from tests.forms_fixtures import PASSWORD, ApiClient, _password_hash
from tests.workflow.test_engine import fire, new_receipt


class _Receiver(BaseHTTPRequestHandler):
    """Answers a POST to /hook with ``answer`` (status, headers) and anything else with 200,
    recording each request's method and path."""

    requests: list = []
    answer: tuple = (204, {})

    def _reply(self, status: int, headers: dict) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        _Receiver.requests.append((self.command, self.path, length))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):  # noqa: N802
        self._reply(*(_Receiver.answer if self.path == "/hook" else (200, {})))

    def do_GET(self):  # noqa: N802
        self._reply(200, {})

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.requests, _Receiver.answer = [], (204, {})
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def _deliver(db, url: str) -> Job:
    with db.transaction() as session:
        body = {"event_id": "e-1", "form": "cold_receipt", "number": "CR-1"}
        job_id = jobs.enqueue(session, "webhook", {"url": url, "body": body}).id
    jobs.run_until_empty(db)
    with db.session() as session:
        return session.get(Job, job_id)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_webhook_answered_with_a_redirect_fails_at_once_naming_where_it_points(
    wf_app, db, receiver, status
):
    """Not followed (a 302 followed became a GET without the body, answered 200: the event lost
    and the job done), not tried again: the error says where to point the webhook."""
    _Receiver.answer = (status, {"Location": "/elsewhere"})
    job = _deliver(db, f"{receiver}/hook")
    assert _Receiver.requests == [("POST", "/hook", _Receiver.requests[0][2])]
    assert (job.status, job.attempts, job.run_after) == (JobStatus.failed, 1, None)
    assert job.error == (
        f"The webhook answered HTTP {status}, a redirect to {receiver}/elsewhere: a webhook does"
        " not follow redirects. Update the webhook's URL in the workflow to that address."
    )


def test_a_webhook_redirect_without_an_address_fails_saying_so(wf_app, db, receiver):
    _Receiver.answer = (302, {})
    job = _deliver(db, f"{receiver}/hook")
    assert job.status == JobStatus.failed and "a redirect without an address" in job.error
    assert [method for method, _path, _length in _Receiver.requests] == ["POST"]


def _browser(app, username: str):
    client = app.test_client()
    page = client.get("/login")
    data = {"username": username, "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    assert client.post("/login", data=data).status_code == 302
    return client


@pytest.fixture
def admin(wf_app, wf_org, db) -> int:
    with db.transaction() as session:
        user = User(username="admin", full_name="Admin Full", locale="en")
        user.password_hash = _password_hash()
        session.add(user)
        session.flush()
        update_user(session, user, roles=["admin"], location_ids=[wf_org["HQ"]])
        return user.id


def _failed_webhook(db) -> Job:
    """The webhook job the withdrawal queued, failed as a redirect fails it."""
    with db.transaction() as session:
        job = session.scalars(select(Job).where(Job.kind == "webhook")).one()
        session.execute(
            update(Job).where(Job.id == job.id).values(status=JobStatus.failed, error="HTTP 302")
        )
        session.expunge(job)
        return job


def test_a_webhook_job_is_the_admins_to_follow_not_the_clerks(wf_app, wf_api, wf_org, db, admin):
    """The clerk whose withdrawal queued it neither sees it on /jobs nor runs it again; the
    admin sees what it delivers (the transition, the form and the number) and runs it again as
    their own job, audited as theirs."""
    clerk = wf_api("clerk")
    record = new_receipt(clerk, wf_org)
    assert fire(clerk, record, "receive").status_code == 200
    assert fire(clerk, record, "withdraw").status_code == 200
    job = _failed_webhook(db)
    assert job.created_by == wf_org["clerk"]

    page = clerk.get("/jobs").text
    assert f'data-job="{job.id}"' not in page
    assert clerk.form(f"/jobs/{job.id}/again", {}).status_code == 404
    assert clerk.get(f"/jobs/{job.id}/download").status_code == 404

    boss = _browser(wf_app, "admin")
    page = boss.get("/jobs").text
    assert f'data-job="{job.id}"' in page and "Webhook" in page
    assert f"Withdraw · Cold-chain receipt {record['number']}" in page
    assert f'action="/jobs/{job.id}/again"' in page
    answer = boss.post(f"/jobs/{job.id}/again", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 302
    with db.session() as session:
        again = session.scalars(select(Job).order_by(Job.id.desc())).first()
        assert (again.kind, again.status, again.params) == ("webhook", "queued", job.params)
        assert again.created_by == admin
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "run_again")).one()
        assert (entry.entity, entry.entity_id, entry.user_id) == ("job", str(job.id), admin)
        assert entry.changes == {
            "kind": "webhook", "queued_as": again.id, "started_by": wf_org["clerk"]
        }  # fmt: skip
    assert f'data-job="{again.id}"' not in clerk.get("/jobs").text


def test_a_webhook_an_integrations_token_queued_is_run_again_by_an_admin(wf_app, wf_org, db, admin):
    """The bug as found: the job's starter is the token's account, which never signs in; the
    admin had no way to send the lost event again."""
    from app.meta.identity import issue_token

    with db.transaction() as session:
        _token, plaintext = issue_token(session, "erp", "store_clerk", [wf_org["S1"]], admin)
    erp = ApiClient(wf_app.test_client())
    erp.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {plaintext}"
    record = new_receipt(erp, wf_org)
    assert fire(erp, record, "receive").status_code == 200
    assert fire(erp, record, "withdraw").status_code == 200
    job = _failed_webhook(db)

    boss = _browser(wf_app, "admin")
    page = boss.get("/jobs").text
    assert f'action="/jobs/{job.id}/again"' in page
    boss.post(f"/jobs/{job.id}/again", data={"csrf_token": csrf_token(page)})
    assert f"Queued again as job {job.id + 1}." in boss.get("/jobs").text
