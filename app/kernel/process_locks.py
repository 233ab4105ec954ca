"""Locks held by a process for as long as it does a piece of work, and gone with it when it ends.

Some work spans many transactions — a replenishment plan and the suggestions it then writes one by
one, a job that runs for minutes — so no row or transaction lock can guard it. These locks are
held by the process doing the work and released when it ends, however it ends (finished, failed,
killed, its connection cut), so a crashed holder never blocks anyone and anyone can tell whether
the holder is still alive:

* PostgreSQL: a session-level advisory lock, keyed by the company schema and the lock's name,
  held by a connection of its own in autocommit (it holds no snapshot back);
* SQLite: an exclusive ``flock`` on a file next to the database, ``<database>.<name>.lock``. The
  holder removes the file when it lets go; the lock follows the file's inode, so a taker checks
  that the file it locked is still the one at that path.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import Database

#: The advisory lock key of a name in the current company schema (64 bits: no collisions to fear).
_KEY = "hashtextextended(current_schema() || '/' || :name, 0)"


class LockTaken(Exception):
    """Another process (or another connection of this one) holds the lock."""


@contextmanager
def hold(
    database: Database, name: str, taken: Callable[[], Exception] | None = None
) -> Iterator[None]:
    """Hold the lock ``name`` until the block ends; when it is held, raise at once what
    ``taken()`` makes (by default ``LockTaken``)."""
    taken = taken or (lambda: LockTaken(name))
    if database.dialect == "postgresql":
        with _held_on_postgresql(database, name, taken):
            yield
        return
    path = _lock_path(database, name)
    lock_file = _take_file_lock(path)
    if lock_file is None:
        raise taken()
    try:
        yield
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)
        lock_file.close()


def abandon(database: Database, name: str) -> None:
    """Remove the file of the lock ``name``, held by this process, which is about to exit
    without letting go (``os._exit``): the lock goes with the process, the file would stay behind.
    On PostgreSQL there is nothing to remove: the lock goes with the connection."""
    if database.dialect != "postgresql":
        with suppress(FileNotFoundError):
            os.unlink(_lock_path(database, name))


def is_held(database: Database, name: str) -> bool:
    """Whether a live holder has the lock ``name`` now (a holder that died has let it go)."""
    try:
        with hold(database, name):
            return False
    except LockTaken:
        return True


@contextmanager
def _held_on_postgresql(database: Database, name: str, taken) -> Iterator[None]:
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        if not holder.scalar(text(f"SELECT pg_try_advisory_lock({_KEY})"), {"name": name}):
            raise taken()
        try:
            yield
        finally:
            try:
                holder.scalar(text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": name})
            except DBAPIError:  # the server cut the connection, and the lock went with it
                holder.invalidate()


def _lock_path(database: Database, name: str) -> str:
    return f"{database.engine.url.database}.{name}.lock"


def _take_file_lock(path: str):
    """The open, locked file at ``path``, or None when someone holds it.

    A holder that lets go removes the file before closing it, so the file locked here may
    already be unlinked: then the lock is worth nothing and the new file at ``path`` is tried.
    """
    while True:
        lock_file = open(path, "a")  # noqa: SIM115 (held until the caller lets go)
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return None
        try:
            if os.stat(path).st_ino == os.fstat(lock_file.fileno()).st_ino:
                return lock_file
        except FileNotFoundError:
            pass
        lock_file.close()
