"""The demo stock comes from real documents and leaves a consistent, interesting chain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.kernel import Item, Lot, audit, goods_in_transit, is_valid_gtin, periods, queries
from app.kernel.items import business_today
from app.kernel.stock import LedgerEntry
from tests.kernel.conftest import assert_balances_match_ledger


def test_demo_stock_is_consistent_and_shows_every_case(db, load_demo):
    load_demo(stores=4, warehouses=1, items=30, days=45)
    today = business_today()
    with db.session() as session:
        items = session.scalars(select(Item)).all()
        assert len(items) == 30 and all(is_valid_gtin(item.gtin) for item in items)
        assert {item.device_class for item in items} == {"I", "II", "III"}
        assert {item.tracking for item in items} == {"none", "lot", "serial"}
        assert any(item.storage_condition == "cold_chain" for item in items)
        lots = session.scalars(select(Lot).where(Lot.expiry_date.is_not(None))).all()
        assert any(lot.expiry_date < today for lot in lots)
        assert any(today <= lot.expiry_date <= today + dt.timedelta(days=90) for lot in lots)
        assert goods_in_transit(session)
        locations_with_stock = {b.location_id for b in queries.balances(session)}
        assert len(locations_with_stock) >= 5
        assert_balances_match_ledger(session)
        assert audit.verify(session) == []


def test_finance_has_closed_the_histories_months_but_last(db, load_demo):
    """The demo's months are closed in order up to the one before last (left for finance to
    close on the page): nothing the history leaves unfinished keeps them open, and each kept
    closing stock is the ledger up to the month's end."""
    summary = load_demo(stores=2, warehouses=1, items=20, days=70)
    today = business_today()
    month, expected = today - dt.timedelta(days=69), []
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    while month.strftime("%Y-%m") < last_month:
        expected.append(month.strftime("%Y-%m"))
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    assert summary.closed_months == expected and expected
    with db.session() as session:
        latest = periods.history(session)[0]
        kept = {
            (row.location_id, row.item_id, row.lot_id, str(row.status)): row.quantity
            for row in session.scalars(
                select(periods.PeriodBalance).where(periods.PeriodBalance.period_id == latest.id)
            )
        }
        ledger = session.execute(
            select(LedgerEntry.location_id, LedgerEntry.item_id, LedgerEntry.lot_id,
                   LedgerEntry.status, func.sum(LedgerEntry.quantity))
            .where(LedgerEntry.at < periods.end_of(latest.through))
            .group_by(LedgerEntry.location_id, LedgerEntry.item_id, LedgerEntry.lot_id,
                      LedgerEntry.status)
        )  # fmt: skip
        assert kept == {(a, b, c, str(d)): q for a, b, c, d, q in ledger if q} and kept
