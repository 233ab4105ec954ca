"""An expired lot never enters available stock: a receipt straight to available, the receiving
inspection (待验 → 合格) and a customer return are refused with ``ExpiredLotNotAccepted`` and write
nothing; nonconforming (不合格) and awaiting inspection (待验) still take it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.kernel import (
    ExpiredLotNotAccepted,
    KernelError,
    LotExpired,
    Movement,
    Reason,
    StockStatus,
    post_movements,
    queries,
)
from app.kernel.stock import LedgerEntry, StockBalance
from tests.kernel.conftest import BEFORE_EXPIRY, TODAY, assert_balances_match_ledger, receive


def written(db) -> tuple:
    """What the stock tables hold: ledger rows and the balances (nothing half-written)."""
    with db.session() as session:
        ledger = session.scalar(select(func.count()).select_from(LedgerEntry))
        balances = sorted(
            (row.location_id, row.item_id, row.lot_key, str(row.status), row.on_hand)
            for row in session.scalars(select(StockBalance))
        )
        return ledger, balances


def inspect(db, world, lot, status, quantity=2, reason=Reason.inspection):
    """The receiving inspection of ``quantity`` of ``lot`` at S1: 待验 → ``status``."""
    with db.transaction() as session:
        post_movements(
            session,
            [Movement(item=world.strips, quantity=Decimal(quantity), source=world.s1,
                      destination=world.s1, lot=lot, line=3,
                      source_status=StockStatus.awaiting_inspection, destination_status=status)],
            reason=reason, document="PR-7", today=TODAY,
        )  # fmt: skip


def test_a_receipt_straight_to_available_refuses_an_expired_lot_and_writes_nothing(db, world):
    receive(db, world.strips, 5, world.s1, world.late)
    before = written(db)
    with db.transaction() as session:
        movements = [
            Movement(item=world.strips, quantity=Decimal(4), destination=world.s1, lot=world.late),
            Movement(item=world.strips, quantity=Decimal(2), destination=world.s1, lot=world.old,
                     line=2),
        ]  # fmt: skip
        with pytest.raises(ExpiredLotNotAccepted) as caught:
            post_movements(session, movements, reason=Reason.purchase_receipt, today=TODAY)
    error = caught.value
    assert isinstance(error, LotExpired) and isinstance(error, KernelError)
    assert error.field == "lot"
    message = str(error)
    for said in ("Line 2", "STRIP", "L-OLD", "2026-11-24", "S1", "nonconforming"):
        assert said in message
    assert written(db) == before  # the good line of the same posting is not booked either


def test_nonconforming_and_awaiting_inspection_still_take_an_expired_lot(db, world):
    receive(db, world.strips, 2, world.s1, world.old, status="nonconforming")
    receive(db, world.strips, 3, world.s1, world.old, status="awaiting_inspection")
    with db.session() as session:
        assert queries.on_hand(
            session, world.s1, world.strips, world.old, StockStatus.nonconforming
        ) == Decimal(2)
        assert_balances_match_ledger(session)


def test_inspection_refuses_an_expired_lot_into_available_not_into_nonconforming(db, world):
    receive(db, world.strips, 4, world.s1, world.old, status="awaiting_inspection")
    before = written(db)
    with pytest.raises(ExpiredLotNotAccepted) as caught:
        inspect(db, world, world.old, StockStatus.available)
    assert "Line 3" in str(caught.value) and "at S1" in str(caught.value)
    assert written(db) == before
    inspect(db, world, world.old, StockStatus.nonconforming, quantity=4)
    with db.session() as session:
        assert queries.on_hand(session, world.s1, world.strips, world.old) == Decimal(0)
        assert queries.on_hand(
            session, world.s1, world.strips, world.old, StockStatus.nonconforming
        ) == Decimal(4)


def test_a_storage_check_sets_an_expired_lot_apart_but_qa_cannot_release_it(db, world):
    """养护: an expired lot found on the shelf goes to nonconforming; released, it would be sold."""
    receive(db, world.strips, 3, world.s1, world.old, today=BEFORE_EXPIRY)
    moved = {"source": world.s1, "destination": world.s1, "lot": world.old, "line": 1}

    def check(source_status, destination_status):
        with db.transaction() as session:
            post_movements(
                session,
                [Movement(item=world.strips, quantity=Decimal(3), **moved,
                          source_status=source_status, destination_status=destination_status)],
                reason=Reason.maintenance, document="MC-1", today=TODAY,
            )  # fmt: skip

    check(StockStatus.available, StockStatus.nonconforming)
    before = written(db)
    with pytest.raises(ExpiredLotNotAccepted):
        check(StockStatus.nonconforming, StockStatus.available)
    assert written(db) == before
    with db.session() as session:
        assert queries.on_hand(
            session, world.s1, world.strips, world.old, StockStatus.nonconforming
        ) == Decimal(3)
        assert_balances_match_ledger(session)


def test_the_day_it_expires_the_lot_is_still_accepted(db, world):
    receive(db, world.strips, 1, world.s1, world.old, today=BEFORE_EXPIRY)
    receive(db, world.strips, 1, world.s1, world.old, today=world.old.expiry_date)
    with db.session() as session:
        assert queries.on_hand(session, world.s1, world.strips, world.old) == Decimal(2)


def test_a_customer_return_straight_to_available_refuses_an_expired_lot(db, world):
    before = written(db)
    with pytest.raises(ExpiredLotNotAccepted), db.transaction() as session:
        post_movements(
            session,
            [Movement(item=world.strips, quantity=Decimal(1), destination=world.s1, lot=world.old)],
            reason=Reason.customer_return, today=TODAY,
        )  # fmt: skip
    assert written(db) == before
    with db.transaction() as session:  # 待验 takes it: the quality check sorts it out
        post_movements(
            session,
            [Movement(item=world.strips, quantity=Decimal(1), destination=world.s1, lot=world.old,
                      destination_status=StockStatus.awaiting_inspection)],
            reason=Reason.customer_return, today=TODAY,
        )  # fmt: skip


def test_the_refusal_speaks_the_users_language(db, world, app):
    zh = app.test_request_context(headers={"Accept-Language": "zh-CN"})
    with zh, pytest.raises(ExpiredLotNotAccepted) as caught:
        receive(db, world.strips, 1, world.s1, world.old)
    message = str(caught.value)
    assert "L-OLD" in message and "2026-11-24" in message and "不合格" in message
