"""Replenishment and transfer suggestions (补货 / 调拨建议) for the whole chain, set-based.

What each (location, item) with a stock policy stands at, and what every warehouse could give,
is computed by a few SQL statements over the whole chain into two temporary tables; only the
rows that matter (needs, sources, and destinations for near-expiry stock) come back to Python,
where a greedy pass matches them. Never one query per item or per location.

Figures, per (location, item):

* **projected** = sellable (available, of usable lots: released, not expired) + awaiting
  inspection + inbound in transit + open incoming − open outgoing. "Open" is what documents
  already promise and the caller passes in (transfer requests not yet shipped, purchase orders not
  yet received, suggestions not yet decided): running the plan twice never orders twice.
* **velocity** = units sold (ledger reason ``sale``) in the last ``sales_days`` days / that many.
* **target** = the policy's maximum stock; without one, reorder point + ``cover_days`` of sales.
* **need** (when projected ≤ reorder point) = target − projected, in whole units.
* **surplus** of a location with a policy = what it holds above its target:
  min(sellable − outgoing, projected − target); a warehouse without a policy for the item gives
  all its sellable stock but ``warehouse_reserve``; a store without one gives nothing.

Matching:

1. **Near-expiry stock** that will not sell where it is before it expires (FEFO: the earliest
   lots sell first, at the location's velocity) moves to a faster-selling location that will
   sell it in time, allowing ``transfer_days`` on the road (fastest first, nearest on a tie);
   what no location can sell in time goes back to the supplier (``return``).
2. **Needs**, item by item, fastest-selling location first: from the nearest source with surplus
   (great-circle distance), earliest-expiring lots first, and a lot only as far as the
   destination sells it before it turns near-expiry: with ``ahead`` the destination's projected
   stock plus what this plan already sends it, ``ahead + q ≤ velocity × (days to expiry − the
   item's near-expiry days)``. The remainder becomes a purchase for the needing location.

The kernel knows nothing of forms: the policies and the open commitments come in as SQL
selectables built by the caller (from the stock policy, transfer and order records), and the
suggestions go out as plain lines for the caller to write as records.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Quantity
from app.kernel.geo import great_circle_km
from app.kernel.items import BUSINESS_TIMEZONE, Item, Lot, LotStatus, business_today
from app.kernel.locations import Location, LocationType
from app.kernel.stock import LedgerEntry, Reason, StockBalance, StockStatus
from app.kernel.transfers import TransferLine

ZERO = Decimal(0)
#: Sales in a time window are read by reason and time: this index serves the velocity query on a
#: ledger of years (declared here, next to the one query that needs it; migration 0020).
SALES_INDEX = Index("ix_stock_ledger_reason_at", LedgerEntry.reason, LedgerEntry.at)


class StockPolicy(Base):
    """What replenishment aims at per (location, item) (库存策略), typed: the plan reads this table.

    It is the kernel's copy of the application's stock policy records, kept in step with them
    when they are saved (``app.meta.mirrors``); ``record_id`` names the record it copies.
    """

    __tablename__ = "stock_policies"

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    safety_stock: Mapped[Decimal] = mapped_column(Quantity)
    reorder_point: Mapped[Decimal] = mapped_column(Quantity)
    max_stock: Mapped[Decimal | None] = mapped_column(Quantity)
    record_id: Mapped[int | None] = mapped_column(Integer, unique=True)


def stock_policies() -> Select:
    """Every typed stock policy, in the shape ``plan`` takes."""
    table = StockPolicy.__table__
    return select(
        table.c.location_id,
        table.c.item_id,
        table.c.safety_stock,
        table.c.reorder_point,
        table.c.max_stock,
    )


@dataclass(frozen=True)
class PlanSettings:
    """The knobs of a plan (``metadata/settings.yaml``, section ``replenishment``)."""

    #: Velocity is the average daily sales over this many days.
    sales_days: int = 28
    #: Without a maximum stock, a policy aims at its reorder point plus this many days of sales.
    cover_days: int = 14
    #: Days goods spend on the road: a near-expiry lot must sell this much before it expires.
    transfer_days: int = 3
    #: What a warehouse without a policy for an item keeps of it.
    warehouse_reserve: Decimal = ZERO


@dataclass
class SuggestionLine:
    """One suggested movement. ``action``: ``transfer`` (from a location), ``purchase`` (from the
    item's supplier, ``from_location_id`` None) or ``return`` (to the supplier the lot came from,
    ``to_location_id`` None); ``reason``: ``reorder`` or ``near_expiry``. The figures say why:
    the projected stock, reorder point, velocity (units/day) and days of cover of the location
    the line is for (the destination of a reorder, the source of near-expiry stock), and the
    distance the goods travel."""

    reason: str
    action: str
    item_id: int
    quantity: Decimal
    from_location_id: int | None = None
    to_location_id: int | None = None
    lot_id: int | None = None
    lot_number: str | None = None
    expiry_date: dt.date | None = None
    projected: Decimal = ZERO
    reorder_point: Decimal | None = None
    velocity: Decimal = ZERO
    days_of_cover: Decimal | None = None
    distance_km: Decimal | None = None
    #: The purchase receipt the lot first came in with (a return goes to that supplier).
    receipt_document: str | None = None

    @property
    def location_id(self) -> int:
        """The location the line is decided at: the needing one, or the one holding the stock."""
        return self.to_location_id if self.reason == "reorder" else self.from_location_id


@dataclass
class Plan:
    lines: list[SuggestionLine]
    #: How many (location, item) positions were planned, needs found, and so on.
    counts: dict[str, int] = field(default_factory=dict)


def plan(
    session: Session,
    policies: Select,
    commitments: Select | None = None,
    settings: PlanSettings | None = None,
    *,
    today: dt.date | None = None,
    locations: set[int] | None = None,
) -> Plan:
    """The chain's suggestions.

    ``policies`` selects ``location_id, item_id, safety_stock, reorder_point, max_stock`` (one row
    per pair); ``commitments`` selects ``location_id, item_id, incoming, outgoing`` rows (summed
    here). ``locations``, when given, limits whose needs and near-expiry stock are planned (the
    planner's data scope); sources are the whole chain's.
    """
    settings = settings or PlanSettings()
    today = today or business_today()
    staging = _Staging(session, settings, today)
    try:
        staging.stage(policies, commitments)
        positions = staging.read_positions()
        excess = staging.read_excess()
        lots = staging.read_lots()
    finally:
        staging.drop()
    matcher = _Matcher(positions, lots, settings, today, locations)
    matcher.move_near_expiry(excess)
    matcher.replenish()
    matcher.counts["positions"] = staging.position_count
    return Plan(matcher.lines, matcher.counts)


# --- staging: the chain's positions in SQL ------------------------------------------------------

_balances, _ledger, _lots = StockBalance.__table__, LedgerEntry.__table__, Lot.__table__
_locations, _items, _transfers = Location.__table__, Item.__table__, TransferLine.__table__
STOCK_LOCATIONS = (LocationType.store, LocationType.warehouse)
#: PostgreSQL's memory for each sort or hash of the plan's statements (see ``stage``).
WORK_MEM = "256MB"


def _position_table(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("location_id", Integer, primary_key=True),
        Column("item_id", Integer, primary_key=True),
        Column("has_policy", Integer),
        Column("safety_stock", Quantity),
        Column("reorder_point", Quantity),
        Column("max_stock", Quantity),
        Column("sellable", Quantity),
        Column("inspecting", Quantity),
        Column("in_transit", Quantity),
        Column("incoming", Quantity),
        Column("outgoing", Quantity),
        Column("sold", Quantity),
        prefixes=["TEMPORARY"],
    )


def _excess_table(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("location_id", Integer),
        Column("item_id", Integer),
        Column("lot_id", Integer),
        Column("lot_number", String(64)),
        Column("expiry_date", Date),
        Column("available", Quantity),
        Column("ahead", Quantity),
        Column("sold", Quantity),
        Column("outgoing", Quantity),
        Column("receipt_document", String(64)),
        prefixes=["TEMPORARY"],
    )


def _sum(expression, name: str):
    return type_coerce(func.coalesce(func.sum(expression), 0), Quantity).label(name)


class _Staging:
    """The temporary tables of one plan and the statements that fill and read them."""

    def __init__(self, session: Session, settings: PlanSettings, today: dt.date):
        self.session, self.settings, self.today = session, settings, today
        suffix = uuid.uuid4().hex[:8]
        self.positions = _position_table(f"rp_positions_{suffix}")
        self.excess = _excess_table(f"rp_excess_{suffix}")
        self.position_count = 0

    @property
    def connection(self):
        return self.session.connection()

    def drop(self) -> None:
        for table in (self.excess, self.positions):
            table.drop(self.connection, checkfirst=True)

    # filling ------------------------------------------------------------------------------------
    def _usable_lot(self):
        """Stock of no lot, or of a released lot that has not expired."""
        return or_(
            _balances.c.lot_id.is_(None),
            and_(
                _lots.c.status == LotStatus.released,
                or_(_lots.c.expiry_date.is_(None), _lots.c.expiry_date >= self.today),
            ),
        )

    def _stock(self):
        available, inspecting = StockStatus.available, StockStatus.awaiting_inspection
        status = _balances.c.status
        return (
            select(
                _balances.c.location_id,
                _balances.c.item_id,
                _sum(
                    case(
                        (status == available, _balances.c.on_hand - _balances.c.reserved), else_=0
                    ),
                    "sellable",
                ),
                _sum(case((status == inspecting, _balances.c.on_hand), else_=0), "inspecting"),
            )
            .select_from(_balances.outerjoin(_lots, _lots.c.id == _balances.c.lot_id))
            .where(status.in_([available, inspecting]), _balances.c.on_hand > 0, self._usable_lot())
            .group_by(_balances.c.location_id, _balances.c.item_id)
            .subquery("stock")
        )

    def _transit(self):
        outstanding = (
            _transfers.c.shipped
            - _transfers.c.received
            - _transfers.c.damaged
            - _transfers.c.returned
        )
        return (
            select(
                _transfers.c.destination_id.label("location_id"),
                _transfers.c.item_id,
                _sum(outstanding, "in_transit"),
            )
            .where(outstanding > 0)
            .group_by(_transfers.c.destination_id, _transfers.c.item_id)
            .subquery("transit")
        )

    def sales_since(self) -> dt.datetime:
        start = self.today - dt.timedelta(days=self.settings.sales_days)
        return dt.datetime.combine(start, dt.time.min, BUSINESS_TIMEZONE).astimezone(dt.UTC)

    def _sales(self):
        return (
            select(_ledger.c.location_id, _ledger.c.item_id, _sum(-_ledger.c.quantity, "sold"))
            .where(_ledger.c.reason == str(Reason.sale), _ledger.c.at >= self.sales_since())
            .group_by(_ledger.c.location_id, _ledger.c.item_id)
            .subquery("sales")
        )

    @staticmethod
    def _commitments(commitments: Select | None):
        if commitments is None:
            empty = literal(0, Integer)
            commitments = select(
                empty.label("location_id"),
                empty.label("item_id"),
                literal(0, Quantity).label("incoming"),
                literal(0, Quantity).label("outgoing"),
            ).where(literal(1) == 0)
        rows = commitments.subquery("commitment_rows")
        return (
            select(
                rows.c.location_id,
                rows.c.item_id,
                _sum(rows.c.incoming, "incoming"),
                _sum(rows.c.outgoing, "outgoing"),
            )
            .group_by(rows.c.location_id, rows.c.item_id)
            .subquery("commitments")
        )

    def stage(self, policies: Select, commitments: Select | None) -> None:
        """Fill the positions: every policy pair, then every warehouse's other holdings."""
        connection = self.connection
        if connection.dialect.name == "postgresql":
            # millions of (location, item) groups: hash them in memory rather than spill them
            # to disk in many batches (the default work_mem is 4 MB); this transaction only
            connection.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        self.positions.create(connection)
        self.excess.create(connection)
        policy = policies.subquery("policy")
        stock, committed = self._stock(), self._commitments(commitments)
        transit, sales = self._transit(), self._sales()
        zero = type_coerce(literal(0), Quantity)

        def value(column):
            return func.coalesce(column, zero)

        open_location = and_(_locations.c.active.is_(True), _locations.c.type.in_(STOCK_LOCATIONS))
        planned = (
            select(
                policy.c.location_id,
                policy.c.item_id,
                literal(1),
                policy.c.safety_stock,
                policy.c.reorder_point,
                policy.c.max_stock,
                value(stock.c.sellable),
                value(stock.c.inspecting),
                value(transit.c.in_transit),
                value(committed.c.incoming),
                value(committed.c.outgoing),
                value(sales.c.sold),
            )
            .select_from(
                policy.join(_locations, _locations.c.id == policy.c.location_id)
                .join(_items, _items.c.id == policy.c.item_id)
                .outerjoin(stock, _same(stock, policy))
                .outerjoin(transit, _same(transit, policy))
                .outerjoin(committed, _same(committed, policy))
                .outerjoin(sales, _same(sales, policy))
            )
            .where(open_location, _items.c.active.is_(True))
        )
        columns = [column.name for column in self.positions.columns]
        connection.execute(insert(self.positions).from_select(columns, planned))
        held = self.positions.alias("held")
        warehouses = (
            select(
                stock.c.location_id,
                stock.c.item_id,
                literal(0),
                null(),
                null(),
                null(),
                stock.c.sellable,
                stock.c.inspecting,
                zero,
                value(committed.c.incoming),
                value(committed.c.outgoing),
                zero,
            )
            .select_from(
                stock.join(_locations, _locations.c.id == stock.c.location_id).outerjoin(
                    committed, _same(committed, stock)
                )
            )
            .where(
                _locations.c.type == LocationType.warehouse,
                _locations.c.active.is_(True),
                stock.c.sellable > 0,
                ~exists().where(_same(held, stock)),
            )
        )
        connection.execute(insert(self.positions).from_select(columns, warehouses))
        self.position_count = connection.scalar(select(func.count()).select_from(self.positions))
        self._stage_excess(committed)

    def _stage_excess(self, committed) -> None:
        """Near-expiry lots (within their item's threshold, not expired) that will not sell where
        they are before they expire: FEFO, the lots ahead of each one sell first."""
        b, sales, n = _balances, self._sales(), self.settings.sales_days
        last_day = self.today + dt.timedelta(days=_max_threshold(self.session))
        quantity = (b.c.on_hand - b.c.reserved).label("available")
        lots = (
            select(
                b.c.location_id,
                b.c.item_id,
                b.c.lot_id,
                _lots.c.lot_number,
                _lots.c.expiry_date,
                _items.c.near_expiry_days,
                quantity,
                func.coalesce(
                    func.sum(quantity).over(
                        partition_by=(b.c.location_id, b.c.item_id),
                        order_by=(_lots.c.expiry_date, b.c.lot_id),
                        rows=(None, -1),
                    ),
                    0,
                ).label("ahead"),
                func.coalesce(sales.c.sold, 0).label("sold"),
                func.coalesce(committed.c.outgoing, 0).label("outgoing"),
            )
            .select_from(
                b.join(_lots, _lots.c.id == b.c.lot_id)
                .join(_items, _items.c.id == b.c.item_id)
                .join(_locations, _locations.c.id == b.c.location_id)
                .outerjoin(sales, _same(sales, b))
                .outerjoin(committed, _same(committed, b))
            )
            .where(
                b.c.status == StockStatus.available,
                b.c.on_hand > b.c.reserved,
                _lots.c.status == LotStatus.released,
                _lots.c.expiry_date >= self.today,
                _lots.c.expiry_date <= last_day,
                _locations.c.type.in_(STOCK_LOCATIONS),
                _locations.c.active.is_(True),
            )
            .subquery("near")
        )
        days_left = _days_between(lots.c.expiry_date, self.today, self.connection.dialect.name)
        receipt = (
            select(func.min(_ledger.c.document))
            .where(_ledger.c.lot_id == lots.c.lot_id, _ledger.c.reason == Reason.purchase_receipt)
            .scalar_subquery()
        )
        excess = select(
            lots.c.location_id,
            lots.c.item_id,
            lots.c.lot_id,
            lots.c.lot_number,
            lots.c.expiry_date,
            lots.c.available,
            lots.c.ahead,
            lots.c.sold,
            lots.c.outgoing,
            receipt,
        ).where(
            days_left <= lots.c.near_expiry_days,
            # more than sells by its expiry: (ahead + available) > sold / n × days left
            (lots.c.ahead + lots.c.available) * n > lots.c.sold * days_left,
        )
        columns = [column.name for column in self.excess.columns]
        self.connection.execute(insert(self.excess).from_select(columns, excess))

    # reading ------------------------------------------------------------------------------------
    def _projected(self, p):
        return p.c.sellable + p.c.inspecting + p.c.in_transit + p.c.incoming - p.c.outgoing

    def _conditions(self):
        """Which positions matter: needs; sources of needed or excess items; and locations that
        sell an excess item fast enough to take some of it before it expires."""
        p, n = self.positions, self.settings.sales_days
        projected = self._projected(p)
        need = and_(p.c.has_policy == 1, projected <= p.c.reorder_point)
        needed = self.positions.alias("needed")
        needed_items = select(needed.c.item_id).where(
            needed.c.has_policy == 1, self._projected(needed) <= needed.c.reorder_point
        )
        excess_items = select(self.excess.c.item_id)
        gives = and_(
            p.c.sellable - p.c.outgoing > 0,
            or_(p.c.has_policy == 0, projected > func.coalesce(p.c.max_stock, p.c.reorder_point)),
            or_(p.c.item_id.in_(needed_items), p.c.item_id.in_(excess_items)),
        )
        takes = and_(
            p.c.has_policy == 1,
            p.c.sold > 0,
            p.c.item_id.in_(excess_items),
            projected * n < p.c.sold * _items.c.near_expiry_days,
        )
        return need, gives, takes

    def read_positions(self) -> dict[tuple[int, int], _Position]:
        p = self.positions
        need, gives, takes = self._conditions()
        rows = self.connection.execute(
            select(
                p,
                _items.c.near_expiry_days,
                _locations.c.code,
                _locations.c.type,
                _locations.c.latitude,
                _locations.c.longitude,
            )
            .select_from(
                p.join(_items, _items.c.id == p.c.item_id).join(
                    _locations, _locations.c.id == p.c.location_id
                )
            )
            .where(or_(need, gives, takes))
        )
        places: dict[int, _Place] = {}
        positions = {}
        for row in rows:
            place = places.get(row.location_id)
            if place is None:
                place = places[row.location_id] = _Place(
                    row.location_id, row.code, str(row.type), row.latitude, row.longitude
                )
            positions[row.location_id, row.item_id] = _Position(
                place=place,
                item_id=row.item_id,
                near_expiry_days=row.near_expiry_days,
                has_policy=bool(row.has_policy),
                safety_stock=row.safety_stock,
                reorder_point=row.reorder_point,
                max_stock=row.max_stock,
                sellable=row.sellable,
                projected=row.sellable
                + row.inspecting
                + row.in_transit
                + row.incoming
                - row.outgoing,
                outgoing=row.outgoing,
                velocity=row.sold / self.settings.sales_days,
            )
        self.places = places
        return positions

    def read_excess(self) -> list[_ExcessLot]:
        e, n = self.excess, self.settings.sales_days
        rows = self.connection.execute(
            select(
                e,
                _locations.c.code,
                _locations.c.type,
                _locations.c.latitude,
                _locations.c.longitude,
            )
            .join(_locations, _locations.c.id == e.c.location_id)
            .order_by(e.c.expiry_date, _locations.c.code, e.c.lot_id)
        )
        found = []
        for row in rows:
            place = self.places.get(row.location_id) or _Place(
                row.location_id, row.code, str(row.type), row.latitude, row.longitude
            )
            self.places.setdefault(row.location_id, place)
            found.append(
                _ExcessLot(
                    place=place,
                    item_id=row.item_id,
                    lot=_LotStock(row.lot_id, row.lot_number, row.expiry_date, row.available),
                    ahead=row.ahead,
                    outgoing=row.outgoing,
                    velocity=row.sold / n,
                    receipt_document=row.receipt_document,
                )
            )
        return found

    def read_lots(self) -> dict[tuple[int, int], list[_LotStock]]:
        """The usable lots of every source, earliest expiry first (no expiry last)."""
        p, b = self.positions, _balances
        _need, gives, _takes = self._conditions()
        rows = self.connection.execute(
            select(
                b.c.location_id,
                b.c.item_id,
                b.c.lot_id,
                _lots.c.lot_number,
                _lots.c.expiry_date,
                (b.c.on_hand - b.c.reserved).label("available"),
            )
            .select_from(
                p.join(_items, _items.c.id == p.c.item_id)
                .join(b, _same(b, p))
                .outerjoin(_lots, _lots.c.id == b.c.lot_id)
            )
            .where(
                gives,
                b.c.status == StockStatus.available,
                b.c.on_hand > b.c.reserved,
                self._usable_lot(),
            )
            .order_by(
                b.c.location_id,
                b.c.item_id,
                _lots.c.expiry_date.is_(None),
                _lots.c.expiry_date,
                b.c.lot_id,
            )
        )
        lots: dict[tuple[int, int], list[_LotStock]] = defaultdict(list)
        for row in rows:
            lots[row.location_id, row.item_id].append(
                _LotStock(row.lot_id, row.lot_number, row.expiry_date, row.available)
            )
        return lots


def _same(left, right):
    return and_(left.c.location_id == right.c.location_id, left.c.item_id == right.c.item_id)


def _days_between(date_column, today: dt.date, dialect: str):
    """Whole days from ``today`` to ``date_column``, on both databases."""
    if dialect == "postgresql":
        return date_column - today
    return func.julianday(date_column) - func.julianday(today.isoformat())


def _max_threshold(session: Session) -> int:
    return session.scalar(select(func.max(Item.near_expiry_days))) or 0


# --- matching in Python -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    id: int
    code: str
    type: str
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass(eq=False)
class _LotStock:
    lot_id: int | None
    lot_number: str | None
    expiry_date: dt.date | None
    left: Decimal


@dataclass(eq=False)
class _Position:
    place: _Place
    item_id: int
    near_expiry_days: int
    has_policy: bool
    safety_stock: Decimal | None
    reorder_point: Decimal | None
    max_stock: Decimal | None
    sellable: Decimal
    projected: Decimal
    outgoing: Decimal
    velocity: Decimal
    #: What this plan sends here (adds to what sells ahead of a new lot).
    arriving: Decimal = ZERO
    #: What this location may still give.
    give: Decimal = ZERO

    @property
    def cover(self) -> Decimal | None:
        """Days the projected stock lasts at the current velocity."""
        return self.projected / self.velocity if self.velocity > 0 else None

    def target(self, settings: PlanSettings) -> Decimal:
        if self.max_stock is not None:
            return self.max_stock
        return self.reorder_point + self.velocity * settings.cover_days

    def need(self, settings: PlanSettings) -> Decimal:
        if not self.has_policy or self.projected > self.reorder_point:
            return ZERO
        return _whole(self.target(settings) - self.projected, ROUND_CEILING)

    def surplus(self, settings: PlanSettings) -> Decimal:
        free = self.sellable - self.outgoing
        if not self.has_policy:
            return _whole(free - settings.warehouse_reserve)
        return _whole(min(free, self.projected - self.target(settings)))


@dataclass(eq=False)
class _ExcessLot:
    place: _Place
    item_id: int
    lot: _LotStock
    ahead: Decimal
    #: What open documents already take out of this location (the earliest lots, FEFO).
    outgoing: Decimal
    velocity: Decimal
    receipt_document: str | None


def _whole(quantity: Decimal, rounding=ROUND_FLOOR) -> Decimal:
    """Whole units (suggestions move whole units); never negative."""
    return max(ZERO, quantity.to_integral_value(rounding))


def _sells_by(velocity: Decimal, days: int, ahead: Decimal) -> Decimal:
    """Whole units that sell within ``days`` after the ``ahead`` units that sell first."""
    return _whole(velocity * days - ahead)


class _Matcher:
    def __init__(self, positions, lots, settings: PlanSettings, today: dt.date, locations):
        self.positions: dict[tuple[int, int], _Position] = positions
        self.settings, self.today, self.scope = settings, today, locations
        self.lines: list[SuggestionLine] = []
        self.counts: dict[str, int] = defaultdict(int)
        self._distances: dict[tuple[int, int], float] = {}
        self.by_item: dict[int, list[_Position]] = defaultdict(list)
        self.lots: dict[tuple[int, int], list[_LotStock]] = lots
        self.lot_index = {
            (key, stock.lot_id): stock for key, stocks in lots.items() for stock in stocks
        }
        #: per item, the locations with a policy that sell it (where near-expiry stock may go)
        self.takers: dict[int, list[_Position]] = defaultdict(list)
        for position in positions.values():
            self.by_item[position.item_id].append(position)
            position.give = position.surplus(settings)
            if position.has_policy and position.velocity > 0:
                self.takers[position.item_id].append(position)
        for key, stocks in lots.items():  # what a source already promised leaves first (FEFO)
            promised = positions[key].outgoing if key in positions else ZERO
            for stock in stocks:
                taken = min(stock.left, promised)
                stock.left, promised = stock.left - taken, promised - taken

    def planned(self, place: _Place) -> bool:
        return self.scope is None or place.id in self.scope

    def distance(self, a: _Place, b: _Place) -> float:
        key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        found = self._distances.get(key)
        if found is None:
            found = great_circle_km(a.latitude, a.longitude, b.latitude, b.longitude)
            found = self._distances[key] = math.inf if found is None else found
        return found

    def _km(self, a: _Place, b: _Place) -> Decimal | None:
        km = self.distance(a, b)
        return None if km == math.inf else Decimal(str(round(km, 1)))

    def _days_left(self, lot: _LotStock) -> int:
        return (lot.expiry_date - self.today).days

    # near-expiry stock ---------------------------------------------------------------------------
    def move_near_expiry(self, excess: list[_ExcessLot]) -> None:
        for found in excess:
            if not self.planned(found.place):
                continue
            key = (found.place.id, found.item_id)
            lot = self.lot_index.get((key, found.lot.lot_id))
            if lot is None:  # (a source's lots have had the promised ones taken out already)
                lot = found.lot
                lot.left -= min(max(found.outgoing - found.ahead, ZERO), lot.left)
            ahead = max(ZERO, found.ahead - found.outgoing)
            days = self._days_left(lot)
            stays = min(lot.left, _sells_by(found.velocity, days, ahead))
            surplus = lot.left - stays
            if surplus <= 0:
                continue
            self.counts["near_expiry_lots"] += 1
            source = self.positions.get(key)
            figures = {
                "projected": source.projected if source else ahead + lot.left,
                "reorder_point": source.reorder_point if source else None,
                "velocity": found.velocity,
                "days_of_cover": source.cover if source else None,
            }
            on_shelf = days - self.settings.transfer_days
            takers = [  # faster-selling, and able to sell at least one more unit in time
                p
                for p in self.takers[found.item_id]
                if p.velocity > found.velocity
                and p.place.id != found.place.id
                and _sells_by(p.velocity, on_shelf, p.projected + p.arriving) > 0
            ]
            takers.sort(
                key=lambda p: (-p.velocity, self.distance(found.place, p.place), p.place.code)
            )
            for taker in takers:
                ahead = taker.projected + taker.arriving
                quantity = min(surplus, _sells_by(taker.velocity, on_shelf, ahead))
                if quantity <= 0:
                    continue
                self._send(found.place, taker, found.item_id, lot, quantity, "near_expiry", figures)
                if source is not None:
                    source.give = max(ZERO, source.give - quantity)
                surplus -= quantity
                if surplus <= 0:
                    break
            if surplus > 0:
                lot.left -= surplus
                if source is not None:
                    source.give = max(ZERO, source.give - surplus)
                self.lines.append(
                    SuggestionLine(
                        reason="near_expiry",
                        action="return",
                        item_id=found.item_id,
                        quantity=surplus,
                        from_location_id=found.place.id,
                        lot_id=lot.lot_id,
                        lot_number=lot.lot_number,
                        expiry_date=lot.expiry_date,
                        receipt_document=found.receipt_document,
                        **figures,
                    )
                )

    # reorder ------------------------------------------------------------------------------------
    def replenish(self) -> None:
        settings = self.settings
        for item_id in sorted(self.by_item):
            positions = self.by_item[item_id]
            needs = [
                p
                for p in positions
                if self.planned(p.place)
                and p.has_policy
                and p.projected + p.arriving <= p.reorder_point
            ]
            if not needs:
                continue
            sources = [p for p in positions if p.give > 0]
            needs.sort(
                key=lambda p: (
                    -p.velocity,
                    p.cover if p.cover is not None else math.inf,
                    p.place.code,
                )
            )
            for need in needs:
                self.counts["needs"] += 1
                wanted = _whole(
                    need.target(settings) - need.projected - need.arriving, ROUND_CEILING
                )
                figures = {
                    "projected": need.projected,
                    "reorder_point": need.reorder_point,
                    "velocity": need.velocity,
                    "days_of_cover": need.cover,
                }
                ranked = sorted(
                    (s for s in sources if s is not need and s.give > 0),
                    key=lambda s: (self.distance(need.place, s.place), s.place.code),
                )
                for source in ranked:
                    wanted -= self._take(source, need, wanted, figures)
                    if wanted <= 0:
                        break
                if wanted > 0:
                    self.lines.append(
                        SuggestionLine(
                            reason="reorder",
                            action="purchase",
                            item_id=item_id,
                            quantity=wanted,
                            to_location_id=need.place.id,
                            **figures,
                        )
                    )

    def _take(self, source: _Position, need: _Position, wanted: Decimal, figures) -> Decimal:
        """Send ``need`` what ``source`` gives, earliest lots first, each only as far as ``need``
        sells it before it turns near-expiry; returns how much was sent."""
        sent = ZERO
        for lot in self.lots.get((source.place.id, source.item_id), []):
            if wanted - sent <= 0 or source.give <= 0:
                break
            quantity = min(lot.left, source.give, wanted - sent)
            if lot.expiry_date is not None:
                days = self._days_left(lot) - need.near_expiry_days
                quantity = min(
                    quantity, _sells_by(need.velocity, days, need.projected + need.arriving)
                )
            quantity = _whole(quantity)
            if quantity <= 0:
                continue
            self._send(source.place, need, source.item_id, lot, quantity, "reorder", figures)
            source.give -= quantity
            sent += quantity
        return sent

    def _send(self, source: _Place, to: _Position, item_id, lot, quantity, reason, figures):
        lot.left -= quantity
        to.arriving += quantity
        self.lines.append(
            SuggestionLine(
                reason=reason,
                action="transfer",
                item_id=item_id,
                quantity=quantity,
                from_location_id=source.id,
                to_location_id=to.place.id,
                lot_id=lot.lot_id,
                lot_number=lot.lot_number,
                expiry_date=lot.expiry_date,
                distance_km=self._km(source, to.place),
                **figures,
            )
        )
