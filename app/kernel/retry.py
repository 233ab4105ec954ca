"""Retry a whole business transaction when PostgreSQL aborts it to break a deadlock.

One ``post_movements`` (or ``ship``, ``receive``, ``reserve``, ``consume``…) call takes its locks
in one sorted order and cannot deadlock with another. A transaction that makes SEVERAL such calls
takes each call's locks in order but not the union of them, so two of those can deadlock;
PostgreSQL then aborts one of them. That one is safe to run again from the start, which is what
``run_in_transaction`` does, a bounded number of times. A real conflict (not enough stock…) is a
``KernelError`` and is never retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from app.db import Database

T = TypeVar("T")

#: SQLSTATEs PostgreSQL uses for "run me again": serialization failure, deadlock detected.
RETRYABLE_SQLSTATES = {"40001", "40P01"}


def is_retryable(error: BaseException) -> bool:
    return getattr(getattr(error, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES


def retrying(
    work: Callable[[], T],
    *,
    attempts: int = 4,
    backoff: float = 0.02,
    rollback: Callable[[], None] | None = None,
) -> T:
    """Run ``work()``; when PostgreSQL aborted it to break a deadlock, ``rollback()`` and run it
    again from the start, at most ``attempts`` times in all. Any other error goes up at once
    (after ``rollback()``, when it is a database error)."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as error:
            if rollback is not None:
                rollback()
            if not is_retryable(error) or attempt == attempts:
                raise
            # random exponential back-off, so the same writers do not meet again in step
            time.sleep(random.uniform(0, backoff * 2**attempt))
    raise AssertionError("unreachable")


def run_in_transaction(
    database: Database, work: Callable, *, attempts: int = 4, backoff: float = 0.02
) -> T:
    """Run ``work(session)`` in one write transaction; rerun it after a deadlock, at most
    ``attempts`` times in all."""

    def once():
        with database.transaction() as session:
            return work(session)

    return retrying(once, attempts=attempts, backoff=backoff)
