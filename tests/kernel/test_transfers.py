"""Transfers: ship into transit, receive in part with damage, return the rest to the source."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.kernel import (
    InsufficientStock,
    InvalidMovement,
    LocationType,
    OverReceipt,
    ReceiveLine,
    ShipLine,
    StockStatus,
    TransferLineNotFound,
    Unit,
    UnitStatus,
    goods_in_transit,
    queries,
    receive,
    return_remainder,
    ship,
    transit_location,
)
from app.kernel.stock import StockNotAvailable
from tests.kernel import conftest
from tests.kernel.conftest import TODAY, assert_balances_match_ledger, sell


@pytest.fixture
def shipped(db, world):
    conftest.receive(db, world.strips, 10, world.wh, world.late)
    conftest.receive(db, world.ecg, 1, world.wh, unit=world.units[0])
    with db.transaction() as session:
        ship(
            session, "TO-1", world.wh, world.s1,
            [ShipLine(world.strips, Decimal(6), lot=world.late),
             ShipLine(world.ecg, Decimal(1), unit=world.units[0])],
            user=world.clerk, today=TODAY,
        )  # fmt: skip
    return world


def test_transit_location_is_made_once_per_pair_under_the_source_parent(db, world):
    with db.transaction() as session:
        first = transit_location(session, world.wh, world.s1)
        again = transit_location(session, world.wh, world.s1)
        back = transit_location(session, world.s1, world.wh)
    assert first.id == again.id != back.id
    assert first.type == LocationType.transit and first.parent_id == world.east.id


def test_goods_in_transit_are_visible_and_sellable_nowhere(db, shipped):
    w = shipped
    with db.session() as session:
        transit = transit_location(session, w.wh, w.s1)
        assert queries.on_hand(session, w.wh, w.strips, w.late) == Decimal(4)
        assert queries.on_hand(session, transit, w.strips, w.late, StockStatus.in_transit) == 6
        assert queries.on_hand(session, w.s1, w.strips, w.late) == Decimal(0)
        assert [(line.line, line.outstanding) for line in goods_in_transit(session, w.s1)] == [
            (1, Decimal(6)), (2, Decimal(1))
        ]  # fmt: skip
        unit = session.get(Unit, w.units[0].id)
        assert (unit.status, unit.location_id) == (UnitStatus.in_transit, transit.id)
        assert {b.location_id for b in queries.item_stock(session, w.strips)} == {
            w.wh.id, transit.id
        }  # fmt: skip
    with pytest.raises(InsufficientStock):
        sell(db, w.strips, 1, w.s1, w.late)
    with pytest.raises(StockNotAvailable):
        sell(db, w.strips, 1, transit, w.late)


def test_partial_receipt_with_damage_then_return_of_the_rest(db, shipped):
    w = shipped
    with db.transaction() as session:
        receive(session, "TO-1", [ReceiveLine(1, Decimal(4), Decimal(1)), ReceiveLine(2, 1)],
                user=w.clerk, receipt_document="TI-1")  # fmt: skip
    with db.session() as session:
        assert queries.on_hand(session, w.s1, w.strips, w.late) == Decimal(4)
        assert queries.on_hand(session, w.s1, w.strips, w.late, StockStatus.nonconforming) == 1
        [line] = goods_in_transit(session, w.s1)
        assert (line.received, line.damaged, line.outstanding) == (4, 1, 1)
        unit = session.get(Unit, w.units[0].id)
        assert (unit.status, unit.location_id) == (UnitStatus.in_stock, w.s1.id)
    with pytest.raises(OverReceipt) as caught, db.transaction() as session:
        receive(session, "TO-1", [ReceiveLine(1, Decimal(2))])
    assert caught.value.field == "quantity"
    with pytest.raises(TransferLineNotFound), db.transaction() as session:
        receive(session, "TO-1", [ReceiveLine(7, Decimal(1))])
    with db.transaction() as session:
        return_remainder(session, "TO-1")
    with db.session() as session:
        assert goods_in_transit(session) == []
        assert queries.on_hand(session, w.wh, w.strips, w.late) == Decimal(5)
        assert_balances_match_ledger(session)


def test_cannot_ship_to_itself_or_unavailable_stock(db, world):
    with pytest.raises(InvalidMovement), db.transaction() as session:
        ship(session, "TO-2", world.wh, world.wh, [ShipLine(world.gloves, Decimal(1))])
    with pytest.raises(InsufficientStock), db.transaction() as session:
        ship(session, "TO-2", world.wh, world.s1, [ShipLine(world.gloves, Decimal(1))])
