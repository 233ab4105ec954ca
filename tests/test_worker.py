"""The worker's time limits: each job's timer, with the kind's own limit or the installation's."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from sqlalchemy.exc import OperationalError

from app.kernel import jobs
from app.kernel.jobs import Job
from app.worker import EXIT_JOB_OVERDUE, Worker


@pytest.fixture
def timed_worker(app, monkeypatch):
    """A worker enforcing time limits whose overdue action records instead of exiting."""
    worker = Worker(app, time_limits=True)
    overdue = []
    fired = threading.Event()

    def record(job, limit):
        overdue.append((job.id, limit))
        fired.set()

    monkeypatch.setattr(worker, "_overdue", record)
    yield worker, overdue, fired
    for kind in ("test_own_limit", "test_default_limit"):
        jobs.HANDLERS.pop(kind, None)
        jobs.LABELS.pop(kind, None)
        jobs.TIME_LIMITS.pop(kind, None)


def _run(db, worker, kind: str, body, time_limit: int | None = None) -> Job:
    jobs.handler(kind, time_limit=time_limit)(body)
    with db.transaction() as session:
        jobs.enqueue(session, kind)
    return jobs.run_next(db, context=worker.context)


def test_a_job_past_its_kinds_own_limit_is_overdue(db, timed_worker):
    worker, overdue, fired = timed_worker
    job = _run(db, worker, "test_own_limit", lambda run: fired.wait(30), time_limit=1)
    assert overdue == [(job.id, 1)]


def test_a_job_within_the_installations_limit_is_not(db, timed_worker):
    worker, overdue, _fired = timed_worker
    assert worker.time_limit == 3600
    _run(db, worker, "test_default_limit", lambda run: None)
    assert overdue == []


def test_the_embedded_worker_of_lianku_run_has_no_time_limit(app):
    assert Worker(app).time_limit is None


def test_a_worker_that_cannot_fail_its_overdue_job_exits_all_the_same(app, monkeypatch):
    """The stuck handler may hold the lock that failing its job needs (SQLite's write lock): the
    worker exits anyway, and the next worker fails the job as abandoned."""

    def locked(*args, **kwargs):
        raise OperationalError("UPDATE jobs", {}, Exception("database is locked"))

    exits: list[int] = []
    monkeypatch.setattr(jobs, "fail_overdue", locked)
    monkeypatch.setattr(os, "_exit", exits.append)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    Worker(app, time_limits=True)._overdue(Job(id=7, kind="test_stuck"), 60)
    assert exits == [EXIT_JOB_OVERDUE]
