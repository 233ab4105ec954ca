"""Jobs: queued in the database, claimed by workers, progress and outcome recorded."""

import threading

import pytest
from sqlalchemy import select

from app.kernel import jobs
from app.kernel.jobs import Job, JobFailed, JobStatus


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

    yield seen
    for kind in ("test_count", "test_refuse", "test_crash"):
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
