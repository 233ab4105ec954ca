"""A small stock world for kernel tests: one region, a warehouse, two stores, three items."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.kernel import (
    Movement,
    Reason,
    StockBalance,
    TrackingMode,
    User,
    add_item,
    add_location,
    get_or_create_lot,
    get_or_create_unit,
    post_movements,
)
from app.kernel.stock import LedgerEntry

TODAY = dt.date(2026, 11, 25)
#: A day when every lot of the world was still good: stock that has since expired was received then
#: (an expired lot is refused into available stock).
BEFORE_EXPIRY = TODAY - dt.timedelta(days=2)


@pytest.fixture
def world(db):
    """Locations, items, lots and a user; objects stay usable after their session closes."""
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        east = add_location(session, "R-EAST", "华东区", "region", hq)
        wh = add_location(session, "WH", "上海中心仓", "warehouse", east)
        s1 = add_location(session, "S1", "徐汇店", "store", east)
        s2 = add_location(session, "S2", "静安店", "store", east)
        closed = add_location(session, "S9", "已关店", "store", east, active=False)
        clerk = User(username="clerk", full_name="店员 刘洋", password_hash="x")
        session.add(clerk)
        strips = add_item(
            session, "STRIP", "血糖试纸", gtin="06901234567892", tracking=TrackingMode.lot,
            expiry_required=True, near_expiry_days=90,
        )  # fmt: skip
        gloves = add_item(
            session, "GLOVE", "检查手套", tracking=TrackingMode.none, expiry_required=False
        )
        ecg = add_item(
            session, "ECG", "心电图机", gtin="06901234567809", tracking=TrackingMode.serial,
            expiry_required=False, device_class="II",
        )  # fmt: skip
        early = get_or_create_lot(session, strips, "L-EARLY", TODAY + dt.timedelta(days=30))
        late = get_or_create_lot(session, strips, "L-LATE", TODAY + dt.timedelta(days=400))
        old = get_or_create_lot(session, strips, "L-OLD", TODAY - dt.timedelta(days=1))
        ecg_lot = get_or_create_lot(session, ecg, "E-2026", None)
        units = [get_or_create_unit(session, ecg, f"SN{n}", ecg_lot) for n in range(1, 4)]
        session.flush()
    return SimpleNamespace(
        hq=hq, east=east, wh=wh, s1=s1, s2=s2, closed=closed, clerk=clerk,
        strips=strips, gloves=gloves, ecg=ecg, early=early, late=late, old=old,
        ecg_lot=ecg_lot, units=units,
    )  # fmt: skip


def receive(
    db, item, quantity, location, lot=None, unit=None, status="available", today=TODAY, **kwargs
):
    """Book a purchase receipt straight to ``status`` (default available) on ``today``."""
    with db.transaction() as session:
        return post_movements(
            session,
            [Movement(item=item, quantity=Decimal(quantity), destination=location, lot=lot,
                      unit=unit, destination_status=status, unit_cost=Decimal("1.50"))],
            reason=Reason.purchase_receipt, document="PR-1", today=today, **kwargs,
        )  # fmt: skip


def sell(db, item, quantity, location, lot=None, unit=None, today=TODAY):
    with db.transaction() as session:
        return post_movements(
            session,
            [Movement(item=item, quantity=Decimal(quantity), source=location, lot=lot, unit=unit)],
            reason=Reason.sale, document="SO-1", today=today,
        )  # fmt: skip


def assert_balances_match_ledger(session) -> None:
    """The kernel's central invariant: every balance equals the sum of its ledger rows."""
    ledger = {
        (row.location_id, row.item_id, row.lot_id or 0, str(row.status)): row.total
        for row in session.execute(
            select(
                LedgerEntry.location_id, LedgerEntry.item_id, LedgerEntry.lot_id,
                LedgerEntry.status, func.sum(LedgerEntry.quantity).label("total"),
            ).group_by(
                LedgerEntry.location_id, LedgerEntry.item_id, LedgerEntry.lot_id,
                LedgerEntry.status,
            )
        )
    }  # fmt: skip
    balances = {
        balance.key: balance.on_hand
        for balance in session.scalars(select(StockBalance))
        if balance.on_hand or balance.key in ledger
    }
    assert balances == ledger
    for balance in session.scalars(select(StockBalance)):
        assert 0 <= balance.reserved <= balance.on_hand
