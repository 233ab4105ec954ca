"""The job worker: ``lianku worker`` in production, a thread inside ``lianku run`` for one shop.

Both run the same loop over the ``jobs`` table; on PostgreSQL any number of workers share it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from app.db import Database
from app.kernel.jobs import run_next

log = logging.getLogger("lianku.jobs")


def load_handlers() -> None:
    """Import every layer, so each registers the job kinds it owns (and the demo chain's)."""
    import app.demo.job  # noqa: F401
    import app.web  # noqa: F401  (the top layer imports all the others)


class Worker(threading.Thread):
    """Runs queued jobs one after another; sleeps ``poll_seconds`` when the queue is empty."""

    def __init__(self, database: Database, files_dir: Path, poll_seconds: float = 1.0):
        super().__init__(name="lianku-worker", daemon=True)
        self.database = database
        self.files_dir = files_dir
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        load_handlers()
        log.info("worker started")
        while not self.stopping.is_set():
            try:
                job = run_next(self.database, self.files_dir)
            except Exception:  # the database went away; keep trying instead of dying
                log.exception("worker could not claim a job")
                job = None
            if job is None:
                self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()
