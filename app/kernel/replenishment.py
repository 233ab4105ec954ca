"""Replenishment and transfer suggestions (补货 / 调拨建议) for the whole chain, set-based.

What each (location, item) with a stock policy stands at, and what every warehouse could give,
is computed by a few SQL statements over the whole chain into temporary tables (the window's
sales summed once, the open commitments, the near-expiry lots, the positions that matter); only
those rows (needs, sources, near-expiry lots and the locations that could take them) come back to
Python, as integers, where a greedy pass matches them. Never one query per item or per location.
The plans of a chain are made one at a time (``planning``).

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
   what no location can sell in time goes back to the supplier (``return``). What leaves no
   longer counts in the holder's projected stock, so step 2 refills a holder it leaves at or
   below its reorder point.
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
import gc
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
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
    cast,
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

from app.db import Base, Database, Quantity
from app.i18n import _
from app.kernel import direct, process_locks
from app.kernel.errors import KernelError
from app.kernel.geo import great_circle_km
from app.kernel.items import Item, Lot, LotStatus, business_timezone, business_today
from app.kernel.locations import Location, LocationType
from app.kernel.stock import LedgerEntry, Reason, StockBalance, StockStatus
from app.kernel.transfers import TransferLine, outstanding_of

ZERO = Decimal(0)
#: Sales in a time window are read by reason and time: this index serves the velocity query on a
#: ledger of years (declared here, next to the one query that needs it; migration 0020).
SALES_INDEX = Index("ix_stock_ledger_reason_at", LedgerEntry.reason, LedgerEntry.at)
#: ... and this one the chain-wide velocity (migration 0024): the sales in (location, item) order
#: with their quantity, read from the index alone and summed as they come, instead of hashing
#: millions of (location, item) groups (5M sales: 4 s instead of 16 s, bench/README.md). It reads
#: every sale of the ledger, in or out of the window; once the history is many times the window,
#: PostgreSQL's planner goes back to the first index. (Migration 0024 also gives PostgreSQL
#: ``ndistinct`` statistics of (location_id, item_id) on the ledger and the balances: without
#: them it expects a tenth of the groups and picks hash aggregates that spill.)
SALES_BY_POSITION_INDEX = Index(
    "ix_stock_ledger_sales",
    LedgerEntry.reason,
    LedgerEntry.location_id,
    LedgerEntry.item_id,
    LedgerEntry.at,
    postgresql_include=["quantity"],
)


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


@dataclass(slots=True)
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


class PlanInProgress(KernelError):
    """Another replenishment plan is being made in the same database (and company schema): one at
    a time, or both would count the same stock and suggest it twice."""

    def __init__(self):
        super().__init__(
            _(
                "Another replenishment plan is being made right now. Wait until it has finished"
                " (see the jobs page), then run the plan again."
            )
        )


@contextmanager
def planning(database: Database) -> Iterator[None]:
    """Be the chain's only planner until the block ends; raise ``PlanInProgress`` at once when
    another plan is being made (in this database and company schema).

    Planning and writing the suggestions are several transactions (the job writes one per
    location, so that other writers do not wait minutes behind it), and a second plan made in
    between would not see the suggestions not written yet and suggest the same stock again: the
    lock spans them all, and goes with the process that holds it (``process_locks``).
    """
    with process_locks.hold(database, "replenishment", taken=PlanInProgress):
        yield


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

    One plan at a time: plan (and write the suggestions) inside ``planning``.
    """
    settings = settings or PlanSettings()
    today = today or business_today()
    staging = _Staging(session, settings, today)
    with _collector_paused():
        try:
            staging.stage(policies, commitments)
            places = staging.read_places()
            positions = staging.read_positions(places)
            excess = staging.read_excess(places)
            lots = staging.read_lots()
        finally:
            staging.drop()
        matcher = _Matcher(positions, lots, settings, today, locations)
        matcher.move_near_expiry(excess)
        matcher.replenish()
    matcher.counts["positions"] = staging.position_count
    return Plan(matcher.lines, matcher.counts)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while the plan builds its objects.

    A chain's plan makes a few million objects (positions, lots, lines) that all live until it
    ends; the collector, triggered by every few hundred new objects, traverses them again and
    again: an eighth of a plan's time at bench scale (bench/README.md). They hold no reference
    cycles, so reference counting frees them all the same. The pause is process-wide, like the
    collector: other threads' cyclic garbage waits until it ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- staging: the chain's positions in SQL ------------------------------------------------------

_balances, _ledger, _lots = StockBalance.__table__, LedgerEntry.__table__, Lot.__table__
_locations, _items, _transfers = Location.__table__, Item.__table__, TransferLine.__table__
STOCK_LOCATIONS = (LocationType.store, LocationType.warehouse)
#: PostgreSQL's memory for each sort or hash of the plan's statements (see ``stage``).
WORK_MEM = "256MB"
#: Quantities have 4 decimals: the matching counts in ten-thousandths, as integers (exact, and
#: several times faster than Decimal); the lines it writes are Decimal again.
SCALE = 10_000


def _temporary(name: str, *columns: Column) -> Table:
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])


def _key_columns() -> list[Column]:
    return [Column("location_id", Integer), Column("item_id", Integer)]


def _sum(expression, name: str):
    return type_coerce(func.coalesce(func.sum(expression), 0), Quantity).label(name)


def _scaled(expression, name: str):
    """A quantity in ten-thousandths, as an integer (what the matching counts in)."""
    return cast(func.round(func.coalesce(expression, 0) * SCALE), BigInteger).label(name)


def _scaled_or_null(expression, name: str):
    return cast(func.round(expression * SCALE), BigInteger).label(name)


class _Staging:
    """The temporary tables of one plan and the statements that fill and read them.

    Four statements stage it: the sales of the window, aggregated once (``rp_sales``: velocity of
    the positions and of the near-expiry lots); the open commitments (``rp_committed``); the
    near-expiry lots that will not sell where they are (``rp_excess``); and, in one pass over the
    policies, the stock, the sales, the transit and the commitments, only the positions that
    matter (``rp_matter``: needs, sources of a needed or excess item, locations that could take
    near-expiry stock) — a few hundred thousand of millions, the only ones that come back to
    Python, as integers."""

    def __init__(self, session: Session, settings: PlanSettings, today: dt.date):
        self.session, self.settings, self.today = session, settings, today
        suffix = uuid.uuid4().hex[:8]
        self.sales = _temporary(f"rp_sales_{suffix}", *_key_columns(), Column("sold", Quantity))
        self.committed = _temporary(
            f"rp_committed_{suffix}",
            *_key_columns(),
            Column("incoming", Quantity),
            Column("outgoing", Quantity),
        )
        self.excess = _temporary(
            f"rp_excess_{suffix}",
            *_key_columns(),
            Column("lot_id", Integer),
            Column("lot_number", String(64)),
            Column("expiry_date", Date),
            Column("available", Quantity),
            Column("ahead", Quantity),
            Column("sold", Quantity),
            Column("outgoing", Quantity),
        )
        self.matter = _temporary(
            f"rp_matter_{suffix}",
            *_key_columns(),
            Column("has_policy", Integer),
            Column("near_expiry_days", Integer),
            Column("reorder_point", Quantity),
            Column("max_stock", Quantity),
            Column("sellable", Quantity),
            Column("projected", Quantity),
            Column("outgoing", Quantity),
            Column("sold", Quantity),
            Column("gives", Integer),
        )
        self.tables = (self.sales, self.committed, self.excess, self.matter)
        self.position_count = 0

    @property
    def connection(self):
        return self.session.connection()

    @property
    def postgresql(self) -> bool:
        return self.connection.dialect.name == "postgresql"

    def drop(self) -> None:
        for table in reversed(self.tables):
            table.drop(self.connection, checkfirst=True)
        if self.postgresql:  # the rest of the transaction (writing the suggestions) as usual
            for setting in ("work_mem", "jit", "enable_hashagg"):
                self.connection.execute(text(f"RESET {setting}"))

    def _analyze(self, table: Table) -> None:
        """Temporary tables have no statistics until asked: the next statement's joins need them."""
        if self.postgresql:
            self.connection.execute(text(f"ANALYZE {table.name}"))

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

    def _no_unusable_lot(self):
        """The same, without joining the lots: the lots that are not usable (on hold, recalled,
        expired) are few and hashed once, and the millions of balances are only looked up."""
        unusable = select(_lots.c.id).where(
            or_(
                _lots.c.status != LotStatus.released,
                and_(_lots.c.expiry_date.isnot(None), _lots.c.expiry_date < self.today),
            )
        )
        return or_(_balances.c.lot_id.is_(None), _balances.c.lot_id.not_in(unusable))

    def _stock(self, warehouses_only: bool = False):
        """Sellable and inspecting stock per (location, item), of usable lots; with
        ``warehouses_only``, of the active warehouses alone (a few hundred thousand rows)."""
        available, inspecting = StockStatus.available, StockStatus.awaiting_inspection
        status = _balances.c.status
        query = select(
            _balances.c.location_id,
            _balances.c.item_id,
            _sum(
                case((status == available, _balances.c.on_hand - _balances.c.reserved), else_=0),
                "sellable",
            ),
            _sum(case((status == inspecting, _balances.c.on_hand), else_=0), "inspecting"),
        )
        if warehouses_only:
            warehouse = _locations.alias("warehouse")
            query = query.select_from(
                _balances.join(warehouse, warehouse.c.id == _balances.c.location_id)
            ).where(warehouse.c.type == LocationType.warehouse, warehouse.c.active.is_(True))
        return (
            query.where(
                status.in_([available, inspecting]),
                _balances.c.on_hand > 0,
                self._no_unusable_lot(),
            )
            .group_by(_balances.c.location_id, _balances.c.item_id)
            .subquery("warehouse_stock" if warehouses_only else "stock")
        )

    def _transit(self):
        outstanding = outstanding_of(_transfers.c)
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
        return dt.datetime.combine(start, dt.time.min, business_timezone()).astimezone(dt.UTC)

    def _stage_sales(self) -> None:
        """Units sold per (location, item) in the window: one pass over the ledger's sales (the
        covering ``SALES_INDEX``), read by the positions and the near-expiry lots alike."""
        sold = (
            select(
                _ledger.c.location_id,
                _ledger.c.item_id,
                type_coerce(-func.sum(_ledger.c.quantity), Quantity).label("sold"),
            )
            .where(_ledger.c.reason == str(Reason.sale), _ledger.c.at >= self.sales_since())
            .group_by(_ledger.c.location_id, _ledger.c.item_id)
        )
        self.connection.execute(
            insert(self.sales).from_select(["location_id", "item_id", "sold"], sold)
        )
        self._analyze(self.sales)

    def _stage_commitments(self, commitments: Select | None) -> None:
        if commitments is None:
            return
        rows = commitments.subquery("commitment_rows")
        summed = select(
            rows.c.location_id,
            rows.c.item_id,
            _sum(rows.c.incoming, "incoming"),
            _sum(rows.c.outgoing, "outgoing"),
        ).group_by(rows.c.location_id, rows.c.item_id)
        columns = ["location_id", "item_id", "incoming", "outgoing"]
        self.connection.execute(insert(self.committed).from_select(columns, summed))
        self._analyze(self.committed)

    def stage(self, policies: Select, commitments: Select | None) -> None:
        connection = self.connection
        if self.postgresql:
            # millions of (location, item) groups: hash them in memory rather than spill them
            # to disk in many batches (the default work_mem is 4 MB); this transaction only
            connection.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            # compiling the statements to machine code costs seconds and saves less (measured)
            connection.execute(text("SET LOCAL jit = off"))
            # summing millions of (location, item) groups: a hash table of numeric sums takes
            # ~600 bytes a group and spills; sorting (or reading the sales index in order) and
            # summing as the rows come is twice as fast (bench/README.md), which the planner's
            # costs do not see
            connection.execute(text("SET LOCAL enable_hashagg = off"))
        for table in self.tables:
            table.create(connection)
        self._stage_sales()
        self._stage_commitments(commitments)
        self._stage_excess()
        self._stage_matter(policies)

    def _stage_matter(self, policies: Select) -> None:
        """The positions that matter, in one pass over the policies, their stock, sales, transit
        and commitments: needs; sources (stock above the target); locations holding a near-expiry
        lot (their figures go on its lines) or selling its item fast enough to take some in time.
        Then every warehouse's holdings without a policy (sources all)."""
        policy = policies.subquery("policy")
        committed, transit, sales = self.committed, self._transit(), self.sales
        zero = type_coerce(literal(0), Quantity)

        def value(column):
            return func.coalesce(column, zero)

        open_location = and_(_locations.c.active.is_(True), _locations.c.type.in_(STOCK_LOCATIONS))
        active_policy = (
            policy.join(_locations, _locations.c.id == policy.c.location_id)
            .join(_items, _items.c.id == policy.c.item_id)
        )  # fmt: skip
        stock = self._stock()
        positions = (
            select(
                policy.c.location_id,
                policy.c.item_id,
                _items.c.near_expiry_days,
                policy.c.reorder_point,
                policy.c.max_stock,
                value(stock.c.sellable).label("sellable"),
                (
                    value(stock.c.sellable)
                    + value(stock.c.inspecting)
                    + value(transit.c.in_transit)
                    + value(committed.c.incoming)
                    - value(committed.c.outgoing)
                ).label("projected"),
                value(committed.c.outgoing).label("outgoing"),
                value(sales.c.sold).label("sold"),
            )
            .select_from(
                active_policy.outerjoin(stock, _same(stock, policy))
                .outerjoin(transit, _same(transit, policy))
                .outerjoin(committed, _same(committed, policy))
                .outerjoin(sales, _same(sales, policy))
            )
            .where(open_location, _items.c.active.is_(True))
            # (a fence: PostgreSQL would otherwise inline the subquery and add up ``projected``
            # once for each condition below that reads it, on 2M rows)
            .offset(0)
            .subquery("planned")
        )
        p = positions.c
        n, e = self.settings.sales_days, self.excess.c
        # per item near expiry somewhere: the slowest location holding it, the last expiry
        near = (
            select(
                e.item_id, func.min(e.sold).label("slowest"), func.max(e.expiry_date).label("last")
            )
            .group_by(e.item_id)
            .subquery("near")
        )
        held = select(e.location_id, e.item_id).distinct().subquery("held_near")
        need = p.projected <= p.reorder_point
        # (whether anyone needs the item is the matching's business: nearly every item is)
        gives = and_(
            p.sellable - p.outgoing > 0,
            p.projected > func.coalesce(p.max_stock, p.reorder_point),
        )
        on_shelf = (
            _days_between(near.c.last, self.today, self.connection.dialect.name)
            - self.settings.transfer_days
        )
        takes = and_(
            p.sold > 0,
            p.projected * n < p.sold * p.near_expiry_days,
            # faster than a location holding it, and able to sell one more unit of its last lot
            # in time (what the matching asks of a taker before anything else)
            p.sold > near.c.slowest,
            p.sold * on_shelf - p.projected * n >= n,
        )
        holds = held.c.item_id.isnot(None)
        planned = (
            select(
                p.location_id,
                p.item_id,
                literal(1),
                p.near_expiry_days,
                p.reorder_point,
                p.max_stock,
                p.sellable,
                p.projected,
                p.outgoing,
                p.sold,
                case((gives, 1), else_=0),
            )
            .select_from(
                positions.outerjoin(near, near.c.item_id == p.item_id).outerjoin(
                    held, _same(held, positions)
                )
            )
            .where(or_(need, gives, takes, holds))
        )
        columns = [column.name for column in self.matter.columns]
        self.connection.execute(insert(self.matter).from_select(columns, planned))
        self.connection.execute(
            insert(self.matter).from_select(columns, self._warehouse_holdings(policies))
        )
        self._analyze(self.matter)
        counted = (
            select(func.count())
            .select_from(active_policy)
            .where(open_location, _items.c.active.is_(True))
        )
        others = select(func.count()).where(self.matter.c.has_policy == 0)
        self.position_count = self.connection.scalar(counted) + self.connection.scalar(others)

    def _warehouse_holdings(self, policies: Select) -> Select:
        """What warehouses hold of items they have no policy for: all of it theirs to give but
        the reserve (their own stock summed apart: a few hundred thousand rows, not millions)."""
        committed, zero = self.committed, type_coerce(literal(0), Quantity)
        stock = self._stock(warehouses_only=True)
        outgoing = func.coalesce(committed.c.outgoing, zero)
        held, held_item = policies.subquery("held"), _items.alias("held_item")
        return (
            select(
                stock.c.location_id,
                stock.c.item_id,
                literal(0),
                _items.c.near_expiry_days,
                null(),
                null(),
                stock.c.sellable,
                stock.c.sellable
                + stock.c.inspecting
                + func.coalesce(committed.c.incoming, zero)
                - outgoing,
                outgoing,
                zero,
                case((stock.c.sellable - outgoing > 0, 1), else_=0),
            )
            .select_from(
                stock.join(_items, _items.c.id == stock.c.item_id).outerjoin(
                    committed, _same(committed, stock)
                )
            )
            .where(
                stock.c.sellable > 0,
                ~exists()
                .select_from(held.join(held_item, held_item.c.id == held.c.item_id))
                .where(_same(held, stock), held_item.c.active.is_(True)),
            )
        )

    def _stage_excess(self) -> None:
        """Near-expiry lots (within their item's threshold, not expired) that will not sell where
        they are before they expire: FEFO, the lots ahead of each one sell first."""
        b, sales, committed, n = _balances, self.sales, self.committed, self.settings.sales_days
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
        ).where(
            days_left <= lots.c.near_expiry_days,
            # more than sells by its expiry: (ahead + available) > sold / n × days left
            (lots.c.ahead + lots.c.available) * n > lots.c.sold * days_left,
        )
        columns = [column.name for column in self.excess.columns]
        self.connection.execute(insert(self.excess).from_select(columns, excess))
        self._analyze(self.excess)

    # reading ------------------------------------------------------------------------------------
    def read_places(self) -> dict[int, _Place]:
        l = _locations  # noqa: E741
        rows = self.connection.execute(
            select(l.c.id, l.c.code, l.c.type, l.c.latitude, l.c.longitude).where(
                l.c.type.in_(STOCK_LOCATIONS)
            )
        )
        return {row.id: _Place(row.id, row.code, str(row.type), row.latitude, row.longitude)
                for row in rows}  # fmt: skip

    def read_positions(self, places: dict[int, _Place]) -> dict[tuple[int, int], _Position]:
        m = self.matter.c
        rows = direct.rows(
            self.connection,
            select(
                m.location_id,
                m.item_id,
                m.near_expiry_days,
                m.has_policy == 1,
                m.gives == 1,
                _scaled_or_null(m.reorder_point, "reorder_point"),
                _scaled_or_null(m.max_stock, "max_stock"),
                _scaled(m.sellable, "sellable"),
                _scaled(m.projected, "projected"),
                _scaled(m.outgoing, "outgoing"),
                _scaled(m.sold, "sold"),
            ),
        )
        return {(row[0], row[1]): _Position(places[row[0]], *row[1:]) for row in rows}

    def read_excess(self, places: dict[int, _Place]) -> list[_ExcessLot]:
        e = self.excess.c
        receipts = (
            select(_ledger.c.lot_id, func.min(_ledger.c.document).label("document"))
            .where(
                _ledger.c.lot_id.in_(select(e.lot_id)),
                _ledger.c.reason == Reason.purchase_receipt,
            )
            .group_by(_ledger.c.lot_id)
            .subquery("receipts")
        )
        rows = direct.rows(
            self.connection,
            select(
                e.location_id,
                e.item_id,
                e.lot_id,
                e.lot_number,
                e.expiry_date,
                _scaled(e.available, "available"),
                _scaled(e.ahead, "ahead"),
                _scaled(e.outgoing, "outgoing"),
                _scaled(e.sold, "sold"),
                receipts.c.document,
            )
            .select_from(
                self.excess.join(_locations, _locations.c.id == e.location_id).outerjoin(
                    receipts, receipts.c.lot_id == e.lot_id
                )
            )
            .order_by(e.expiry_date, _locations.c.code, e.lot_id),
        )
        return [
            _ExcessLot(places[location], item, _LotStock(lot, number, expiry, available), ahead,
                       outgoing, sold, receipt)
            for location, item, lot, number, expiry, available, ahead, outgoing, sold, receipt
            in rows
        ]  # fmt: skip

    def read_lots(self) -> dict[tuple[int, int], list[_LotStock]]:
        """The usable lots of every source, earliest expiry first (no expiry last)."""
        m, b = self.matter, _balances
        rows = direct.rows(
            self.connection,
            select(
                b.c.location_id,
                b.c.item_id,
                b.c.lot_id,
                _lots.c.lot_number,
                _lots.c.expiry_date,
                _scaled(b.c.on_hand - b.c.reserved, "available"),
            )
            .select_from(m.join(b, _same(b, m)).outerjoin(_lots, _lots.c.id == b.c.lot_id))
            .where(
                m.c.gives == 1,
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
            ),
        )
        lots: dict[tuple[int, int], list[_LotStock]] = defaultdict(list)
        for location, item, lot, number, expiry, available in rows:
            lots[location, item].append(_LotStock(lot, number, expiry, available))
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
#
# Quantities are integers in ten-thousandths (``SCALE``) and velocities are kept as units sold in
# the window (``sold``, also scaled) over ``n`` = ``sales_days``: whole units that sell in ``d``
# days after ``a`` ahead are ⌊(sold × d − n × a) / (n × SCALE)⌋, exact. Figures on the lines
# (projected, velocity, cover, distance) are Decimal, computed once per position.


@dataclass(frozen=True, slots=True)
class _Place:
    id: int
    code: str
    type: str
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass(eq=False, slots=True)
class _LotStock:
    lot_id: int | None
    lot_number: str | None
    expiry_date: dt.date | None
    left: int


@dataclass(eq=False, slots=True)
class _Position:
    place: _Place
    item_id: int
    near_expiry_days: int
    has_policy: bool
    #: A source: stock above its target (or no policy) of an item needed or near expiry somewhere.
    source: bool
    reorder_point: int | None
    max_stock: int | None
    sellable: int
    projected: int
    outgoing: int
    sold: int
    #: What this plan sends here (adds to what sells ahead of a new lot).
    arriving: int = 0
    #: What this location may still give.
    give: int = 0
    #: The line figures (Decimal), made when first needed.
    _figures: dict | None = None


def _floor(numerator: int, denominator: int) -> int:
    """Whole units (in ``SCALE``) of numerator / denominator ten-thousandths, rounded down; never
    negative."""
    return max(0, numerator // denominator) * SCALE


def _ceiling(numerator: int, denominator: int) -> int:
    return max(0, -(-numerator // denominator)) * SCALE


def _decimal(quantity: int) -> Decimal:
    """A scaled quantity as the Decimal a line carries (whole units without decimals)."""
    whole, rest = divmod(quantity, SCALE)
    return Decimal(whole) if rest == 0 else Decimal(quantity).scaleb(-4)


@dataclass(eq=False, slots=True)
class _ExcessLot:
    place: _Place
    item_id: int
    lot: _LotStock
    ahead: int
    #: What open documents already take out of this location (the earliest lots, FEFO).
    outgoing: int
    sold: int
    receipt_document: str | None


class _Matcher:
    def __init__(self, positions, lots, settings: PlanSettings, today: dt.date, locations):
        self.positions: dict[tuple[int, int], _Position] = positions
        self.settings, self.today, self.scope = settings, today, locations
        self.n = settings.sales_days
        self.lines: list[SuggestionLine] = []
        self.counts: dict[str, int] = defaultdict(int)
        self._distances: dict[tuple[int, int], float] = {}
        self._rows: dict[int, dict[int, tuple[float, str]]] = {}
        self._kms: dict[tuple[int, int], Decimal | None] = {}
        self.by_item: dict[int, list[_Position]] = defaultdict(list)
        self.lots: dict[tuple[int, int], list[_LotStock]] = lots
        #: per item, the locations with a policy that sell it (where near-expiry stock may go),
        #: fastest first
        self.takers: dict[int, list[_Position]] = defaultdict(list)
        reserve = int(settings.warehouse_reserve * SCALE)
        n = self.n
        for position in positions.values():
            self.by_item[position.item_id].append(position)
            free = position.sellable - position.outgoing
            if not position.has_policy:
                position.give = _floor(free - reserve, SCALE)
            else:
                position.give = _floor(
                    min(free * n, position.projected * n - self._target(position)), n * SCALE
                )
            if position.has_policy and position.sold > 0:
                self.takers[position.item_id].append(position)
        for takers in self.takers.values():
            takers.sort(key=lambda p: -p.sold)
        for key, stocks in lots.items():  # what a source already promised leaves first (FEFO)
            position = positions.get(key)
            promised = position.outgoing if position is not None else 0
            for stock in stocks:
                taken = min(stock.left, promised)
                stock.left, promised = stock.left - taken, promised - taken
        self.lot_index = {
            (key, stock.lot_id): stock for key, stocks in lots.items() for stock in stocks
        }

    def planned(self, place: _Place) -> bool:
        return self.scope is None or place.id in self.scope

    def _target(self, p: _Position) -> int:
        """The target × n (exact: without a maximum it is reorder point + velocity × cover)."""
        if p.max_stock is not None:
            return p.max_stock * self.n
        return p.reorder_point * self.n + p.sold * self.settings.cover_days

    def _sells_by(self, sold: int, days: int, ahead: int) -> int:
        """Whole units that sell within ``days`` after the ``ahead`` units that sell first."""
        return _floor(sold * days - self.n * ahead, self.n * SCALE)

    def figures(self, p: _Position) -> dict:
        if p._figures is None:
            velocity = Decimal(p.sold).scaleb(-4) / self.n
            projected = _decimal(p.projected)
            p._figures = {
                "projected": projected,
                "reorder_point": None if p.reorder_point is None else _decimal(p.reorder_point),
                "velocity": velocity,
                "days_of_cover": projected / velocity if velocity > 0 else None,
            }
        return p._figures

    def distance(self, a: _Place, b: _Place) -> float:
        key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        found = self._distances.get(key)
        if found is None:
            found = great_circle_km(a.latitude, a.longitude, b.latitude, b.longitude)
            found = self._distances[key] = math.inf if found is None else found
        return found

    def ranking(self, origin: _Place) -> Callable[[_Position], tuple]:
        """Sort key of positions by their distance from ``origin``, then code (one dictionary of
        distances per origin: the sorts ask millions of times)."""
        row = self._rows.get(origin.id)
        if row is None:
            row = self._rows[origin.id] = {}

        def key(position: _Position) -> tuple:
            place = position.place
            found = row.get(place.id)
            if found is None:
                found = row[place.id] = (self.distance(origin, place), place.code)
            return found

        return key

    def _km(self, a: _Place, b: _Place) -> Decimal | None:
        key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        if key not in self._kms:
            km = self.distance(a, b)
            self._kms[key] = None if km == math.inf else Decimal(str(round(km, 1)))
        return self._kms[key]

    def _days_left(self, lot: _LotStock) -> int:
        return (lot.expiry_date - self.today).days

    # near-expiry stock ---------------------------------------------------------------------------
    def move_near_expiry(self, excess: list[_ExcessLot]) -> None:
        n, least = self.n, self.n * SCALE
        # the lots come earliest expiry first: per item, the most days on a shelf any of its lots
        # still has bounds what a taker could ever take
        last_shelf: dict[int, int] = {}
        for found in excess:
            if self.planned(found.place):
                shelf = self._days_left(found.lot) - self.settings.transfer_days
                last_shelf[found.item_id] = max(shelf, last_shelf.get(found.item_id, shelf))
        for found in excess:
            if not self.planned(found.place):
                continue
            key = (found.place.id, found.item_id)
            lot = self.lot_index.get((key, found.lot.lot_id))
            if lot is None:  # (a source's lots have had the promised ones taken out already)
                lot = found.lot
                lot.left -= min(max(found.outgoing - found.ahead, 0), lot.left)
            ahead = max(0, found.ahead - found.outgoing)
            days = self._days_left(lot)
            stays = min(lot.left, self._sells_by(found.sold, days, ahead))
            surplus = lot.left - stays
            if surplus <= 0:
                continue
            self.counts["near_expiry_lots"] += 1
            source = self.positions.get(key)
            if source is not None:
                figures = self.figures(source)
            else:
                velocity = Decimal(found.sold).scaleb(-4) / n
                figures = {
                    "projected": _decimal(ahead + lot.left),
                    "reorder_point": None,
                    "velocity": velocity,
                    "days_of_cover": None,
                }
            on_shelf = days - self.settings.transfer_days
            # faster-selling (the takers are sorted by velocity: a prefix), and able to sell at
            # least one more unit in time: sold × on shelf − n × ahead ≥ n units
            takers, candidates = [], self.takers.get(found.item_id, ())
            last, spent = last_shelf[found.item_id], False
            for p in candidates:
                if p.sold <= found.sold:
                    break
                ahead_there = n * (p.projected + p.arriving)
                if p.sold * on_shelf - ahead_there >= least:
                    if p.place.id != found.place.id:
                        takers.append(p)
                elif p.sold * last - ahead_there < least:
                    spent = True  # not even the item's last near-expiry lot would sell there
            if spent:  # drop those for good: each taker is looked at until it is full, not more
                self.takers[found.item_id] = [
                    p for p in candidates if p.sold * last - n * (p.projected + p.arriving) >= least
                ]
            if len(takers) > 1:
                nearest = self.ranking(found.place)
                takers.sort(key=lambda p: (-p.sold, nearest(p)))
            for taker in takers:
                room = self._sells_by(taker.sold, on_shelf, taker.projected + taker.arriving)
                quantity = min(surplus, room)
                if quantity <= 0:
                    continue
                self._send(found.place, taker, found.item_id, lot, quantity, "near_expiry", figures)
                self._leaves(source, quantity)
                surplus -= quantity
                if surplus <= 0:
                    break
            if surplus > 0:
                lot.left -= surplus
                self._leaves(source, surplus)
                self.lines.append(
                    SuggestionLine(
                        reason="near_expiry",
                        action="return",
                        item_id=found.item_id,
                        quantity=_decimal(surplus),
                        from_location_id=found.place.id,
                        lot_id=lot.lot_id,
                        lot_number=lot.lot_number,
                        expiry_date=lot.expiry_date,
                        receipt_document=found.receipt_document,
                        **figures,
                    )
                )

    @staticmethod
    def _leaves(source: _Position | None, quantity: int) -> None:
        """Near-expiry stock sent away or back no longer covers its location: its projected stock
        drops with it, so the same plan refills a location it leaves at or below its reorder
        point (the next run would otherwise). Its near-expiry lines keep the figures they were
        decided on; a refill line shows what the location holds after."""
        if source is not None:
            source.give = max(0, source.give - quantity)
            source.projected -= quantity
            source._figures = None

    # reorder ------------------------------------------------------------------------------------
    def replenish(self) -> None:
        n = self.n
        for item_id in sorted(self.by_item):
            positions = self.by_item[item_id]
            needs = [
                p
                for p in positions
                if p.has_policy
                and p.projected + p.arriving <= p.reorder_point
                and self.planned(p.place)
            ]
            if not needs:
                continue
            sources = [p for p in positions if p.give > 0]
            needs.sort(
                key=lambda p: (
                    -p.sold,
                    p.projected * n / p.sold if p.sold > 0 else math.inf,
                    p.place.code,
                )
            )
            for need in needs:
                self.counts["needs"] += 1
                wanted = _ceiling(
                    self._target(need) - n * (need.projected + need.arriving), n * SCALE
                )
                figures = self.figures(need)
                if sources:
                    ranked = sorted(
                        (s for s in sources if s is not need and s.give > 0),
                        key=self.ranking(need.place),
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
                            quantity=_decimal(wanted),
                            to_location_id=need.place.id,
                            **figures,
                        )
                    )

    def _take(self, source: _Position, need: _Position, wanted: int, figures) -> int:
        """Send ``need`` what ``source`` gives, earliest lots first, each only as far as ``need``
        sells it before it turns near-expiry; returns how much was sent. A location that sold
        none keeps the stock its policy asks for, not stock to sell: it takes a lot that stays
        clear of near-expiry for the plan's cover days (else every lot would be refused and the
        whole need bought, while warehouses hold years of it)."""
        sent = 0
        for lot in self.lots.get((source.place.id, source.item_id), ()):
            if wanted - sent <= 0 or source.give <= 0:
                break
            quantity = min(lot.left, source.give, wanted - sent)
            if lot.expiry_date is not None:
                days = self._days_left(lot) - need.near_expiry_days
                if need.sold > 0:
                    ahead = need.projected + need.arriving
                    quantity = min(quantity, self._sells_by(need.sold, days, ahead))
                elif days < self.settings.cover_days:
                    quantity = 0
            quantity = max(0, quantity // SCALE) * SCALE
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
                quantity=_decimal(quantity),
                from_location_id=source.id,
                to_location_id=to.place.id,
                lot_id=lot.lot_id,
                lot_number=lot.lot_number,
                expiry_date=lot.expiry_date,
                distance_km=self._km(source, to.place),
                **figures,
            )
        )
