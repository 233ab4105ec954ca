"""FEFO allocation and reservations: reserve, release, consume — exactly what was held."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.kernel import (
    InsufficientStock,
    InvalidMovement,
    LocationLocked,
    LotBlocked,
    LotExpired,
    ReservationNotFound,
    allocate,
    consume,
    open_stock_lock,
    queries,
    release,
    reserve,
)
from app.kernel.allocation import Rules, plan
from app.kernel.items import Lot, LotStatus, TrackingMode, add_item, get_or_create_lot
from app.kernel.reservations import ReservationElsewhere, free_lots, reservations_of
from tests.kernel.conftest import BEFORE_EXPIRY, TODAY, assert_balances_match_ledger, receive, sell


@pytest.fixture
def stocked(db, world):
    receive(db, world.strips, 5, world.s1, world.late)
    receive(db, world.strips, 3, world.s1, world.early)
    receive(db, world.strips, 4, world.s1, world.old, today=BEFORE_EXPIRY)
    return world


def picks(result):
    return [(lot.lot_number if lot else None, qty) for lot, qty in result]


def test_fefo_takes_earliest_expiry_first_and_skips_expired(db, stocked):
    with db.session() as session:
        result = allocate(session, stocked.strips, 6, stocked.s1, today=TODAY)
    assert picks(result) == [("L-EARLY", Decimal(3)), ("L-LATE", Decimal(3))]


def test_free_lots_lists_what_may_be_promised_less_what_is_held(db, stocked):
    with db.transaction() as session:
        reserve(session, "SO-1", 1, stocked.strips, 2, stocked.s1, lot=stocked.late, today=TODAY)
    with db.session() as session:
        free = free_lots(session, stocked.strips, stocked.s1, today=TODAY)
    assert picks(free) == [("L-EARLY", Decimal(3)), ("L-LATE", Decimal(3))]  # L-OLD expired


def test_fefo_skips_lots_too_close_to_expiry_and_blocked_lots(db, stocked):
    with db.session() as session:
        result = allocate(
            session, stocked.strips, 2, stocked.s1, min_remaining_shelf_life=60, today=TODAY
        )
    assert picks(result) == [("L-LATE", Decimal(2))]
    with db.transaction() as session:
        session.get(Lot, stocked.late.id).status = LotStatus.quarantined
    with db.session() as session:
        assert picks(allocate(session, stocked.strips, 3, stocked.s1, today=TODAY)) == [
            ("L-EARLY", Decimal(3))
        ]
        with pytest.raises(InsufficientStock) as caught:
            allocate(session, stocked.strips, 4, stocked.s1, today=TODAY)
    assert (caught.value.requested, caught.value.available) == (Decimal(4), Decimal(3))


def test_reserve_holds_stock_from_everyone_else(db, stocked):
    with db.transaction() as session:
        held = reserve(session, "SO-9", 1, stocked.strips, 4, stocked.s1, today=TODAY)
    assert sorted(r.quantity for r in held) == [Decimal(1), Decimal(3)]
    with db.session() as session:
        assert queries.available_quantity(session, stocked.s1, stocked.strips) == Decimal(8)
        assert queries.on_hand(session, stocked.s1, stocked.strips) == Decimal(12)
    with pytest.raises(InsufficientStock):
        sell(db, stocked.strips, 1, stocked.s1, stocked.early)
    sell(db, stocked.strips, 4, stocked.s1, stocked.late)
    with pytest.raises(InsufficientStock), db.transaction() as session:
        reserve(session, "SO-10", 1, stocked.strips, 1, stocked.s1, today=TODAY)


def test_release_gives_back_exactly_what_was_held(db, stocked):
    with db.transaction() as session:
        reserve(session, "SO-9", 1, stocked.strips, 2, stocked.s1, today=TODAY)
        reserve(session, "SO-9", 2, stocked.strips, 1, stocked.s1, lot=stocked.late, today=TODAY)
    with db.transaction() as session:
        release(session, "SO-9", 1)
        assert [r.line for r in reservations_of(session, "SO-9")] == [2]
    with db.session() as session:
        assert queries.available_quantity(session, stocked.s1, stocked.strips) == Decimal(11)
    with pytest.raises(ReservationNotFound) as caught, db.transaction() as session:
        release(session, "SO-9", 1)
    assert caught.value.field == "document"


def test_consume_sells_the_reserved_lots_and_frees_the_reservation(db, stocked):
    with db.transaction() as session:
        reserve(session, "SO-9", 1, stocked.strips, 4, stocked.s1, today=TODAY)
    with db.transaction() as session:
        entries = consume(session, "SO-9", 1, user=stocked.clerk, today=TODAY)
        assert sorted(entry.quantity for entry in entries) == [Decimal(-3), Decimal(-1)]
        assert reservations_of(session, "SO-9") == []
    with db.session() as session:
        assert queries.on_hand(session, stocked.s1, stocked.strips) == Decimal(8)
        assert queries.available_quantity(session, stocked.s1, stocked.strips) == Decimal(8)
        assert_balances_match_ledger(session)


def test_reserving_a_given_lot_checks_it(db, stocked):
    with pytest.raises(LotExpired), db.transaction() as session:
        reserve(session, "SO-1", 1, stocked.strips, 1, stocked.s1, lot=stocked.old, today=TODAY)
    with db.transaction() as session:
        session.get(Lot, stocked.late.id).status = LotStatus.recalled
    with pytest.raises(LotBlocked), db.transaction() as session:
        reserve(session, "SO-1", 1, stocked.strips, 1, stocked.s1, lot=stocked.late, today=TODAY)
    with pytest.raises(InvalidMovement), db.transaction() as session:
        reserve(session, "SO-1", 1, stocked.strips, 0, stocked.s1, today=TODAY)
    with db.transaction() as session:
        open_stock_lock(session, stocked.s1, stocked.clerk)
    with pytest.raises(LocationLocked), db.transaction() as session:
        reserve(session, "SO-1", 1, stocked.strips, 1, stocked.s1, today=TODAY)


def test_untracked_items_reserve_without_a_lot(db, world):
    receive(db, world.gloves, 10, world.s1)
    with db.transaction() as session:
        [held] = reserve(session, "SO-2", 1, world.gloves, 4, world.s1, today=TODAY)
        assert held.lot_id is None
    with db.transaction() as session:
        consume(session, "SO-2", 1, today=TODAY)
    with db.session() as session:
        assert queries.on_hand(session, world.s1, world.gloves) == Decimal(6)


def test_releasing_a_document_frees_every_line_even_on_the_same_lot(db, stocked):
    with db.transaction() as session:
        reserve(session, "SO-7", 1, stocked.strips, 2, stocked.s1, lot=stocked.late, today=TODAY)
        reserve(session, "SO-7", 2, stocked.strips, 1, stocked.s1, lot=stocked.late, today=TODAY)
    with db.transaction() as session:
        freed = release(session, "SO-7")
    assert sorted(r.quantity for r in freed) == [Decimal(1), Decimal(2)]
    with db.session() as session:
        assert queries.available_quantity(session, stocked.s1, stocked.strips, stocked.late) == 5
        assert reservations_of(session, "SO-7") == []


def test_consuming_a_whole_document_is_one_posting(db, stocked):
    with db.transaction() as session:
        reserve(session, "SO-8", 1, stocked.strips, 2, stocked.s1, lot=stocked.late, today=TODAY)
        reserve(session, "SO-8", 2, stocked.strips, 1, stocked.s1, lot=stocked.early, today=TODAY)
    with db.transaction() as session:
        entries = consume(session, "SO-8", today=TODAY)
    assert sorted((entry.document_line, entry.quantity) for entry in entries) == [
        (1, Decimal(-2)), (2, Decimal(-1))
    ]  # fmt: skip


def test_reserving_a_lot_of_another_item_is_refused(db, stocked):
    with pytest.raises(InvalidMovement) as caught, db.transaction() as session:
        reserve(session, "SO-1", 1, stocked.gloves, 1, stocked.s1, lot=stocked.late, today=TODAY)
    assert caught.value.field == "lot"


def test_a_line_holds_a_lot_at_one_location_only(db, stocked):
    """The same document line and lot reserved at a second location is refused: merged into the
    first row, its release would give back the wrong location's stock (and fail its check)."""
    receive(db, stocked.strips, 5, stocked.s2, stocked.late)
    with db.transaction() as session:
        reserve(session, "SO-9", 1, stocked.strips, 2, stocked.s1, lot=stocked.late, today=TODAY)
    with db.transaction() as session, pytest.raises(ReservationElsewhere) as caught:
        reserve(session, "SO-9", 1, stocked.strips, 3, stocked.s2, lot=stocked.late, today=TODAY)
    assert caught.value.field == "location" and "SO-9 line 1" in str(caught.value)
    with db.transaction() as session:
        released = release(session, "SO-9")
        assert [(row.location_id, row.quantity) for row in released] == [(stocked.s1.id, 2)]
        assert_balances_match_ledger(session)
        assert all(row.reserved == 0 for row in queries.item_stock(session, stocked.strips))


def test_lots_without_expiry_or_expiring_together_go_first_received_first_out(db, world):
    """FEFO falls back to FIFO: of lots without an expiry date, or expiring on the same day, the
    lot received first goes first (a lot is made when it is first received), whatever its
    number says — a number often carries the production date, not the day it arrived."""
    with db.transaction() as session:
        brace = add_item(session, "BRACE", "护膝", tracking=TrackingMode.lot, expiry_required=False)
    expiry = TODAY + dt.timedelta(days=200)
    for number, item, expires in (
        ("26090128", brace, None),
        ("26080566", brace, None),
        ("L-2", world.strips, expiry),
        ("L-1", world.strips, expiry),
    ):
        with db.transaction() as session:  # received one after the other, in this order
            lot = get_or_create_lot(session, item, number, expires)
        receive(db, item, 2, world.s1, lot)
    with db.session() as session:
        for item, first in ((brace, "26090128"), (world.strips, "L-2")):
            allocated = allocate(session, item, 3, world.s1, today=TODAY)
            assert (allocated[0][0].lot_number, allocated[0][1]) == (first, Decimal(2))
            planned = plan(session, item, 3, world.s1, Rules(), TODAY).picks
            assert (planned[0].lot.lot_number, planned[0].quantity) == (first, Decimal(2))
