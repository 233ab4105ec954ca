"""Read-only stock questions, answered from ``stock_balances`` (never by summing the ledger).

On hand, reserved and available per location·item·lot; an item across every location; the
one-screen stock view of an item (``item_overview``); the stock card (ledger history) of an item,
lot or unit; goods in transit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Date, and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from app.db import Quantity
from app.kernel.items import Item, Lot, LotStatus, Unit, UnitStatus, within_near_expiry
from app.kernel.locations import Location
from app.kernel.stock import LedgerEntry, StockBalance, StockStatus
from app.kernel.transfers import TransitRoute, goods_in_transit

__all__ = [
    "ItemOverview",
    "LocationFigures",
    "available_quantity",
    "balances",
    "document_movements",
    "goods_in_transit",
    "item_overview",
    "item_stock",
    "latest_unit_cost",
    "lots_held",
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


def lots_held(
    session: Session, location: Location, status: StockStatus = StockStatus.available
) -> list[tuple[Item, Lot | None, Decimal]]:
    """(item, lot, on hand) of each lot ``location`` holds in ``status`` (a serial-tracked
    lot's units together), by item code and expiry: what a storage check goes through."""
    query = (
        select(Item, Lot, StockBalance.on_hand)
        .join(Item, Item.id == StockBalance.item_id)
        .outerjoin(Lot, Lot.id == StockBalance.lot_id)
        .where(
            StockBalance.location_id == location.id,
            StockBalance.status == status,
            StockBalance.on_hand > 0,
        )
        .order_by(Item.code, Lot.expiry_date, Lot.lot_number)
    )
    return [tuple(row) for row in session.execute(query)]


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


def latest_unit_cost(session: Session, item: Item, lot: Lot | None) -> Decimal | None:
    """What a unit of ``item`` of ``lot`` cost: the latest ledger entry of the item and lot that
    carries a cost (its receipt, an opening balance), as the stock value reports price it —
    goods are costed by lot (个别计价), a lot's units all cost what it cost. ``None`` when no
    entry of it ever carried one."""
    lot_id = lot.id if lot is not None else None
    return session.scalar(
        select(LedgerEntry.unit_cost)
        .where(
            LedgerEntry.item_id == item.id,
            LedgerEntry.lot_id.is_(None) if lot_id is None else LedgerEntry.lot_id == lot_id,
            LedgerEntry.unit_cost.is_not(None),
        )
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )


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
        if within_near_expiry(lot.expiry_date, threshold, today)
    ]


# --- the one-screen stock view (一屏库存) -----------------------------------------------------


@dataclass(frozen=True)
class LocationFigures:
    """One location's stock of one item, every status at a glance.

    ``on_hand`` is what is physically there in any status; ``available`` is what can still be
    sold or promised (available status, minus reserved, of released lots not expired);
    ``in_transit`` is what is on its way TO the location; ``near_expiry`` and ``expired`` are the
    on-hand quantities of lots within the item's threshold (still good today) and past expiry;
    ``earliest_expiry`` is the earliest expiry date among the lots on hand.
    """

    location_id: int | None
    code: str
    name: str
    type: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    awaiting_inspection: Decimal
    nonconforming: Decimal
    in_transit: Decimal
    near_expiry: Decimal
    expired: Decimal
    earliest_expiry: dt.date | None


#: The quantity figures of ``LocationFigures``, the ones the totals add up.
FIGURES = ("on_hand", "reserved", "available", "awaiting_inspection", "nonconforming",
           "in_transit", "near_expiry", "expired")  # fmt: skip


@dataclass(frozen=True)
class ItemOverview:
    item: Item
    today: dt.date
    near_expiry_until: dt.date
    locations: list[LocationFigures]

    @property
    def totals(self) -> LocationFigures:
        """The figures of every location shown, added up (earliest expiry: the earliest)."""
        expiries = [row.earliest_expiry for row in self.locations if row.earliest_expiry]
        return LocationFigures(
            None, "", "", "",
            **{name: sum((getattr(row, name) for row in self.locations), Decimal(0))
               for name in FIGURES},
            earliest_expiry=min(expiries, default=None),
        )  # fmt: skip


def item_overview(
    session: Session,
    item: Item,
    today: dt.date,
    location_ids: frozenset[int] | set[int] | None = None,
) -> ItemOverview:
    """Every location's figures of ``item`` in ONE statement over the balances, by location code.

    Goods in transit count at the destination of their transit route, so a location sees what is
    coming to it. ``location_ids`` limits the answer to those locations (the caller's data scope;
    ``None`` for all): a location outside it is never read into the result. Only locations with
    stock of the item (on hand or inbound) appear.
    """
    balance, lot, route = StockBalance.__table__, Lot.__table__, TransitRoute.__table__
    location = Location.__table__
    near_until = today + dt.timedelta(days=item.near_expiry_days)
    holder = func.coalesce(route.c.destination_id, balance.c.location_id)
    here = balance.c.status != StockStatus.in_transit
    expiry = lot.c.expiry_date

    def total(condition, value=balance.c.on_hand):
        summed = func.coalesce(func.sum(case((condition, value), else_=0)), 0)
        return type_coerce(summed, Quantity)

    sellable = and_(
        balance.c.status == StockStatus.available,
        or_(lot.c.status.is_(None), lot.c.status == LotStatus.released),
        or_(expiry.is_(None), expiry >= today),
    )
    figures = (
        select(
            holder.label("location_id"),
            total(here).label("on_hand"),
            total(here, balance.c.reserved).label("reserved"),
            total(sellable, balance.c.on_hand - balance.c.reserved).label("available"),
            total(balance.c.status == StockStatus.awaiting_inspection).label("awaiting_inspection"),
            total(balance.c.status == StockStatus.nonconforming).label("nonconforming"),
            total(balance.c.status == StockStatus.in_transit).label("in_transit"),
            total(and_(here, expiry >= today, expiry <= near_until)).label("near_expiry"),
            total(and_(here, expiry < today)).label("expired"),
            type_coerce(func.min(case((here, expiry))), Date).label("earliest_expiry"),
        )
        .select_from(
            balance.outerjoin(lot, lot.c.id == balance.c.lot_id).outerjoin(
                route, route.c.transit_id == balance.c.location_id
            )
        )
        .where(balance.c.item_id == item.id, balance.c.on_hand != 0)
        .group_by(holder)
    )
    if location_ids is not None:
        figures = figures.where(holder.in_(sorted(location_ids)))
    figures = figures.subquery()
    query = (
        select(
            location.c.code, location.c.name, location.c.type,
            *(figures.c[name] for name in ("location_id", *FIGURES, "earliest_expiry")),
        )
        .join_from(figures, location, location.c.id == figures.c.location_id)
        .order_by(location.c.code)
    )  # fmt: skip
    rows = [
        LocationFigures(**{**row._mapping, "type": str(row.type)}) for row in session.execute(query)
    ]
    return ItemOverview(item, today, near_until, rows)


def units_in_status(session: Session, location, item, lot_id, status) -> set[int]:
    """The units in stock at ``location`` whose ledger rows there leave them under ``status``
    (the unit row says where a unit is; its stock status is in the ledger)."""
    total = func.sum(LedgerEntry.quantity)
    query = (
        select(Unit.id)
        .join(LedgerEntry, LedgerEntry.unit_id == Unit.id)
        .where(
            Unit.item_id == item.id, Unit.location_id == location.id,
            Unit.status == UnitStatus.in_stock,
            Unit.lot_id.is_(None) if lot_id is None else Unit.lot_id == lot_id,
            LedgerEntry.location_id == location.id, LedgerEntry.status == str(status),
        )
        .group_by(Unit.id)
        .having(total > 0)
    )  # fmt: skip
    return set(session.scalars(query))
