"""Read-only stock questions, answered from ``stock_balances`` (never by summing the ledger).

On hand, reserved and available per location·item·lot; an item across every location; the stock
card (ledger history) of an item, lot or unit; goods in transit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.kernel.items import Item, Lot, Unit
from app.kernel.locations import Location
from app.kernel.stock import LedgerEntry, StockBalance, StockStatus
from app.kernel.transfers import goods_in_transit

__all__ = [
    "available_quantity",
    "balances",
    "document_movements",
    "goods_in_transit",
    "item_stock",
    "near_expiry",
    "on_hand",
    "stock_card",
]


def balances(
    session: Session,
    *,
    location: Location | None = None,
    item: Item | None = None,
    lot: Lot | None = None,
    status: StockStatus | None = None,
    include_empty: bool = False,
) -> list[StockBalance]:
    """Balance rows matching the filters, ordered by location, item, lot, status."""
    query = select(StockBalance)
    if location is not None:
        query = query.where(StockBalance.location_id == location.id)
    if item is not None:
        query = query.where(StockBalance.item_id == item.id)
    if lot is not None:
        query = query.where(StockBalance.lot_id == lot.id)
    if status is not None:
        query = query.where(StockBalance.status == status)
    if not include_empty:
        query = query.where(StockBalance.on_hand != 0)
    query = query.order_by(
        StockBalance.location_id, StockBalance.item_id, StockBalance.lot_key, StockBalance.status
    ).execution_options(populate_existing=True)
    return list(session.scalars(query))


def _total(session, column, location, item, lot, status) -> Decimal:
    query = select(func.coalesce(func.sum(column), 0)).where(
        StockBalance.location_id == location.id,
        StockBalance.item_id == item.id,
        StockBalance.status == status,
    )
    if lot is not None:
        query = query.where(StockBalance.lot_id == lot.id)
    return Decimal(session.scalar(query))


def on_hand(
    session: Session,
    location: Location,
    item: Item,
    lot: Lot | None = None,
    status: StockStatus = StockStatus.available,
) -> Decimal:
    """On hand of ``item`` (one lot, or all lots) in ``status`` at ``location``."""
    return _total(session, StockBalance.on_hand, location, item, lot, status)


def available_quantity(
    session: Session, location: Location, item: Item, lot: Lot | None = None
) -> Decimal:
    """What can still be sold or promised: available on hand minus reserved."""
    return _total(
        session,
        StockBalance.on_hand - StockBalance.reserved,
        location,
        item,
        lot,
        StockStatus.available,
    )


def item_stock(session: Session, item: Item) -> list[StockBalance]:
    """Where ``item`` is, in every location and status (transit included)."""
    return balances(session, item=item)


def stock_card(
    session: Session,
    *,
    item: Item | None = None,
    lot: Lot | None = None,
    unit: Unit | None = None,
    location: Location | None = None,
) -> list[LedgerEntry]:
    """The ledger history (stock card, 库存卡) of an item, a lot or a unit, oldest first."""
    query = select(LedgerEntry)
    if item is not None:
        query = query.where(LedgerEntry.item_id == item.id)
    if lot is not None:
        query = query.where(LedgerEntry.lot_id == lot.id)
    if unit is not None:
        query = query.where(LedgerEntry.unit_id == unit.id)
    if location is not None:
        query = query.where(LedgerEntry.location_id == location.id)
    return list(session.scalars(query.order_by(LedgerEntry.id)))


def document_movements(
    session: Session, document: str
) -> list[tuple[LedgerEntry, Location, Item, Lot | None, Unit | None]]:
    """What one document moved (its ledger rows with their location, item, lot and unit), in
    posting order: the stock result a record page shows under the record."""
    query = (
        select(LedgerEntry, Location, Item, Lot, Unit)
        .join(Location, Location.id == LedgerEntry.location_id)
        .join(Item, Item.id == LedgerEntry.item_id)
        .outerjoin(Lot, Lot.id == LedgerEntry.lot_id)
        .outerjoin(Unit, Unit.id == LedgerEntry.unit_id)
        .where(LedgerEntry.document == document)
        .order_by(LedgerEntry.id)
    )
    return [tuple(row) for row in session.execute(query)]


def near_expiry(
    session: Session, today: dt.date, *, location: Location | None = None
) -> list[tuple[StockBalance, Lot]]:
    """Stock whose lot expires within its item's near-expiry threshold (or has expired)."""
    query = (
        select(StockBalance, Lot)
        .join(Lot, Lot.id == StockBalance.lot_id)
        .join(Item, Item.id == StockBalance.item_id)
        .where(StockBalance.on_hand > 0, Lot.expiry_date.is_not(None))
        .order_by(Lot.expiry_date, StockBalance.location_id)
    )
    if location is not None:
        query = query.where(StockBalance.location_id == location.id)
    return [
        (balance, lot)
        for balance, lot, threshold in session.execute(query.add_columns(Item.near_expiry_days))
        if lot.expiry_date <= today + dt.timedelta(days=threshold)
    ]
