"""Recalled goods enter available stock by no entry at all: a count surplus (盘盈) or a stock
adjustment of a recalled lot into available is refused with ``RecalledNotAccepted`` naming the lot
and writes nothing, as a receipt or a customer return is; booked as nonconforming (不合格) it is
taken in. A stocktake that counted recalled goods as available is refused at approval the same
way, and stays open to be counted again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.kernel import (
    Movement,
    Reason,
    StockStatus,
    StocktakeState,
    add_count,
    approve_stocktake,
    open_stocktake,
    post_movements,
    stocktake_of,
)
from app.kernel.errors import RecalledNotAccepted
from app.kernel.items import Item, Lot
from app.kernel.recall import recall_lots
from app.kernel.stock import LedgerEntry, StockBalance
from app.kernel.stock_locks import StockLock
from tests.kernel.conftest import TODAY, assert_balances_match_ledger, receive


def written(db) -> tuple:
    """What the stock tables hold: ledger rows and the balances (nothing half-written)."""
    with db.session() as session:
        ledger = session.scalar(select(func.count()).select_from(LedgerEntry))
        balances = sorted(
            (row.location_id, row.item_id, row.lot_key, str(row.status), row.on_hand)
            for row in session.scalars(select(StockBalance))
        )
        return ledger, balances


@pytest.fixture
def recalled(db, world):
    """S1 holds 3 of L-LATE and 5 of L-EARLY; L-LATE is recalled (its 3 set apart)."""
    receive(db, world.strips, 3, world.s1, world.late)
    receive(db, world.strips, 5, world.s1, world.early)
    with db.transaction() as session:
        item = session.get(Item, world.strips.id)
        recall_lots(session, item, [session.get(Lot, world.late.id)], document="RC-1")
    return world


def _found(world, lot, status=StockStatus.available, line=2) -> Movement:
    return Movement(item=world.strips, quantity=Decimal(2), destination=world.s1, lot=lot,
                    destination_status=status, line=line)  # fmt: skip


@pytest.mark.parametrize("reason", [Reason.count_surplus, Reason.adjustment])
def test_a_surplus_or_adjustment_of_a_recalled_lot_is_refused_into_available(db, recalled, reason):
    before = written(db)
    with pytest.raises(RecalledNotAccepted) as caught, db.transaction() as session:
        post_movements(
            session, [_found(recalled, recalled.early, line=1), _found(recalled, recalled.late)],
            reason=reason, document="AJ-1", today=TODAY,
        )  # fmt: skip
    error = caught.value
    assert error.field == "lot"
    assert "Line 2" in str(error) and "L-LATE" in str(error) and "nonconforming" in str(error)
    assert written(db) == before  # not even the good lot's line
    with db.transaction() as session:  # booked apart, it is taken in
        post_movements(
            session, [_found(recalled, recalled.late, StockStatus.nonconforming)],
            reason=reason, document="AJ-2", today=TODAY,
        )  # fmt: skip
    with db.session() as session:
        assert_balances_match_ledger(session)
        held = {
            str(row.status): row.on_hand
            for row in session.scalars(
                select(StockBalance).where(StockBalance.lot_id == recalled.late.id)
            )
        }
        assert held == {"available": 0, "nonconforming": 5}


def test_a_count_of_recalled_goods_as_available_is_refused_at_approval_and_stays_open(db, recalled):
    """The counter scanned the recalled lot under the form's default status, 合格: the approval
    names the lot and posts nothing; counted again as 不合格, the count posts."""
    with db.transaction() as session:
        stocktake = open_stocktake(session, "ST-1", recalled.s1)
        add_count(session, stocktake, recalled.strips, Decimal(5), lot=recalled.early)
        add_count(session, stocktake, recalled.strips, Decimal(4), lot=recalled.late)
    before = written(db)
    with pytest.raises(RecalledNotAccepted) as caught, db.transaction() as session:
        approve_stocktake(session, stocktake_of(session, "ST-1"))
    assert caught.value.field == "lot" and "L-LATE" in str(caught.value)
    assert written(db) == before
    with db.transaction() as session:  # still counting, the location still locked
        stocktake = stocktake_of(session, "ST-1")
        assert stocktake.state == StocktakeState.counting
        assert session.scalar(select(StockLock).where(StockLock.location_id == recalled.s1.id))
        add_count(session, stocktake, recalled.strips, Decimal(-4), lot=recalled.late)
        add_count(session, stocktake, recalled.strips, Decimal(4), lot=recalled.late,
                  status=StockStatus.nonconforming)  # fmt: skip
        approve_stocktake(session, stocktake)
    with db.session() as session:
        assert_balances_match_ledger(session)
        rows = session.execute(
            select(LedgerEntry.status, LedgerEntry.quantity, LedgerEntry.reason).where(
                LedgerEntry.document == "ST-1"
            )
        )
        assert [(str(s), q, str(r)) for s, q, r in rows] == [
            ("nonconforming", Decimal(1), "count_surplus")
        ]
