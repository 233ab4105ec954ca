"""The jobs page shows progress and serves results only to whoever started the job."""

import pytest
from click.testing import CliRunner

from app.cli import main
from app.kernel import jobs
from app.kernel.users import User


@pytest.fixture
def users(db):
    ids = {}
    with db.transaction() as session:
        for name in ("owner", "other"):
            user = User(username=name, full_name=name, locale="en")
            user.set_password("correct horse")
            session.add(user)
            session.flush()
            ids[name] = user.id
    return ids


def test_jobs_page_shows_a_finished_job_and_its_download(app, client, login, db, users):
    instance = app.instance_path

    @jobs.handler("test_export", label="Test export")
    def export(run):
        import pathlib

        target = pathlib.Path(instance) / "exports" / "test.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("lot,qty\nA1,3\n")
        return {"file": "exports/test.csv", "filename": "stock.csv"}

    try:
        with db.transaction() as session:
            job_id = jobs.enqueue(session, "test_export", user_id=users["owner"]).id
        jobs.run_next(db)
        login("owner", "correct horse")
        page = client.get("/jobs")
        assert "Test export" in page.text
        assert 'data-status="done"' in page.text
        download = client.get(f"/jobs/{job_id}/download")
        assert download.status_code == 200
        assert download.data == b"lot,qty\nA1,3\n"
        assert "stock.csv" in download.headers["Content-Disposition"]
    finally:
        jobs.HANDLERS.pop("test_export")
        jobs.LABELS.pop("test_export")


def test_another_users_job_is_not_found(app, client, login, db, users):
    @jobs.handler("test_export")
    def export(run):
        return {"file": "exports/none.csv"}

    try:
        with db.transaction() as session:
            job_id = jobs.enqueue(session, "test_export", user_id=users["owner"]).id
        jobs.run_next(db)
        login("other", "correct horse")
        assert client.get(f"/jobs/{job_id}/download").status_code == 404
        assert 'data-job="' not in client.get("/jobs").text
    finally:
        jobs.HANDLERS.pop("test_export")
        jobs.LABELS.pop("test_export")


def test_worker_once_runs_the_queue(db, database_url, monkeypatch, tmp_path):
    ran = []

    @jobs.handler("test_cli")
    def job(run):
        ran.append(run.job_id)

    try:
        with db.transaction() as session:
            jobs.enqueue(session, "test_cli")
        monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
        monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path))
        result = CliRunner().invoke(main, ["worker", "--once"])
        assert result.exit_code == 0, result.output
        assert "1 job(s) run" in result.output
        assert len(ran) == 1
    finally:
        jobs.HANDLERS.pop("test_cli")
        jobs.LABELS.pop("test_cli")


def test_a_job_no_worker_takes_says_so(app, client, login, db, users):
    """Queued for more than a minute: the page says no worker has taken it and what to do,
    in the user's language; a job queued just now says nothing yet."""
    import datetime as dt

    from sqlalchemy import update

    from app.db import utcnow
    from app.kernel.jobs import Job

    @jobs.handler("test_export")
    def export(run):
        return None

    try:
        with db.transaction() as session:
            waiting = jobs.enqueue(session, "test_export", user_id=users["owner"]).id
            jobs.enqueue(session, "test_export", user_id=users["owner"])
            session.execute(
                update(Job)
                .where(Job.id == waiting)
                .values(created_at=utcnow() - dt.timedelta(minutes=5))
            )
        login("owner", "correct horse")
        page = client.get("/jobs").text
        assert page.count("data-unclaimed") == 1
        assert "No worker has taken this job yet" in page
        with db.transaction() as session:
            session.get(User, users["owner"]).locale = "zh_CN"
        assert "尚无工作进程接手此任务" in client.get("/jobs").text
    finally:
        jobs.HANDLERS.pop("test_export")
        jobs.LABELS.pop("test_export")


def test_a_job_waiting_to_retry_says_when_and_is_not_called_unclaimed(
    app, client, login, db, users
):
    """A job whose handler asked to retry in an hour, queued long ago: the page says why the
    attempt failed and when the next is, not that no worker runs."""
    import datetime as dt

    from app.db import utcnow
    from app.kernel.jobs import Job

    @jobs.handler("test_export")
    def export(run):
        raise jobs.JobRetry("Attempt 1 failed: the endpoint is down.", dt.timedelta(hours=1))

    try:
        with db.transaction() as session:
            job_id = jobs.enqueue(session, "test_export", user_id=users["owner"]).id
        jobs.run_until_empty(db)
        with db.transaction() as session:
            session.get(Job, job_id).created_at = utcnow() - dt.timedelta(hours=2)
        login("owner", "correct horse")
        page = client.get("/jobs").text
        assert "Attempt 1 failed: the endpoint is down." in page
        assert "data-retry" in page and "Next attempt at" in page
        assert "data-unclaimed" not in page
    finally:
        jobs.HANDLERS.pop("test_export")
        jobs.LABELS.pop("test_export")


def test_a_failed_job_is_run_again_by_whoever_started_it(app, client, login, db, users):
    """The failed job stays as it ended; a new one runs with the same parameters. A job that
    did not fail is refused, saying why, and another user's job is not found."""
    from sqlalchemy import func, select

    from app.kernel.jobs import Job, JobStatus
    from tests.conftest import csrf_token

    @jobs.handler("test_export")
    def export(run):
        raise jobs.JobFailed("the disk was full")

    try:
        with db.transaction() as session:
            failed = jobs.enqueue(session, "test_export", {"rows": 7}, user_id=users["owner"]).id
            others = jobs.enqueue(session, "test_export", {"rows": 1}, user_id=users["other"]).id
        jobs.run_until_empty(db)
        login("owner", "correct horse")
        page = client.get("/jobs").text
        assert f'action="/jobs/{failed}/again"' in page
        assert f'action="/jobs/{others}/again"' not in page
        answer = client.post(f"/jobs/{failed}/again", data={"csrf_token": csrf_token(page)})
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/jobs")
        with db.session() as session:
            rows = session.execute(
                select(Job.id, Job.status, Job.params, Job.created_by).order_by(Job.id)
            ).all()
        assert rows[0][:2] == (failed, JobStatus.failed)
        assert rows[-1][1:] == (JobStatus.queued, {"rows": 7}, users["owner"])
        again = rows[-1][0]
        assert "Queued again as job" in client.get("/jobs").text

        token = csrf_token(client.get("/jobs").text)
        refused = client.post(f"/jobs/{again}/again", data={"csrf_token": token})
        assert refused.status_code == 302
        assert "Only a job that failed can be run again." in client.get("/jobs").text
        assert client.post(f"/jobs/{others}/again", data={"csrf_token": token}).status_code == 404
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Job)) == 3
    finally:
        jobs.HANDLERS.pop("test_export")
        jobs.LABELS.pop("test_export")


def test_an_admin_runs_anyones_failed_job_again_as_their_own(app, client, login, db, users):
    """The job's starter may never sign in (a token's account): an admin sees its failed job
    with "Run again", and the new job is the admin's, audited as the admin's doing. Someone
    else still may not; a job that did not fail is still refused."""
    from sqlalchemy import select

    from app.kernel.audit import AuditEntry
    from app.kernel.jobs import Job, JobStatus
    from app.meta.identity import create_user
    from tests.conftest import csrf_token

    @jobs.handler("test_export")
    def export(run):
        raise jobs.JobFailed("the disk was full")

    try:
        with db.transaction() as session:
            boss = create_user(
                session, "boss", "Boss", "correct horse", roles=["admin"], locale="en"
            ).id
            failed = jobs.enqueue(session, "test_export", {"rows": 7}, user_id=users["owner"]).id
        jobs.run_until_empty(db)
        login("other", "correct horse")
        token = csrf_token(client.get("/login").text)
        assert client.post(f"/jobs/{failed}/again", data={"csrf_token": token}).status_code == 404
        client.post("/logout", data={"csrf_token": token})

        login("boss", "correct horse")
        page = client.get("/jobs").text
        assert f'action="/jobs/{failed}/again"' in page
        answer = client.post(f"/jobs/{failed}/again", data={"csrf_token": csrf_token(page)})
        assert answer.status_code == 302
        with db.session() as session:
            again = session.scalars(select(Job).order_by(Job.id.desc())).first()
            assert (again.status, again.params, again.created_by) == (
                JobStatus.queued, {"rows": 7}, boss
            )  # fmt: skip
            entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "run_again"))
            assert [(e.entity_id, e.user_id) for e in entry] == [(str(failed), boss)]
        token = csrf_token(client.get("/jobs").text)
        refused = client.post(f"/jobs/{again.id}/again", data={"csrf_token": token})
        assert refused.status_code == 302
        assert "Only a job that failed can be run again." in client.get("/jobs").text
    finally:
        jobs.HANDLERS.pop("test_export")
        jobs.LABELS.pop("test_export")
