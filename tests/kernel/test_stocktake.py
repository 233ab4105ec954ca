"""Stocktake at the kernel: lock + snapshot at opening, count entries, variance, approve, abort."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.kernel import (
    CountEntry,
    CountInReview,
    InvalidMovement,
    Item,
    Location,
    LocationAlreadyLocked,
    LocationInactive,
    LocationLocked,
    Lot,
    NotAStockLocation,
    Reason,
    StockLock,
    StockStatus,
    StocktakeError,
    StocktakeState,
    Unit,
    UnitStatus,
    User,
    abort_stocktake,
    add_count,
    add_location,
    approve_stocktake,
    audit,
    get_or_create_lot,
    get_or_create_unit,
    open_stocktake,
    queries,
    resume_counting,
    stocktake_of,
    submit_stocktake,
    variance,
)
from app.kernel.errors import (
    CountShortageReserved,
    TransitNotCounted,
    UnitBookedElsewhere,
    UnitCountedTwice,
    UnitNotCounted,
)
from app.kernel.reservations import release, reserve
from app.kernel.stock import LedgerEntry
from app.kernel.stocktake import CountBelowZero, StocktakeSnapshot, UnitOfAnotherLot
from tests.kernel.conftest import assert_balances_match_ledger, receive, sell


def _open(db, world, document="ST-1", **kwargs):
    with db.transaction() as session:
        return open_stocktake(session, document, world.s1, world.clerk, **kwargs).id


def _count(db, document, item, quantity, **kwargs):
    with db.transaction() as session:
        add_count(session, stocktake_of(session, document), item, Decimal(quantity), **kwargs)


def _ledger_count(session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEntry))


def test_opening_locks_the_location_and_snapshots_its_balances(db, world):
    receive(db, world.strips, 10, world.s1, world.late)
    receive(db, world.strips, 4, world.s1, world.early)
    receive(db, world.gloves, 7, world.s1)
    receive(db, world.gloves, 3, world.s2)
    _open(db, world)
    with db.session() as session:
        snapshot = {
            (row.item_id, row.lot_id, row.status): row.quantity
            for row in session.scalars(select(StocktakeSnapshot))
        }
    assert snapshot == {
        (world.strips.id, world.late.id, "available"): Decimal(10),
        (world.strips.id, world.early.id, "available"): Decimal(4),
        (world.gloves.id, None, "available"): Decimal(7),
    }
    with pytest.raises(LocationLocked) as caught:
        sell(db, world.gloves, 1, world.s1)
    assert "being counted since" in str(caught.value) and "店员 刘洋" in str(caught.value)
    sell(db, world.gloves, 1, world.s2)  # the other store carries on
    with pytest.raises(LocationAlreadyLocked), db.transaction() as session:
        open_stocktake(session, "ST-2", world.s1, world.clerk)


def test_only_an_open_stock_location_is_counted(db, world):
    with pytest.raises(LocationInactive) as caught, db.transaction() as session:
        open_stocktake(session, "ST-1", world.closed, world.clerk)
    assert "S9" in str(caught.value)
    with pytest.raises(NotAStockLocation), db.transaction() as session:
        open_stocktake(session, "ST-1", world.east, world.clerk)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(StockLock)) == 0


def test_a_partial_count_snapshots_and_counts_only_its_items(db, world):
    receive(db, world.strips, 10, world.s1, world.late)
    receive(db, world.gloves, 7, world.s1)
    _open(db, world, items=[world.gloves])
    with db.session() as session:
        assert [row.item_id for row in session.scalars(select(StocktakeSnapshot))] == [
            world.gloves.id
        ]
    with pytest.raises(InvalidMovement) as caught:
        _count(db, "ST-1", world.strips, 1, lot=world.late)
    assert caught.value.field == "item" and "STRIP" in str(caught.value)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CountEntry)) == 0


def test_variance_is_counted_minus_snapshot_and_approval_posts_it(db, world):
    receive(db, world.strips, 10, world.s1, world.late)
    receive(db, world.strips, 4, world.s1, world.early)
    receive(db, world.gloves, 7, world.s1)
    _open(db, world)
    _count(db, "ST-1", world.strips, 6, lot=world.late, user=world.clerk)
    _count(db, "ST-1", world.strips, 6, lot=world.late)  # a second counter, same lot
    _count(db, "ST-1", world.strips, 1, lot=world.early)
    _count(db, "ST-1", world.gloves, 8)
    _count(db, "ST-1", world.gloves, -1)  # a mistaken scan taken back
    with db.session() as session:
        lines = {
            (line.item_id, line.lot_id): line
            for line in variance(session, stocktake_of(session, "ST-1"))
        }
    assert lines[(world.strips.id, world.late.id)].variance == 2
    assert lines[(world.strips.id, world.early.id)].variance == -3
    assert lines[(world.gloves.id, None)].variance == 0
    with db.transaction() as session:
        entries = approve_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)
    assert sorted((e.reason, e.quantity) for e in entries) == [
        (str(Reason.count_shortage), Decimal(-3)),
        (str(Reason.count_surplus), Decimal(2)),
    ]
    assert {e.document for e in entries} == {"ST-1"}
    with db.session() as session:
        stocktake = stocktake_of(session, "ST-1")
        assert stocktake.state == StocktakeState.posted and stocktake.closed_at is not None
        assert session.scalar(select(func.count()).select_from(StockLock)) == 0
        assert [e.action for e in audit.history(session, "stocktake", "ST-1")] == [
            "open", "approve",
        ]  # fmt: skip
        assert_balances_match_ledger(session)
    sell(db, world.strips, 12, world.s1, world.late)  # the lock is gone; the books say 12
    with pytest.raises(StocktakeError) as caught:
        _count(db, "ST-1", world.gloves, 1)
    assert "posted" in str(caught.value)


def test_a_serial_count_posts_the_missing_and_the_found_units(db, world):
    first, second, third = world.units
    receive(db, world.ecg, 1, world.s1, unit=first)
    receive(db, world.ecg, 1, world.s1, unit=second)
    _open(db, world)
    _count(db, "ST-1", world.ecg, 1, unit=first)
    _count(db, "ST-1", world.ecg, 1, unit=third)  # on no books: found in the store
    with pytest.raises(InvalidMovement) as caught:
        _count(db, "ST-1", world.ecg, 1)
    assert caught.value.field == "serial"
    with db.transaction() as session:
        approve_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)
    with db.session() as session:
        from app.kernel import Unit

        status = {unit.serial: unit.status for unit in session.scalars(select(Unit))}
    assert status["SN1"] == UnitStatus.in_stock and status["SN3"] == UnitStatus.in_stock
    assert status["SN2"] != UnitStatus.in_stock


def test_a_take_back_below_zero_is_refused_when_it_is_counted(db, world):
    """A negative count takes back what was counted of that item, lot and status, no more."""
    receive(db, world.gloves, 7, world.s1)
    _open(db, world)
    _count(db, "ST-1", world.gloves, 2)
    with pytest.raises(CountBelowZero) as caught:
        _count(db, "ST-1", world.gloves, "-2.5")
    assert caught.value.field == "quantity"
    assert str(caught.value) == (
        "GLOVE is counted 2 as available so far: taking back 2.5 would leave it below zero (-0.5)."
    )
    with pytest.raises(CountBelowZero):
        _count(db, "ST-1", world.gloves, -1, status=StockStatus.nonconforming)
    _count(db, "ST-1", world.gloves, -2)  # all of it: counted 0
    with db.session() as session:
        assert [line.counted for line in variance(session, stocktake_of(session, "ST-1"))] == [0]


def test_a_count_below_zero_is_refused_and_nothing_is_posted(db, world):
    """(A count recorded below zero before the count sheets checked take-backs.)"""
    receive(db, world.gloves, 7, world.s1)
    stocktake_id = _open(db, world)
    with db.transaction() as session:
        session.add(CountEntry(stocktake_id=stocktake_id, item_id=world.gloves.id,
                               status="available", quantity=Decimal(-1)))  # fmt: skip
    with db.session() as session:
        before = _ledger_count(session)
    with pytest.raises(InvalidMovement) as caught, db.transaction() as session:
        approve_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)
    assert caught.value.field == "quantity"
    assert str(caught.value) == "Item GLOVE is counted below zero (-1): fix the count."
    with db.session() as session:
        assert _ledger_count(session) == before
        assert stocktake_of(session, "ST-1").state == StocktakeState.counting
        assert session.scalar(select(func.count()).select_from(StockLock)) == 1


def test_abort_releases_the_lock_posts_nothing_and_is_audited(db, world):
    receive(db, world.gloves, 7, world.s1)
    _open(db, world)
    _count(db, "ST-1", world.gloves, 2)
    with pytest.raises(InvalidMovement) as caught, db.transaction() as session:
        abort_stocktake(session, stocktake_of(session, "ST-1"), world.clerk, reason=" ")
    assert caught.value.field == "reason"
    with db.session() as session:
        before = _ledger_count(session)
    with db.transaction() as session:
        abort_stocktake(session, stocktake_of(session, "ST-1"), world.clerk, reason="wrong day")
    with db.session() as session:
        assert _ledger_count(session) == before
        assert stocktake_of(session, "ST-1").state == StocktakeState.aborted
        entry = audit.history(session, "stocktake", "ST-1")[-1]
        assert (entry.action, entry.reason) == ("abort", "wrong day")
    sell(db, world.gloves, 7, world.s1)
    with pytest.raises(StocktakeError), db.transaction() as session:
        approve_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)


def test_the_count_lock_lets_through_only_its_own_postings(db, world):
    """``own_lock`` names one lock; a posting naming another lock is still refused."""
    from app.kernel import Movement, post_movements

    receive(db, world.gloves, 7, world.s1)
    receive(db, world.gloves, 7, world.s2)
    _open(db, world)
    with db.transaction() as session:
        open_stocktake(session, "ST-2", world.s2, world.clerk)
    with db.session() as session:
        lock_s2 = session.scalar(select(StockLock.id).where(StockLock.location_id == world.s2.id))
    with pytest.raises(LocationLocked), db.transaction() as session:
        post_movements(
            session,
            [Movement(item=world.gloves, quantity=Decimal(1), source=world.s1)],
            reason=Reason.count_shortage, own_lock=lock_s2,
        )  # fmt: skip


def test_a_count_in_review_takes_no_sheets_until_it_returns_to_counting(db, world):
    receive(db, world.gloves, 7, world.s1)
    _open(db, world)
    _count(db, "ST-1", world.gloves, 5)
    with db.transaction() as session:
        submit_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)
    with db.session() as session:
        before = session.scalar(select(func.count()).select_from(CountEntry))
        assert stocktake_of(session, "ST-1").state == StocktakeState.review
    with pytest.raises(CountInReview) as caught:
        _count(db, "ST-1", world.gloves, 2)
    message = str(caught.value)  # what, since when, who, and what to ask for
    assert "ST-1" in message and "S1" in message and "店员 刘洋" in message
    assert "return it to counting" in message and caught.value.since in message
    assert caught.value.field == "stocktake"
    with pytest.raises(CountInReview), db.transaction() as session:  # nor submitted twice
        submit_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CountEntry)) == before

    with db.transaction() as session:  # the reviewer sends it back: counting goes on
        resume_counting(session, stocktake_of(session, "ST-1"), world.clerk, reason="recount")
    _count(db, "ST-1", world.gloves, 2)
    with db.transaction() as session:
        submit_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)
        approve_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)  # from review
        assert stocktake_of(session, "ST-1").state == StocktakeState.posted
        actions = [entry.action for entry in audit.history(session, "stocktake", "ST-1")]
        assert actions == ["open", "submit", "resume", "submit", "approve"]
    with pytest.raises(StocktakeError) as caught, db.transaction() as session:
        resume_counting(session, stocktake_of(session, "ST-1"), world.clerk)
    assert "posted" in str(caught.value)


def _approve(db, document="ST-1"):
    with db.transaction() as session:
        return approve_stocktake(session, stocktake_of(session, document), world_clerk(session))


def world_clerk(session):
    return session.scalar(select(User).where(User.username == "clerk"))


def _on_hand(db, location, item, lot, status):
    with db.session() as session:
        return queries.on_hand(session, location, item, lot, status)


@pytest.mark.parametrize(
    ("booked", "counted"),
    [(StockStatus.available, StockStatus.nonconforming),
     (StockStatus.nonconforming, StockStatus.available)],
)  # fmt: skip
def test_a_unit_counted_under_another_status_moves_to_it_and_stays(db, world, booked, counted):
    first, second = world.units[:2]
    receive(db, world.ecg, 1, world.s1, unit=first, status=booked)
    receive(db, world.ecg, 1, world.s1, unit=second, status=booked)
    _open(db, world)
    _count(db, "ST-1", world.ecg, 1, unit=first, status=counted)
    _count(db, "ST-1", world.ecg, 1, unit=second, status=booked)
    entries = _approve(db)
    assert sorted((str(e.status), e.quantity, e.reason) for e in entries) == sorted(
        [(str(booked), -1, Reason.count_shortage), (str(counted), 1, Reason.count_surplus)]
    )
    assert _on_hand(db, world.s1, world.ecg, world.ecg_lot, booked) == 1
    assert _on_hand(db, world.s1, world.ecg, world.ecg_lot, counted) == 1
    with db.session() as session:
        unit = session.get(Unit, first.id)
        assert (unit.location_id, unit.status) == (world.s1.id, UnitStatus.in_stock)
        assert_balances_match_ledger(session)


def test_a_unit_counts_once_and_a_take_back_lets_it_be_counted_again(db, world):
    unit = world.units[0]
    receive(db, world.ecg, 1, world.s1, unit=unit)
    _open(db, world)
    _count(db, "ST-1", world.ecg, 1, unit=unit)
    for status in (StockStatus.available, StockStatus.nonconforming):
        with pytest.raises(UnitCountedTwice) as caught:
            _count(db, "ST-1", world.ecg, 1, unit=unit, status=status)
        assert caught.value.field == "serial" and "SN1" in str(caught.value)
    with pytest.raises(UnitNotCounted):
        _count(db, "ST-1", world.ecg, -1, unit=unit, status=StockStatus.nonconforming)
    _count(db, "ST-1", world.ecg, -1, unit=unit)
    _count(db, "ST-1", world.ecg, 1, unit=unit, status=StockStatus.nonconforming)
    with db.session() as session:
        counted = {
            line.status: line.counted for line in variance(session, stocktake_of(session, "ST-1"))
        }
    assert counted == {"available": 0, "nonconforming": 1}


def test_a_unit_is_counted_under_its_own_lot_only(db, world):
    """A serial unit counted under another lot of the item would show in the variance under that
    lot (balancing it in quantity) and be refused only by the approval's posting, naming no line:
    the count refuses it, naming the serial and both lots, and writes nothing."""
    unit = world.units[0]  # SN1, of lot E-2026
    with db.transaction() as session:
        ecg = session.get(Item, world.ecg.id)
        other = get_or_create_lot(session, ecg, "E-2027", None)
        other_unit = get_or_create_unit(session, ecg, "SN7", other)
    receive(db, world.ecg, 1, world.s1, unit=unit)
    receive(db, world.ecg, 1, world.s1, unit=other_unit)
    _open(db, world)
    _count(db, "ST-1", world.ecg, 1, lot=other, unit=other_unit)
    for quantity in (1, -1):  # nor taken back under it
        with pytest.raises(UnitOfAnotherLot) as caught:
            _count(db, "ST-1", world.ecg, quantity, lot=other, unit=unit)
        assert caught.value.field == "lot"
        assert str(caught.value) == (
            "Serial number SN1 belongs to lot E-2026, not to lot E-2027: count it under lot "
            "E-2026, or leave the lot empty."
        )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CountEntry)) == 1
    _count(db, "ST-1", world.ecg, 1, lot=world.ecg_lot, unit=unit)  # its own lot: counted
    assert _approve(db) == []


def test_a_unit_on_the_books_elsewhere_is_refused_naming_where(db, world):
    unit = world.units[0]
    receive(db, world.ecg, 1, world.s2, unit=unit)
    _open(db, world)
    with pytest.raises(UnitBookedElsewhere) as caught:
        _count(db, "ST-1", world.ecg, 1, unit=unit)
    assert caught.value.field == "serial"
    assert "SN1" in str(caught.value) and "S2" in str(caught.value) and "S1" in str(caught.value)


def test_a_transit_location_is_not_counted(db, world):
    with db.transaction() as session:
        transit = add_location(
            session, "TR-WH-S1", "在途", "transit", session.get(Location, world.east.id)
        )
    with pytest.raises(TransitNotCounted) as caught, db.transaction() as session:
        open_stocktake(session, "ST-1", session.get(Location, transit.id), world.clerk)
    assert caught.value.field == "location" and "TR-WH-S1" in str(caught.value)


@pytest.mark.parametrize("quantity", ["0.00001", "2.00001"])
def test_a_count_finer_than_the_ledger_is_refused(db, world, quantity):
    _open(db, world)
    with pytest.raises(InvalidMovement) as caught:
        _count(db, "ST-1", world.gloves, quantity)
    assert caught.value.field == "quantity" and "4" in str(caught.value)
    _count(db, "ST-1", world.gloves, "2.50000")


def test_a_shortage_of_reserved_stock_names_the_orders_holding_it(db, world):
    receive(db, world.strips, 6, world.s1, world.late)
    with db.transaction() as session:
        strips, s1 = session.get(Item, world.strips.id), session.get(Location, world.s1.id)
        reserve(session, "SO-9", 1, strips, 2, s1, lot=session.get(Lot, world.late.id))
    _open(db, world)
    _count(db, "ST-1", world.strips, 4, lot=world.late)  # 2 short: the 2 reserved still fit
    _count(db, "ST-1", world.strips, -3, lot=world.late)  # 5 short: they no longer do
    with pytest.raises(CountShortageReserved) as caught:
        _approve(db)
    message = str(caught.value)
    assert "SO-9" in message and "L-LATE" in message and "reserved" in message
    with db.session() as session:
        assert stocktake_of(session, "ST-1").state == StocktakeState.counting
    with db.transaction() as session:
        release(session, "SO-9")
    _approve(db)
    assert _on_hand(db, world.s1, world.strips, world.late, StockStatus.available) == 1
