"""Reservations (预占) and FEFO allocation (近效期先出).

``allocate`` proposes which lots to take, earliest expiry first, skipping what may not be sold.
``reserve`` holds stock for a document line (balance ``reserved`` goes up, so nobody else can
promise it); ``release`` gives it back; ``consume`` is the sale that uses the reservation. Rows are
keyed by (document, line, lot) so release and consume act on exactly what was reserved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, nulls_last, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Quantity, UTCDateTime, to_decimal, utcnow
from app.i18n import _
from app.kernel import audit
from app.kernel.errors import (
    InsufficientStock,
    InvalidMovement,
    LotBlocked,
    LotExpired,
    ReservationNotFound,
    TrackingRequired,
)
from app.kernel.items import (
    Item,
    Lot,
    LotStatus,
    TrackingMode,
    business_today,
    check_whole_units,
)
from app.kernel.locations import Location
from app.kernel.stock import (
    LedgerRow,
    Movement,
    Reason,
    StockBalance,
    StockStatus,
    check_location_open,
    lock_balances,
    post_movements,
)
from app.kernel.users import User


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (UniqueConstraint("document", "line", "lot_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    lot_key: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


#: First expiry, first out: the order lots are offered in (no expiry last). Lots expiring together,
#: or without an expiry, go first in, first out: the lot received first, by its key (a lot is made
#: when it is first received, so its key grows with the day it came in; its number, often the
#: production date, says nothing of that).
FEFO = (nulls_last(Lot.expiry_date.asc()), StockBalance.lot_key)


def earliest_expiry(today: dt.date, min_remaining_shelf_life: int | None = None) -> dt.date:
    """The earliest expiry a lot may have to be promised today with that shelf life left."""
    return today + dt.timedelta(days=min_remaining_shelf_life or 0)


def sellable(earliest: dt.date) -> list:
    """Conditions on ``StockBalance`` (outer-joined to its ``Lot``) for stock that may be
    promised to a customer: available status, not all reserved, of a released lot (or of none)
    expiring no sooner than ``earliest``. ``allocate`` and order allocation share them."""
    return [
        StockBalance.status == StockStatus.available,
        StockBalance.on_hand > StockBalance.reserved,
        or_(StockBalance.lot_id.is_(None), Lot.status == LotStatus.released),
        or_(Lot.expiry_date.is_(None), Lot.expiry_date >= earliest),
    ]


def allocate(
    session: Session,
    item: Item,
    quantity,
    location: Location,
    min_remaining_shelf_life: int | None = None,
    today: dt.date | None = None,
) -> list[tuple[Lot | None, Decimal]]:
    """Pick ``quantity`` of ``item`` at ``location``, earliest expiry first (FEFO).

    Skips expired, recalled and quarantined lots and, with ``min_remaining_shelf_life`` (days),
    lots that expire sooner than that. Reads only; ``reserve`` locks and re-checks.
    """
    quantity = to_decimal(quantity)
    picks, remaining = [], quantity
    for lot, available in free_lots(session, item, location, min_remaining_shelf_life, today):
        if remaining <= 0:
            break
        take = min(available, remaining)
        picks.append((lot, take))
        remaining -= take
    if remaining > 0:
        raise InsufficientStock(item, None, location, quantity, quantity - remaining)
    return picks


def free_lots(
    session: Session,
    item: Item,
    location: Location,
    min_remaining_shelf_life: int | None = None,
    today: dt.date | None = None,
) -> list[tuple[Lot | None, Decimal]]:
    """Every lot of ``item`` at ``location`` that may be promised, with what is free of it (on
    hand less reserved), earliest expiry first: what ``allocate`` takes from. Reads only."""
    earliest = earliest_expiry(today or business_today(), min_remaining_shelf_life)
    rows = session.execute(
        select(StockBalance, Lot)
        .outerjoin(Lot, Lot.id == StockBalance.lot_id)
        .where(
            StockBalance.location_id == location.id,
            StockBalance.item_id == item.id,
            *sellable(earliest),
        )
        .order_by(*FEFO)
    ).all()
    return [(lot, balance.available) for balance, lot in rows]


def reserve(
    session: Session,
    document: str,
    line: int,
    item: Item,
    quantity,
    location: Location,
    *,
    lot: Lot | None = None,
    user: User | None = None,
    min_remaining_shelf_life: int | None = None,
    today: dt.date | None = None,
) -> list[Reservation]:
    """Hold ``quantity`` for ``document`` line ``line``: the given lot, or FEFO picks."""
    quantity = to_decimal(quantity)
    today = today or business_today()
    if quantity <= 0:
        raise InvalidMovement(
            _("The quantity must be greater than zero, not %(quantity)s.", quantity=quantity),
            "quantity",
        )
    check_whole_units(item, quantity)
    check_location_open(session, location)
    if lot is not None:
        lot = session.get(Lot, lot.id, populate_existing=True)  # a recall may have just landed
        if lot.item_id != item.id:
            raise InvalidMovement(
                _("Lot %(lot)s belongs to another item.", lot=lot.lot_number), "lot"
            )
        _check_lot_sellable(lot, today)
        picks = [(lot, quantity)]
    elif item.tracking == TrackingMode.none:
        picks = [(None, quantity)]
    elif item.tracking == TrackingMode.serial:
        raise TrackingRequired(item, "serial")
    else:
        picks = allocate(session, item, quantity, location, min_remaining_shelf_life, today)
    keys = {_key(location, item, pick_lot): (pick_lot, qty) for pick_lot, qty in picks}
    balances = lock_balances(session, list(keys))
    reservations = []
    for key, (pick_lot, qty) in sorted(keys.items()):
        balance = balances[key]
        if balance.available < qty:
            raise InsufficientStock(item, pick_lot, location, qty, balance.available)
    for key, (_lot, qty) in sorted(keys.items()):
        reservations.append(_add_reservation(session, document, line, key, qty, user))
        balances[key].reserved += qty
    session.flush()
    _audit(session, "stock.reserved", document, line, location, picks, user)
    return reservations


def _check_lot_sellable(lot: Lot, today: dt.date) -> None:
    if lot.status != LotStatus.released:
        raise LotBlocked(lot, lot.status)
    if lot.is_expired(today):
        raise LotExpired(lot, lot.expiry_date)


def _key(location: Location, item: Item, lot: Lot | None):
    return (location.id, item.id, lot.id if lot is not None else 0, str(StockStatus.available))


class ReservationElsewhere(InvalidMovement):
    """A document line holds a lot at one location and would hold the same lot at another: one
    row keyed by (document, line, lot) cannot say both, and releasing it would give back the
    wrong location's stock."""

    def __init__(self, document: str, line: int, held_at: int, asked_at: int):
        self.document, self.line, self.held_at, self.asked_at = document, line, held_at, asked_at
        super().__init__(
            _("%(document)s line %(line)s already holds this lot at another location: it "
              "cannot also hold it here.", document=document, line=line),
            "location",
        )  # fmt: skip


def _add_reservation(session, document, line, key, quantity, user) -> Reservation:
    """Add ``quantity`` to the line's reservation of that lot, which must be at the same
    location (a row keyed by document, line and lot holds at one location only)."""
    location_id, item_id, lot_key, _status = key
    existing = session.scalar(
        select(Reservation).where(
            Reservation.document == document,
            Reservation.line == line,
            Reservation.lot_key == lot_key,
        )
    )
    if existing is not None:
        if existing.location_id != location_id:
            raise ReservationElsewhere(document, line, existing.location_id, location_id)
        existing.quantity += quantity
        return existing
    reservation = Reservation(
        document=document,
        line=line,
        location_id=location_id,
        item_id=item_id,
        lot_id=lot_key or None,
        lot_key=lot_key,
        quantity=quantity,
        user_id=user.id if user is not None else None,
        created_at=utcnow(),
    )
    session.add(reservation)
    return reservation


def reservations_of(session: Session, document: str, line: int | None = None) -> list[Reservation]:
    query = select(Reservation).where(Reservation.document == document)
    if line is not None:
        query = query.where(Reservation.line == line)
    return list(session.scalars(query.order_by(Reservation.line, Reservation.lot_key)))


def release(
    session: Session, document: str, line: int | None = None, *, user: User | None = None
) -> list[Reservation]:
    """Give back what ``document`` (one ``line``, or all lines) holds; returns what was freed."""
    reservations = reservations_of(session, document, line)
    if not reservations:
        raise ReservationNotFound(document, line if line is not None else 0)

    def key(reservation: Reservation):
        return (reservation.location_id, reservation.item_id, reservation.lot_key,
                str(StockStatus.available))  # fmt: skip

    balances = lock_balances(session, [key(reservation) for reservation in reservations])
    for reservation in reservations:  # two lines may hold the same lot: each gives back its own
        balances[key(reservation)].reserved -= reservation.quantity
        session.delete(reservation)
    session.flush()
    for reservation in reservations:
        location = session.get(Location, reservation.location_id)
        picks = [(reservation.lot_id, reservation.quantity)]
        _audit(session, "stock.released", document, reservation.line, location, picks, user)
    return reservations


def consume(
    session: Session,
    document: str,
    line: int | None = None,
    *,
    user: User | None = None,
    today: dt.date | None = None,
) -> list[LedgerRow]:
    """Sell exactly what ``document`` reserved (one ``line``, or every line in one posting).

    Consuming a whole document in one call keeps its locks in one sorted order; consuming line by
    line in one transaction can deadlock against another writer (see ``kernel.retry``).
    """
    reservations = release(session, document, line, user=user)
    movements = [
        Movement(
            item=session.get(Item, reservation.item_id),
            quantity=reservation.quantity,
            source=session.get(Location, reservation.location_id),
            lot=session.get(Lot, reservation.lot_id) if reservation.lot_id else None,
            reason=Reason.sale,
            line=reservation.line,
        )
        for reservation in reservations
    ]
    return post_movements(session, movements, user=user, document=document, today=today)


def _audit(session, action, document, line, location, picks, user) -> None:
    chain = f"location:{location.id}"
    lines = [
        [getattr(lot, "id", lot), str(quantity)]
        for lot, quantity in picks  # lot may be a Lot, an id or None
    ]
    context = audit.acting(user)
    audit.record(
        session,
        action,
        "reservation",
        f"{document}#{line}",
        changes={"lots": lines},
        chain=chain,
        context=context,
    )


@dataclass(frozen=True)
class Released:
    """What a recall or quarantine took back from one reservation: the order line lost that much
    of the lot, and has to be allocated again."""

    document: str
    line: int
    location_id: int
    lot_id: int | None
    quantity: Decimal

    @classmethod
    def taken_from(cls, hold: Reservation, quantity: Decimal) -> Released:
        return cls(hold.document, hold.line, hold.location_id, hold.lot_id, quantity)


def release_lot_holds(session: Session, lots: list[Lot]) -> list[Released]:
    """Give back every reservation on the lots: held stock of a blocked lot is never delivered.

    Only the rows on those lots go; a line that also holds a good lot keeps that part. The
    caller's audit entry lists what was released.
    """
    if not lots:
        return []
    holds = session.scalars(
        select(Reservation)
        .where(Reservation.lot_id.in_([lot.id for lot in lots]))
        .order_by(Reservation.document, Reservation.line, Reservation.lot_key)
    ).all()
    key = {
        hold.id: (hold.location_id, hold.item_id, hold.lot_key, str(StockStatus.available))
        for hold in holds
    }
    balances = lock_balances(session, list(key.values()))
    released = []
    for hold in holds:
        balances[key[hold.id]].reserved -= hold.quantity
        released.append(Released.taken_from(hold, hold.quantity))
        session.delete(hold)
    session.flush()
    return released
