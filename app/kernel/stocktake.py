"""Stocktake (盘点): a count freezes its location, counters scan, approval posts the variance.

``open_stocktake`` takes the location's stock lock and the snapshot of its balances in ONE
transaction, in the kernel's lock order (the location row, then the balance rows sorted by item,
lot and status). Why nothing slips past the snapshot on PostgreSQL:

* a posting holds its locations ``FOR KEY SHARE`` until it commits; the opener takes the same row
  ``FOR UPDATE``, so it waits for every posting already in flight there — they are in the
  snapshot, which is read after that wait;
* a posting that reaches the location while the opener holds it waits, and after the opener
  commits it is refused ``LocationLocked`` by ``post_movements``' second look at the lock in its
  balance lock statement (see ``stock._recheck_locks``) — it writes nothing.

Counters add count entries (``stocktake_counts``), one row per scan: they only ever INSERT, and
read the stocktake row ``FOR KEY SHARE``, so any number of counters count at once without
conflicting or losing a line. Submission for review, the return to counting, approval and abort
take the stocktake row ``FOR UPDATE``: they wait for the scans in flight and the scans after them
see the new state. While the count is in review (``submit_stocktake``) a count sheet is refused
with ``CountInReview`` — the reviewer is looking at a variance that must not move under them —
until the reviewer sends it back to counting (``resume_counting``) or approves it.

The variance of each (item, lot, status) is counted − snapshot. Approval posts it as
``count_surplus`` / ``count_shortage`` through ``post_movements`` with the count's own lock, then
closes the lock; an abort releases the lock and posts nothing. Both are audited.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Quantity, UTCDateTime, plain_quantity, to_decimal, utcnow
from app.i18n import _
from app.kernel import audit
from app.kernel.errors import (
    CountShortageReserved,
    InvalidMovement,
    KernelError,
    LocationInactive,
    NotAStockLocation,
    TransitNotCounted,
    UnitBookedElsewhere,
    UnitCountedTwice,
    UnitNotCounted,
    _stock_status,
)
from app.kernel.items import Item, Lot, TrackingMode, Unit, UnitStatus, wall_clock
from app.kernel.locations import STOCK_HOLDING, Location, LocationType
from app.kernel.queries import units_in_status
from app.kernel.reservations import Reservation
from app.kernel.stock import (
    LedgerEntry,
    Movement,
    Reason,
    StockBalance,
    StockStatus,
    lock_balance_rows,
    post_movements,
)
from app.kernel.stock_locks import StockLock, close_stock_lock, open_stock_lock
from app.kernel.users import User


class StocktakeState(enum.StrEnum):
    counting = "counting"  # 盘点中
    review = "review"  # 差异审核中: counted and submitted; the variance must hold still
    posted = "posted"  # 已过账
    aborted = "aborted"  # 已中止


class Stocktake(Base):
    """One count of one location (all items, or the items in ``stocktake_items``)."""

    __tablename__ = "stocktakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(String(64), unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    state: Mapped[StocktakeState] = mapped_column(
        Enum(StocktakeState, native_enum=False, length=16, validate_strings=True)
    )
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    all_items: Mapped[bool] = mapped_column(Boolean, default=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When and by whom the count was last submitted for review (kept after it returns).
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class StocktakeItem(Base):
    """An item a partial count covers."""

    __tablename__ = "stocktake_items"
    __table_args__ = (UniqueConstraint("stocktake_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))


class StocktakeSnapshot(Base):
    """What the books said at opening, per item, lot and status (non-zero balances only)."""

    __tablename__ = "stocktake_snapshots"
    __table_args__ = (UniqueConstraint("stocktake_id", "item_id", "lot_key", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    lot_key: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))
    quantity: Mapped[Decimal] = mapped_column(Quantity)


class CountEntry(Base):
    """One scan or typed count by one counter; only ever inserted (a correction is negative)."""

    __tablename__ = "stocktake_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(24))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    counted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StocktakeError(KernelError):
    field = "stocktake"


class CountInReview(StocktakeError):
    """A count sheet (or a second submission) for a count whose variance is being reviewed."""

    def __init__(self, document: str, location: str, since: str, submitted_by: str):
        self.document, self.since = document, since
        super().__init__(
            _("Stocktake %(document)s of %(location)s is in review since %(since)s (submitted by "
              "%(user)s): it takes no count sheets now. Ask the manager of %(location)s who "
              "reviews it to return it to counting if more must be counted.",
              document=document, location=location, since=since, user=submitted_by)
        )  # fmt: skip


@dataclass(frozen=True)
class VarianceLine:
    """One (item, lot, status) of a count: the books at opening, what was counted, the gap."""

    item_id: int
    lot_id: int | None
    status: str
    expected: Decimal
    counted: Decimal

    @property
    def variance(self) -> Decimal:
        return self.counted - self.expected


_stocktakes = Stocktake.__table__
_balances = StockBalance.__table__
#: The states of a count that still holds its location: it may be approved or aborted.
_OPEN = (StocktakeState.counting, StocktakeState.review)


def open_stocktake(
    session: Session,
    document: str,
    location: Location,
    user: User | None = None,
    items: list[Item] | None = None,
    blind: bool = False,
) -> Stocktake:
    """Lock ``location`` and snapshot its balances (of ``items``, or all) in this transaction."""
    if not location.active:
        raise LocationInactive(location)
    if location.type not in STOCK_HOLDING:
        raise NotAStockLocation(location, "location")
    if location.type == LocationType.transit:
        raise TransitNotCounted(location)
    lock = open_stock_lock(session, location, user, reason=document)
    stocktake = Stocktake(
        document=document, location_id=location.id, state=StocktakeState.counting,
        blind=blind, all_items=not items, opened_at=lock.opened_at,
        opened_by=user.id if user else None,
    )  # fmt: skip
    session.add(stocktake)
    session.flush()
    item_ids = sorted({item.id for item in items or []})
    session.add_all(StocktakeItem(stocktake_id=stocktake.id, item_id=i) for i in item_ids)
    for balance in _snapshot_balances(session, location, item_ids):
        session.add(
            StocktakeSnapshot(
                stocktake_id=stocktake.id, item_id=balance.item_id,
                lot_id=balance.lot_key or None, lot_key=balance.lot_key,
                status=str(balance.status), quantity=balance.on_hand,
            )
        )  # fmt: skip
    audit.record(
        session, "open", "stocktake", document,
        changes={"location": location.code, "items": item_ids or "all", "blind": blind},
    )  # fmt: skip
    session.flush()
    return stocktake


def _snapshot_balances(session: Session, location: Location, item_ids: list[int]):
    """The location's non-zero balances, locked in the kernel's order (after the location)."""
    query = select(
        _balances.c.location_id, _balances.c.item_id, _balances.c.lot_key, _balances.c.status
    ).where(_balances.c.location_id == location.id, _balances.c.on_hand != 0)
    if item_ids:
        query = query.where(_balances.c.item_id.in_(item_ids))
    keys = [(row[0], row[1], row[2], str(row[3])) for row in session.execute(query)]
    rows = lock_balance_rows(session, keys)
    return [rows[key] for key in sorted(rows) if rows[key].on_hand != 0]


def stocktake_of(session: Session, document: str) -> Stocktake:
    stocktake = session.scalar(select(Stocktake).where(Stocktake.document == document))
    if stocktake is None:
        raise StocktakeError(_("No stocktake %(document)s.", document=document))
    return stocktake


def _lock_state(
    session: Session,
    stocktake: Stocktake,
    *,
    exclusive: bool,
    allowed: tuple[StocktakeState, ...] = (StocktakeState.counting,),
    taking_back: bool = False,
) -> StocktakeState:
    """Read the count's state from its locked row; refuse unless it is one of ``allowed``.

    Scans share-lock the row (they never wait for each other); submission, return, approval and
    abort lock it exclusively, so they wait for the scans in flight and later scans see the new
    state. A take-back (``taking_back``: a negative line) locks it ``FOR NO KEY UPDATE``: two
    take-backs queue, so the second one sees the first before it checks that the count stays at
    or above zero, while the scans go on beside them.
    """
    columns = (_stocktakes.c.state, _stocktakes.c.submitted_at, _stocktakes.c.submitted_by)
    query = select(*columns).where(_stocktakes.c.id == stocktake.id)
    if exclusive:
        query = query.with_for_update()
    elif taking_back:
        query = query.with_for_update(key_share=True)
    else:
        query = query.with_for_update(read=True, key_share=True)
    state, submitted_at, submitted_by = session.execute(query).one()
    if state in allowed:
        return state
    if state == StocktakeState.review:
        submitter = session.get(User, submitted_by) if submitted_by else None
        raise CountInReview(
            stocktake.document, session.get(Location, stocktake.location_id).code,
            wall_clock(submitted_at),
            submitter.full_name if submitter else "-",
        )  # fmt: skip
    raise StocktakeError(
        _("Stocktake %(document)s is %(state)s: it takes no more changes.",
          document=stocktake.document, state=_state_words(state))
    )  # fmt: skip


def _state_words(state: StocktakeState) -> str:
    """A count's state as the clerk reads it (never the code ``posted``); one in review is
    refused by ``CountInReview``, which says more."""
    words = {
        StocktakeState.counting: _("still being counted"),
        StocktakeState.posted: _("already posted"),
        StocktakeState.aborted: _("aborted"),
    }
    return words.get(state, str(state))


def submit_stocktake(session: Session, stocktake: Stocktake, user: User | None = None) -> None:
    """Counting is done: the variance goes to review and no count sheet is taken until the
    reviewer returns it to counting (``resume_counting``) or approves it."""
    _lock_state(session, stocktake, exclusive=True)
    _set_state(session, stocktake, StocktakeState.review,
               submitted_at=utcnow(), submitted_by=user.id if user else None)  # fmt: skip
    audit.record(session, "submit", "stocktake", stocktake.document)


def resume_counting(
    session: Session, stocktake: Stocktake, user: User | None = None, reason: str = ""
) -> None:
    """The reviewer sends the count back to counting: count sheets are taken again."""
    _lock_state(session, stocktake, exclusive=True, allowed=(StocktakeState.review,))
    _set_state(session, stocktake, StocktakeState.counting)
    audit.record(session, "resume", "stocktake", stocktake.document, reason=reason or None)


def _set_state(session: Session, stocktake: Stocktake, state: StocktakeState, **values) -> None:
    session.execute(
        update(_stocktakes).where(_stocktakes.c.id == stocktake.id).values(state=state, **values)
    )
    session.refresh(stocktake)


def items_in_scope(session: Session, stocktake: Stocktake) -> set[int] | None:
    """The item ids a partial count covers; None for a count of all items."""
    if stocktake.all_items:
        return None
    query = select(StocktakeItem.item_id).where(StocktakeItem.stocktake_id == stocktake.id)
    return set(session.scalars(query))


def counted_blind(session: Session, item: Item) -> frozenset[int]:
    """The locations whose figures of ``item`` an open blind count hides (counting or in
    review): a count of every item hides them all, a count of chosen items only those."""
    chosen = select(StocktakeItem.id).where(
        StocktakeItem.stocktake_id == Stocktake.id, StocktakeItem.item_id == item.id
    )
    query = select(Stocktake.location_id).where(
        Stocktake.blind.is_(True),
        Stocktake.state.in_(_OPEN),
        or_(Stocktake.all_items.is_(True), chosen.exists()),
    )
    return frozenset(session.scalars(query))


def add_count(
    session: Session,
    stocktake: Stocktake,
    item: Item,
    quantity: Decimal,
    *,
    lot: Lot | None = None,
    unit: Unit | None = None,
    status: StockStatus = StockStatus.available,
    user: User | None = None,
) -> CountEntry:
    """Add one count entry; a negative quantity takes back a mistaken scan (never more than was
    counted: the count of an item, lot and status stays at or above zero)."""
    quantity = to_decimal(quantity)
    _lock_state(session, stocktake, exclusive=False, taking_back=quantity < 0)
    scope = items_in_scope(session, stocktake)
    if scope is not None and item.id not in scope:
        raise InvalidMovement(_("Item %(item)s is not in this count.", item=item.code), "item")
    if quantity == 0:
        raise InvalidMovement(_("The counted quantity cannot be zero."), "quantity")
    if quantity.normalize().as_tuple().exponent < -Quantity.scale:
        raise InvalidMovement(
            _("A counted quantity has at most %(decimals)s decimals, not %(quantity)s.",
              decimals=Quantity.scale, quantity=f"{quantity:f}"),
            "quantity",
        )  # fmt: skip
    if item.tracking == TrackingMode.serial:
        if unit is None:
            raise InvalidMovement(
                _("Scan the serial number of %(item)s.", item=item.code), "serial"
            )
        if abs(quantity) != 1:
            raise InvalidMovement(_("A serial-numbered unit counts one at a time."), "quantity")
        lot = _lot_of_unit(session, unit, lot)
        _check_unit_count(session, stocktake, unit, quantity, StockStatus(status))
    elif item.tracking == TrackingMode.lot and lot is None:
        raise InvalidMovement(_("Scan or enter the lot of %(item)s.", item=item.code), "lot")
    if quantity < 0 and item.tracking != TrackingMode.serial:
        _check_take_back(session, stocktake, item, lot, StockStatus(status), quantity)
    entry = CountEntry(
        stocktake_id=stocktake.id, item_id=item.id, lot_id=lot.id if lot else None,
        unit_id=unit.id if unit else None, status=str(StockStatus(status)), quantity=quantity,
        counted_by=user.id if user else None, counted_at=utcnow(),
    )  # fmt: skip
    session.add(entry)
    session.flush()
    return entry


class UnitOfAnotherLot(InvalidMovement):
    """A serial unit counted under a lot that is not its own: the count would show it under
    that lot, and only the approval's posting would refuse it, naming no sheet and no line."""

    field = "lot"

    def __init__(self, unit: Unit, own: Lot, lot: Lot):
        self.unit, self.own, self.lot = unit, own, lot
        super().__init__(
            _("Serial number %(serial)s belongs to lot %(own)s, not to lot %(lot)s: count it "
              "under lot %(own)s, or leave the lot empty.",
              serial=unit.serial, own=own.lot_number, lot=lot.lot_number)
        )  # fmt: skip


def _lot_of_unit(session: Session, unit: Unit, lot: Lot | None) -> Lot | None:
    """The lot a serial unit is counted under: its own. A lot given with it (typed, or read from
    a scan of another box) must be that one, or the variance would show the unit under a lot
    it is not in."""
    own = session.get(Lot, unit.lot_id) if unit.lot_id else None
    if lot is not None and own is not None and lot.id != own.id:
        raise UnitOfAnotherLot(unit, own, lot)
    return lot or own


def _check_unit_count(
    session: Session, stocktake: Stocktake, unit: Unit, quantity: Decimal, status: StockStatus
) -> None:
    """A unit is counted once per stocktake, and only where the books place it (or on no books:
    found stock). Then the variance report, which adds the counted quantities, and the posting,
    which compares units, agree.

    The unit's row is locked first, so two counters scanning the same device at the same moment
    queue, and the second one sees the first one's count.
    """
    query = select(Unit.location_id, Unit.status).where(Unit.id == unit.id).with_for_update()
    location_id, unit_status = session.execute(query).one()
    here = (UnitStatus.in_stock, UnitStatus.in_transit)
    if unit_status in here and location_id != stocktake.location_id:
        raise UnitBookedElsewhere(
            unit, session.get(Location, location_id), unit_status,
            session.get(Location, stocktake.location_id),
        )  # fmt: skip
    by_status: dict[str, Decimal] = defaultdict(Decimal)
    query = select(CountEntry.status, CountEntry.quantity).where(
        CountEntry.stocktake_id == stocktake.id, CountEntry.unit_id == unit.id
    )
    for entry_status, entry_quantity in session.execute(query):
        by_status[entry_status] += entry_quantity
    if quantity < 0 and by_status[str(status)] < 1:
        raise UnitNotCounted(unit, status)
    if quantity > 0 and sum(by_status.values()) > 0:
        first = session.scalars(
            query.with_only_columns(CountEntry)
            .where(CountEntry.quantity > 0)
            .order_by(CountEntry.id.desc())
            .limit(1)
        ).one()
        counter = session.get(User, first.counted_by) if first.counted_by else None
        raise UnitCountedTwice(
            unit, counter.full_name if counter else "-", wall_clock(first.counted_at)
        )


class CountBelowZero(InvalidMovement):
    """A take-back of more than was counted of an item, lot and status: the count would go below
    zero, which the variance report would show and only the approval would refuse."""

    field = "quantity"

    def __init__(self, goods: str, status: StockStatus, counted: Decimal, quantity: Decimal):
        super().__init__(
            _("%(goods)s is counted %(counted)s as %(status)s so far: taking back %(quantity)s "
              "would leave it below zero (%(total)s).",
              goods=goods, counted=plain_quantity(counted), status=_stock_status(status),
              quantity=plain_quantity(-quantity), total=plain_quantity(counted + quantity))
        )  # fmt: skip


def _check_take_back(session, stocktake, item: Item, lot: Lot | None, status, quantity) -> None:
    """Refuse a negative line that takes back more of the item, lot and status than the count
    holds (a serial unit's take-back is checked unit by unit in ``_check_unit_count``)."""
    so_far = session.scalar(
        select(func.coalesce(func.sum(CountEntry.quantity), 0)).where(
            CountEntry.stocktake_id == stocktake.id, CountEntry.item_id == item.id,
            CountEntry.lot_id.is_(None) if lot is None else CountEntry.lot_id == lot.id,
            CountEntry.status == str(status),
        )
    )  # fmt: skip
    so_far = to_decimal(so_far)
    if so_far + quantity < 0:
        raise CountBelowZero(_goods(item, lot), status, so_far, quantity)


def _goods(item: Item, lot: Lot | None) -> str:
    """An item, and its lot when it has one, as a message names them: "BND-0001 lot 26080566"."""
    return item.code + (_(" lot %(lot)s", lot=lot.lot_number) if lot is not None else "")


def counted(session: Session, stocktake: Stocktake) -> dict[tuple[int, int, str], Decimal]:
    """What was counted, per (item, lot key, status)."""
    lot_key = func.coalesce(CountEntry.lot_id, 0)
    query = (
        select(CountEntry.item_id, lot_key, CountEntry.status, func.sum(CountEntry.quantity))
        .where(CountEntry.stocktake_id == stocktake.id)
        .group_by(CountEntry.item_id, lot_key, CountEntry.status)
    )
    return {(i, k, s): to_decimal(q) for i, k, s, q in session.execute(query)}


def variance(session: Session, stocktake: Stocktake) -> list[VarianceLine]:
    """Every (item, lot, status) either in the snapshot or counted, sorted; zero gaps included."""
    expected = {
        (row.item_id, row.lot_key, row.status): row.quantity
        for row in session.scalars(
            select(StocktakeSnapshot).where(StocktakeSnapshot.stocktake_id == stocktake.id)
        )
    }
    counts = counted(session, stocktake)
    return [
        VarianceLine(
            item_id=key[0],
            lot_id=key[1] or None,
            status=key[2],
            expected=expected.get(key, Decimal(0)),
            counted=counts.get(key, Decimal(0)),
        )  # fmt: skip
        for key in sorted(set(expected) | set(counts))
    ]


def approve_stocktake(
    session: Session, stocktake: Stocktake, user: User | None = None
) -> list[LedgerEntry]:
    """Post every variance as count surplus / shortage, then close the count and its lock."""
    _lock_state(session, stocktake, exclusive=True, allowed=_OPEN)
    location = session.get(Location, stocktake.location_id)
    lock = session.scalar(select(StockLock).where(StockLock.location_id == location.id))
    lines = variance(session, stocktake)
    for line in lines:
        if line.counted < 0:  # (count sheets taken before take-backs were checked)
            lot = session.get(Lot, line.lot_id) if line.lot_id else None
            raise InvalidMovement(
                _("Item %(item)s is counted below zero (%(quantity)s): fix the count.",
                  item=_goods(session.get(Item, line.item_id), lot),
                  quantity=plain_quantity(line.counted)),
                "quantity",
            )  # fmt: skip
    movements = _movements(session, stocktake, location, lines)
    _check_reservations(session, location, movements)
    entries = post_movements(
        session, movements, user=user, document=stocktake.document, own_lock=lock.id
    )
    _close(session, stocktake, location, user, StocktakeState.posted)
    audit.record(
        session, "approve", "stocktake", stocktake.document,
        changes={"surplus": sum(m.quantity for m in movements if m.destination is not None),
                 "shortage": sum(m.quantity for m in movements if m.source is not None)},
    )  # fmt: skip
    return entries


def _check_reservations(session: Session, location: Location, movements: list[Movement]) -> None:
    """Refuse, naming the orders, a shortage that would leave less than the orders reserved.

    The posting would refuse it anyway (on hand may not fall below reserved), but as "not enough
    available", which says nothing to a reviewer. The count cannot release the orders' holds
    itself: the order would go on believing its stock is held. Its buyer releases or reallocates
    it, then the count is approved.
    """
    shortage: dict[tuple[int, int, str], Decimal] = defaultdict(Decimal)
    for movement in movements:
        if movement.source is not None:
            lot_key = movement.lot.id if movement.lot is not None else 0
            key = (movement.item.id, lot_key, str(movement.source_status))
            shortage[key] += movement.quantity
    for (item_id, lot_key, status), quantity in sorted(shortage.items()):
        balance = session.scalar(
            select(StockBalance).where(
                StockBalance.location_id == location.id, StockBalance.item_id == item_id,
                StockBalance.lot_key == lot_key, StockBalance.status == status,
            )
        )  # fmt: skip
        if balance is None or balance.on_hand - quantity >= balance.reserved:
            continue
        documents = session.scalars(
            select(Reservation.document).where(
                Reservation.location_id == location.id, Reservation.item_id == item_id,
                Reservation.lot_key == lot_key, Reservation.quantity > 0,
            ).group_by(Reservation.document).order_by(Reservation.document)
        ).all()  # fmt: skip
        raise CountShortageReserved(
            session.get(Item, item_id), session.get(Lot, lot_key) if lot_key else None, location,
            balance.on_hand, balance.on_hand - quantity, balance.reserved, list(documents),
        )  # fmt: skip


def abort_stocktake(
    session: Session, stocktake: Stocktake, user: User | None = None, reason: str = ""
) -> None:
    """Release the lock and post nothing; the count's entries stay, for the record."""
    if not reason.strip():
        raise InvalidMovement(_("Say why the count is aborted."), "reason")
    _lock_state(session, stocktake, exclusive=True, allowed=_OPEN)
    location = session.get(Location, stocktake.location_id)
    _close(session, stocktake, location, user, StocktakeState.aborted)
    audit.record(session, "abort", "stocktake", stocktake.document, reason=reason)


def _close(session, stocktake, location, user, state: StocktakeState) -> None:
    _set_state(session, stocktake, state, closed_at=utcnow(), closed_by=user.id if user else None)
    close_stock_lock(session, location)


def _movements(session, stocktake, location, lines: list[VarianceLine]) -> list[Movement]:
    """The postings of the variances; serial-numbered items move unit by unit.

    A serial count may balance in quantity and still differ by unit (one device missing, another
    found): its units are compared even when the quantities agree.
    """
    movements: list[Movement] = []
    for number, line in enumerate(lines, start=1):
        item = session.get(Item, line.item_id)
        lot = session.get(Lot, line.lot_id) if line.lot_id else None
        status = StockStatus(line.status)
        if item.tracking == TrackingMode.serial:
            units = _unit_variance(session, stocktake, location, item, lot, status)
        else:
            units = [(None, line.variance > 0)] if line.variance else []
        for unit, surplus in units:
            quantity = Decimal(1) if unit is not None else abs(line.variance)
            side = {"destination": location} if surplus else {"source": location}
            movements.append(
                Movement(
                    item=item, quantity=quantity, lot=lot, unit=unit, source_status=status,
                    destination_status=status, line=number,
                    reason=Reason.count_surplus if surplus else Reason.count_shortage, **side,
                )
            )  # fmt: skip
    # shortages first: a unit counted under another status leaves its booked status before it
    # enters the counted one (the sort is stable: each kind keeps the variance lines' order)
    return sorted(movements, key=lambda movement: movement.source is None)


def _unit_variance(session, stocktake, location, item, lot, status) -> list[tuple[Unit, bool]]:
    """Units counted under ``status`` but not on the books here under it (surplus), and on the
    books here under ``status`` but not counted under it (shortage).

    A unit booked available and counted nonconforming is a shortage of available and a surplus
    of nonconforming: approval moves it from one to the other, and it stays here.
    """
    lot_id = lot.id if lot else None
    counts: dict[int, Decimal] = defaultdict(Decimal)
    query = select(CountEntry.unit_id, CountEntry.quantity).where(
        CountEntry.stocktake_id == stocktake.id, CountEntry.item_id == item.id,
        CountEntry.lot_id.is_(None) if lot_id is None else CountEntry.lot_id == lot_id,
        CountEntry.status == str(status),
    )  # fmt: skip
    for unit_id, quantity in session.execute(query):
        counts[unit_id] += quantity
    seen = {unit_id for unit_id, quantity in counts.items() if quantity > 0}
    here = units_in_status(session, location, item, lot_id, status)
    return [(session.get(Unit, u), True) for u in sorted(seen - here)] + [
        (session.get(Unit, u), False) for u in sorted(here - seen)
    ]
