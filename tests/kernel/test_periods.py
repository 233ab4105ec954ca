"""Closed periods (结账): months close in order once ended, documents dated in them are refused,
the closing stock is kept (equal to the ledger up to the month's end), and only the latest
closed month reopens, with a reason. Months are counted back from today, so the tests hold on
any date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.db import clock_at
from app.kernel import Movement, Reason, get_or_create_lot, post_movements
from app.kernel.audit import AuditEntry
from app.kernel.items import business_timezone, business_today
from app.kernel.periods import (
    PeriodBalance,
    PeriodClosed,
    PeriodNotClosable,
    begin_close,
    close,
    closed_through,
    end_of,
    history,
    month_end,
    next_to_close,
    parse_month,
    reopen,
    require_open,
)
from app.kernel.stock import LedgerEntry


def months_ago(count: int) -> dt.date:
    """The last day of the month ``count`` months before this one."""
    day = business_today().replace(day=1)
    for _ in range(count):
        day = (day - dt.timedelta(days=1)).replace(day=1)
    return month_end(day)


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), business_timezone())


def book(db, world, on: dt.date, quantity, cost=None, lot=None, item=None, out=False):
    """A receipt (or, ``out``, a sale) at the warehouse at noon on ``on``."""
    item = item or world.gloves
    movement = Movement(
        item=item, quantity=D(quantity), lot=lot, unit_cost=cost,
        **({"source": world.wh} if out else {"destination": world.wh}),
    )  # fmt: skip
    reason = Reason.sale if out else Reason.purchase_receipt
    with clock_at(noon(on)), db.transaction() as session:
        post_movements(session, [movement], reason=reason, document="T-1", today=on)


def close_month(db, through: dt.date):
    with db.transaction() as session:
        begin_close(session, through)
        return close(session, through)


def balances(db, period_id) -> dict:
    with db.session() as session:
        rows = session.scalars(select(PeriodBalance).where(PeriodBalance.period_id == period_id))
        return {(r.item_id, r.lot_id, str(r.status)): (r.quantity, r.unit_cost) for r in rows}


@pytest.fixture
def history_booked(db, world):
    """Three months ago: 10 gloves in at 1.50, 3 out, and 4 of a lot at 8.00; two months ago:
    5 more gloves at 2.00; last month: 2 out."""
    three, two, last = months_ago(3), months_ago(2), months_ago(1)
    with db.transaction() as session:
        lot = get_or_create_lot(
            session, session.merge(world.strips), "L-FAR", business_today() + dt.timedelta(days=900)
        )
    book(db, world, three.replace(day=3), 10, D("1.50"))
    book(db, world, three.replace(day=20), 3, out=True)
    book(db, world, three.replace(day=21), 4, D("8.00"), lot=lot, item=world.strips)
    book(db, world, two.replace(day=5), 5, D("2.00"))
    book(db, world, last.replace(day=9), 2, out=True)
    return lot


def test_a_closed_month_keeps_its_closing_stock_valued_at_the_latest_cost(
    db, world, history_booked
):
    lot = history_booked
    first = close_month(db, months_ago(3))
    assert balances(db, first.id) == {
        (world.gloves.id, None, "available"): (D("7"), D("1.5")),
        (world.strips.id, lot.id, "available"): (D("4"), D("8")),
    }
    second = close_month(db, months_ago(2))  # the first close's balances plus the month since
    assert balances(db, second.id) == {
        (world.gloves.id, None, "available"): (D("12"), D("2")),
        (world.strips.id, lot.id, "available"): (D("4"), D("8")),
    }
    # the month's balances are the ledger up to its end, whatever came after
    with db.session() as session:
        ledger = session.scalar(
            select(func.sum(LedgerEntry.quantity)).where(
                LedgerEntry.item_id == world.gloves.id, LedgerEntry.at < end_of(months_ago(2))
            )
        )
        assert ledger == D("12")
        assert closed_through(session) == months_ago(2)
        assert [period.through for period in history(session)] == [months_ago(2), months_ago(3)]


def test_a_stock_sold_to_nothing_leaves_no_balance_row(db, world):
    book(db, world, months_ago(2).replace(day=2), 3, D("1"))
    book(db, world, months_ago(2).replace(day=4), 3, out=True)
    period = close_month(db, months_ago(2))
    assert balances(db, period.id) == {}


def test_months_close_in_order_once_ended(db, world):
    with db.transaction() as session:
        with pytest.raises(PeriodNotClosable, match="has not ended yet") as refused:
            begin_close(session, month_end(business_today()))
        assert refused.value.field == "month"
    close_month(db, months_ago(3))
    with db.transaction() as session:
        with pytest.raises(PeriodNotClosable, match="closed already"):
            begin_close(session, months_ago(4))
        with pytest.raises(PeriodNotClosable, match="close .* first") as refused:
            begin_close(session, months_ago(1))
        assert months_ago(2).strftime("%Y-%m") in str(refused.value)
    with db.session() as session:
        assert next_to_close(session) == months_ago(2)


def test_next_to_close_is_last_month_when_none_is_closed(db):
    with db.session() as session:
        assert next_to_close(session) == months_ago(1)
        # on the last day of a month, that month has not ended
        assert next_to_close(session, today=months_ago(1)) == months_ago(2)


@pytest.mark.parametrize("written", ["2026-13", "November", "", None])
def test_a_month_is_written_yyyy_mm(written):
    with pytest.raises(PeriodNotClosable, match="YYYY-MM") as refused:
        parse_month(written)
    assert refused.value.field == "month"


def test_a_month_parses_to_its_last_day():
    assert parse_month("2026-02") == dt.date(2026, 2, 28)
    assert parse_month(" 2024-02 ") == dt.date(2024, 2, 29)
    assert parse_month(dt.date(2026, 12, 5)) == dt.date(2026, 12, 31)


def test_a_day_in_a_closed_month_is_refused_with_its_field(db, world):
    close_month(db, months_ago(2))
    with db.session() as session:
        with pytest.raises(PeriodClosed) as refused:
            require_open(session, months_ago(2).replace(day=15), "invoice_date")
        assert refused.value.field == "invoice_date"
        assert months_ago(2).isoformat() in str(refused.value)
        require_open(session, months_ago(1))  # the month after is open
        require_open(session, business_today())
        require_open(session, None)


def test_reopening_takes_the_latest_month_back_with_a_reason(db, world, history_booked):
    close_month(db, months_ago(3))
    second = close_month(db, months_ago(2))
    with db.transaction() as session:
        with pytest.raises(PeriodNotClosable) as refused:
            reopen(session, None, "  ")
        assert refused.value.field == "reason"
    with db.transaction() as session:
        reopened = reopen(session, None, "发票漏记")
        assert reopened.id == second.id
    assert balances(db, second.id) == {}
    with db.session() as session:
        assert closed_through(session) == months_ago(3)
        require_open(session, months_ago(2).replace(day=1))
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "period").order_by(AuditEntry.id)
        ).all()
        assert actions == ["close", "close", "reopen"]
    again = close_month(db, months_ago(2))  # closes anew, with its balances
    assert balances(db, again.id)[(world.gloves.id, None, "available")] == (D("12"), D("2"))


def test_nothing_to_reopen(db):
    with db.transaction() as session, pytest.raises(PeriodNotClosable, match="No month"):
        reopen(session, None, "试试")


@pytest.mark.postgres_only
def test_a_save_of_the_month_being_closed_is_waited_for_then_the_month_is_closed(db, world):
    """A document of last month saved while finance closes it: the close waits for the save's
    transaction (which had found the month open), and a save after the close is refused."""
    import threading

    from tests.races import wait_until_blocked

    day = months_ago(1).replace(day=10)
    saving = db.session(write=True)
    saving.begin()
    require_open(saving, day, "payment_date")  # open: the save goes on, holding the lock shared
    done = []

    def close_it():
        done.append(close_month(db, months_ago(1)).id)

    closer = threading.Thread(target=close_it)
    closer.start()
    try:
        wait_until_blocked(db, 1)
        assert done == []  # the close waits for the save
    finally:
        saving.commit()
    closer.join(timeout=30)
    assert len(done) == 1
    with db.session() as session, pytest.raises(PeriodClosed):
        require_open(session, day, "payment_date")
