"""Recall: a recalled lot (or serial range) leaves by no sale, transfer or reservation, and its
trace names every holder, customer and receipt — checked on a seeded random history too."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.kernel import (
    InsufficientStock,
    InvalidMovement,
    LotBlocked,
    LotExpired,
    Movement,
    Reason,
    ReceiveLine,
    ReservationNotFound,
    ShipLine,
    StockStatus,
    abort_stocktake,
    add_location,
    consume,
    open_stocktake,
    post_movements,
    receive,
    reserve,
    return_remainder,
    ship,
    transit_location,
)
from app.kernel.errors import LocationLocked, RecalledNotAccepted, StockNotAvailable, UnitRecalled
from app.kernel.items import Item, Lot, LotStatus, Unit, get_or_create_lot
from app.kernel.locations import Location
from app.kernel.quarantine import quarantine_lots, release_lots
from app.kernel.recall import (
    isolate,
    lot_stock_at,
    recall_lots,
    trace_lot,
    units_in_range,
    withdraw_recall,
)
from app.kernel.reservations import reservations_of
from app.kernel.stock import LedgerEntry, StockBalance
from app.kernel.stocktake import stocktake_of
from tests.kernel.conftest import BEFORE_EXPIRY, TODAY, assert_balances_match_ledger, sell
from tests.kernel.conftest import receive as book_receipt


def _recall(db, world, lot):
    with db.transaction() as session:
        item = session.get(Item, world.strips.id)
        return recall_lots(session, item, [session.get(Lot, lot.id)], document="RC-1")


@pytest.fixture
def stocked(db, world):
    book_receipt(db, world.strips, 10, world.wh, world.late)
    book_receipt(db, world.strips, 4, world.s1, world.late)
    book_receipt(db, world.strips, 5, world.s1, world.early)
    return world


def test_recalled_lot_is_refused_by_sale_transfer_and_reservation(db, stocked):
    _recall(db, stocked, stocked.late)
    with pytest.raises(LotBlocked):
        sell(db, stocked.strips, 1, stocked.s1, stocked.late)
    with pytest.raises(LotBlocked), db.transaction() as session:
        ship(session, "TO-1", stocked.wh, stocked.s2,
             [ShipLine(stocked.strips, Decimal(1), stocked.late)], today=TODAY)  # fmt: skip
    with pytest.raises(LotBlocked), db.transaction() as session:
        reserve(session, "SO-9", 1, stocked.strips, 1, stocked.s1, lot=stocked.late, today=TODAY)
    with db.transaction() as session:  # FEFO passes over it to the good lot
        held = reserve(session, "SO-9", 1, stocked.strips, 2, stocked.s1, today=TODAY)
        assert [hold.lot_id for hold in held] == [stocked.early.id]
    with db.session() as session:
        assert session.get(Lot, stocked.late.id).status == LotStatus.recalled
        assert_balances_match_ledger(session)
        assert session.scalar(select(LedgerEntry.id).where(LedgerEntry.reason == "sale")) is None


def test_stock_reserved_before_the_recall_is_released_and_never_delivered(db, stocked):
    with db.transaction() as session:
        reserve(session, "SO-1", 1, stocked.strips, 3, stocked.s1, lot=stocked.late, today=TODAY)
        reserve(session, "SO-1", 2, stocked.strips, 2, stocked.s1, lot=stocked.early, today=TODAY)
    result = _recall(db, stocked, stocked.late)
    assert [(hold.document, hold.line, hold.quantity) for hold in result.released] == [
        ("SO-1", 1, Decimal(3))
    ]
    with db.transaction() as session:
        assert [hold.line for hold in reservations_of(session, "SO-1")] == [2]
        balance = session.scalar(
            select(StockBalance).where(StockBalance.lot_id == stocked.late.id,
                                       StockBalance.location_id == stocked.s1.id)
        )  # fmt: skip
        assert balance.reserved == 0
    with pytest.raises(ReservationNotFound), db.transaction() as session:
        consume(session, "SO-1", 1, today=TODAY)
    with db.transaction() as session:  # the good line still delivers
        consume(session, "SO-1", 2, today=TODAY)
    with db.session() as session:
        sold = session.scalars(select(LedgerEntry.lot_id).where(LedgerEntry.reason == "sale"))
        assert list(sold) == [stocked.early.id]
        assert_balances_match_ledger(session)


def test_a_line_held_on_two_lots_keeps_the_good_lot(db, stocked):
    with db.transaction() as session:  # FEFO: early 5, then late 2 — one line, two lots
        reserve(session, "SO-2", 1, stocked.strips, 7, stocked.s1, today=TODAY)
    result = _recall(db, stocked, stocked.late)
    assert [(hold.lot_id, hold.quantity) for hold in result.released] == [
        (stocked.late.id, Decimal(2))
    ]
    with db.session() as session:
        assert [(h.lot_id, h.quantity) for h in reservations_of(session, "SO-2")] == [
            (stocked.early.id, Decimal(5))
        ]
        assert_balances_match_ledger(session)


def test_recalled_goods_are_set_apart_go_back_to_the_supplier_and_arrive_from_transit(db, stocked):
    with db.transaction() as session:
        ship(session, "TO-1", stocked.wh, stocked.s2,
             [ShipLine(stocked.strips, Decimal(5), stocked.late)], today=TODAY)  # fmt: skip
    _recall(db, stocked, stocked.late)
    with db.transaction() as session:
        receive(session, "TO-1", [ReceiveLine(1, received=Decimal(3))])  # lands apart at once
        return_remainder(session, "TO-1")  # and so do the 2 that go back to the warehouse
        post_movements(
            session,
            [Movement(item=stocked.strips, quantity=Decimal(4), source=stocked.s1,
                      lot=stocked.late, source_status=StockStatus.nonconforming)],
            reason=Reason.supplier_return, document="SR-1", today=TODAY,
        )  # fmt: skip
    with pytest.raises(LotBlocked):
        sell(db, stocked.strips, 1, stocked.s2, stocked.late)
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        holders = {(h.location_id, str(h.status)): h.quantity
                   for h in trace_lot(session, lot).holdings}  # fmt: skip
        assert holders == {
            (stocked.s2.id, "nonconforming"): Decimal(3),  # never counted as available
            (stocked.wh.id, "nonconforming"): Decimal(7),  # 5 set apart at once, 2 came back
        }
        assert lot_stock_at(session, lot, stocked.s1.id) == 0
        assert_balances_match_ledger(session)
    with db.transaction() as session:  # nothing is left for the next pass to set apart
        lot = session.get(Lot, stocked.late.id)
        assert isolate(session, session.get(Item, stocked.strips.id), [lot]).rows == []


def test_recalled_goods_are_refused_into_available_stock_and_nothing_is_written(db, stocked):
    _recall(db, stocked, stocked.late)
    with db.transaction() as session:
        before = session.scalar(select(func.count()).select_from(LedgerEntry))
        with pytest.raises(RecalledNotAccepted) as caught:
            post_movements(
                session,
                [Movement(item=stocked.strips, quantity=Decimal(2), destination=stocked.s2,
                          lot=stocked.early, line=1),
                 Movement(item=stocked.strips, quantity=Decimal(1), destination=stocked.s2,
                          lot=stocked.late, line=2)],
                reason=Reason.purchase_receipt, document="PR-R", today=TODAY,
            )  # fmt: skip
        assert caught.value.field == "lot"
        assert "Line 2" in str(caught.value) and "nonconforming" in str(caught.value)
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == before
        post_movements(  # kept apart, it is taken in
            session,
            [Movement(item=stocked.strips, quantity=Decimal(1), destination=stocked.s2,
                      lot=stocked.late, destination_status=StockStatus.nonconforming)],
            reason=Reason.purchase_receipt, document="PR-R", today=TODAY,
        )  # fmt: skip


def test_serial_range_recall_blocks_only_those_units(db, world):
    for unit in world.units:
        book_receipt(db, world.ecg, 1, world.s1, world.ecg_lot, unit)
    with db.transaction() as session:
        ecg = session.get(Item, world.ecg.id)
        units = units_in_range(session, ecg, "SN1", "SN2")
        assert [unit.serial for unit in units] == ["SN1", "SN2"]
        recall_lots(session, ecg, units=units)
    with pytest.raises(UnitRecalled) as caught:
        sell(db, world.ecg, 1, world.s1, unit=world.units[0])
    assert caught.value.field == "serial"
    sell(db, world.ecg, 1, world.s1, unit=world.units[2])
    with db.session() as session:
        assert session.get(Lot, world.ecg_lot.id).status == LotStatus.released
        units = [session.get(Unit, unit.id) for unit in world.units[:2]]
        trace = trace_lot(session, session.get(Lot, world.ecg_lot.id), units)
        assert [(h.location_id, h.quantity, h.serials) for h in trace.holdings] == [
            (world.s1.id, Decimal(2), ("SN1", "SN2"))
        ]
        assert trace.shipments == []


def test_each_origin_of_serial_goods_names_its_unit(db, world):
    """A receipt of serial units books one row per unit: each origin names its serial, so the
    rows of one receipt can be told apart (and the UDI of each printed)."""
    for unit in world.units[:2]:
        book_receipt(db, world.ecg, 1, world.s1, world.ecg_lot, unit)
    with db.session() as session:
        trace = trace_lot(session, session.get(Lot, world.ecg_lot.id))
        assert sorted((o.document, o.quantity, o.serial) for o in trace.origins) == [
            ("PR-1", Decimal(1), "SN1"),
            ("PR-1", Decimal(1), "SN2"),
        ]


def test_bad_recalls_are_refused_and_write_nothing(db, world):
    with db.transaction() as session:
        gloves_lot_owner = session.get(Item, world.ecg.id)
        with pytest.raises(InvalidMovement) as caught:
            recall_lots(session, gloves_lot_owner, [session.get(Lot, world.early.id)])
        assert caught.value.field == "lots"
        with pytest.raises(InvalidMovement) as caught:
            recall_lots(session, gloves_lot_owner)
        assert caught.value.field == "lots"
        with pytest.raises(InvalidMovement) as caught:
            units_in_range(session, gloves_lot_owner, "SN3", "SN1")
        assert caught.value.field == "serial_to"
        with pytest.raises(InvalidMovement) as caught:
            units_in_range(session, session.get(Item, world.strips.id), "1", "2")
        assert caught.value.field == "serial_from"
    with db.session() as session:
        assert session.get(Lot, world.early.id).status == LotStatus.released


def test_expired_lot_stays_unsellable(db, world):
    book_receipt(db, world.strips, 2, world.s1, world.old, today=BEFORE_EXPIRY)
    with pytest.raises(LotExpired):
        sell(db, world.strips, 1, world.s1, world.old)
    with pytest.raises(LotExpired), db.transaction() as session:
        ship(session, "TO-2", world.s1, world.s2,
             [ShipLine(world.strips, Decimal(1), world.old)], today=TODAY)  # fmt: skip


def test_trace_names_holders_customers_net_of_returns_and_origin(db, stocked):
    with db.transaction() as session:
        ship(session, "TO-1", stocked.wh, stocked.s2,
             [ShipLine(stocked.strips, Decimal(2), stocked.late)], today=TODAY)  # fmt: skip
    sell(db, stocked.strips, 3, stocked.s1, stocked.late)  # SO-1
    with db.transaction() as session:
        post_movements(
            session,
            [Movement(item=stocked.strips, quantity=Decimal(1), destination=stocked.s1,
                      lot=stocked.late, destination_status=StockStatus.awaiting_inspection)],
            reason=Reason.customer_return, document="CR-1", today=TODAY,
        )  # fmt: skip
    _recall(db, stocked, stocked.late)
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        trace = trace_lot(session, lot, sale_of_return={"CR-1": "SO-1"})
        transit = session.scalar(select(Location.id).where(Location.type == "transit"))
        assert sorted((h.location_id, str(h.status), h.quantity) for h in trace.holdings) == sorted(
            [
                (stocked.wh.id, "nonconforming", Decimal(8)),
                (transit, "in_transit", Decimal(2)),
                (stocked.s1.id, "nonconforming", Decimal(1)),
                (stocked.s1.id, "awaiting_inspection", Decimal(1)),
            ]
        )
        assert [(s.document, s.quantity) for s in trace.shipments] == [("SO-1", Decimal(2))]
        assert sorted((o.location_id, o.quantity) for o in trace.origins) == sorted(
            [(stocked.wh.id, Decimal(10)), (stocked.s1.id, Decimal(4))]
        )
        assert trace_lot(session, lot).unmatched_returns == ["CR-1"]


# --- the recall completeness test --------------------------------------------------------------

LOTS, STORES, STEPS = 6, 6, 400


def test_recall_trace_is_complete_on_a_random_history(db, world):
    """Seeded random receipts, transfers, arrivals, sales, returns, supplier returns, scraps and
    count differences over many lots and locations; for every lot the trace equals what a plain
    replay of the ledger gives, and what came in is what is held, sold and gone."""
    rng = random.Random(20261125)
    with db.transaction() as session:
        east = session.get(Location, world.east.id)
        places = [session.get(Location, world.wh.id)] + [
            add_location(session, f"RS{n}", f"门店{n}", "store", east) for n in range(STORES)
        ]
        item = session.get(Item, world.strips.id)
        lots = [
            get_or_create_lot(session, item, f"R{n}", TODAY + dt.timedelta(days=300))
            for n in range(LOTS)
        ]
        place_ids, lot_ids = [p.id for p in places], [lot.id for lot in lots]
    returns: dict[str, str] = {}
    in_transit: list[tuple[str, int]] = []
    for step in range(STEPS):
        with db.transaction() as session:
            _random_step(session, rng, step, place_ids, lot_ids, item.id, returns, in_transit)
    with db.transaction() as session:
        for lot_id in lot_ids[::2]:
            recall_lots(session, session.get(Item, item.id), [session.get(Lot, lot_id)])
    assert returns and in_transit  # the history had customer returns and goods on the road
    departed = set()
    with db.session() as session:
        assert_balances_match_ledger(session)
        for lot_id in lot_ids:
            trace = trace_lot(session, session.get(Lot, lot_id), sale_of_return=returns)
            departed |= {str(d.reason) for d in trace.departures}
            holders, customers, origin, gone = _replay(session, lot_id, returns)
            assert {(h.location_id, str(h.status)): h.quantity for h in trace.holdings} == holders
            assert {s.document: s.quantity for s in trace.shipments} == customers
            assert sorted((o.document, o.quantity) for o in trace.origins) == origin
            assert {
                (str(d.reason), d.document, d.location_id): d.quantity for d in trace.departures
            } == gone
            assert holders and origin  # the history really moved every lot
            # the trace reconciles: received = held + sold + returned, scrapped or counted away
            assert sum(o.quantity for o in trace.origins) == sum(holders.values()) + sum(
                customers.values()
            ) + sum(gone.values())
    # goods left by every way out the history took
    assert departed == {"supplier_return", "scrap", "count_shortage", "count_surplus"}


def _post(session, reason, document, **movement) -> None:
    post_movements(session, [Movement(**movement)], reason=reason, document=document, today=TODAY)


def _random_step(session, rng, step, place_ids, lot_ids, item_id, returns, in_transit):
    """One business event; an event there is not enough stock for is simply skipped."""
    item = session.get(Item, item_id)
    lot = session.get(Lot, rng.choice(lot_ids))
    here, there = (session.get(Location, i) for i in rng.sample(place_ids, 2))
    quantity = Decimal(rng.randint(1, 6))
    kind = rng.choice(["receipt", "receipt", "ship", "arrive", "sale", "sale", "return", "back",
                       "scrap", "count"])  # fmt: skip
    free = _free(session, here, lot)
    goods = {"item": item, "lot": lot}
    if kind == "receipt" or step < 20:
        _post(session, Reason.purchase_receipt, f"PR-{step}", **goods, quantity=quantity * 3,
              destination=here)  # fmt: skip
    elif kind == "ship" and free >= quantity:
        ship(session, f"TO-{step}", here, there, [ShipLine(item, quantity, lot)], today=TODAY)
        in_transit.append((f"TO-{step}", 1))
    elif kind == "arrive" and in_transit:
        document, line = in_transit.pop(rng.randrange(len(in_transit)))
        receive(session, document, [ReceiveLine(line, received=Decimal(1))])
        if _outstanding(session, document):
            in_transit.append((document, line))
    elif kind == "sale" and free >= quantity:
        _post(session, Reason.sale, f"SO-{step}", **goods, quantity=quantity, source=here)
    elif kind == "return" and (sales := _sales_of(session, lot, returns)):
        document, sold = rng.choice(sales)
        _post(session, Reason.customer_return, f"CR-{step}", **goods,
              quantity=min(sold, Decimal(1)), destination=here,
              destination_status=StockStatus.awaiting_inspection)  # fmt: skip
        returns[f"CR-{step}"] = document
    elif kind == "back" and free >= 1:
        _post(session, Reason.supplier_return, f"SR-{step}", **goods, quantity=Decimal(1),
              source=here)  # fmt: skip
    elif kind == "scrap" and free >= 1:
        _post(session, Reason.scrap, f"SC-{step}", **goods, quantity=Decimal(1), source=here)
    elif kind == "count" and rng.random() < 0.5:
        _post(session, Reason.count_surplus, f"ST-{step}", **goods, quantity=Decimal(1),
              destination=here)  # fmt: skip
    elif kind == "count" and free >= 1:
        _post(session, Reason.count_shortage, f"ST-{step}", **goods, quantity=Decimal(1),
              source=here)  # fmt: skip


def _free(session, location, lot) -> Decimal:
    balance = session.scalar(
        select(StockBalance).where(
            StockBalance.location_id == location.id,
            StockBalance.lot_id == lot.id,
            StockBalance.status == "available",
        )
    )
    return balance.available if balance is not None else Decimal(0)


def _outstanding(session, document) -> bool:
    from app.kernel.transfers import transfer_lines

    return any(line.outstanding > 0 for line in transfer_lines(session, document))


def _sales_of(session, lot, returns) -> list[tuple[str, Decimal]]:
    """Each sale of ``lot`` with what its customer still has (a customer returns no more than
    they bought)."""
    rows = session.execute(
        select(LedgerEntry.document, LedgerEntry.quantity, LedgerEntry.reason)
        .where(LedgerEntry.lot_id == lot.id, LedgerEntry.reason.in_(["sale", "customer_return"]))
        .order_by(LedgerEntry.id)
    ).all()
    kept: dict[str, Decimal] = defaultdict(Decimal)
    for document, quantity, reason in rows:
        kept[document if reason == "sale" else returns[document]] -= quantity
    return [(document, left) for document, left in kept.items() if left > 0]


def _replay(session, lot_id, returns):
    """Holders, customers (sale document → net quantity), origin and what left the chain
    otherwise ((reason, document, location) → net quantity out), by replaying every row."""
    holders: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    customers: dict[str, Decimal] = defaultdict(Decimal)
    gone: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    origin = []
    for row in session.execute(select(LedgerEntry).order_by(LedgerEntry.id)).scalars():
        if row.lot_id != lot_id:
            continue
        holders[(row.location_id, str(row.status))] += row.quantity
        if row.reason == "sale":
            customers[row.document] -= row.quantity
        if row.reason == "customer_return":
            customers[returns[row.document]] -= row.quantity
        if row.reason == "purchase_receipt":
            origin.append((row.document, row.quantity))
        if row.reason in ("supplier_return", "scrap", "count_shortage", "count_surplus"):
            gone[(str(row.reason), row.document, row.location_id)] -= row.quantity
    return (
        {key: value for key, value in holders.items() if value},
        {key: value for key, value in customers.items() if value > 0},
        sorted(origin),
        {key: value for key, value in gone.items() if value},
    )


def _ledger_size(db) -> int:
    with db.session() as session:
        return len(session.scalars(select(LedgerEntry.id)).all())


def _return(db, world, destination, quantity, lot=None, document="RR-1"):
    with db.transaction() as session:
        return ship(session, document, world.s1, destination,
                    [ShipLine(world.strips, Decimal(quantity), lot or world.late)],
                    today=TODAY, recall_return=True)  # fmt: skip


def test_recalled_goods_go_back_to_a_warehouse_nonconforming_all_the_way(db, stocked):
    _recall(db, stocked, stocked.late)  # S1's 4 of late are set apart as nonconforming
    _return(db, stocked, stocked.wh, 3)
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        holders = {(h.location_id, str(h.status)): h.quantity
                   for h in trace_lot(session, lot).holdings}  # fmt: skip
        transit = session.scalar(select(Location).where(Location.type == "transit"))
        assert holders == {
            (stocked.s1.id, "nonconforming"): Decimal(1),
            (transit.id, "in_transit"): Decimal(3),  # the trace shows the goods on the road
            (stocked.wh.id, "nonconforming"): Decimal(10),
        }
    with pytest.raises(StockNotAvailable), db.transaction() as session:  # sellable nowhere
        post_movements(session, [Movement(item=stocked.strips, quantity=Decimal(1),
                                          source=transit, lot=stocked.late)],
                       reason=Reason.sale, document="SO-X", today=TODAY)  # fmt: skip
    with db.transaction() as session:  # 2 arrive, 1 never does and goes back to the store
        receive(session, "RR-1", [ReceiveLine(1, received=Decimal(2))])
        return_remainder(session, "RR-1")
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        holders = {(h.location_id, str(h.status)): h.quantity
                   for h in trace_lot(session, lot).holdings}  # fmt: skip
        assert holders == {
            (stocked.s1.id, "nonconforming"): Decimal(2),
            (stocked.wh.id, "nonconforming"): Decimal(12),
        }  # never available anywhere
        assert_balances_match_ledger(session)
        reasons = session.scalars(select(LedgerEntry.reason).where(LedgerEntry.document == "RR-1"))
        assert sorted(set(reasons)) == ["recall_return", "transfer_in", "transfer_return"]


def test_a_recall_return_takes_only_recalled_nonconforming_goods_to_a_warehouse(db, stocked):
    _recall(db, stocked, stocked.late)
    with pytest.raises(InvalidMovement) as caught:  # to a store: no
        _return(db, stocked, stocked.s2, 1)
    assert caught.value.field == "destination" and "S2" in str(caught.value)
    book_receipt(db, stocked.strips, 2, stocked.s1, stocked.early, status="nonconforming")
    with pytest.raises(InvalidMovement) as caught:  # goods that are not recalled: no
        _return(db, stocked, stocked.wh, 1, lot=stocked.early)
    assert caught.value.field == "lot" and "L-EARLY" in str(caught.value)
    before = _ledger_size(db)

    def post(**movement):
        with db.transaction() as session:
            post_movements(session, [Movement(item=stocked.strips, quantity=Decimal(1),
                                              source=stocked.s1, lot=stocked.late, **movement)],
                           document="X", today=TODAY)  # fmt: skip

    with db.transaction() as session:
        transit = transit_location(session, stocked.s1, stocked.wh)
    for refused in (
        {"reason": Reason.recall_return, "source_status": StockStatus.nonconforming},  # customer
        {"reason": Reason.recall_return, "destination": transit},  # from available
        {"reason": Reason.recall_return, "source_status": StockStatus.nonconforming,
         "destination": stocked.s2},  # straight to a store
    ):  # fmt: skip
        with pytest.raises(InvalidMovement) as caught:
            post(**refused)
        assert caught.value.field == "reason"
    # the recalled goods are still never sold nor transferred as ordinary stock
    with pytest.raises(StockNotAvailable):
        post(reason=Reason.sale, source_status=StockStatus.nonconforming)
    with pytest.raises(StockNotAvailable):
        post(reason=Reason.transfer_out, source_status=StockStatus.nonconforming,
             destination=transit)  # fmt: skip
    assert _ledger_size(db) == before


def _balance(session, location, lot, status) -> tuple[Decimal, Decimal]:
    balance = session.scalar(
        select(StockBalance).where(
            StockBalance.location_id == location.id,
            StockBalance.lot_id == lot.id,
            StockBalance.status == status,
        )
    )
    return (balance.on_hand, balance.reserved) if balance is not None else (Decimal(0), Decimal(0))


def test_a_count_in_progress_does_not_hold_up_the_recall(db, stocked):
    """The lot is blocked everywhere at once; the counted store's goods are set apart after."""
    with db.transaction() as session:
        open_stocktake(session, "ST-1", stocked.s1, stocked.clerk)
    result = _recall(db, stocked, stocked.late)
    assert result.isolation.counting == [stocked.s1.id]
    with pytest.raises(LotBlocked):  # the warehouse may not sell it meanwhile
        sell(db, stocked.strips, 1, stocked.wh, stocked.late)
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        assert lot.status == LotStatus.recalled
        assert _balance(session, stocked.wh, lot, "nonconforming") == (Decimal(10), 0)
        assert _balance(session, stocked.s1, lot, "available") == (Decimal(4), 0)  # counted as is
    with db.transaction() as session:
        abort_stocktake(session, stocktake_of(session, "ST-1"), stocked.clerk, "recount")
    with db.transaction() as session:  # the next pass after the count sets the rest apart
        lot = session.get(Lot, stocked.late.id)
        isolation = isolate(session, session.get(Item, stocked.strips.id), [lot])
        assert isolation.counting == []
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        assert _balance(session, stocked.s1, lot, "nonconforming") == (Decimal(4), 0)
        assert_balances_match_ledger(session)


def test_serial_recall_sets_the_units_apart_and_holds_give_way(db, world):
    """A unit of a serial range leaves the sellable stock at once, even when all of its lot was
    held: the latest hold gives back what the unit needs, and the recall says so."""
    for unit in world.units:
        book_receipt(db, world.ecg, 1, world.s1, world.ecg_lot, unit)
    with db.transaction() as session:
        reserve(session, "SO-1", 1, world.ecg, 1, world.s1, lot=world.ecg_lot, today=TODAY)
        reserve(session, "SO-2", 1, world.ecg, 2, world.s1, lot=world.ecg_lot, today=TODAY)
    with db.transaction() as session:
        ecg = session.get(Item, world.ecg.id)
        result = recall_lots(session, ecg, units=units_in_range(session, ecg, "SN2", "SN2"))
        assert [(hold.document, hold.line, hold.quantity) for hold in result.released] == [
            ("SO-2", 1, Decimal(1))
        ]
    with db.session() as session:
        lot = session.get(Lot, world.ecg_lot.id)
        assert _balance(session, world.s1, lot, "available") == (Decimal(2), Decimal(2))
        assert _balance(session, world.s1, lot, "nonconforming") == (Decimal(1), 0)
        assert [(h.document, h.quantity) for h in reservations_of(session, "SO-2")] == [
            ("SO-2", Decimal(1))
        ]
        assert_balances_match_ledger(session)
    with pytest.raises(InsufficientStock), db.transaction() as session:  # nothing left to promise
        reserve(session, "SO-3", 1, world.ecg, 1, world.s1, lot=world.ecg_lot, today=TODAY)


def _withdraw(db, world, lot):
    with db.transaction() as session:
        item = session.get(Item, world.strips.id)
        return withdraw_recall(session, item, [session.get(Lot, lot.id)], document="RC-1")


def test_a_recall_withdrawn_puts_back_what_it_set_apart_where_it_still_is(db, stocked):
    """撤销召回: the lot is released again and what the recall set apart is available where it
    still is — not the 4 that went back to the supplier, nor the 3 that landed apart from
    transit after the recall (QA releases those at a storage check)."""
    with db.transaction() as session:
        ship(session, "TO-1", stocked.wh, stocked.s2,
             [ShipLine(stocked.strips, Decimal(3), stocked.late)], today=TODAY)  # fmt: skip
    _recall(db, stocked, stocked.late)  # WH 7 and S1 4 set apart
    with db.transaction() as session:
        receive(session, "TO-1", [ReceiveLine(1, received=Decimal(3))])  # lands apart at S2
        post_movements(
            session,
            [Movement(item=stocked.strips, quantity=Decimal(4), source=stocked.s1,
                      lot=stocked.late, source_status=StockStatus.nonconforming)],
            reason=Reason.supplier_return, document="SR-1", today=TODAY,
        )  # fmt: skip
    written = _withdraw(db, stocked, stocked.late)
    assert [(row.location_id, row.status, row.quantity) for row in written] == [
        (stocked.wh.id, "nonconforming", Decimal(-7)),
        (stocked.wh.id, "available", Decimal(7)),
    ]
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        assert (lot.status, lot.status_before_recall) == (LotStatus.released, None)
        assert _balance(session, stocked.wh, lot, "available") == (Decimal(7), 0)
        assert _balance(session, stocked.s2, lot, "nonconforming") == (Decimal(3), 0)
        assert _balance(session, stocked.s1, lot, "nonconforming") == (Decimal(0), 0)
        assert_balances_match_ledger(session)
    sell(db, stocked.strips, 1, stocked.wh, stocked.late)  # sellable again
    with pytest.raises(InvalidMovement, match="not recalled"), db.transaction() as session:
        withdraw_recall(session, session.get(Item, stocked.strips.id),
                        [session.get(Lot, stocked.late.id)], document="RC-1")  # fmt: skip


def test_a_lot_quarantined_before_its_recall_goes_back_to_quarantine(db, stocked):
    """Withdrawn, the recall leaves the lot as it found it: quarantined while its quarantine
    lasts; released once QA ended the quarantine meanwhile."""
    with db.transaction() as session:
        item = session.get(Item, stocked.strips.id)
        quarantine_lots(session, item, [session.get(Lot, stocked.late.id)], document="QT-1")
    _recall(db, stocked, stocked.late)
    _withdraw(db, stocked, stocked.late)
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        assert lot.status == LotStatus.quarantined
        assert _balance(session, stocked.wh, lot, "available") == (Decimal(10), 0)
    _recall(db, stocked, stocked.late)
    with db.transaction() as session:  # QA ends the quarantine while the recall blocks the lot
        item, lot = session.get(Item, stocked.strips.id), session.get(Lot, stocked.late.id)
        assert release_lots(session, item, [lot], document="QT-1") == []
        assert lot.status == LotStatus.recalled
    _withdraw(db, stocked, stocked.late)
    with db.session() as session:
        assert session.get(Lot, stocked.late.id).status == LotStatus.released


def test_a_location_being_counted_holds_up_the_withdrawal(db, stocked):
    """Putting goods back would move what a count's snapshot holds: refused, nothing changed."""
    _recall(db, stocked, stocked.late)
    with db.transaction() as session:
        open_stocktake(session, "ST-1", stocked.s1, stocked.clerk)
    with pytest.raises(LocationLocked):
        _withdraw(db, stocked, stocked.late)
    with db.session() as session:
        lot = session.get(Lot, stocked.late.id)
        assert (lot.status, lot.status_before_recall) == (LotStatus.recalled, LotStatus.released)
        assert _balance(session, stocked.wh, lot, "nonconforming") == (Decimal(10), 0)


def test_a_serial_range_withdrawn_frees_its_units(db, world):
    for unit in world.units:
        book_receipt(db, world.ecg, 1, world.s1, world.ecg_lot, unit)
    with db.transaction() as session:
        ecg = session.get(Item, world.ecg.id)
        units = units_in_range(session, ecg, "SN1", "SN2")
        recall_lots(session, ecg, units=units, document="RC-2")
    with db.transaction() as session:
        ecg = session.get(Item, world.ecg.id)
        units = units_in_range(session, ecg, "SN1", "SN2")
        written = withdraw_recall(session, ecg, units=units, document="RC-2")
        assert sorted(row.quantity for row in written) == [-1, -1, 1, 1]
    with db.session() as session:
        assert not any(unit.recalled for unit in session.scalars(select(Unit)))
        lot = session.get(Lot, world.ecg_lot.id)
        assert _balance(session, world.s1, lot, "available") == (Decimal(3), 0)
