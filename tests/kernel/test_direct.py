"""``direct.rows``: a large read as plain tuples, on both databases alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, literal, select

from app.kernel import direct
from app.kernel.items import Lot
from app.kernel.locations import Location
from tests.kernel.conftest import TODAY


def test_rows_are_plain_tuples_with_the_statement_s_own_values(db, world):
    query = (
        select(
            Lot.lot_number,
            Lot.expiry_date,
            (Lot.id == world.early.id).label("early"),
            literal(Decimal("1.5")) * 2,
        )
        .where(Lot.item_id == world.strips.id, Lot.expiry_date >= TODAY)  # bound values
        .order_by(Lot.lot_number)
    )
    with db.session() as session:
        rows = list(direct.rows(session.connection(), query))
    assert rows == [
        ("L-EARLY", TODAY + dt.timedelta(days=30), True, Decimal("3.0")),
        ("L-LATE", TODAY + dt.timedelta(days=400), False, Decimal("3.0")),
    ]
    assert all(type(row) is tuple for row in rows)


def test_rows_come_in_batches_and_the_transaction_goes_on(db, world):
    with db.session() as session:
        connection = session.connection()
        codes = [
            row[0]
            for row in direct.rows(
                connection, select(Location.code).order_by(Location.code), batch=2
            )
        ]
        assert codes == ["HQ", "R-EAST", "S1", "S2", "S9", "WH"]
        assert connection.scalar(select(func.count()).select_from(Location)) == 6
