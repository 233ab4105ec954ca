"""Process locks: held by one holder at a time, and gone with the holder however it ends."""

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from app.kernel import process_locks
from app.kernel.process_locks import LockTaken
from tests.conftest import eventually


def _in_another_thread(func):
    outcome = {}

    def target():
        try:
            outcome["value"] = func()
        except Exception as exc:  # the outcome is what the test looks at
            outcome["value"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    return outcome["value"]


def test_one_holder_at_a_time(db):
    def take():
        with process_locks.hold(db, "stocktake-7"):
            return "taken"

    assert not process_locks.is_held(db, "stocktake-7")
    with process_locks.hold(db, "stocktake-7"):
        assert process_locks.is_held(db, "stocktake-7")
        assert isinstance(_in_another_thread(take), LockTaken)
        assert _in_another_thread(lambda: process_locks.is_held(db, "stocktake-7")) is True
        assert not process_locks.is_held(db, "stocktake-8")  # (another name)
    assert not process_locks.is_held(db, "stocktake-7")
    assert _in_another_thread(take) == "taken"


def test_a_holder_says_what_is_refused(db):
    class Busy(Exception):
        pass

    with (
        process_locks.hold(db, "export"),
        pytest.raises(Busy),
        process_locks.hold(db, "export", taken=Busy),
    ):
        pass


def test_a_holder_that_fails_lets_go(db):
    with pytest.raises(RuntimeError), process_locks.hold(db, "export"):
        raise RuntimeError("the work failed")
    assert not process_locks.is_held(db, "export")


def test_a_holder_that_is_killed_lets_go(db):
    """A process that takes the lock and dies without letting go (``os._exit``: no finally
    blocks run) does not keep it."""
    code = textwrap.dedent(
        f"""
        import os
        from app.db import Database
        from app.kernel import process_locks

        database = Database({db.url!r})
        with process_locks.hold(database, "export"):
            print("held", flush=True)
            os._exit(int(input()))
        """
    )
    root = Path(__file__).resolve().parents[2]
    holder = subprocess.Popen(
        [sys.executable, "-c", code], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert holder.stdout.readline() == b"held\n"
    assert process_locks.is_held(db, "export")
    holder.communicate(b"9\n", timeout=30)
    assert holder.returncode == 9
    assert eventually(lambda: not process_locks.is_held(db, "export"))
    with process_locks.hold(db, "export"):
        pass


def test_no_lock_file_is_left_behind_on_sqlite(db):
    if db.dialect != "sqlite":
        pytest.skip("SQLite's lock files")
    folder = Path(db.engine.url.database).parent
    before = set(os.listdir(folder))
    with process_locks.hold(db, "export"):
        lock_file = Path(db.engine.url.database).name + ".export.lock"
        assert set(os.listdir(folder)) - before == {lock_file}
    assert not process_locks.is_held(db, "export")
    assert set(os.listdir(folder)) == before
