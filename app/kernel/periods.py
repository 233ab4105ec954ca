"""Closed periods (期间结账): a month whose books are closed, and its stock as it closed.

Finance closes the chain's books month by month. Once a month is closed its figures are final:
the documents dated in it can no longer be changed, deleted or voided (the engine above asks
``require_open`` before it lets them), and its closing stock — the quantity of every location,
item, lot and status at the month's end, valued at each item and lot's latest cost then — is
kept as the period's balances (期末结存), what the regulator and the auditors read of that month
however long the ledger grows afterwards.

The rules are those of the suites the chains know: months close in order (the first close may
be any month that has ended), only a month that has ended may close, and only the latest closed
month may be reopened (反结账), with a reason; each close and reopening is in the audit trail.

Stock postings are always dated now, so they never fall into a closed month. What could is a
document saved while its month is being closed: on PostgreSQL a close takes an exclusive
transaction lock and ``require_open`` a shared one for any day a close could reach (one before
the current month), so a save either finishes before the close reads the month or sees it closed.
SQLite runs one writer at a time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Text,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Money, Quantity, UTCDateTime, utcnow
from app.i18n import _
from app.kernel import audit
from app.kernel.errors import KernelError
from app.kernel.items import business_timezone, business_today
from app.kernel.stock import LedgerEntry, StockStatus, _status_enum

#: The advisory lock that orders closes against the saves of documents they could close over.
_LOCK_KEY = "hashtextextended(current_schema() || '/closed_periods', 0)"


class ClosedPeriod(Base):
    """One close of the month ending ``through``; a reopened one keeps who reopened it and why."""

    __tablename__ = "closed_periods"
    __table_args__ = (Index("ix_closed_periods_through", "through"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the month's last day: documents dated on or before it are closed
    through: Mapped[dt.date] = mapped_column(Date)
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reopen_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def month(self) -> str:
        return self.through.strftime("%Y-%m")


class PeriodBalance(Base):
    """The stock of one location, item, lot and status at the end of a closed month."""

    __tablename__ = "period_balances"
    __table_args__ = (Index("ix_period_balances_period", "period_id", "location_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("closed_periods.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    status: Mapped[StockStatus] = mapped_column(_status_enum())
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    #: the item and lot's latest cost at the month's end (None: never costed)
    unit_cost: Mapped[Decimal | None] = mapped_column(Money)


class PeriodClosed(KernelError):
    """A document dated in a closed month: its figures are final."""

    def __init__(self, day: dt.date, through: dt.date, field: str | None = None):
        super().__init__(
            _(
                "The books are closed through %(through)s: a document dated %(day)s can no "
                "longer be changed. Date the correction in an open month, or ask finance to "
                "reopen the month.",
                through=through.isoformat(),
                day=day.isoformat(),
            ),
            field,
        )
        self.day, self.through = day, through


class PeriodNotClosable(KernelError):
    """A close or reopening the rules refuse (``field``: ``month`` or ``reason``)."""

    def __init__(self, message: str, field: str = "month", unfinished: list | None = None):
        super().__init__(message, field)
        #: the documents that keep the month open, as the engine above named them
        self.unfinished = unfinished or []


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def parse_month(text_value) -> dt.date:
    """The last day of a month written ``YYYY-MM`` (or a date in it); a typed error otherwise."""
    try:
        if isinstance(text_value, dt.date):
            return month_end(text_value)
        return month_end(dt.date.fromisoformat(f"{str(text_value).strip()[:7]}-01"))
    except ValueError:
        raise PeriodNotClosable(_("Give the month as YYYY-MM, such as 2026-11.")) from None


def _current(session: Session) -> ClosedPeriod | None:
    return session.scalars(
        select(ClosedPeriod)
        .where(ClosedPeriod.reopened_at.is_(None))
        .order_by(ClosedPeriod.through.desc(), ClosedPeriod.id.desc())
        .limit(1)
    ).first()


def closed_through(session: Session) -> dt.date | None:
    """The last day of the latest closed month (None: no month is closed)."""
    latest = _current(session)
    return latest.through if latest else None


def history(session: Session) -> list[ClosedPeriod]:
    """Every close, the latest first, reopened ones with them."""
    return list(
        session.scalars(
            select(ClosedPeriod).order_by(ClosedPeriod.through.desc(), ClosedPeriod.id.desc())
        )
    )


def next_to_close(session: Session, today: dt.date | None = None) -> dt.date | None:
    """The month that closes next (its last day): the one after the latest closed, or — when
    none is — last month. None when that month has not ended yet."""
    today = today or business_today()
    through = closed_through(session)
    candidate = (
        month_end(through + dt.timedelta(days=1))
        if through
        else month_end(today.replace(day=1) - dt.timedelta(days=1))
    )
    return candidate if candidate < today else None


def _lock(session: Session, shared: bool) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: one writer at a time already
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    session.execute(text(f"SELECT {function}({_LOCK_KEY})"))


def require_open(session: Session, day: dt.date | None, field: str | None = None) -> None:
    """Refuse (``PeriodClosed``) a change to a document dated ``day`` in a closed month.

    A day of the current month or later is never closed; for an earlier one the shared lock is
    taken first, so a close running now is waited for and then seen."""
    if day is None or day >= business_today().replace(day=1):
        return
    _lock(session, shared=True)
    through = closed_through(session)
    if through is not None and day <= through:
        raise PeriodClosed(day, through, field)


def end_of(day: dt.date) -> dt.datetime:
    """The instant the business day after ``day`` begins: where a month's ledger ends."""
    following = day + dt.timedelta(days=1)
    return dt.datetime.combine(following, dt.time(), business_timezone()).astimezone(dt.UTC)


def begin_close(session: Session, through: dt.date) -> None:
    """Take the close's lock and check the month may close now (raise ``PeriodNotClosable``).
    The engine above then checks its documents and calls ``close``."""
    _lock(session, shared=False)
    if through >= business_today():
        raise PeriodNotClosable(
            _("%(month)s has not ended yet: a month closes after its last day.",
              month=through.strftime("%Y-%m"))
        )  # fmt: skip
    latest = closed_through(session)
    if latest is not None and through <= latest:
        raise PeriodNotClosable(_("%(month)s is closed already.", month=through.strftime("%Y-%m")))
    if latest is not None and through != month_end(latest + dt.timedelta(days=1)):
        raise PeriodNotClosable(
            _(
                "Months close in order: close %(month)s first.",
                month=(latest + dt.timedelta(days=1)).strftime("%Y-%m"),
            )
        )


def close(session: Session, through: dt.date, user=None) -> ClosedPeriod:
    """Close the month ending ``through`` for ``user`` (after ``begin_close``): keep its closing
    stock and say so in the audit trail."""
    previous = _current(session)
    period = ClosedPeriod(through=through, closed_by=getattr(user, "id", None))
    session.add(period)
    session.flush()
    rows = _write_balances(session, period, previous)
    audit.record(
        session, "close", "period", period.id,
        changes={"through": through.isoformat(), "balances": rows}, context=audit.acting(user),
    )  # fmt: skip
    return period


def _write_balances(session: Session, period: ClosedPeriod, previous: ClosedPeriod | None) -> int:
    """The month's closing stock, set-based: the previous close's balances (when there is one)
    plus the ledger since, or the whole ledger up to the month's end; each priced at its item
    and lot's latest cost by then."""
    ledger = LedgerEntry.__table__
    end = end_of(period.through)
    moved = select(
        ledger.c.location_id, ledger.c.item_id, ledger.c.lot_id, ledger.c.status,
        ledger.c.quantity,
    ).where(ledger.c.at < end)  # fmt: skip
    if previous is not None:
        kept = PeriodBalance.__table__
        moved = union_all(
            moved.where(ledger.c.at >= end_of(previous.through)),
            select(kept.c.location_id, kept.c.item_id, kept.c.lot_id, kept.c.status,
                   kept.c.quantity).where(kept.c.period_id == previous.id),
        )  # fmt: skip
    moved = moved.subquery()
    sums = (
        select(
            moved.c.location_id,
            moved.c.item_id,
            moved.c.lot_id,
            moved.c.status,
            type_coerce(func.sum(moved.c.quantity), Quantity).label("quantity"),
        )  # fmt: skip
        .group_by(moved.c.location_id, moved.c.item_id, moved.c.lot_id, moved.c.status)
        .having(func.sum(moved.c.quantity) != 0)
        .subquery()
    )
    # the latest costed entry of each item and lot by the month's end (the report index's order)
    latest = (
        select(
            ledger.c.item_id,
            func.coalesce(ledger.c.lot_id, 0).label("lot_key"),
            func.max(ledger.c.id).label("id"),
        )  # fmt: skip
        .where(ledger.c.unit_cost.is_not(None), ledger.c.at < end)
        .group_by(ledger.c.item_id, ledger.c.lot_id)
        .subquery()
    )
    costed = ledger.alias()
    closing = (
        select(
            literal(period.id),
            sums.c.location_id,
            sums.c.item_id,
            sums.c.lot_id,
            sums.c.status,
            sums.c.quantity,
            costed.c.unit_cost,
        )  # fmt: skip
        .select_from(sums)
        .outerjoin(
            latest,
            (latest.c.item_id == sums.c.item_id)
            & (latest.c.lot_key == func.coalesce(sums.c.lot_id, 0)),
        )
        .outerjoin(costed, costed.c.id == latest.c.id)
    )
    columns = ["period_id", "location_id", "item_id", "lot_id", "status", "quantity", "unit_cost"]
    result = session.execute(insert(PeriodBalance).from_select(columns, closing))
    return result.rowcount


def reopen(session: Session, user, reason: str) -> ClosedPeriod:
    """Reopen the latest closed month (反结账): its documents may change again and its kept
    balances go (a new close keeps them anew). The reason is required and audited."""
    reason = str(reason).strip() if reason is not None else ""
    if not reason:
        raise PeriodNotClosable(_("Say why the month is reopened."), "reason")
    _lock(session, shared=False)
    period = _current(session)
    if period is None:
        raise PeriodNotClosable(_("No month is closed."))
    period.reopened_at, period.reopened_by = utcnow(), getattr(user, "id", None)
    period.reopen_reason = reason
    session.execute(delete(PeriodBalance).where(PeriodBalance.period_id == period.id))
    audit.record(
        session, "reopen", "period", period.id,
        changes={"through": period.through.isoformat()}, reason=reason,
        context=audit.acting(user),
    )  # fmt: skip
    return period
