"""The job worker: ``lianku worker`` in production, a thread inside ``lianku run`` for one shop.

Both run the same loop over the ``jobs`` table; on PostgreSQL any number of workers share it.
Each job runs in the application's context, in the language of the user who started it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask_babel import force_locale

from app.db import Database
from app.i18n import LOCALES
from app.kernel.jobs import Job, JobContext, run_next
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


class Worker(threading.Thread):
    """Runs queued jobs one after another; sleeps ``poll_seconds`` when the queue is empty."""

    def __init__(self, app: Flask, poll_seconds: float = 1.0):
        super().__init__(name="lianku-worker", daemon=True)
        self.database: Database = app.extensions["lianku.db"]
        self.files_dir = Path(app.instance_path)
        self.context = in_starters_language(app)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

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
