"""The one-screen stock view's kernel query: every location's figures of an item, hand-computed
for a small chain with lots in every status, a reservation, a quarantined lot and a transfer on
the road; limited to a set of locations; one statement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import event

from app.kernel import LotStatus, ShipLine, get_or_create_lot, queries, reserve, ship
from tests.kernel import conftest
from tests.kernel.conftest import BEFORE_EXPIRY, TODAY

FIGURES = ("on_hand", "reserved", "available", "awaiting_inspection", "nonconforming",
           "in_transit", "near_expiry", "expired", "earliest_expiry")  # fmt: skip


@pytest.fixture
def chain(db, world):
    """WH: late 100 (10 reserved, 15 shipped to S1), early 20 (near expiry), old 5 (expired),
    late 7 awaiting inspection, late 3 nonconforming. S1: early 4, 15 late on the road to it,
    and gloves (another item). S2: late 6 and a quarantined lot of 2."""
    w = world
    receive = conftest.receive
    receive(db, w.strips, 100, w.wh, w.late)
    receive(db, w.strips, 20, w.wh, w.early)
    receive(db, w.strips, 5, w.wh, w.old, today=BEFORE_EXPIRY)
    receive(db, w.strips, 7, w.wh, w.late, status="awaiting_inspection")
    receive(db, w.strips, 3, w.wh, w.late, status="nonconforming")
    receive(db, w.strips, 4, w.s1, w.early)
    receive(db, w.gloves, 50, w.s1)
    receive(db, w.strips, 6, w.s2, w.late)
    with db.transaction() as session:
        held = get_or_create_lot(session, w.strips, "L-HELD", TODAY + dt.timedelta(days=200))
    receive(db, w.strips, 2, w.s2, held)
    with db.transaction() as session:
        reserve(session, "SO-9", 1, w.strips, D(10), w.wh, lot=w.late, today=TODAY)
        ship(session, "TO-1", w.wh, w.s1, [ShipLine(w.strips, D(15), lot=w.late)], today=TODAY)
        session.get(type(held), held.id).status = LotStatus.quarantined
    return w


def figures(row) -> tuple:
    return tuple(getattr(row, name) for name in FIGURES)


def day(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


def test_every_location_of_the_item_in_every_status(db, chain):
    with db.session() as session:
        overview = queries.item_overview(session, chain.strips, TODAY)
    assert overview.near_expiry_until == day(90)
    assert [(row.code, figures(row)) for row in overview.locations] == [
        # on hand, reserved, available, awaiting, nonconforming, in transit, near, expired, first
        ("S1", (D(4), D(0), D(4), D(0), D(0), D(15), D(4), D(0), day(30))),
        ("S2", (D(8), D(0), D(6), D(0), D(0), D(0), D(0), D(0), day(200))),
        ("WH", (D(120), D(10), D(95), D(7), D(3), D(0), D(20), D(5), day(-1))),
    ]
    assert figures(overview.totals) == (
        D(132),
        D(10),
        D(105),
        D(7),
        D(3),
        D(15),
        D(24),
        D(5),
        day(-1),
    )
    # the transit location is never a row of its own: its goods count where they are going
    assert {row.type for row in overview.locations} == {"store", "warehouse"}


def test_only_the_given_locations_are_read(db, chain):
    with db.session() as session:
        s1 = queries.item_overview(session, chain.strips, TODAY, frozenset({chain.s1.id}))
        s2 = queries.item_overview(session, chain.strips, TODAY, frozenset({chain.s2.id}))
        nothing = queries.item_overview(session, chain.strips, TODAY, frozenset())
    assert [row.code for row in s1.locations] == ["S1"]
    assert s1.totals.in_transit == D(15) and s1.totals.on_hand == D(4)
    assert [row.code for row in s2.locations] == ["S2"]
    assert nothing.locations == [] and nothing.totals.on_hand == D(0)


def test_one_statement_answers_it(db, chain):
    statements = []
    with db.session() as session:
        item = session.get(type(chain.strips), chain.strips.id)
        connection = session.connection()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(connection, "before_cursor_execute", listener)
        queries.item_overview(session, item, TODAY)
        event.remove(connection, "before_cursor_execute", listener)
    assert len(statements) == 1
    assert "stock_ledger" not in statements[0]  # read from the balances, never the ledger
