"""Database plumbing shared by every layer: the declarative base, column types, engines, sessions.

Two rules live here so no caller has to remember them:

* **Exact values.** Money and quantities are ``Numeric`` columns read back as ``Decimal``;
  timestamps are stored in UTC and always come back timezone-aware.
* **Writers queue, never fail half-way.** On SQLite a write session starts with ``BEGIN IMMEDIATE``
  so it takes the database lock before it reads anything; a second writer waits (busy timeout)
  instead of failing at its first write. PostgreSQL gets row locks from the kernel instead.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

from sqlalchemy import DateTime, Engine, MetaData, Numeric, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

#: Constraint names are fixed so migrations and models agree on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every Lianku table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: Money: 18 digits, 4 decimals (unit prices below a fen happen in bulk consumables).
Money = Numeric(18, 4, asdecimal=True)
#: Quantity: 18 digits, 4 decimals (a box of 100 sold by the piece is 0.01 box).
Quantity = Numeric(18, 4, asdecimal=True)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zones; PostgreSQL's ``timestamptz`` does. Refusing naive datetimes on the
    way in keeps the two databases giving the same answers.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass a timezone-aware value")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


#: A moment the clock is held at in this thread (``clock_at``), or None for the real time.
_held_time: ContextVar[dt.datetime | None] = ContextVar("lianku_held_time", default=None)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC: the only clock the code base reads."""
    return _held_time.get() or dt.datetime.now(dt.UTC)


@contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Hold the clock at ``moment`` (aware, in the past) in this thread while the block runs.

    The demo chain replays months of history through the real services: documents, ledger rows,
    audit entries and numbers then carry the day they happened on, and "today" for expiry checks
    is that day. Only the current thread sees it (a context variable).
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused: pass a timezone-aware value")
    token = _held_time.set(moment.astimezone(dt.UTC))
    try:
        yield
    finally:
        _held_time.reset(token)


def to_decimal(value) -> Decimal:
    """Turn a user-supplied number into an exact ``Decimal``; floats go through ``str``."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    return Decimal(value)


def plain_quantity(quantity: Decimal) -> str:
    """A quantity as people write it and forms keep it: 10, 2.5 (not 10.0000)."""
    return format(Decimal(quantity).normalize(), "f")


def plain_money(amount: Decimal) -> Decimal:
    """An amount as money is written: two decimals at least (22.00, 0.125), not 22.0000."""
    amount = Decimal(amount).normalize()
    return amount if -amount.as_tuple().exponent > 2 else amount.quantize(Decimal("0.01"))


SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, issue BEGIN, so we can choose IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = "IMMEDIATE" if connection.get_execution_options().get("lianku_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


#: A pooled connection that sat idle this long is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_after_idle(engine: Engine) -> None:
    """Test a pooled connection at checkout only when it has been idle a while.

    A connection the server or a firewall dropped while it sat in the pool is found by the ping
    and replaced (``DisconnectionError`` makes the pool connect afresh), exactly as with
    ``pool_pre_ping``; but one checked in a moment ago is handed out without the extra round trip,
    which ``pool_pre_ping`` would pay on every transaction of a busy server.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError("pooled connection lost while idle") from error


def make_engine(url: str, **kwargs) -> Engine:
    """Create the engine for ``url`` with Lianku's per-dialect settings applied."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine)
    return engine


class Database:
    """An engine and its session factories: one per app, one session per request."""

    def __init__(self, url: str, **engine_kwargs):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._readers = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(
            self.engine.execution_options(lianku_write=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, write: bool = False) -> Session:
        """A new session; ``write=True`` takes SQLite's write lock when its transaction begins."""
        return (self._writers if write else self._readers)()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: commit on success, roll back on any error."""
        with self.session(write=True) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
