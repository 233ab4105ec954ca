"""Stock locks: a location being counted accepts no movement until its count is closed.

``post_movements`` refuses any movement touching a locked location with ``LocationLocked``. It reads
the location rows with ``FOR KEY SHARE`` and ``open_stock_lock`` takes ``FOR UPDATE`` on the same
row, so a count starts only after the postings already in flight at that location have committed.

On PostgreSQL a row lock is not a queue: a new ``FOR KEY SHARE`` goes past a waiting ``FOR UPDATE``,
so a busy location could keep its count from ever opening. Each location therefore also has a
**count gate**, a transaction-scoped advisory lock (``COUNT_GATE``, location id), which does queue:
a posting passes it shared, an opening takes it exclusive before the row, and postings arriving
after the opening wait behind it — then see the count and are refused.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, exists, func, literal_column, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.kernel.errors import LocationAlreadyLocked
from app.kernel.locations import Location
from app.kernel.users import User


class StockLock(Base):
    __tablename__ = "stock_locks"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), unique=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(256))

    location: Mapped[Location] = relationship()
    user: Mapped[User | None] = relationship()


#: The advisory lock class of the count gates (the second key is the location id).
COUNT_GATE = 7001


def pass_count_gate(location_id):
    """SQL that passes (shared) the count gate of ``location_id`` until the transaction ends."""
    return func.pg_advisory_xact_lock_shared(literal_column(str(COUNT_GATE)), location_id)


def unlocked(location_id):
    """SQL condition: no count holds the location whose id is ``location_id`` (a column), for
    set-based reads such as order allocation; postings check the lock themselves."""
    return ~exists().where(StockLock.location_id == location_id)


def open_stock_lock(
    session: Session, location: Location, user: User | None = None, reason: str | None = None
) -> StockLock:
    """Lock ``location`` for a count; waits for the postings in flight there to commit."""
    if session.connection().dialect.name == "postgresql":
        gate = func.pg_advisory_xact_lock(literal_column(str(COUNT_GATE)), location.id)
        session.execute(select(gate))
    session.execute(select(Location.id).where(Location.id == location.id).with_for_update())
    if session.scalar(select(StockLock).where(StockLock.location_id == location.id)):
        raise LocationAlreadyLocked(location)
    lock = StockLock(
        location_id=location.id,
        opened_by=user.id if user else None,
        reason=reason,
        opened_at=utcnow(),
    )
    session.add(lock)
    session.flush()
    return lock


def close_stock_lock(session: Session, location: Location) -> None:
    """Let movements at ``location`` through again."""
    lock = session.scalar(select(StockLock).where(StockLock.location_id == location.id))
    if lock is not None:
        session.delete(lock)
        session.flush()
