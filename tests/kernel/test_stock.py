"""post_movements: every rule, every typed error, and nothing half-written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.kernel import (
    InsufficientStock,
    InvalidMovement,
    KernelError,
    Location,
    LocationInactive,
    LocationLocked,
    LotBlocked,
    LotExpired,
    LotStatus,
    Movement,
    NotAStockLocation,
    NotTracked,
    Reason,
    StockNotAvailable,
    StockStatus,
    TrackingRequired,
    Unit,
    UnitAlreadyInStock,
    UnitNotHere,
    UnitStatus,
    add_location,
    audit,
    close_stock_lock,
    correct_entry,
    open_stock_lock,
    post_movements,
    queries,
)
from app.kernel.audit import AuditChainHead, AuditEntry
from app.kernel.errors import NotWholeUnits, UnitNotReceivable, UnitTwiceInDocument
from app.kernel.items import Item, Lot
from app.kernel.reservations import reservations_of, reserve
from app.kernel.stock import LedgerEntry, StockBalance
from tests.kernel.conftest import BEFORE_EXPIRY, TODAY, assert_balances_match_ledger, receive, sell


def on_hand(db, location, item, lot=None, status=StockStatus.available):
    with db.session() as session:
        return queries.on_hand(session, location, item, lot, status)


def test_receipt_then_sale_updates_balance_ledger_and_audit(db, world):
    receive(db, world.strips, 10, world.s1, world.early, user=world.clerk)
    sell(db, world.strips, 3, world.s1, world.early)
    assert on_hand(db, world.s1, world.strips, world.early) == Decimal(7)
    with db.session() as session:
        card = queries.stock_card(session, lot=world.early)
        assert [(row.quantity, row.reason) for row in card] == [
            (Decimal(10), "purchase_receipt"), (Decimal(-3), "sale")
        ]  # fmt: skip
        assert card[0].user_id == world.clerk.id
        assert card[0].unit_cost == Decimal("1.5000")
        assert card[0].document == "PR-1"
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.chain == f"location:{world.s1.id}")
        ).all()
        assert [entry.action for entry in entries] == ["stock.posted", "stock.posted"]
        assert entries[0].username == "clerk"
        assert audit.verify(session) == []
        assert_balances_match_ledger(session)


def test_document_movements_are_one_documents_rows_in_posting_order(db, world):
    receive(db, world.strips, 10, world.s1, world.early)
    sell(db, world.strips, 3, world.s1, world.early)
    with db.session() as session:
        rows = queries.document_movements(session, "SO-1")
        assert [(entry.quantity, where.code, item.code, lot.lot_number, unit)
                for entry, where, item, lot, unit in rows] == [
            (Decimal(-3), "S1", "STRIP", "L-EARLY", None)]  # fmt: skip
        assert queries.document_movements(session, "NOPE") == []


def test_insufficient_stock_names_item_lot_location_and_quantities(db, world):
    receive(db, world.strips, 2, world.s1, world.early)
    with pytest.raises(InsufficientStock) as caught:
        sell(db, world.strips, 5, world.s1, world.early)
    error = caught.value
    assert (error.requested, error.available, error.field) == (Decimal(5), Decimal(2), "quantity")
    assert "STRIP" in str(error) and "L-EARLY" in str(error) and "S1" in str(error)
    assert on_hand(db, world.s1, world.strips, world.early) == Decimal(2)


def test_a_failing_line_writes_nothing_of_the_posting(db, world):
    receive(db, world.strips, 2, world.s1, world.early)
    receive(db, world.gloves, 5, world.s1)
    with pytest.raises(InsufficientStock), db.transaction() as session:
        post_movements(
            session,
            [
                Movement(item=world.gloves, quantity=Decimal(1), source=world.s1),
                Movement(item=world.strips, quantity=Decimal(3), source=world.s1, lot=world.early),
            ],
            reason=Reason.sale, today=TODAY,
        )  # fmt: skip
    assert on_hand(db, world.s1, world.gloves) == Decimal(5)
    with db.session() as session:
        assert len(queries.stock_card(session, item=world.gloves)) == 1


def test_lines_of_one_posting_add_up_before_the_check(db, world):
    receive(db, world.gloves, 3, world.s1)
    with pytest.raises(InsufficientStock), db.transaction() as session:
        post_movements(
            session,
            [Movement(item=world.gloves, quantity=Decimal(2), source=world.s1)] * 2,
            reason=Reason.sale, today=TODAY,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("item_name", "lot_name", "field"),
    [("strips", None, "lot"), ("ecg", None, "serial")],
)
def test_tracked_items_need_their_lot_or_serial(db, world, item_name, lot_name, field):
    with pytest.raises(TrackingRequired) as caught:
        receive(db, getattr(world, item_name), 1, world.s1)
    assert caught.value.field == field


def test_untracked_item_refuses_a_lot(db, world):
    with pytest.raises(NotTracked) as caught:
        receive(db, world.gloves, 1, world.s1, world.early)
    assert caught.value.field == "lot"


def test_lot_of_another_item_is_refused(db, world):
    with pytest.raises(InvalidMovement) as caught:
        receive(db, world.ecg, 1, world.s1, world.early, unit=world.units[0])
    assert caught.value.field in ("lot", "serial")


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_quantity_must_be_positive(db, world, quantity):
    with pytest.raises(InvalidMovement) as caught:
        receive(db, world.gloves, quantity, world.s1)
    assert caught.value.field == "quantity"


def test_a_fraction_of_an_item_counted_in_whole_units_is_refused_and_nothing_is_written(db, world):
    receive(db, world.strips, 5, world.s1, world.early)
    with pytest.raises(NotWholeUnits, match=r"STRIP is counted in whole units \(EA\): 0\.5 is not"):
        sell(db, world.strips, "0.5", world.s1, world.early)
    with pytest.raises(NotWholeUnits) as caught, db.transaction() as session:
        reserve(session, "SO-1", 1, world.strips, "1.5", world.s1, today=TODAY)
    assert caught.value.field == "quantity"
    with db.session() as session:
        assert session.scalar(select(LedgerEntry.id).where(LedgerEntry.reason == "sale")) is None
        assert reservations_of(session, "SO-1") == []


def test_an_item_measured_not_counted_takes_fractions(db, world):
    with db.transaction() as session:
        session.get(Item, world.gloves.id).whole_units = False
    world.gloves.whole_units = False
    receive(db, world.gloves, "2.5", world.s1)
    sell(db, world.gloves, "0.75", world.s1)
    with db.session() as session:
        assert_balances_match_ledger(session)
        on_hand = session.scalar(select(StockBalance.on_hand).where(
            StockBalance.item_id == world.gloves.id))  # fmt: skip
        assert on_hand == Decimal("1.75")


def test_movement_needs_a_reason(db, world):
    with pytest.raises(InvalidMovement) as caught, db.transaction() as session:
        post_movements(session, [Movement(item=world.gloves, quantity=1, destination=world.s1)])
    assert caught.value.field == "reason"


@pytest.mark.parametrize("status", [LotStatus.recalled, LotStatus.quarantined])
def test_blocked_lot_cannot_leave_but_can_be_scrapped(db, world, status):
    receive(db, world.strips, 5, world.s1, world.late)
    with db.transaction() as session:
        session.get(Lot, world.late.id).status = status
    with pytest.raises(LotBlocked) as caught:
        sell(db, world.strips, 1, world.s1, world.late)
    assert caught.value.field == "lot"
    assert str(status) in str(caught.value)
    with db.transaction() as session:
        post_movements(
            session,
            [Movement(item=world.strips, quantity=1, source=world.s1, lot=world.late)],
            reason=Reason.supplier_return, today=TODAY,
        )  # fmt: skip
    assert on_hand(db, world.s1, world.strips, world.late) == Decimal(4)


def test_expired_lot_cannot_be_sold(db, world):
    receive(db, world.strips, 5, world.s1, world.old, today=BEFORE_EXPIRY)
    with pytest.raises(LotExpired) as caught:
        sell(db, world.strips, 1, world.s1, world.old)
    assert caught.value.field == "lot"
    assert (TODAY - dt.timedelta(days=1)).isoformat() in str(caught.value)
    # the day it expires it is still good
    sell(db, world.strips, 1, world.s1, world.old, today=TODAY - dt.timedelta(days=1))


def test_locked_location_refuses_movements_and_says_who_counts(db, world):
    receive(db, world.gloves, 5, world.s1)
    with db.transaction() as session:
        open_stock_lock(session, world.s1, world.clerk, reason="year-end count")
    with pytest.raises(LocationLocked) as caught:
        sell(db, world.gloves, 1, world.s1)
    message = str(caught.value)
    assert "S1" in message and "店员 刘洋" in message and "counted since" in message
    assert caught.value.field == "location"
    with pytest.raises(LocationLocked):
        receive(db, world.gloves, 1, world.s1)
    receive(db, world.gloves, 1, world.s2)  # other locations carry on
    with db.transaction() as session:
        close_stock_lock(session, world.s1)
    sell(db, world.gloves, 1, world.s1)


def test_closed_location_and_non_stock_location_are_refused(db, world):
    with pytest.raises(LocationInactive) as caught:
        receive(db, world.gloves, 1, world.closed)
    assert caught.value.field == "destination"
    with pytest.raises(NotAStockLocation) as caught:
        receive(db, world.gloves, 1, world.east)
    assert caught.value.field == "destination"


def test_only_available_stock_is_sold(db, world):
    receive(db, world.gloves, 5, world.s1, status=StockStatus.awaiting_inspection)
    with pytest.raises(StockNotAvailable) as caught, db.transaction() as session:
        post_movements(
            session,
            [Movement(item=world.gloves, quantity=1, source=world.s1,
                      source_status=StockStatus.awaiting_inspection)],
            reason=Reason.sale, today=TODAY,
        )  # fmt: skip
    assert caught.value.field == "status"
    # inspection passes it: a status change in place is allowed
    with db.transaction() as session:
        post_movements(
            session,
            [Movement(item=world.gloves, quantity=4, source=world.s1, destination=world.s1,
                      source_status=StockStatus.awaiting_inspection,
                      destination_status=StockStatus.available),
             Movement(item=world.gloves, quantity=1, source=world.s1, destination=world.s1,
                      source_status=StockStatus.awaiting_inspection,
                      destination_status=StockStatus.nonconforming)],
            reason=Reason.inspection, today=TODAY,
        )  # fmt: skip
    assert on_hand(db, world.s1, world.gloves) == Decimal(4)
    assert on_hand(db, world.s1, world.gloves, status=StockStatus.nonconforming) == Decimal(1)


def test_in_transit_status_only_at_a_transit_location(db, world):
    with pytest.raises(InvalidMovement) as caught:
        receive(db, world.gloves, 1, world.s1, status=StockStatus.in_transit)
    assert caught.value.field == "destination"


def test_serial_units_follow_their_moves(db, world):
    unit = world.units[0]
    receive(db, world.ecg, 1, world.s1, unit=unit)
    with db.session() as session:
        fresh = session.get(Unit, unit.id)
        assert (fresh.location_id, fresh.status) == (world.s1.id, UnitStatus.in_stock)
        assert queries.on_hand(session, world.s1, world.ecg, world.ecg_lot) == Decimal(1)
    with pytest.raises(UnitAlreadyInStock) as caught:
        receive(db, world.ecg, 1, world.s2, unit=unit)
    assert caught.value.field == "serial"
    with pytest.raises(UnitNotHere) as caught:
        sell(db, world.ecg, 1, world.s2, unit=unit)
    assert caught.value.field == "serial" and "SN1" in str(caught.value)
    with pytest.raises(InvalidMovement):
        sell(db, world.ecg, 2, world.s1, unit=unit)
    sell(db, world.ecg, 1, world.s1, unit=unit)
    with db.session() as session:
        fresh = session.get(Unit, unit.id)
        assert (fresh.location_id, fresh.status) == (None, UnitStatus.sold)
        assert [row.quantity for row in queries.stock_card(session, unit=unit)] == [1, -1]
    with pytest.raises(UnitNotHere):
        sell(db, world.ecg, 1, world.s1, unit=unit)


def _post(db, reason, *movements):
    with db.transaction() as session:
        return post_movements(
            session, list(movements), reason=reason, document="DOC-1", today=TODAY
        )


def _unit_where(db, unit) -> tuple:
    with db.session() as session:
        fresh = session.get(Unit, unit.id)
        return fresh.location_id, fresh.status


def test_one_serial_on_two_lines_of_a_receipt_is_refused_naming_both_lines(db, world):
    unit = world.units[0]
    line = {"item": world.ecg, "quantity": 1, "destination": world.s1, "unit": unit}
    with pytest.raises(UnitTwiceInDocument) as caught:
        _post(db, Reason.purchase_receipt, Movement(**line, line=1), Movement(**line, line=2))
    assert caught.value.field == "serial"
    assert (
        "SN1" in str(caught.value)
        and "Line 2" in str(caught.value)
        and "line 1" in str(caught.value)
    )
    assert on_hand(db, world.s1, world.ecg, world.ecg_lot) == Decimal(0)
    assert _unit_where(db, unit) == (None, UnitStatus.registered)


@pytest.mark.parametrize("reason", [Reason.sale, Reason.count_shortage])
def test_one_serial_taken_out_twice_in_one_posting_is_refused(db, world, reason):
    for unit in world.units[:2]:
        receive(db, world.ecg, 1, world.s1, unit=unit)
    line = {"item": world.ecg, "quantity": 1, "source": world.s1, "unit": world.units[0]}
    with pytest.raises(UnitTwiceInDocument):
        _post(db, reason, Movement(**line, line=1), Movement(**line, line=2))
    assert on_hand(db, world.s1, world.ecg, world.ecg_lot) == Decimal(2)
    assert _unit_where(db, world.units[1]) == (world.s1.id, UnitStatus.in_stock)


def test_a_unit_may_leave_and_come_back_within_one_posting(db, world):
    """A count finding a unit under another status posts its shortage and its surplus together."""
    unit = world.units[0]
    receive(db, world.ecg, 1, world.s1, unit=unit)
    _post(
        db, Reason.count_shortage,
        Movement(item=world.ecg, quantity=1, source=world.s1, unit=unit, line=1),
        Movement(item=world.ecg, quantity=1, destination=world.s1, unit=unit, line=2,
                 destination_status=StockStatus.nonconforming, reason=Reason.count_surplus),
    )  # fmt: skip
    assert _unit_where(db, unit) == (world.s1.id, UnitStatus.in_stock)
    assert on_hand(db, world.s1, world.ecg, world.ecg_lot, StockStatus.nonconforming) == 1
    assert on_hand(db, world.s1, world.ecg, world.ecg_lot) == 0


@pytest.mark.parametrize("reason", [Reason.sale, Reason.scrap])
def test_a_unit_sold_or_written_off_is_not_received_from_a_supplier(db, world, reason):
    unit = world.units[0]
    receive(db, world.ecg, 1, world.s1, unit=unit)
    _post(db, reason, Movement(item=world.ecg, quantity=1, source=world.s1, unit=unit))
    with pytest.raises(UnitNotReceivable) as caught:
        receive(db, world.ecg, 1, world.s2, unit=unit)
    assert caught.value.field == "serial" and "SN1" in str(caught.value)
    _post(db, Reason.customer_return if reason == Reason.sale else Reason.count_surplus,
          Movement(item=world.ecg, quantity=1, destination=world.s1, unit=unit))  # fmt: skip
    assert _unit_where(db, unit) == (world.s1.id, UnitStatus.in_stock)


def test_a_unit_returned_to_its_supplier_may_be_received_again(db, world):
    unit = world.units[0]
    receive(db, world.ecg, 1, world.s1, unit=unit)
    _post(
        db, Reason.supplier_return, Movement(item=world.ecg, quantity=1, source=world.s1, unit=unit)
    )
    receive(db, world.ecg, 1, world.s1, unit=unit)
    assert _unit_where(db, unit) == (world.s1.id, UnitStatus.in_stock)


def test_correction_is_a_new_row_referencing_the_old_one(db, world):
    [entry] = receive(db, world.gloves, 5, world.s1)
    with db.transaction() as session:
        [reverse] = correct_entry(session, entry, user=world.clerk, note="typed 5, was 0")
    assert reverse.corrects_id == entry.id and reverse.quantity == Decimal(-5)
    assert on_hand(db, world.s1, world.gloves) == Decimal(0)
    with db.session() as session:
        assert_balances_match_ledger(session)


def test_database_refuses_negative_or_over_reserved_balances(db, world):
    receive(db, world.gloves, 5, world.s1)
    for values in ({"on_hand": Decimal(-1)}, {"reserved": Decimal(6)}, {"reserved": Decimal(-1)}):
        with pytest.raises(IntegrityError), db.transaction() as session:
            session.execute(update(StockBalance).values(**values))


def test_every_error_is_a_kernel_error_with_a_message(db, world):
    for cls in (InsufficientStock, LotBlocked, LotExpired, LocationLocked, UnitNotHere):
        assert issubclass(cls, KernelError)


@pytest.mark.postgres_only
def test_postgres_refuses_update_or_delete_of_the_ledger(db, world):
    receive(db, world.gloves, 5, world.s1)
    for statement in ("UPDATE stock_ledger SET quantity = 50", "DELETE FROM stock_ledger"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
            connection.execute(text(statement))
    with db.session() as session:
        assert [row.quantity for row in session.scalars(select(LedgerEntry))] == [Decimal(5)]


def test_near_expiry_uses_each_items_threshold(db, world):
    receive(db, world.strips, 5, world.s1, world.early)  # 30 days left, threshold 90
    receive(db, world.strips, 5, world.s1, world.late)  # 400 days left
    receive(db, world.strips, 2, world.wh, world.old, today=BEFORE_EXPIRY)  # expired yesterday
    with db.session() as session:
        found = queries.near_expiry(session, TODAY)
        assert [lot.lot_number for _balance, lot in found] == ["L-OLD", "L-EARLY"]
        assert [
            lot.lot_number for _b, lot in queries.near_expiry(session, TODAY, location=world.wh)
        ] == ["L-OLD"]


def test_errors_speak_the_users_language(db, world, app):
    receive(db, world.strips, 2, world.s1, world.early)
    zh = app.test_request_context(headers={"Accept-Language": "zh-CN"})
    with zh, pytest.raises(InsufficientStock) as caught:
        sell(db, world.strips, 5, world.s1, world.early)
    assert "库存不足" in str(caught.value)
    en = app.test_request_context(headers={"Accept-Language": "en"})
    with en, pytest.raises(LocationInactive) as caught:
        receive(db, world.gloves, 1, world.closed)
    assert "is closed" in str(caught.value)


def test_statuses_and_tracking_are_named_in_words_in_both_languages(db, world, app):
    receive(db, world.strips, 2, world.s1, world.early)
    with db.transaction() as session:
        session.get(Lot, world.early.id).status = LotStatus.recalled
    for language, recalled, not_by_lot in (
        ("zh-CN", "批号 L-EARLY 处于已召回状态", "GLOVE 不按批号管理"),
        ("en", "Lot L-EARLY is recalled", "GLOVE is not tracked by lot number"),
    ):
        with app.test_request_context(headers={"Accept-Language": language}):
            with pytest.raises(LotBlocked) as caught:
                sell(db, world.strips, 1, world.s1, world.early)
            assert recalled in str(caught.value)
            with pytest.raises(NotTracked) as caught:
                receive(db, world.gloves, 1, world.s1, world.early)
            assert not_by_lot in str(caught.value)


def test_objects_the_session_holds_stay_in_step_with_a_posting(db, world):
    """The posting writes with Core statements; ORM objects already loaded must not go stale."""
    with db.transaction() as session:
        s3 = add_location(session, "S3", "长宁店", "store", session.get(Location, world.east.id))
        unit = session.get(Unit, world.units[1].id)
        post_movements(
            session,
            [Movement(item=world.ecg, quantity=1, destination=s3, unit=unit),
             Movement(item=world.gloves, quantity=4, destination=s3)],
            reason=Reason.purchase_receipt, today=TODAY,
        )  # fmt: skip
        assert (unit.location_id, unit.status) == (s3.id, UnitStatus.in_stock)
        balance = session.scalar(
            select(StockBalance).where(
                StockBalance.location_id == s3.id, StockBalance.item_id == world.gloves.id
            )
        )
        assert balance.on_hand == Decimal(4)
        post_movements(
            session, [Movement(item=world.gloves, quantity=1, source=s3)],
            reason=Reason.sale, today=TODAY,
        )  # fmt: skip
        assert balance.on_hand == Decimal(3)
        assert audit.verify(session) == []  # the head created with S3 moved on with its chain
        assert_balances_match_ledger(session)


def test_a_location_without_a_chain_head_gets_one_at_its_first_posting(db, world):
    """Heads come with their locations; one made before that (or by hand) still posts."""
    with db.transaction() as session:
        session.execute(
            delete(AuditChainHead).where(AuditChainHead.chain == f"location:{world.s1.id}")
        )
    receive(db, world.strips, 4, world.s1, world.early)
    sell(db, world.strips, 1, world.s1, world.early)
    with db.session() as session:
        head = session.get(AuditChainHead, f"location:{world.s1.id}")
        assert head.seq == 2
        assert audit.verify(session) == []


def test_a_posting_at_two_locations_leaves_one_entry_on_each_chain(db, world):
    receive(db, world.strips, 5, world.wh, world.early)
    receive(db, world.strips, 1, world.s2, world.early)
    with db.transaction() as session:
        rows = post_movements(
            session,
            [Movement(item=world.strips, quantity=Decimal(2), source=world.wh,
                      destination=world.s2, lot=world.early),
             Movement(item=world.strips, quantity=Decimal(1), source=world.s2,
                      lot=world.early, reason=Reason.scrap)],
            reason=Reason.transfer_in, document="T-1", today=TODAY,
        )  # fmt: skip
    assert [(row.location_id, row.quantity) for row in rows] == [
        (world.wh.id, Decimal("-2.0000")), (world.s2.id, Decimal("2.0000")),
        (world.s2.id, Decimal("-1.0000")),
    ]  # fmt: skip
    with db.session() as session:
        for location, expected in ((world.wh, rows[:1]), (world.s2, rows[1:])):
            (entry,) = session.scalars(
                select(AuditEntry).where(
                    AuditEntry.chain == f"location:{location.id}", AuditEntry.entity_id == "T-1"
                )
            ).all()
            assert [line[0] for line in entry.changes["lines"]] == [row.id for row in expected]
            assert [line[5] for line in entry.changes["lines"]] == [
                str(row.quantity) for row in expected
            ]
        ledger = session.scalars(select(LedgerEntry).where(LedgerEntry.document == "T-1")).all()
        assert sorted((entry.id, entry.quantity) for entry in ledger) == [
            (row.id, row.quantity) for row in rows
        ]
        assert audit.verify(session) == []
        assert_balances_match_ledger(session)


def test_a_lots_cost_is_its_latest_costed_entry_and_none_before_any(db, world):
    """What a unit of a lot cost (销售成本 at a sale): the latest entry of the item and lot
    carrying a cost, of any location; another lot's, an uncosted entry, or the untracked item's
    entries (lot None) are not it."""
    with db.session() as session:
        assert queries.latest_unit_cost(session, world.strips, world.early) is None
    receive(db, world.strips, 5, world.s1, lot=world.early)  # at 1.50
    receive(db, world.gloves, 5, world.s1)
    with db.transaction() as session:
        post_movements(session, [
            Movement(item=world.strips, quantity=Decimal(2), destination=world.wh,
                     lot=world.early, unit_cost=Decimal("1.80")),
            Movement(item=world.strips, quantity=Decimal(2), destination=world.wh, lot=world.late,
                     unit_cost=Decimal("2.10")),
            Movement(item=world.strips, quantity=Decimal(1), destination=world.s1,
                     lot=world.early),  # no cost: a surplus found at a count
        ], reason=Reason.purchase_receipt, today=TODAY)  # fmt: skip
    with db.session() as session:
        assert queries.latest_unit_cost(session, world.strips, world.early) == Decimal("1.80")
        assert queries.latest_unit_cost(session, world.strips, world.late) == Decimal("2.10")
        assert queries.latest_unit_cost(session, world.gloves, None) == Decimal("1.50")
        assert queries.latest_unit_cost(session, world.ecg, world.ecg_lot) is None
