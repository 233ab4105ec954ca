"""Quarantine: a quarantined lot leaves by no sale, transfer or reservation while it lasts, what
orders held of it is given back, supplier returns and scrap still take it out, and releasing it
puts everything back as it was — except a lot recalled meanwhile."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.kernel import InvalidMovement, LotBlocked, Movement, Reason, ShipLine, reserve, ship
from app.kernel.audit import AuditEntry
from app.kernel.items import Item, Lot, LotStatus
from app.kernel.quarantine import LotNotReleased, quarantine_lots, release_lots
from app.kernel.recall import recall_lots
from app.kernel.reservations import reservations_of
from app.kernel.stock import LedgerEntry, post_movements
from tests.kernel.conftest import TODAY, assert_balances_match_ledger, receive, sell


def _lots(session, *lots):
    return [session.get(Lot, lot.id) for lot in lots]


def _quarantine(db, world, *lots):
    with db.transaction() as session:
        item = session.get(Item, world.strips.id)
        return quarantine_lots(session, item, _lots(session, *lots), document="QT-1")


def _release(db, world, *lots):
    with db.transaction() as session:
        item = session.get(Item, world.strips.id)
        return release_lots(session, item, _lots(session, *lots), document="QT-1")


@pytest.fixture
def stocked(db, world):
    receive(db, world.strips, 10, world.wh, world.late)
    receive(db, world.strips, 5, world.s1, world.early)
    receive(db, world.strips, 4, world.s1, world.late)
    return world


def test_a_quarantined_lot_is_refused_by_sale_transfer_and_reservation(db, stocked):
    _quarantine(db, stocked, stocked.late)
    with pytest.raises(LotBlocked, match="L-LATE"):
        sell(db, stocked.strips, 1, stocked.s1, stocked.late)
    with pytest.raises(LotBlocked), db.transaction() as session:
        ship(session, "TO-1", stocked.wh, stocked.s2,
             [ShipLine(stocked.strips, Decimal(1), stocked.late)], today=TODAY)  # fmt: skip
    with pytest.raises(LotBlocked), db.transaction() as session:
        reserve(session, "SO-9", 1, stocked.strips, 1, stocked.s1, lot=stocked.late, today=TODAY)
    with db.transaction() as session:  # FEFO passes over it: only the early lot's 5 are offered
        held = reserve(session, "SO-9", 1, stocked.strips, 5, stocked.s1, today=TODAY)
        assert [hold.lot_id for hold in held] == [stocked.early.id]
    with db.session() as session:
        assert session.get(Lot, stocked.late.id).status == LotStatus.quarantined
        assert session.scalar(select(LedgerEntry.id).where(LedgerEntry.reason == "sale")) is None
        assert_balances_match_ledger(session)


def test_what_orders_held_of_the_lot_is_given_back_and_the_goods_stay_where_they_are(db, stocked):
    with db.transaction() as session:  # FEFO: early 5, then late 2 — one line, two lots
        reserve(session, "SO-2", 1, stocked.strips, 7, stocked.s1, today=TODAY)
    released = _quarantine(db, stocked, stocked.late)
    assert [(hold.document, hold.line, hold.lot_id, hold.quantity) for hold in released] == [
        ("SO-2", 1, stocked.late.id, Decimal(2))
    ]
    with db.session() as session:
        assert [(h.lot_id, h.quantity) for h in reservations_of(session, "SO-2")] == [
            (stocked.early.id, Decimal(5))
        ]
        # nothing was moved: no ledger row besides the three receipts
        moved = select(LedgerEntry.id).where(LedgerEntry.reason != "purchase_receipt")
        assert session.scalar(moved) is None
        assert_balances_match_ledger(session)


def test_supplier_returns_still_take_a_quarantined_lot_out(db, stocked):
    _quarantine(db, stocked, stocked.late)
    with db.transaction() as session:
        post_movements(
            session,
            [Movement(item=stocked.strips, quantity=Decimal(4), source=stocked.s1,
                      lot=stocked.late)],
            reason=Reason.supplier_return, document="SR-1", today=TODAY,
        )  # fmt: skip
    with db.session() as session:
        assert_balances_match_ledger(session)


def test_released_the_lot_sells_again_and_both_steps_are_audited(db, stocked):
    _quarantine(db, stocked, stocked.late)
    assert [lot.lot_number for lot in _release(db, stocked, stocked.late)] == ["L-LATE"]
    sell(db, stocked.strips, 1, stocked.s1, stocked.late)
    with db.session() as session:
        assert session.get(Lot, stocked.late.id).status == LotStatus.released
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(["lot.quarantined", "lot.released"]))
            .order_by(AuditEntry.id)
        ).all()  # fmt: skip
        assert [(entry.action, entry.entity_id) for entry in entries] == [
            ("lot.quarantined", "QT-1"),
            ("lot.released", "QT-1"),
        ]
        assert entries[0].changes["lots"] == ["L-LATE"]


def test_a_lot_recalled_during_its_quarantine_stays_recalled(db, stocked):
    _quarantine(db, stocked, stocked.early, stocked.late)
    with db.transaction() as session:
        recall_lots(session, session.get(Item, stocked.strips.id), _lots(session, stocked.late))
    assert [lot.lot_number for lot in _release(db, stocked, stocked.early, stocked.late)] == [
        "L-EARLY"
    ]
    with db.session() as session:
        assert session.get(Lot, stocked.late.id).status == LotStatus.recalled
        assert session.get(Lot, stocked.early.id).status == LotStatus.released


@pytest.mark.parametrize("blocked_by", ["quarantine", "recall"])
def test_a_blocked_lot_is_not_quarantined_again_and_nothing_is_half_done(db, stocked, blocked_by):
    if blocked_by == "quarantine":
        _quarantine(db, stocked, stocked.late)
        expected = "quarantined already"
    else:
        with db.transaction() as session:
            recall_lots(session, session.get(Item, stocked.strips.id), _lots(session, stocked.late))
        expected = "is recalled"
    with pytest.raises(LotNotReleased, match=expected) as refused:
        _quarantine(db, stocked, stocked.early, stocked.late)
    assert refused.value.field == "lots"
    with db.session() as session:  # the early lot, named first, was not stopped either
        assert session.get(Lot, stocked.early.id).status == LotStatus.released


def test_a_lot_of_another_item_or_no_lot_is_refused(db, stocked):
    with pytest.raises(InvalidMovement, match="belongs to another item"):
        _quarantine(db, stocked, stocked.ecg_lot)
    with pytest.raises(InvalidMovement, match="at least one lot"):
        _quarantine(db, stocked)
    with db.session() as session:
        assert session.get(Lot, stocked.ecg_lot.id).status == LotStatus.released
