"""The stock ledger, the balances, and ``post_movements`` — the one way stock ever changes.

A ``Movement`` moves a quantity of an item (and lot, and unit) from one (location, status) to
another; either side may be outside the system (a receipt has no source, a sale no destination).
``post_movements`` does three passes, in this order, so it is both safe and readable:

1. **validate** every movement against the rules a regulator and a clerk expect (tracking, lot
   state, expiry, unit whereabouts, location open and not being counted) — nothing is written;
2. **lock** the balance rows it will touch, in ONE order (location, item, lot, status), so two
   writers always queue in the same order and cannot deadlock (PostgreSQL row locks; on SQLite the
   write transaction already holds the database lock);
3. **apply**: check every outgoing quantity against what is free, then write the balances, the
   append-only ledger rows and one audit entry per location, in the caller's transaction.

Balances are keyed by ``lot_key`` (the lot id, or 0 for untracked items) so the uniqueness of
(location, item, lot, status) holds on both databases without a nullable column in the key.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections import defaultdict, namedtuple
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    UniqueConstraint,
    bindparam,
    column,
    insert,
    select,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.db import Base, Money, Quantity, UTCDateTime, to_decimal, utcnow
from app.i18n import _
from app.kernel import audit, direct
from app.kernel.errors import (
    ExpiredLotNotAccepted,
    InsufficientStock,
    InvalidMovement,
    KernelError,
    LocationInactive,
    LocationLocked,
    LotBlocked,
    LotExpired,
    NotAStockLocation,
    NotTracked,
    RecalledNotAccepted,
    StockNotAvailable,
    TrackingRequired,
    UnitAlreadyInStock,
    UnitNotHere,
    UnitNotReceivable,
    UnitRecalled,
    UnitTwiceInDocument,
)
from app.kernel.items import (
    Item,
    Lot,
    LotStatus,
    TrackingMode,
    Unit,
    UnitStatus,
    business_today,
    check_whole_units,
    is_expired,
    wall_clock,
)
from app.kernel.locations import STOCK_HOLDING, Location, LocationType
from app.kernel.posting_facts import PostingFacts, read_facts
from app.kernel.stock_locks import StockLock
from app.kernel.users import User


class StockStatus(enum.StrEnum):
    awaiting_inspection = "awaiting_inspection"  # 待验
    available = "available"  # 合格（可用）
    nonconforming = "nonconforming"  # 不合格
    in_transit = "in_transit"  # 在途


class Reason(enum.StrEnum):
    """Why stock moved: the reason code on every ledger row."""

    opening = "opening"
    purchase_receipt = "purchase_receipt"
    inspection = "inspection"
    sale = "sale"
    customer_return = "customer_return"
    supplier_return = "supplier_return"
    transfer_out = "transfer_out"
    transfer_in = "transfer_in"
    transfer_return = "transfer_return"
    scrap = "scrap"
    count_surplus = "count_surplus"
    count_shortage = "count_shortage"
    adjustment = "adjustment"
    correction = "correction"
    recall = "recall"  # recalled goods set apart as nonconforming where they are
    recall_return = "recall_return"  # recalled goods, nonconforming, into transit to a warehouse
    maintenance = "maintenance"  # 养护: set apart at a storage check, or released again by QA


#: Reasons that exist to take stock out that may not be sold: nonconforming, recalled, quarantined.
REMOVAL_REASONS = frozenset(
    {
        Reason.supplier_return,
        Reason.scrap,
        Reason.count_shortage,
        Reason.adjustment,
        Reason.correction,
    }
)
#: How stock may leave a transit location: arrive, go back, or be written off / corrected.
TRANSIT_EXITS = REMOVAL_REASONS | {Reason.transfer_in, Reason.transfer_return}
#: Reasons that only move stock from one status to another where it is (a receipt inspected, a
#: lot set apart for a recall or at a storage check): the goods did not arrive, so stock age
#: (库龄) keeps counting from when they did.
STATUS_CHANGES = frozenset({Reason.inspection, Reason.recall, Reason.maintenance})
#: Reasons for which an expired lot is refused.
EXPIRY_CHECKED = frozenset({Reason.sale, Reason.transfer_out})
#: Reasons by which stock enters as sellable (``available``): an expired lot is refused there.
ENTRY_EXPIRY_CHECKED = frozenset(
    {Reason.purchase_receipt, Reason.inspection, Reason.customer_return, Reason.maintenance}
)
#: Reasons by which goods arrive as sellable: recalled goods never do. A count surplus or an
#: adjustment is an entry like any other: recalled goods found at a count or booked back are
#: nonconforming (the stock view would otherwise show them on hand and in no bucket), and a
#: correction may not undo a recall's setting apart. Every reason, so a new one is never missed.
ENTRY_RECALL_CHECKED = frozenset(Reason)


def _status_enum() -> Enum:
    return Enum(StockStatus, native_enum=False, length=24, validate_strings=True)


class StockBalance(Base):
    """What is at a location, per item, lot and status: kept equal to the sum of the ledger."""

    __tablename__ = "stock_balances"
    __table_args__ = (
        UniqueConstraint("location_id", "item_id", "lot_key", "status"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("lot_key = COALESCE(lot_id, 0)", name="lot_key_matches_lot"),
        Index("ix_stock_balances_item", "item_id", "lot_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    lot_key: Mapped[int] = mapped_column(Integer)
    status: Mapped[StockStatus] = mapped_column(_status_enum())
    on_hand: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))

    @property
    def available(self) -> Decimal:
        """What can still be promised: on hand minus reserved."""
        return self.on_hand - self.reserved

    @property
    def key(self) -> tuple[int, int, int, str]:
        return (self.location_id, self.item_id, self.lot_key, str(self.status))


class LedgerEntry(Base):
    """One signed change of one balance. Never updated or deleted; corrections are new rows."""

    __tablename__ = "stock_ledger"
    __table_args__ = (
        Index("ix_stock_ledger_balance", "location_id", "item_id", "lot_id", "status"),
        Index("ix_stock_ledger_item", "item_id", "id"),
        Index("ix_stock_ledger_document", "document", "document_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[StockStatus] = mapped_column(_status_enum())
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_cost: Mapped[Decimal | None] = mapped_column(Money)
    document: Mapped[str | None] = mapped_column(String(64))
    document_line: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counterpart_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("stock_ledger.id"))


#: What ``post_movements`` returns for each ledger row it wrote: the row's values, as a plain
#: record rather than an ORM object (building and attaching those cost as much CPU as writing the
#: row). Read it like a ``LedgerEntry``; ``session.get(LedgerEntry, row.id)`` gives the object.
LedgerRow = namedtuple("LedgerRow", [column.name for column in LedgerEntry.__table__.c])


@dataclass(frozen=True)
class Movement:
    """Move ``quantity`` (> 0) from (source, source_status) to (destination, destination_status).

    ``source=None`` brings stock in from outside (receipt, customer return, count surplus);
    ``destination=None`` takes it out (sale, scrap, supplier return). A serial-tracked item moves
    one ``unit`` at a time. A transit location always holds its stock as ``in_transit``.
    """

    item: Item
    quantity: Decimal
    source: Location | None = None
    destination: Location | None = None
    lot: Lot | None = None
    unit: Unit | None = None
    source_status: StockStatus = StockStatus.available
    destination_status: StockStatus = StockStatus.available
    reason: Reason | None = None
    unit_cost: Decimal | None = None
    line: int | None = None
    corrects: int | None = None

    def normalised(self, default_reason: Reason | None) -> Movement:
        """Fill in what follows from the rest: exact quantity, transit status, default reason."""
        changes: dict = {"quantity": to_decimal(self.quantity)}
        if self.source is not None and self.source.type == LocationType.transit:
            changes["source_status"] = StockStatus.in_transit
        if self.destination is not None and self.destination.type == LocationType.transit:
            changes["destination_status"] = StockStatus.in_transit
        reason = self.reason or default_reason
        if reason is None:
            raise InvalidMovement(_("A movement needs a reason code."), "reason")
        changes["reason"] = Reason(reason)
        return replace(self, **changes)

    @property
    def leaves_source(self) -> bool:
        """True when stock goes out of the source location (not a status change in place)."""
        return self.source is not None and (
            self.destination is None or self.destination.id != self.source.id
        )


BalanceKey = tuple[int, int, int, str]


@dataclass(slots=True)
class _Line:
    """One movement bound to the rows read for it in this transaction (plain rows, not ORM)."""

    movement: Movement
    source: Row | None
    destination: Row | None
    lot: Row | None
    unit: Row | None

    @property
    def leaves_source(self) -> bool:
        """True when stock goes out of the source location (not a status change in place)."""
        return self.source is not None and (
            self.destination is None or self.destination.id != self.source.id
        )

    def sides(self):
        """The balance keys this line touches, with the sign of the change to each."""
        movement = self.movement
        lot_key = self.lot.id if self.lot is not None else 0
        if self.source is not None:
            yield (self.source.id, movement.item.id, lot_key, str(movement.source_status)), -1
        if self.destination is not None:
            destination_status = str(movement.destination_status)
            yield (self.destination.id, movement.item.id, lot_key, destination_status), 1


def post_movements(
    session: Session,
    movements: list[Movement],
    *,
    user: User | None = None,
    document: str | None = None,
    reason: Reason | None = None,
    note: str | None = None,
    today: dt.date | None = None,
    own_lock: int | None = None,
) -> list[LedgerRow]:
    """Validate, lock and apply ``movements`` as one posting; return the ledger rows written
    (``LedgerRow`` records, in the order of the movements).

    ``own_lock`` is the id of the stock lock whose count posts this (its count surplus and
    shortage): that one lock lets these movements through; any other lock refuses them.

    Raises a ``KernelError`` when any movement breaks a rule. Rule errors come before anything is
    written; ``InsufficientStock`` comes after the lock pass, which may have created empty balance
    rows, so the caller rolls its transaction back (``Database.transaction`` does).

    Every posting goes through here, so the three passes read and write with pre-built Core
    statements on the session's connection, on PostgreSQL straight on psycopg (see ``direct``
    and ``posting_facts``), where passes 2 and 3 take one statement each (see
    ``_lock_and_apply_on_postgresql``): the caller's pending ORM changes are flushed first, and ORM
    objects of this session that the posting changes (balances, units) are kept in step with what
    it wrote.
    """
    movements = [movement.normalised(reason) for movement in movements]
    if not movements:
        return []
    today = today or business_today()
    session.flush()
    facts, lines = _validate(session, movements, today, own_lock)
    keys = [key for line in lines for key, _sign in line.sides()]
    if direct.is_postgresql(facts.connection):
        return _lock_and_apply_on_postgresql(facts, lines, keys, own_lock, user, document, note)
    balances = lock_balance_rows(session, keys)
    _recheck_locks(session, balances, own_lock)
    entries = _apply(facts, lines, balances, user, document)
    _record(session, entries, user, document, note)
    return entries


# --- pass 1: validation ------------------------------------------------------------------------


def _validate(
    session: Session, movements: list[Movement], today: dt.date, own_lock: int | None = None
) -> tuple[PostingFacts, list[_Line]]:
    """Check every rule on rows read fresh in this transaction; return them bound to the lines."""
    facts = read_facts(
        session,
        location_ids={
            location.id
            for movement in movements
            for location in (movement.source, movement.destination)
            if location is not None
        },
        lot_ids={movement.lot.id for movement in movements if movement.lot is not None},
        unit_ids={movement.unit.id for movement in movements if movement.unit is not None},
    )
    lines = [_bind(facts, movement) for movement in movements]
    units_moved: dict[int, _UnitMoved] = {}
    for line in lines:
        try:
            _check_quantity(line)
            _check_tracking(line)
            for role, location in (("source", line.source), ("destination", line.destination)):
                if location is not None:
                    _check_location(facts, location, role, own_lock)
            _check_statuses(line)
            _check_lot(facts, line, today)
            _check_entry_expiry(facts, line, today)
            _check_entry_recall(facts, line)
            _check_unit(facts, line, units_moved)
        except KernelError as refused:
            refused.line = refused.line or line.movement.line
            raise
    return facts, lines


def _bind(facts: PostingFacts, movement: Movement) -> _Line:
    """The fresh rows of a movement; a movement naming only a unit takes the unit's lot."""
    unit = facts.units.get(movement.unit.id) if movement.unit is not None else None
    lot = facts.lots.get(movement.lot.id) if movement.lot is not None else None
    if lot is None and unit is not None and unit.lot_id is not None:
        lot = facts.lots.get(unit.lot_id)
    source, destination = movement.source, movement.destination
    return _Line(
        movement,
        source=facts.locations[source.id] if source is not None else None,
        destination=facts.locations[destination.id] if destination is not None else None,
        lot=lot,
        unit=unit,
    )


def check_location_open(session: Session, location: Location, role: str = "location") -> None:
    """Refuse a closed, non-stock or locked location (for callers other than post_movements)."""
    facts = read_facts(session, location_ids={location.id}, lot_ids=set(), unit_ids=set())
    _check_location(facts, facts.locations[location.id], role)


def _check_quantity(line: _Line) -> None:
    quantity = line.movement.quantity
    if quantity <= 0:
        raise InvalidMovement(
            _("The quantity must be greater than zero, not %(quantity)s.", quantity=quantity),
            "quantity",
        )
    if line.source is None and line.destination is None:
        raise InvalidMovement(_("A movement needs a source or a destination."), "destination")
    if line.unit is not None and quantity != 1:
        raise InvalidMovement(_("A serial-numbered unit moves one at a time."), "quantity")
    check_whole_units(line.movement.item, quantity)


def _check_tracking(line: _Line) -> None:
    item, lot, unit = line.movement.item, line.lot, line.unit
    if item.tracking == TrackingMode.serial and unit is None:
        raise TrackingRequired(item, "serial")
    if item.tracking == TrackingMode.lot and lot is None:
        raise TrackingRequired(item, "lot")
    if item.tracking != TrackingMode.serial and unit is not None:
        raise NotTracked(item, "serial")
    if item.tracking == TrackingMode.none and lot is not None:
        raise NotTracked(item, "lot")
    if lot is not None and lot.item_id != item.id:
        raise InvalidMovement(_("Lot %(lot)s belongs to another item.", lot=lot.lot_number), "lot")
    if unit is not None and unit.item_id != item.id:
        raise InvalidMovement(
            _("Serial number %(serial)s belongs to another item.", serial=unit.serial), "serial"
        )


def _check_location(
    facts: PostingFacts, location: Row, role: str, own_lock: int | None = None
) -> None:
    if not location.active:
        raise LocationInactive(facts.location(location), role)
    if location.type not in STOCK_HOLDING:
        raise NotAStockLocation(facts.location(location), role)
    if location.locked_since is not None and location.stock_lock_id != own_lock:
        since = wall_clock(location.locked_since)
        raise LocationLocked(facts.location(location), since, location.locked_by)


def _check_statuses(line: _Line) -> None:
    movement, source, destination = line.movement, line.source, line.destination
    for location, status, role in (
        (source, movement.source_status, "source"),
        (destination, movement.destination_status, "destination"),
    ):
        transit = location is not None and location.type == LocationType.transit
        if location is not None and not transit and status == StockStatus.in_transit:
            raise InvalidMovement(_("Only a transit location holds stock in transit."), role)
    if (
        source is not None
        and destination is not None
        and source.id == destination.id
        and movement.source_status == movement.destination_status
    ):
        raise InvalidMovement(_("The source and the destination are the same."), "destination")
    if (
        source is not None
        and source.type == LocationType.transit
        and movement.reason not in TRANSIT_EXITS
    ):
        raise StockNotAvailable(StockStatus.in_transit)  # in transit is sellable nowhere
    if movement.reason == Reason.recall_return:
        _check_recall_return(line)
    elif (
        line.leaves_source
        and source.type != LocationType.transit
        and movement.reason not in REMOVAL_REASONS
        and movement.source_status != StockStatus.available
    ):
        raise StockNotAvailable(movement.source_status)


def _check_recall_return(line: _Line) -> None:
    """召回退回, the one way recalled goods travel inside the chain: from ``nonconforming`` at a
    store or warehouse into transit, where they stay sellable nowhere (``transfers.ship`` sends
    them only towards a warehouse, where they arrive nonconforming). ``_check_lot`` requires the
    goods to be under recall; nothing else moves with this reason."""
    source, destination = line.source, line.destination
    if (
        not line.leaves_source
        or source.type == LocationType.transit
        or destination is None
        or destination.type != LocationType.transit
        or line.movement.source_status != StockStatus.nonconforming
    ):
        raise InvalidMovement(
            _("A recall return takes recalled goods set apart as nonconforming from a location "
              "into transit to a warehouse, nothing else."),
            "reason",
        )  # fmt: skip


def _check_lot(facts: PostingFacts, line: _Line, today: dt.date) -> None:
    """A recalled or quarantined lot (or recalled unit) and an expired lot may not be sold."""
    lot, reason = line.lot, line.movement.reason
    if not line.leaves_source:
        return
    if line.source.type == LocationType.transit or reason in REMOVAL_REASONS:
        return
    if reason == Reason.recall_return:  # the goods must be recalled, and nothing else may go
        if (line.unit is None or not line.unit.recalled) and (
            lot is None or lot.status != LotStatus.recalled
        ):
            raise InvalidMovement(
                _("Lot %(lot)s of %(item)s is not recalled: only recalled goods go back to the "
                  "warehouse as a recall return.",
                  lot=lot.lot_number if lot is not None else "-", item=line.movement.item.code),
                "lot",
            )  # fmt: skip
        return
    if line.unit is not None and line.unit.recalled:
        raise UnitRecalled(facts.unit(line.unit))
    if lot is None:
        return
    if lot.status != LotStatus.released:
        raise LotBlocked(facts.lot(lot), lot.status)
    if reason in EXPIRY_CHECKED and is_expired(lot.expiry_date, today):
        raise LotExpired(facts.lot(lot), lot.expiry_date)


def _check_entry_expiry(facts: PostingFacts, line: _Line, today: dt.date) -> None:
    """An expired lot does not enter available stock by a receipt, an inspection, a customer
    return or QA's release after a storage check; nonconforming and awaiting inspection take it."""
    movement, lot = line.movement, line.lot
    if (
        lot is None
        or line.destination is None
        or movement.reason not in ENTRY_EXPIRY_CHECKED
        or movement.destination_status != StockStatus.available
        or not is_expired(lot.expiry_date, today)
    ):
        return
    raise ExpiredLotNotAccepted(
        movement.item, facts.lot(lot), lot.expiry_date, facts.location(line.destination),
        movement.line,
    )  # fmt: skip


def _check_entry_recall(facts: PostingFacts, line: _Line) -> None:
    """Recalled goods do not enter available stock by any entry — a receipt, an inspection, a
    customer return, an arrival from transit, a count surplus or an adjustment: they land apart
    (nonconforming) for the recall to take out."""
    movement, lot, unit = line.movement, line.lot, line.unit
    if (
        line.destination is None
        or movement.reason not in ENTRY_RECALL_CHECKED
        or movement.destination_status != StockStatus.available
    ):
        return
    unit_recalled = unit is not None and unit.recalled
    if unit_recalled or (lot is not None and lot.status == LotStatus.recalled):
        raise RecalledNotAccepted(
            movement.item, facts.lot(lot), facts.unit(unit) if unit_recalled else None,
            facts.location(line.destination), movement.line,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _UnitMoved:
    """Where an earlier line of the same posting left a unit, and which line that was."""

    location_id: int | None
    status: UnitStatus
    line: int | None


#: Where a unit is when it may be moved on or out (and may not be brought in from outside).
_UNIT_HERE = (UnitStatus.in_stock, UnitStatus.in_transit)
#: What a purchase receipt may not bring back: the chain sold it, or wrote it off.
_NOT_RECEIVABLE = (UnitStatus.sold, UnitStatus.scrapped)


def _check_unit(facts: PostingFacts, line: _Line, units_moved: dict[int, _UnitMoved]) -> None:
    """The unit must be where the line takes it from, or out of stock when it comes in.

    Each line is checked against where the lines before it in the same posting left the unit
    (``units_moved``), not only against the unit's row: the same serial twice in one document would
    otherwise pass twice and count two pieces of stock for one device.
    """
    unit = line.unit
    if unit is None:
        return
    if line.lot is not None and unit.lot_id not in (None, line.lot.id):
        raise InvalidMovement(
            _("Serial number %(serial)s belongs to another lot.", serial=unit.serial), "lot"
        )
    earlier = units_moved.get(unit.id)
    location_id, status = unit.location_id, unit.status
    if earlier is not None:
        location_id, status = earlier.location_id, earlier.status
    if line.source is not None:
        movable = location_id == line.source.id and status in _UNIT_HERE
    else:
        movable = status not in _UNIT_HERE
    if not movable and earlier is not None:
        raise UnitTwiceInDocument(facts.unit(unit), line.movement.line, earlier.line)
    if not movable and line.source is not None:
        raise UnitNotHere(facts.unit(unit), facts.location(line.source))
    if not movable:
        raise UnitAlreadyInStock(facts.unit(unit))
    if line.movement.reason == Reason.purchase_receipt and status in _NOT_RECEIVABLE:
        raise UnitNotReceivable(facts.unit(unit), status)
    location_id, status = _unit_after(line)
    units_moved[unit.id] = _UnitMoved(location_id, status, line.movement.line)


def _unit_after(line: _Line) -> tuple[int | None, UnitStatus]:
    """Where a line leaves its unit: at its destination, or out of the system by its reason."""
    destination = line.destination
    if destination is None:
        return None, _UNIT_EXIT.get(line.movement.reason, UnitStatus.scrapped)
    if destination.type == LocationType.transit:
        return destination.id, UnitStatus.in_transit
    return destination.id, UnitStatus.in_stock


# --- pass 2: locks -----------------------------------------------------------------------------

_balances, _ledger, _units = StockBalance.__table__, LedgerEntry.__table__, Unit.__table__
_stock_locks = StockLock.__table__
_heads = audit.AuditChainHead.__table__
_BALANCE_KEY = (_balances.c.location_id, _balances.c.item_id, _balances.c.lot_key)


@functools.lru_cache(maxsize=256)
def _lock_statement(dialect: str, count: int):
    """SELECT … FOR UPDATE of ``count`` balance rows by key, in key order."""
    status = _balances.c.status
    status_order = status.collate("C") if dialect == "postgresql" else status
    stock_lock = (
        select(_stock_locks.c.id)
        .where(_stock_locks.c.location_id == _balances.c.location_id)
        .scalar_subquery()
        .label("stock_lock_id")
    )
    return (
        select(
            *_BALANCE_KEY,
            status,
            _balances.c.id,
            _balances.c.on_hand,
            _balances.c.reserved,
            stock_lock,
        )
        .where(direct.tuples_of([*_BALANCE_KEY, status], "keys", count))
        .order_by(*_BALANCE_KEY, status_order)
        .with_for_update()
    )


def lock_balance_rows(session: Session, keys: list[BalanceKey]) -> dict[BalanceKey, Row]:
    """Lock the balance rows of ``keys`` in (location, item, lot, status) order; create the missing.

    Every writer locks the rows it finds in the same sorted order, which is what keeps writers
    from deadlocking on PostgreSQL (``ORDER BY … status COLLATE "C"`` sorts like Python does).
    Rows seen for the first time are inserted (``ON CONFLICT DO NOTHING``, sorted too) and then
    locked: a writer only ever waits for a new row after it holds all the old rows it needs, and
    the writer it waits for inserted that row after taking ITS old rows, so no cycle can form.
    Returns plain rows; ``lock_balances`` returns ORM objects for the callers that want them.
    """
    keys = sorted(set(keys))
    if not keys:
        return {}
    connection = session.connection()
    found = _lock_found(connection, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        _insert_missing(connection, missing)
        found |= _lock_found(connection, missing)
    return found


def _recheck_locks(session: Session, balances: dict[BalanceKey, Row], own_lock: int | None) -> None:
    """Refuse the posting if a count opened at one of its locations while it waited.

    On PostgreSQL the location rows were share-locked by the validation's statement, whose
    snapshot was taken BEFORE it waited: a count opened meanwhile (its opener held the count gate
    and the location row, and committed) is not in that snapshot. The balance lock statement runs
    after the wait, in a fresh snapshot, and reads each location's lock again: a posting that
    waited for a count to open fails here, cleanly, before writing anything.
    """
    locked = {
        row.location_id
        for row in balances.values()
        if row.stock_lock_id is not None and row.stock_lock_id != own_lock
    }
    if locked:
        facts = read_facts(session, location_ids=locked, lot_ids=set(), unit_ids=set())
        for location_id in sorted(locked):
            _check_location(facts, facts.locations[location_id], "location", own_lock)


def _lock_found(connection, keys: list[BalanceKey]) -> dict[BalanceKey, Row]:
    statement = _lock_statement(connection.dialect.name, len(keys))
    rows = direct.execute(connection, statement, direct.parameters("keys", keys))
    return {(row.location_id, row.item_id, row.lot_key, str(row.status)): row for row in rows}


def lock_balances(session: Session, keys: list[BalanceKey]) -> dict[BalanceKey, StockBalance]:
    """``lock_balance_rows`` as ORM objects of this session (for reservations to change)."""
    session.flush()
    rows = lock_balance_rows(session, keys)
    if not rows:
        return {}
    query = (
        select(StockBalance)
        .where(StockBalance.id.in_(sorted(row.id for row in rows.values())))
        .execution_options(populate_existing=True)
    )
    return {balance.key: balance for balance in session.scalars(query)}


def _insert_missing(connection, keys: list[BalanceKey]) -> None:
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    rows = [
        {
            "location_id": location_id,
            "item_id": item_id,
            "lot_id": lot_key or None,
            "lot_key": lot_key,
            "status": StockStatus(status),
            "on_hand": Decimal(0),
            "reserved": Decimal(0),
        }
        for location_id, item_id, lot_key, status in keys
    ]
    connection.execute(
        insert(_balances)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["location_id", "item_id", "lot_key", "status"])
    )


# --- pass 3: apply -----------------------------------------------------------------------------

_SET_ON_HAND = (
    update(_balances)
    .where(_balances.c.id == bindparam("balance_id"))
    .values(on_hand=bindparam("new_on_hand"))
)
#: The ledger row's parameters are prefixed so that none is taken for a column of the balances.
_INSERT_LEDGER = (
    insert(_ledger)
    .values(
        {column.name: bindparam(f"l_{column.name}") for column in _ledger.c if column.name != "id"}
    )
    .returning(_ledger.c.id, _ledger.c.quantity, sort_by_parameter_order=True)
)


def _new_on_hand_values(count: int):
    """``count`` (balance id, new on hand) pairs as a VALUES list (PostgreSQL plans it faster
    than ``unnest`` of two arrays), parameters from ``direct.parameters("balances", …)``."""
    return values(column("id", Integer), column("on_hand", Quantity), name="new").data(
        [
            (bindparam(f"balances_{n}_0", type_=Integer), bindparam(f"balances_{n}_1", Quantity))
            for n in range(count)
        ]
    )


_MOVE_UNIT = (
    update(_units)
    .where(_units.c.id == bindparam("unit_id"))
    .values(
        location_id=bindparam("new_location_id"),
        status=bindparam("new_status"),
        lot_id=bindparam("new_lot_id"),
    )
)


def _apply(
    facts: PostingFacts,
    lines: list[_Line],
    balances: dict[BalanceKey, Row],
    user: User | None,
    document: str | None,
) -> list[LedgerRow]:
    on_hand, rows = _changes(facts, lines, balances, user, document)
    written = _write(facts.connection, on_hand, rows)
    entries = [
        LedgerRow(**{**row, "id": entry_id, "quantity": quantity})
        for row, (entry_id, quantity) in zip(rows, written, strict=True)
    ]
    _move_units(facts.session, lines)
    return entries


def _changes(
    facts: PostingFacts,
    lines: list[_Line],
    balances: dict[BalanceKey, Row],
    user: User | None,
    document: str | None,
) -> tuple[dict[int, Decimal], list[dict]]:
    """The new on hand of each touched balance, by balance id (refusing what is not free), and
    the ledger rows to write (without their ids)."""
    on_hand = _new_on_hand(facts, lines, balances)
    for key, value in on_hand.items():
        _refresh_loaded(facts.session, StockBalance, balances[key].id, on_hand=value)
    now = utcnow()
    user_id = user.id if user is not None else None
    rows = [row for line in lines for row in _ledger_rows(line, now, user_id, document)]
    return {balances[key].id: value for key, value in on_hand.items()}, rows


def _write(connection, on_hand: dict[int, Decimal], rows: list[dict]) -> list[Row]:
    """Set the balances (by id) and insert the ledger rows; return each row's id and quantity.
    (SQLite; PostgreSQL writes them with the audit entries, see ``_write_posting``.)"""
    changes = [{"balance_id": key, "new_on_hand": value} for key, value in on_hand.items()]
    connection.execute(_SET_ON_HAND, changes)
    parameters = [{f"l_{name}": value for name, value in row.items()} for row in rows]
    # SQLAlchemy sends several rows as one multi-row INSERT and returns the ids in order
    return connection.execute(_INSERT_LEDGER, parameters).all()


def _new_on_hand(
    facts: PostingFacts, lines: list[_Line], balances: dict[BalanceKey, Row]
) -> dict[BalanceKey, Decimal]:
    """Each touched balance after the posting; refuses a line that takes more than is free.

    Lines are applied in order, so two lines of one posting add up before the check.
    """
    on_hand = {key: balance.on_hand for key, balance in balances.items()}
    for line in lines:
        quantity = line.movement.quantity
        for key, sign in line.sides():
            on_hand[key] += sign * quantity
            free = on_hand[key] - balances[key].reserved
            if sign < 0 and free < 0:
                refused = InsufficientStock(
                    line.movement.item,
                    facts.lot(line.lot),
                    facts.location(line.source),
                    quantity,
                    free + quantity,
                )
                refused.line = line.movement.line
                raise refused
    return on_hand


def _execute(session: Session, statement, rows: list[dict]) -> None:
    """One statement for one row, or one executemany (pipelined by psycopg) for several."""
    if rows:
        session.connection().execute(statement, rows if len(rows) > 1 else rows[0])


def _refresh_loaded(session: Session, model, row_id: int, **values) -> None:
    """Keep an object this session already loaded in step with a row just written with Core."""
    if not session.identity_map:  # nothing loaded (a posting's usual case): nothing to look up
        return
    loaded = session.identity_map.get(identity_key(model, row_id))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


def _ledger_rows(line: _Line, now, user_id, document) -> list[dict]:
    movement, source, destination = line.movement, line.source, line.destination
    common = {
        "at": now,
        "item_id": movement.item.id,
        "lot_id": line.lot.id if line.lot is not None else None,
        "unit_id": line.unit.id if line.unit is not None else None,
        "unit_cost": movement.unit_cost,
        "document": document,
        "document_line": movement.line,
        "reason": str(movement.reason),
        "user_id": user_id,
        "corrects_id": movement.corrects,
    }
    rows = []
    if source is not None:
        rows.append(
            {
                "location_id": source.id,
                "status": movement.source_status,
                "quantity": -movement.quantity,
                "counterpart_location_id": _other(destination, source),
                **common,
            }
        )
    if destination is not None:
        rows.append(
            {
                "location_id": destination.id,
                "status": movement.destination_status,
                "quantity": movement.quantity,
                "counterpart_location_id": _other(source, destination),
                **common,
            }
        )
    return rows


def _other(location: Row | None, this: Row) -> int | None:
    if location is None or location.id == this.id:
        return None
    return location.id


#: What becomes of a unit that leaves the system, by reason.
_UNIT_EXIT = {
    Reason.sale: UnitStatus.sold,
    Reason.scrap: UnitStatus.scrapped,
    Reason.supplier_return: UnitStatus.returned,
    Reason.correction: UnitStatus.registered,
}


def _move_units(session: Session, lines: list[_Line]) -> None:
    """Write where each moved unit is now and what became of it (its last line wins)."""
    moved: dict[int, dict] = {}
    for line in lines:
        unit = line.unit
        if unit is None:
            continue
        before = moved.get(unit.id, {"new_lot_id": unit.lot_id})
        location_id, status = _unit_after(line)
        lot_id = before["new_lot_id"]
        if lot_id is None and line.lot is not None:
            lot_id = line.lot.id
        moved[unit.id] = {
            "unit_id": unit.id,
            "new_location_id": location_id,
            "new_status": status,
            "new_lot_id": lot_id,
        }
    _execute(session, _MOVE_UNIT, list(moved.values()))
    for change in moved.values():
        _refresh_loaded(
            session,
            Unit,
            change["unit_id"],
            location_id=change["new_location_id"],
            status=change["new_status"],
            lot_id=change["new_lot_id"],
        )


def _record(
    session: Session,
    entries: list[LedgerRow],
    user: User | None,
    document: str | None,
    note: str | None,
) -> None:
    """One audit entry per location touched, on that location's own chain."""
    context = audit.acting(user)
    for location_id, lines in _audit_lines(entries).items():
        audit.append(
            session,
            "stock.posted",
            "stock_ledger",
            document,
            changes={"lines": lines},
            reason=note,
            chain=_chain(location_id),
            context=context,
        )


def _chain(location_id: int) -> str:
    """The audit chain of a location's stock postings."""
    return f"location:{location_id}"


def _audit_lines(entries: list[LedgerRow]) -> dict[int, list]:
    """What the audit entry of each location (in id order) says of its ledger rows."""
    by_location: dict[int, list] = defaultdict(list)
    for entry in entries:
        by_location[entry.location_id].append(
            [entry.id, entry.item_id, entry.lot_id, entry.unit_id, str(entry.status),
             str(entry.quantity), entry.reason]
        )  # fmt: skip
    return dict(sorted(by_location.items()))


# --- passes 2 and 3 on PostgreSQL --------------------------------------------------------------

#: The sequence PostgreSQL gives the ledger's serial id.
_LEDGER_IDS = "stock_ledger_id_seq"


def _lock_and_apply_on_postgresql(
    facts: PostingFacts,
    lines: list[_Line],
    keys: list[BalanceKey],
    own_lock: int | None,
    user: User | None,
    document: str | None,
    note: str | None,
) -> list[LedgerRow]:
    """Passes 2 and 3 in two round trips: one statement locks the balances, then the chain heads
    and takes the ledger ids; after the checks, one statement writes the balances, the ledger rows,
    the audit entries and moves the heads. Same locks in the same order, same checks and the same
    rows as on SQLite, where ``post_movements`` runs them one by one."""
    session, connection = facts.session, facts.connection
    chains = [_chain(location_id) for location_id in sorted({key[0] for key in keys})]
    balances, heads, ledger_ids = _lock_posting(connection, keys, chains, len(keys))
    _recheck_locks(session, balances, own_lock)
    on_hand, rows = _changes(facts, lines, balances, user, document)
    for row, ledger_id in zip(rows, ledger_ids, strict=True):
        row["id"] = ledger_id
        row["quantity"] = _stored_quantity(row["quantity"])
    entries = [LedgerRow(**row) for row in rows]
    _move_units(session, lines)
    context = audit.acting(user)
    audit_entries = [
        audit.next_entry(
            _chain(location_id),
            heads[_chain(location_id)],
            "stock.posted",
            "stock_ledger",
            document,
            changes={"lines": said},
            reason=note,
            context=context,
        )
        for location_id, said in _audit_lines(entries).items()
    ]
    parameters = direct.parameters("balances", list(on_hand.items()))
    for n, row in enumerate(rows):
        parameters |= {f"l_{n}_{name}": value for name, value in row.items()}
    parameters |= audit.append_parameters(connection, audit_entries)
    statement = _write_posting(len(on_hand), len(rows), len(audit_entries))
    direct.execute(connection, statement, parameters)
    for entry in audit_entries:
        audit.refresh_loaded_head(session, entry["chain"], entry["seq"], entry["hash"])
    return entries


def _stored_quantity(quantity: Decimal) -> Decimal:
    """``quantity`` as the ledger's numeric column stores it (and SQLite's returns it)."""
    return quantity.quantize(_QUANTUM, rounding=ROUND_HALF_UP)


_QUANTUM = Decimal(1).scaleb(-Quantity.scale)


@functools.lru_cache(maxsize=256)
def _posting_lock_sql(dialect, keys: int, chains: int, rows: int) -> str:
    """Lock ``keys`` balance rows (as ``_lock_statement``, sorted), then — only if all of them were
    there — the heads of ``chains`` audit chains (in the order given: by location id), then —
    only if all of those were there — take ``rows`` ledger ids, in one statement. Each step waits
    for the one before it (its condition counts the rows the step before locked), so the locks are
    taken in the usual order, and the ids after the locks as an INSERT would take them.
    ``keys=0``: the heads and the ids only. Returns rows of three kinds: "balance" (the columns of
    ``_lock_statement``), "head" (chain, seq, hash) and "ledger id" (in ``id``)."""
    wanted = ", ".join(f"(%(chains_{n})s, {n})" for n in range(chains))
    parts, all_locked = [], ""
    if keys:
        balances = direct.compiled(_lock_statement("postgresql", keys), dialect)
        parts.append(f"WITH balances AS MATERIALIZED ({balances}),")
        all_locked = f"AND (SELECT count(*) FROM balances) = {keys}"
    else:
        parts.append("WITH")
    parts.append(
        "heads AS MATERIALIZED (SELECT head.chain, head.seq, head.hash"
        f" FROM audit_chain_heads AS head JOIN (VALUES {wanted}) AS wanted (chain, n)"
        f" ON head.chain = wanted.chain {all_locked} ORDER BY wanted.n FOR UPDATE OF head)"
    )
    empty = "NULL AS location_id, NULL AS item_id, NULL AS lot_key, NULL AS status"
    if keys:
        parts.append(
            "SELECT 'balance' AS kind, location_id, item_id, lot_key, status, id, on_hand,"
            " reserved, stock_lock_id, NULL AS chain, NULL AS seq, NULL AS hash FROM balances"
            " UNION ALL"
        )
    parts.append(
        f"SELECT 'head' AS kind, {empty}, NULL AS id, NULL AS on_hand, NULL AS reserved,"
        " NULL AS stock_lock_id, chain, seq, hash FROM heads UNION ALL"
        f" SELECT 'ledger id', {empty}, nextval('{_LEDGER_IDS}'), NULL, NULL, NULL, NULL, NULL,"
        f" NULL FROM generate_series(1, {rows}) WHERE (SELECT count(*) FROM heads) = {chains}"
    )
    return " ".join(parts)


def _lock_posting(
    connection, keys: list[BalanceKey], chains: list[str], rows: int
) -> tuple[dict[BalanceKey, Row], dict[str, tuple[int, str]], list[int]]:
    """The locked balance rows by key (created when missing, see ``lock_balance_rows``), the
    locked heads (seq, hash) by chain and ``rows`` new ledger ids."""
    keys = sorted(set(keys))
    parameters = direct.parameters("keys", keys) | direct.parameters("chains", chains)
    sql = _posting_lock_sql(connection.dialect, len(keys), len(chains), rows)
    balances, heads, ids = _lock_rows(direct.execute_sql(connection, sql, parameters))
    if len(balances) < len(keys):  # new balance rows: lock the old, create and lock the new
        missing = [key for key in keys if key not in balances]
        _insert_missing(connection, missing)
        balances |= _lock_found(connection, missing)
    if len(heads) < len(chains):  # a chain without a head (no posting yet, made by hand)
        connection.execute(
            postgresql.insert(_heads)
            .values([{"chain": chain, "seq": 0, "hash": audit.GENESIS} for chain in chains])
            .on_conflict_do_nothing()
        )
    if len(ids) < rows:
        sql = _posting_lock_sql(connection.dialect, 0, len(chains), rows)
        _found, heads, ids = _lock_rows(direct.execute_sql(connection, sql, parameters))
    return balances, heads, ids


def _lock_rows(rows) -> tuple[dict[BalanceKey, Row], dict[str, tuple[int, str]], list[int]]:
    balances, heads, ids = {}, {}, []
    for row in rows:
        if row.kind == "balance":
            balances[(row.location_id, row.item_id, row.lot_key, row.status)] = row
        elif row.kind == "head":
            heads[row.chain] = (row.seq, row.hash)
        else:
            ids.append(row.id)
    return balances, heads, ids


@functools.lru_cache(maxsize=64)
def _write_posting(balances: int, rows: int, entries: int):
    """Set ``balances`` balances, insert ``rows`` ledger rows (ids given) and ``entries`` audit
    entries and move their heads: one statement of data-modifying WITHs. Every row it changes is
    locked already, so the order its parts run in does not matter."""
    new = _new_on_hand_values(balances)
    set_balances = (
        update(_balances)
        .where(_balances.c.id == new.c.id)
        .values(on_hand=new.c.on_hand)
        .cte("new_balances")
    )
    ledger = insert(_ledger).values(
        [
            {c.name: bindparam(f"l_{n}_{c.name}", type_=c.type) for c in _ledger.c}
            for n in range(rows)
        ]
    )
    return audit.append_statement(entries).add_cte(set_balances).add_cte(ledger.cte("ledger"))


def correct_entry(
    session: Session,
    entry: LedgerEntry | LedgerRow,
    *,
    user: User | None = None,
    note: str | None = None,
) -> list[LedgerRow]:
    """Post the exact reverse of one ledger row, referencing it (history is never rewritten)."""
    location = session.get(Location, entry.location_id)
    item = session.get(Item, entry.item_id)
    lot = session.get(Lot, entry.lot_id) if entry.lot_id else None
    unit = session.get(Unit, entry.unit_id) if entry.unit_id else None
    side = "source" if entry.quantity > 0 else "destination"
    movement = Movement(
        item=item,
        quantity=abs(entry.quantity),
        lot=lot,
        unit=unit,
        reason=Reason.correction,
        line=entry.document_line,
        unit_cost=entry.unit_cost,
        corrects=entry.id,
        **{side: location, f"{side}_status": entry.status},
    )
    return post_movements(session, [movement], user=user, document=entry.document, note=note)
