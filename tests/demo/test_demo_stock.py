"""The demo stock comes from real documents and leaves a consistent, interesting chain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.kernel import Item, Lot, audit, goods_in_transit, is_valid_gtin, queries
from app.kernel.items import business_today
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
