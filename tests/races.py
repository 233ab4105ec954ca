"""Requests racing on PostgreSQL: held at a row lock until all of them wait there, then let go,
so the test meets the interleaving it means to, every run."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text


def _waiting(db) -> int:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with db.engine.connect() as connection:
        return connection.scalar(query)


def wait_until_blocked(db, waiting: int) -> None:
    """Until ``waiting`` backends of this database wait for a lock (bounded: 20 s)."""
    for _attempt in range(2000):
        if _waiting(db) >= waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the requests never met at the lock")


def race_behind_a_lock(db, record_id: int, calls: list[tuple]) -> None:
    """Start each (function, args, kwargs) in a thread while another transaction holds the
    record ``record_id``; release it once every thread waits for it, and let them finish."""
    blocker = db.session(write=True)
    blocker.begin()
    blocker.execute(text("SELECT id FROM records WHERE id = :id FOR UPDATE"), {"id": record_id})
    threads = [
        threading.Thread(target=call, args=args, kwargs=kwargs) for call, args, kwargs in calls
    ]
    try:
        for thread in threads:
            thread.start()
        wait_until_blocked(db, len(threads))
    finally:
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=30)
