"""Transfers between locations, with the goods visible while in transit (在途).

``ship`` moves available stock from the source into the transit location of the (source,
destination) pair — created on demand under the source's parent — where it is ``in_transit`` and
sellable nowhere. ``receive`` books what arrived (in full or in part; damaged goods go to
``nonconforming`` at the destination) and ``return_remainder`` sends what never arrived back to the
source. Each shipped line is a ``TransferLine`` whose counters say what is still outstanding.

A recall return (召回退回, ``ship(..., recall_return=True)``) is the same journey for recalled
goods set apart as nonconforming: only towards a warehouse, and the goods leave, arrive and come
back ``nonconforming`` — never available, sellable nowhere on the way. Whether goods may go is the
kernel's posting rule (reason ``recall_return``: recalled lots or units only, from nonconforming);
where to is decided here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.db import Base, Quantity, UTCDateTime, to_decimal, utcnow
from app.i18n import _
from app.kernel.errors import InvalidMovement, OverReceipt, TransferLineNotFound
from app.kernel.items import Item, Lot, Unit
from app.kernel.locations import Location, LocationType, add_location
from app.kernel.recall import accepted_status
from app.kernel.stock import LedgerRow, Movement, Reason, StockStatus, post_movements
from app.kernel.users import User


class TransitRoute(Base):
    """The transit location goods from ``source`` to ``destination`` wait in."""

    __tablename__ = "transit_routes"
    __table_args__ = (UniqueConstraint("source_id", "destination_id"),)

    transit_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))


class TransferLine(Base):
    __tablename__ = "transfer_lines"
    __table_args__ = (UniqueConstraint("document", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    transit_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    shipped: Mapped[Decimal] = mapped_column(Quantity)
    received: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    damaged: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    returned: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    #: confirmed lost on the road (never arrived, not coming back): written off
    lost: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0), server_default="0")
    shipped_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The status the goods left in and arrive (or come back) in: available for a transfer,
    #: nonconforming for a recall return (召回退回).
    status: Mapped[StockStatus] = mapped_column(
        Enum(StockStatus, native_enum=False, length=24, validate_strings=True),
        default=StockStatus.available,
        server_default="available",
    )

    item: Mapped[Item] = relationship()
    lot: Mapped[Lot | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    source: Mapped[Location] = relationship(foreign_keys=[source_id])
    destination: Mapped[Location] = relationship(foreign_keys=[destination_id])
    transit: Mapped[Location] = relationship(foreign_keys=[transit_id])

    @property
    def outstanding(self) -> Decimal:
        """Still in transit: shipped, neither received, damaged, sent back nor lost."""
        return outstanding_of(self)


def outstanding_of(line):
    """Shipped less received, damaged, returned and lost: of a ``TransferLine``, or in SQL of a
    table's columns (``table.c``)."""
    return line.shipped - line.received - line.damaged - line.returned - line.lost


@dataclass(frozen=True)
class ShipLine:
    item: Item
    quantity: Decimal
    lot: Lot | None = None
    unit: Unit | None = None


@dataclass(frozen=True)
class ReceiveLine:
    """What arrived for one shipped line: ``received`` in good order, ``damaged`` not."""

    line: int
    received: Decimal = Decimal(0)
    damaged: Decimal = Decimal(0)


def transit_location(session: Session, source: Location, destination: Location) -> Location:
    """The transit location of (source, destination), created the first time it is needed."""
    query = (
        select(Location)
        .join(TransitRoute, TransitRoute.transit_id == Location.id)
        .where(TransitRoute.source_id == source.id, TransitRoute.destination_id == destination.id)
    )
    transit = session.scalar(query)
    if transit is not None:
        return transit
    parent = session.get(Location, source.parent_id) if source.parent_id else None
    try:
        with session.begin_nested():
            transit = add_location(
                session,
                f"TR-{source.code}-{destination.code}"[:32],
                f"{source.name} → {destination.name}",
                LocationType.transit,
                parent,
            )
            session.add(
                TransitRoute(
                    transit_id=transit.id, source_id=source.id, destination_id=destination.id
                )
            )
            session.flush()
    except IntegrityError:  # another writer created it first
        transit = session.scalar(query)
    return transit


def ship(
    session: Session,
    document: str,
    source: Location,
    destination: Location,
    lines: list[ShipLine],
    *,
    user: User | None = None,
    today: dt.date | None = None,
    recall_return: bool = False,
) -> list[TransferLine]:
    """Move ``lines`` from ``source`` into transit towards ``destination`` (transfer out); with
    ``recall_return``, recalled nonconforming goods back to a warehouse."""
    if source.id == destination.id:
        raise InvalidMovement(_("A transfer needs two different locations."), "destination")
    if recall_return and destination.type != LocationType.warehouse:
        raise InvalidMovement(
            _("Recalled goods go back to a warehouse, not to %(location)s.",
              location=destination.code),
            "destination",
        )  # fmt: skip
    status = StockStatus.nonconforming if recall_return else StockStatus.available
    transit = transit_location(session, source, destination)
    movements = [
        Movement(
            item=line.item,
            quantity=line.quantity,
            lot=line.lot,
            unit=line.unit,
            source=source,
            destination=transit,
            source_status=status,
            reason=Reason.recall_return if recall_return else Reason.transfer_out,
            line=number,
        )
        for number, line in enumerate(lines, start=1)
    ]
    post_movements(session, movements, user=user, document=document, today=today)
    transfer_lines = [
        TransferLine(
            document=document,
            line=movement.line,
            source_id=source.id,
            destination_id=destination.id,
            transit_id=transit.id,
            item_id=movement.item.id,
            lot_id=movement.lot.id
            if movement.lot
            else (movement.unit.lot_id if movement.unit else None),
            unit_id=movement.unit.id if movement.unit else None,
            shipped=to_decimal(movement.quantity),
            received=Decimal(0),
            damaged=Decimal(0),
            returned=Decimal(0),
            shipped_at=utcnow(),
            status=status,
        )
        for movement in movements
    ]
    session.add_all(transfer_lines)
    session.flush()
    return transfer_lines


def transfer_lines(session: Session, document: str, *, lock: bool = False) -> list[TransferLine]:
    """The lines of ``document``; ``lock`` holds them so two receipts cannot both book them."""
    query = (
        select(TransferLine)
        .where(TransferLine.document == document)
        .order_by(TransferLine.line)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query))


def _line(lines: dict[int, TransferLine], document: str, number: int) -> TransferLine:
    if number not in lines:
        raise TransferLineNotFound(document, number)
    return lines[number]


def receive(
    session: Session,
    document: str,
    receipts: list[ReceiveLine],
    *,
    user: User | None = None,
    receipt_document: str | None = None,
) -> list[LedgerRow]:
    """Book what arrived at the destination; the rest stays in transit, visible as outstanding.

    Good units go to ``available`` (a recall return's to ``nonconforming``), damaged ones to
    ``nonconforming`` (kept apart, never sold); goods recalled while on the road land apart too.
    """
    lines = {line.line: line for line in transfer_lines(session, document, lock=True)}
    movements, booked = [], []
    for receipt in receipts:
        line = _line(lines, document, receipt.line)
        received, damaged = to_decimal(receipt.received), to_decimal(receipt.damaged)
        if received < 0 or damaged < 0:
            raise InvalidMovement(
                _("Received and damaged quantities cannot be negative."), "quantity"
            )
        if received + damaged > line.outstanding:
            raise OverReceipt(document, line.line, received + damaged, line.outstanding)
        for quantity, status in (
            (received, _landing_status(line)),
            (damaged, StockStatus.nonconforming),
        ):
            if quantity > 0:
                movements.append(_from_transit(line, quantity, line.destination, status))
        booked.append((line, received, damaged))
    entries = post_movements(
        session,
        movements,
        user=user,
        document=receipt_document or document,
        reason=Reason.transfer_in,
    )
    for line, received, damaged in booked:  # counters move only once the posting is through
        line.received += received
        line.damaged += damaged
    session.flush()
    return entries


def return_remainder(
    session: Session, document: str, *, user: User | None = None
) -> list[LedgerRow]:
    """Send everything still outstanding on ``document`` back to its source, in the status it
    left in (available; nonconforming for a recall return, or for goods recalled meanwhile)."""
    return _close_remainder(
        session, document, user, Reason.transfer_return, "returned",
        lambda line: _from_transit(line, line.outstanding, line.source, _landing_status(line)),
    )  # fmt: skip


def write_off_remainder(
    session: Session, document: str, *, user: User | None = None
) -> list[LedgerRow]:
    """Write off everything still outstanding on ``document``: confirmed lost on the road, it
    leaves the transit as an adjustment (this document's number) — never back on the source's
    shelf, where it is not."""
    return _close_remainder(
        session, document, user, Reason.adjustment, "lost",
        lambda line: Movement(item=line.item, quantity=line.outstanding, lot=line.lot,
                              unit=line.unit, source=line.transit, source_status=line.status,
                              line=line.line),
    )  # fmt: skip


def _close_remainder(session, document, user, reason, counter: str, movement_of):
    """Move what is outstanding on each line of ``document`` (``movement_of`` the line) and
    count it on the line's ``counter`` (returned, lost): nothing stays in transit."""
    lines = [line for line in transfer_lines(session, document, lock=True) if line.outstanding > 0]
    entries = post_movements(
        session, [movement_of(line) for line in lines], user=user, document=document,
        reason=reason,
    )  # fmt: skip
    for line in lines:
        setattr(line, counter, getattr(line, counter) + line.outstanding)
    session.flush()
    return entries


def _landing_status(line: TransferLine) -> StockStatus:
    """Goods recalled while on the road arrive apart (nonconforming), never back on sale."""
    if line.status == StockStatus.available:
        return accepted_status(line.lot, line.unit)
    return line.status


def _from_transit(line: TransferLine, quantity, destination: Location, status) -> Movement:
    return Movement(
        item=line.item,
        quantity=quantity,
        lot=line.lot,
        unit=line.unit,
        source=line.transit,
        destination=destination,
        destination_status=status,
        line=line.line,
    )


def goods_in_transit(
    session: Session, destination: Location | None = None, source: Location | None = None
) -> list[TransferLine]:
    """Transfer lines with goods still on the road, optionally to or from one location."""
    query = select(TransferLine).where(outstanding_of(TransferLine.__table__.c) > 0)
    if destination is not None:
        query = query.where(TransferLine.destination_id == destination.id)
    if source is not None:
        query = query.where(TransferLine.source_id == source.id)
    return list(session.scalars(query.order_by(TransferLine.document, TransferLine.line)))
