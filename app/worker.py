"""The job worker: ``lianku worker`` in production, a thread inside ``lianku run`` for one shop.

Both run the same loop over the ``jobs`` table; on PostgreSQL any number of workers share it.
Each job runs in the application's context, in the language of the user who started it.

``lianku worker`` also enforces the jobs' time limits. A Python thread cannot be stopped from
outside, so a job that runs past its limit (a handler stuck on a lock or a dead connection) is
failed and the whole worker process exits with status 3; its supervisor (systemd, the container)
starts a fresh one, and the job's open transaction is rolled back. Inside ``lianku run`` the
limit is not enforced: exiting would stop the web server.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask_babel import force_locale

from app.db import Database
from app.i18n import LOCALES
from app.kernel import jobs
from app.kernel.jobs import Job, JobContext, JobStatus, run_next
from app.kernel.users import User

log = logging.getLogger("lianku.jobs")


def load_handlers() -> None:
    """Import every layer, so each registers the job kinds it owns (and the demo chain's)."""
    import app.demo.job  # noqa: F401
    import app.web  # noqa: F401  (the top layer imports all the others)


def in_starters_language(app: Flask) -> JobContext:
    """Run a job in ``app``'s context and in the language of whoever started it (the
    installation's default for cron's jobs): its progress messages and errors are stored as
    text, and read on /jobs by that person."""
    database: Database = app.extensions["lianku.db"]
    default = app.config["LIANKU"].default_locale

    @contextmanager
    def context(job: Job) -> Iterator[None]:
        starter = None
        if job.created_by is not None:
            with database.session() as session:
                starter = session.get(User, job.created_by)
        locale = starter.locale if starter is not None else None
        with app.app_context(), force_locale(locale if locale in LOCALES else default):
            yield

    return context


#: The exit status of a worker that stopped because a job ran past its time limit.
EXIT_JOB_OVERDUE = 3


class Worker(threading.Thread):
    """Runs queued jobs one after another; sleeps ``poll_seconds`` when the queue is empty.

    With ``time_limits`` (``lianku worker``), a job still running after its kind's limit (else
    ``LIANKU_JOB_TIME_LIMIT``) is failed and the process exits with ``EXIT_JOB_OVERDUE``.
    """

    def __init__(self, app: Flask, poll_seconds: float = 1.0, time_limits: bool = False):
        super().__init__(name="lianku-worker", daemon=True)
        self.database: Database = app.extensions["lianku.db"]
        self.files_dir = Path(app.instance_path)
        self.language = in_starters_language(app)
        self.time_limit = app.config["LIANKU"].job_time_limit if time_limits else None
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    @contextmanager
    def context(self, job: Job) -> Iterator[None]:
        """What a job runs in: its starter's language and, with time limits, a timer."""
        with self.language(job):
            # (a job being failed as abandoned is only written to, not run: nothing to time)
            if self.time_limit is None or job.status is not JobStatus.running:
                yield
                return
            limit = jobs.TIME_LIMITS.get(job.kind, self.time_limit)
            timer = threading.Timer(limit, self._overdue, (job, limit))
            timer.daemon = True
            timer.start()
            try:
                yield
            finally:
                timer.cancel()

    def _overdue(self, job: Job, limit: int) -> None:
        try:
            with self.language(job):
                failed = jobs.fail_overdue(self.database, job, limit)
        except Exception:
            # e.g. the stuck handler holds SQLite's write lock: exit all the same, and the next
            # worker fails the job as abandoned
            log.exception("job %s could not be failed as overdue", job.id)
            failed = True
        if failed:
            log.error("stopping the worker: job %s is still running", job.id)
            logging.shutdown()
            os._exit(EXIT_JOB_OVERDUE)  # the only way to stop the stuck handler's thread

    def run(self) -> None:
        load_handlers()
        log.info("worker started")
        while not self.stopping.is_set():
            try:
                job = run_next(self.database, self.files_dir, self.context)
            except Exception:  # the database went away; keep trying instead of dying
                log.exception("worker could not claim a job")
                job = None
            if job is None:
                self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()
