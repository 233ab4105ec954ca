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
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    insert,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Money, Quantity, UTCDateTime, to_decimal, utcnow
from app.i18n import _
from app.kernel import audit
from app.kernel.errors import (
    InsufficientStock,
    InvalidMovement,
    LocationInactive,
    LocationLocked,
    LotBlocked,
    LotExpired,
    NotAStockLocation,
    NotTracked,
    StockNotAvailable,
    TrackingRequired,
    UnitAlreadyInStock,
    UnitNotHere,
)
from app.kernel.items import (
    BUSINESS_TIMEZONE,
    Item,
    Lot,
    LotStatus,
    TrackingMode,
    Unit,
    UnitStatus,
    business_today,
)
from app.kernel.locations import STOCK_HOLDING, Location, LocationType
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
#: Reasons for which an expired lot is refused.
EXPIRY_CHECKED = frozenset({Reason.sale, Reason.transfer_out})


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


def _key(location: Location, item: Item, lot: Lot | None, status: StockStatus) -> BalanceKey:
    return (location.id, item.id, lot.id if lot is not None else 0, str(status))


def post_movements(
    session: Session,
    movements: list[Movement],
    *,
    user: User | None = None,
    document: str | None = None,
    reason: Reason | None = None,
    note: str | None = None,
    today: dt.date | None = None,
) -> list[LedgerEntry]:
    """Validate, lock and apply ``movements`` as one posting; return the ledger rows written.

    Raises a ``KernelError`` when any movement breaks a rule. Rule errors come before anything is
    written; ``InsufficientStock`` comes after the lock pass, which may have created empty balance
    rows, so the caller rolls its transaction back (``Database.transaction`` does).
    """
    movements = [movement.normalised(reason) for movement in movements]
    if not movements:
        return []
    today = today or business_today()
    movements = _validate(session, movements, today)
    keys = [key for movement in movements for key, _sign in _sides(movement)]
    balances = lock_balances(session, keys)
    entries = _apply(session, movements, balances, user, document)
    _record(session, entries, user, document, note)
    return entries


# --- pass 1: validation ------------------------------------------------------------------------


def _validate(session: Session, movements: list[Movement], today: dt.date) -> list[Movement]:
    """Check every rule on fresh rows of this session; return the movements bound to them."""
    movements, locks = _fresh(session, movements)
    for movement in movements:
        _check_quantity(movement)
        _check_tracking(movement)
        for role in ("source", "destination"):
            location = getattr(movement, role)
            if location is not None:
                _check_location(location, locks.get(location.id), role)
        _check_statuses(movement)
        _check_lot(movement, today)
        _check_unit(movement)
    return movements


def _fresh(session: Session, movements: list[Movement]):
    """Re-read locations (share-locked, with any stock lock), lots and units (locked) as they are.

    A unit is locked so two sales of the same serial number queue, and the second one sees the
    unit gone; a lot is re-read so a recall committed a moment ago is seen. Items are master data,
    read as the caller loaded them (their tracking mode does not change under stock).
    """
    location_ids = {
        location.id
        for movement in movements
        for location in (movement.source, movement.destination)
        if location is not None
    }
    locations, locks = load_locations(session, location_ids)
    lot_ids = {m.lot.id for m in movements if m.lot is not None}
    lots = _by_id(session, Lot, lot_ids, lock=False)
    units = _by_id(session, Unit, {m.unit.id for m in movements if m.unit is not None}, lock=True)
    fresh = []
    for movement in movements:
        unit = units.get(movement.unit.id) if movement.unit is not None else None
        lot = lots.get(movement.lot.id) if movement.lot is not None else None
        if lot is None and unit is not None and unit.lot_id is not None:
            lot = session.get(Lot, unit.lot_id)
        source, destination = movement.source, movement.destination
        fresh.append(
            replace(
                movement,
                source=locations[source.id] if source is not None else None,
                destination=locations[destination.id] if destination is not None else None,
                lot=lot,
                unit=unit,
            )
        )
    return fresh, locks


def _by_id(session: Session, model, ids: set[int], *, lock: bool) -> dict:
    if not ids:
        return {}
    query = (
        select(model)
        .where(model.id.in_(sorted(ids)))
        .order_by(model.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return {row.id: row for row in session.scalars(query)}


def check_location_open(session: Session, location: Location, role: str = "location") -> Location:
    """Refuse a closed, non-stock or locked location (for callers other than post_movements)."""
    locations, locks = load_locations(session, {location.id})
    _check_location(locations[location.id], locks.get(location.id), role)
    return locations[location.id]


def load_locations(session: Session, ids: set[int]):
    """The locations ``ids`` read fresh, and the stock locks open on them, in one query.

    The location rows are share-locked (``FOR KEY SHARE``) so a count cannot start under us.
    """
    query = (
        select(Location, StockLock.opened_at, User.full_name)
        .outerjoin(StockLock, StockLock.location_id == Location.id)
        .outerjoin(User, User.id == StockLock.opened_by)
        .where(Location.id.in_(sorted(ids)))
        .order_by(Location.id)
        .with_for_update(read=True, key_share=True, of=Location)
        .execution_options(populate_existing=True)
    )
    locations, locks = {}, {}
    for location, opened_at, user_name in session.execute(query):
        locations[location.id] = location
        if opened_at is not None:
            locks[location.id] = (opened_at, user_name)
    return locations, locks


def _check_quantity(movement: Movement) -> None:
    if movement.quantity <= 0:
        raise InvalidMovement(
            _(
                "The quantity must be greater than zero, not %(quantity)s.",
                quantity=movement.quantity,
            ),
            "quantity",
        )
    if movement.source is None and movement.destination is None:
        raise InvalidMovement(_("A movement needs a source or a destination."), "destination")
    if movement.unit is not None and movement.quantity != 1:
        raise InvalidMovement(_("A serial-numbered unit moves one at a time."), "quantity")


def _check_tracking(movement: Movement) -> None:
    item = movement.item
    if item.tracking == TrackingMode.serial and movement.unit is None:
        raise TrackingRequired(item, "serial")
    if item.tracking == TrackingMode.lot and movement.lot is None:
        raise TrackingRequired(item, "lot")
    if item.tracking != TrackingMode.serial and movement.unit is not None:
        raise NotTracked(item, "serial")
    if item.tracking == TrackingMode.none and movement.lot is not None:
        raise NotTracked(item, "lot")
    if movement.lot is not None and movement.lot.item_id != item.id:
        raise InvalidMovement(
            _("Lot %(lot)s belongs to another item.", lot=movement.lot.lot_number), "lot"
        )
    if movement.unit is not None and movement.unit.item_id != item.id:
        raise InvalidMovement(
            _("Serial number %(serial)s belongs to another item.", serial=movement.unit.serial),
            "serial",
        )


def _check_location(location: Location, lock, role: str) -> None:
    if not location.active:
        raise LocationInactive(location, role)
    if location.type not in STOCK_HOLDING:
        raise NotAStockLocation(location, role)
    if lock is not None:
        opened_at, user_name = lock
        since = opened_at.astimezone(BUSINESS_TIMEZONE).strftime("%Y-%m-%d %H:%M")
        raise LocationLocked(location, since, user_name)


def _check_statuses(movement: Movement) -> None:
    for location, status, role in (
        (movement.source, movement.source_status, "source"),
        (movement.destination, movement.destination_status, "destination"),
    ):
        transit = location is not None and location.type == LocationType.transit
        if location is not None and not transit and status == StockStatus.in_transit:
            raise InvalidMovement(_("Only a transit location holds stock in transit."), role)
    if (
        movement.source is not None
        and movement.destination is not None
        and movement.source.id == movement.destination.id
        and movement.source_status == movement.destination_status
    ):
        raise InvalidMovement(_("The source and the destination are the same."), "destination")
    if (
        movement.source is not None
        and movement.source.type == LocationType.transit
        and movement.reason not in TRANSIT_EXITS
    ):
        raise StockNotAvailable(StockStatus.in_transit)  # in transit is sellable nowhere
    if (
        movement.leaves_source
        and movement.source.type != LocationType.transit
        and movement.reason not in REMOVAL_REASONS
        and movement.source_status != StockStatus.available
    ):
        raise StockNotAvailable(movement.source_status)


def _check_lot(movement: Movement, today: dt.date) -> None:
    lot = movement.lot
    if lot is None or not movement.leaves_source:
        return
    if movement.source.type == LocationType.transit or movement.reason in REMOVAL_REASONS:
        return
    if lot.status != LotStatus.released:
        raise LotBlocked(lot, lot.status)
    if movement.reason in EXPIRY_CHECKED and lot.is_expired(today):
        raise LotExpired(lot, lot.expiry_date)


def _check_unit(movement: Movement) -> None:
    unit = movement.unit
    if unit is None:
        return
    if movement.lot is not None and unit.lot_id not in (None, movement.lot.id):
        raise InvalidMovement(
            _("Serial number %(serial)s belongs to another lot.", serial=unit.serial), "lot"
        )
    here = (UnitStatus.in_stock, UnitStatus.in_transit)
    if movement.source is not None:
        if unit.location_id != movement.source.id or unit.status not in here:
            raise UnitNotHere(unit, movement.source)
    elif unit.status in here:
        raise UnitAlreadyInStock(unit)


# --- pass 2: locks -----------------------------------------------------------------------------


def lock_balances(session: Session, keys: list[BalanceKey]) -> dict[BalanceKey, StockBalance]:
    """Lock the balance rows of ``keys`` in (location, item, lot, status) order; create the missing.

    Every writer locks the rows it finds in the same sorted order, which is what keeps writers
    from deadlocking on PostgreSQL (``ORDER BY … status COLLATE "C"`` sorts like Python does).
    Rows seen for the first time are inserted (``ON CONFLICT DO NOTHING``, sorted too) and then
    locked: a writer only ever waits for a new row after it holds all the old rows it needs, and
    the writer it waits for inserted that row after taking ITS old rows, so no cycle can form.
    """
    keys = sorted(set(keys))
    if not keys:
        return {}
    found = _select_for_update(session, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        _insert_missing(session, missing)
        found |= _select_for_update(session, missing)
    return found


def _select_for_update(session: Session, keys: list[BalanceKey]) -> dict:
    postgres = session.get_bind().dialect.name == "postgresql"
    status_order = StockBalance.status.collate("C") if postgres else StockBalance.status
    query = (
        select(StockBalance)
        .where(
            tuple_(
                StockBalance.location_id,
                StockBalance.item_id,
                StockBalance.lot_key,
                StockBalance.status,
            ).in_(keys)
        )
        .order_by(
            StockBalance.location_id, StockBalance.item_id, StockBalance.lot_key, status_order
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {balance.key: balance for balance in session.scalars(query)}


def _insert_missing(session: Session, keys: list[BalanceKey]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
    session.execute(
        insert(StockBalance)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["location_id", "item_id", "lot_key", "status"])
    )


# --- pass 3: apply -----------------------------------------------------------------------------


def _sides(movement: Movement):
    """The balance keys a movement touches, with the sign of the change to each."""
    if movement.source is not None:
        yield _key(movement.source, movement.item, movement.lot, movement.source_status), -1
    if movement.destination is not None:
        key = _key(movement.destination, movement.item, movement.lot, movement.destination_status)
        yield key, 1


def _apply(
    session: Session,
    movements: list[Movement],
    balances: dict[BalanceKey, StockBalance],
    user: User | None,
    document: str | None,
) -> list[LedgerEntry]:
    on_hand = {key: balance.on_hand for key, balance in balances.items()}
    for movement in movements:
        for key, sign in _sides(movement):
            on_hand[key] += sign * movement.quantity
            free = on_hand[key] - balances[key].reserved
            if sign < 0 and free < 0:
                raise InsufficientStock(
                    movement.item,
                    movement.lot,
                    movement.source,
                    movement.quantity,
                    free + movement.quantity,
                )
    for key, value in on_hand.items():
        balances[key].on_hand = value
    now = utcnow()
    user_id = user.id if user is not None else None
    rows = []
    for movement in movements:
        rows.extend(_ledger_rows(movement, now, user_id, document))
        _move_unit(movement)
    # One multi-row INSERT … RETURNING (ORM bulk insert): cheaper than the unit of work.
    return list(
        session.scalars(
            insert(LedgerEntry).returning(LedgerEntry, sort_by_parameter_order=True), rows
        )
    )


def _ledger_rows(movement: Movement, now, user_id, document) -> list[dict]:
    common = {
        "at": now,
        "item_id": movement.item.id,
        "lot_id": movement.lot.id if movement.lot is not None else None,
        "unit_id": movement.unit.id if movement.unit is not None else None,
        "unit_cost": movement.unit_cost,
        "document": document,
        "document_line": movement.line,
        "reason": str(movement.reason),
        "user_id": user_id,
        "corrects_id": movement.corrects,
    }
    rows = []
    source, destination = movement.source, movement.destination
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


def _other(location: Location | None, this: Location) -> int | None:
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


def _move_unit(movement: Movement) -> None:
    unit = movement.unit
    if unit is None:
        return
    destination = movement.destination
    if destination is None:
        unit.location_id = None
        unit.status = _UNIT_EXIT.get(movement.reason, UnitStatus.scrapped)
    else:
        unit.location_id = destination.id
        unit.status = (
            UnitStatus.in_transit
            if destination.type == LocationType.transit
            else UnitStatus.in_stock
        )
    if unit.lot_id is None and movement.lot is not None:
        unit.lot_id = movement.lot.id


def _record(
    session: Session,
    entries: list[LedgerEntry],
    user: User | None,
    document: str | None,
    note: str | None,
) -> None:
    """One audit entry per location touched, on that location's own chain."""
    by_location: dict[int, list] = defaultdict(list)
    for entry in entries:
        by_location[entry.location_id].append(
            [entry.id, entry.item_id, entry.lot_id, entry.unit_id, str(entry.status),
             str(entry.quantity), entry.reason]
        )  # fmt: skip
    context = (
        audit.AuditContext(user_id=user.id, username=user.username) if user is not None else None
    )
    for location_id in sorted(by_location):
        audit.record(
            session,
            "stock.posted",
            "stock_ledger",
            document,
            changes={"lines": by_location[location_id]},
            reason=note,
            chain=f"location:{location_id}",
            context=context,
        )


def correct_entry(
    session: Session,
    entry: LedgerEntry,
    *,
    user: User | None = None,
    note: str | None = None,
) -> list[LedgerEntry]:
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
