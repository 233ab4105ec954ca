"""Jobs: queued in the database, claimed by workers, progress and outcome recorded."""

import datetime as dt
import subprocess
import sys
import textwrap
import threading
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.kernel import jobs, process_locks
from app.kernel.jobs import Job, JobFailed, JobStatus
from tests.conftest import eventually


@pytest.fixture(autouse=True)
def handlers():
    """Test job kinds, removed afterwards so they never leak into the app."""
    seen: list[int] = []

    @jobs.handler("test_count", label="count")
    def count(run):
        for step in (25, 50, 75):
            run.progress(step, f"{step}%")
        seen.append(run.job_id)
        return {"rows": run.params["rows"]}

    @jobs.handler("test_refuse")
    def refuse(run):
        raise JobFailed("nothing to export for these filters")

    @jobs.handler("test_crash")
    def crash(run):
        return 1 / 0

    @jobs.handler("test_flaky")
    def flaky(run):
        if run.attempt < 3:
            raise jobs.JobRetry(f"attempt {run.attempt}: endpoint down", dt.timedelta(hours=1))
        return {"attempt": run.attempt}

    yield seen
    for kind in ("test_count", "test_refuse", "test_crash", "test_flaky"):
        jobs.HANDLERS.pop(kind)
        jobs.LABELS.pop(kind)


def test_a_job_runs_to_done_with_its_result(db, handlers):
    with db.transaction() as session:
        job_id = jobs.enqueue(session, "test_count", {"rows": 3}).id
    finished = jobs.run_next(db)
    assert finished.id == job_id
    assert finished.status is JobStatus.done
    assert finished.progress == 100
    assert finished.result == {"rows": 3}
    assert finished.started_at <= finished.finished_at
    assert jobs.run_next(db) is None


def test_a_refused_job_fails_with_its_message(db):
    with db.transaction() as session:
        jobs.enqueue(session, "test_refuse")
    finished = jobs.run_next(db)
    assert finished.status is JobStatus.failed
    assert finished.error == "nothing to export for these filters"


def test_a_crashing_handler_fails_its_job_not_the_worker(db, handlers):
    with db.transaction() as session:
        jobs.enqueue(session, "test_crash")
        jobs.enqueue(session, "test_count", {"rows": 1})
    assert jobs.run_until_empty(db) == 2
    with db.session() as session:
        statuses = session.scalars(select(Job.status).order_by(Job.id)).all()
    assert statuses == [JobStatus.failed, JobStatus.done]


def test_unknown_job_kind_is_refused(db):
    with pytest.raises(ValueError, match="no handler"), db.transaction() as session:
        jobs.enqueue(session, "no_such_kind")


def test_a_job_queued_in_a_rolled_back_transaction_never_runs(db):
    with pytest.raises(RuntimeError), db.transaction() as session:
        jobs.enqueue(session, "test_count", {"rows": 1})
        raise RuntimeError("the business action failed")
    assert jobs.run_next(db) is None


@pytest.mark.postgres_only
def test_concurrent_workers_never_run_the_same_job(db, handlers):
    with db.transaction() as session:
        for _ in range(40):
            jobs.enqueue(session, "test_count", {"rows": 1})
    threads = [threading.Thread(target=jobs.run_until_empty, args=(db,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(handlers) == sorted(set(handlers))
    assert len(handlers) == 40


@pytest.fixture
def kind():
    """Registers a test job kind from a function; removed afterwards."""
    registered = []

    def register(name, func, time_limit=None):
        jobs.handler(name, time_limit=time_limit)(func)
        registered.append(name)

    yield register
    for name in registered:
        jobs.HANDLERS.pop(name)
        jobs.LABELS.pop(name)
        jobs.TIME_LIMITS.pop(name, None)


def test_a_job_is_finished_when_its_handler_returns(db, kind):
    handler_ended = []
    kind("test_stamp", lambda run: handler_ended.append(utcnow()))
    with db.transaction() as session:
        jobs.enqueue(session, "test_stamp")
    finished = jobs.run_next(db)
    assert finished.started_at <= handler_ended[0] <= finished.finished_at


def _worker_that_dies_midway(database_url: str) -> None:
    """Another process claims the queued job and is killed (SIGKILL-like: ``os._exit``) halfway
    through it, with no chance to record anything."""
    code = textwrap.dedent(
        f"""
        import os
        from app.db import Database
        from app.kernel import jobs

        @jobs.handler("test_die")
        def die(run):
            run.progress(40, "halfway")
            os._exit(9)

        jobs.run_next(Database({database_url!r}))
        """
    )
    root = Path(__file__).resolve().parents[2]
    died = subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60)
    assert died.returncode == 9


def test_a_job_whose_worker_died_is_failed_by_the_next_worker(db, kind):
    """A worker killed mid-job leaves it ``running``; the next worker to look at the queue finds
    nobody holding it, fails it saying so, and goes on with the queue."""
    kind("test_die", lambda run: None)
    with db.transaction() as session:
        dead_id = jobs.enqueue(session, "test_die").id
        next_id = jobs.enqueue(session, "test_count", {"rows": 2}).id
    _worker_that_dies_midway(db.url)
    with db.session() as session:
        left = session.get(Job, dead_id)
        assert (left.status, left.progress) == (JobStatus.running, 40)
    # (the server frees the dead worker's lock once it notices the connection closed)
    assert eventually(lambda: not process_locks.is_held(db, f"job-{dead_id}"))

    contexts = []  # (the worker writes each job's messages in its starter's language)

    def context(job):
        contexts.append(job.id)
        return nullcontext()

    assert jobs.run_next(db, context=context).id == next_id
    assert contexts == [dead_id, next_id]
    with db.session() as session:
        dead = session.get(Job, dead_id)
    assert dead.status is JobStatus.failed
    assert dead.error.startswith("The worker running this job stopped before the job finished")
    assert "(at 40%)" in dead.error
    assert dead.started_at <= dead.finished_at
    assert jobs.fail_abandoned(db) == []


def test_a_running_job_whose_worker_is_alive_is_left_alone(db, kind):
    started, finish = threading.Event(), threading.Event()

    def slow(run):
        started.set()
        assert finish.wait(30)
        return {"ok": True}

    kind("test_slow", slow)
    with db.transaction() as session:
        job_id = jobs.enqueue(session, "test_slow").id
    worker = threading.Thread(target=jobs.run_next, args=(db,))
    worker.start()
    try:
        assert started.wait(30)
        assert jobs.fail_abandoned(db) == []
        assert jobs.run_next(db) is None
        with db.session() as session:
            assert session.get(Job, job_id).status is JobStatus.running
    finally:
        finish.set()
        worker.join(30)
    with db.session() as session:
        done = session.get(Job, job_id)
    assert (done.status, done.result) == (JobStatus.done, {"ok": True})


def _due_now(db, job_id: int) -> None:
    """Move a job's next attempt to now, as an hour passing would."""
    with db.transaction() as session:
        session.get(Job, job_id).run_after = utcnow()


def test_a_job_asking_to_retry_is_queued_again_and_not_claimed_before_its_time(db):
    with db.transaction() as session:
        job_id = jobs.enqueue(session, "test_flaky").id
    before = utcnow()
    assert jobs.run_until_empty(db) == 1  # the first attempt, then nothing is due
    with db.session() as session:
        job = session.get(Job, job_id)
        assert (job.status, job.attempts, job.message) == (
            JobStatus.queued, 1, "attempt 1: endpoint down"
        )  # fmt: skip
        assert before + dt.timedelta(minutes=59) < job.run_after
        assert job.finished_at is None and job.error is None
    assert jobs.run_next(db) is None  # not due: no worker takes it
    _due_now(db, job_id)
    jobs.run_until_empty(db)
    _due_now(db, job_id)
    finished = jobs.run_next(db)
    assert (finished.status, finished.attempts, finished.result) == (
        JobStatus.done, 3, {"attempt": 3}
    )  # fmt: skip
    assert finished.message is None  # the failed attempts' reason is past


def test_only_a_failed_job_is_run_again_as_a_new_job(db):
    with db.transaction() as session:
        refused_id = jobs.enqueue(session, "test_refuse", {"report": "stock"}, user_id=None).id
        done_id = jobs.enqueue(session, "test_count", {"rows": 1}).id
    jobs.run_until_empty(db)
    with db.transaction() as session:
        again = jobs.run_again(session, session.get(Job, refused_id), None)
        assert (again.kind, again.params, again.status) == (
            "test_refuse",
            {"report": "stock"},
            JobStatus.queued,
        )
        for job_id in (done_id, again.id):  # done, and queued
            with pytest.raises(jobs.CannotRunAgain, match="Only a job that failed"):
                jobs.run_again(session, session.get(Job, job_id), None)
    with db.session() as session:
        assert session.get(Job, refused_id).status is JobStatus.failed


def test_a_job_failed_as_overdue_stays_failed_when_its_handler_returns_after_all(db, kind):
    """The worker's timer fails the job while the handler still runs (the race where the limit
    falls just as the handler ends): the handler's late outcome does not turn it into done."""

    def late(run):
        with db.session() as session:
            job = session.get(Job, run.job_id)
        assert jobs.fail_overdue(db, job, limit=60)
        return {"late": True}

    kind("test_late", late)
    with db.transaction() as session:
        jobs.enqueue(session, "test_late")
    job = jobs.run_next(db)
    assert (job.status, job.result) == (JobStatus.failed, None)
    assert job.error.startswith("The job ran longer than its time limit of 60 seconds")
    assert job.finished_at is not None


def test_a_job_that_ended_is_not_failed_as_overdue(db, kind):
    kind("test_quick", lambda run: {"ok": True})
    with db.transaction() as session:
        jobs.enqueue(session, "test_quick")
    job = jobs.run_next(db)
    assert jobs.fail_overdue(db, job, limit=60) is False
    with db.session() as session:
        assert session.get(Job, job.id).status is JobStatus.done
