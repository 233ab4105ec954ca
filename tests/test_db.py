"""The database layer: exact decimals, aware timestamps, writers that queue on SQLite."""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text

import app.db
from app.db import Database, Money, UTCDateTime, clock_at, to_decimal, utcnow


@pytest.fixture
def scratch(db):
    """A throwaway table outside the app's metadata, dropped afterwards."""
    meta = MetaData()
    table = Table(
        "scratch",
        meta,
        Column("id", Integer, primary_key=True),
        Column("amount", Money),
        Column("at", UTCDateTime),
    )
    meta.create_all(db.engine)
    yield table
    meta.drop_all(db.engine)


def test_money_round_trips_as_exact_decimal(db, scratch):
    with db.transaction() as session:
        session.execute(scratch.insert().values(id=1, amount=Decimal("1234567.8912"), at=utcnow()))
    with db.session() as session:
        amount = session.scalar(select(scratch.c.amount))
    assert amount == Decimal("1234567.8912")
    assert isinstance(amount, Decimal)


def test_timestamps_come_back_timezone_aware_utc(db, scratch):
    shanghai = dt.timezone(dt.timedelta(hours=8))
    moment = dt.datetime(2026, 3, 1, 10, 2, tzinfo=shanghai)
    with db.transaction() as session:
        session.execute(scratch.insert().values(id=1, amount=0, at=moment))
    with db.session() as session:
        stored = session.scalar(select(scratch.c.at))
    assert stored.tzinfo is not None
    assert stored == moment
    assert stored.utcoffset() == dt.timedelta(0)


def test_naive_timestamps_are_refused(db, scratch):
    with pytest.raises(Exception, match="naive datetime refused"), db.transaction() as session:
        session.execute(scratch.insert().values(id=1, amount=0, at=dt.datetime(2026, 1, 1)))  # noqa: DTZ001


def test_to_decimal_never_keeps_binary_float_noise():
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal("19.90") == Decimal("19.90")


def test_sqlite_pragmas(db):
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_sqlite_writers_queue_instead_of_failing(db, scratch):
    """Two read-then-write transactions: the second waits for the first instead of failing."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only; PostgreSQL serialises writers with row locks")
    with db.transaction() as session:
        session.execute(scratch.insert().values(id=1, amount=0, at=utcnow()))
    errors: list[Exception] = []

    def add_one():
        try:
            with db.transaction() as session:
                amount = session.scalar(select(scratch.c.amount).where(scratch.c.id == 1))
                time.sleep(0.05)  # widen the read-modify-write window
                session.execute(scratch.update().values(amount=amount + 1))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=add_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.session() as session:
        assert session.scalar(select(scratch.c.amount)) == 4


def test_read_sessions_do_not_take_the_write_lock(db):
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    other = Database(db.url)
    with db.session() as reader, other.transaction() as writer:
        reader.execute(text("SELECT 1"))
        writer.execute(text("SELECT 1"))  # would block for the busy timeout if the reader held it
    other.dispose()


def test_the_clock_can_be_held_at_a_past_moment_in_this_thread_only():
    import datetime as dt
    import threading

    from app.kernel.items import business_today

    moment = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)  # 07:30 on 2 March in Shanghai
    seen_elsewhere = []
    with clock_at(moment):
        assert utcnow() == moment and business_today() == dt.date(2026, 3, 2)
        other = threading.Thread(target=lambda: seen_elsewhere.append(utcnow()))
        other.start()
        other.join()
    assert seen_elsewhere[0] > moment and utcnow() > moment
    with pytest.raises(ValueError, match="naive"), clock_at(dt.datetime(2026, 3, 1)):  # noqa: DTZ001
        pass


@pytest.mark.postgres_only
def test_a_pooled_connection_dropped_while_idle_is_replaced(db, monkeypatch):
    """The server ended the connection while it sat in the pool: the checkout ping finds out."""
    monkeypatch.setattr(app.db, "PING_AFTER_IDLE_SECONDS", 0.0)
    other = Database(db.url, pool_size=1, max_overflow=0)
    with other.session() as session:
        dropped = session.scalar(text("SELECT pg_backend_pid()"))
    with db.engine.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": dropped})
    with other.transaction() as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) != dropped
    other.dispose()


@pytest.mark.postgres_only
def test_a_connection_used_a_moment_ago_is_not_pinged(db, monkeypatch):
    """No extra round trip on every transaction of a busy server: only idle connections are
    pinged (``pool_pre_ping`` would ping all)."""
    other = Database(db.url, pool_size=1, max_overflow=0)
    pings = []
    ping = other.engine.dialect.do_ping
    monkeypatch.setattr(
        other.engine.dialect, "do_ping", lambda dbapi: pings.append(1) or ping(dbapi)
    )
    monkeypatch.setattr(app.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    for _ in range(3):
        with other.transaction() as session:
            session.execute(text("SELECT 1"))
    assert pings == []
    monkeypatch.setattr(app.db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with other.transaction() as session:
        session.execute(text("SELECT 1"))
    assert pings == [1]
    other.dispose()
