"""Recall (召回): block a lot — or the units of a serial range — everywhere, and trace it.

``recall_lots`` marks the lots ``recalled`` (or the units ``recalled``) in one transaction: from
then on ``post_movements`` refuses every sale and transfer of them and ``reserve`` refuses to hold
them; reservations already held on a recalled lot are released at once, so what was promised to a
sales order can never be delivered, and the goods on hand are set apart as ``nonconforming``
(``isolate``), from where a supplier return or a scrap takes them out. Goods still in transit may
arrive (they land apart, nonconforming); supplier returns and scrap still take the goods out.

Blocking never waits for a stocktake: a location being counted keeps its goods where they are
(moving them would upset the count's snapshot) and ``isolate`` says which locations it left for
later; the goods there are blocked all the same, and the next ``isolate`` after the count sets
them apart. A serial range blocks its units; they are set apart like a lot, and where the lot's
free stock at a location cannot cover them, holds on that lot there give way to them.

``trace_lot`` answers the regulator's questions from the ledger: who holds it now (every
location, transit included, per stock status), which documents sent it out of the chain to a
customer (sales net of customer returns, with dates, quantities and serials), where it came
from (the purchase receipts and opening stock, one row per ledger row: a serial unit each) and
where else it went (``departures``: back to the supplier, scrapped, lost or found at a count or
adjustment, and — inside the chain — sent back to a warehouse on a recall return). So what came
in equals what is held, sold and gone: origins = holdings + shipments + departures other than
recall returns. Documents are known by number only; the layer above resolves a sale's customer
from its record.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.i18n import _
from app.kernel import audit
from app.kernel.errors import InvalidMovement, LocationLocked
from app.kernel.items import Item, Lot, LotStatus, TrackingMode, Unit
from app.kernel.locations import Location, LocationType
from app.kernel.reservations import Released, Reservation, release_lot_holds
from app.kernel.stock import (
    LedgerEntry,
    Movement,
    Reason,
    StockBalance,
    StockStatus,
    lock_balances,
    post_movements,
)
from app.kernel.users import User


class AlreadyRecalled(InvalidMovement):
    """A lot (or unit) is recalled once: its holders, customers and tasks live on that recall,
    which ``refresh`` keeps up to date; a second recall would notify everyone again and track
    the same goods twice."""

    def __init__(self, what: str, field: str):
        super().__init__(
            _(
                "%(what)s is already recalled: follow it up on the recall that blocked it "
                "instead of issuing another.",
                what=what,
            ),
            field,
        )


@dataclass(frozen=True)
class Holding:
    """What one location holds of the recalled goods, in one stock status."""

    location_id: int
    status: StockStatus
    quantity: Decimal
    serials: tuple[str, ...] = ()


@dataclass
class Shipment:
    """What one document sold to a customer, net of what came back; first and last sale time."""

    document: str
    first_at: dt.datetime
    last_at: dt.datetime
    quantity: Decimal = Decimal(0)
    serials: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Origin:
    """One ledger row the goods came into the chain by: a purchase receipt (or opening stock);
    a serial unit's row names its ``serial``."""

    document: str | None
    at: dt.datetime
    location_id: int
    quantity: Decimal
    serial: str | None = None
    reason: Reason = Reason.purchase_receipt


#: Where goods go other than to a customer: out of the chain (back to the supplier, scrapped,
#: written off or found at a count or adjustment) or, on a recall return, to a warehouse.
DEPARTURES = frozenset(
    {
        Reason.supplier_return,
        Reason.scrap,
        Reason.count_shortage,
        Reason.count_surplus,
        Reason.adjustment,
        Reason.correction,
        Reason.recall_return,
    }
)
#: Reasons by which goods come into the chain (``Origin``).
ORIGINS = frozenset({Reason.purchase_receipt, Reason.opening})


@dataclass
class Departure:
    """What one document took out of one location for a reason in ``DEPARTURES``, net (a count
    surplus is a negative quantity). A recall return names the location the goods went into
    (``to_location_id``, its transit) and stays inside the chain."""

    reason: Reason
    document: str | None
    location_id: int
    first_at: dt.datetime
    last_at: dt.datetime
    quantity: Decimal = Decimal(0)
    serials: set[str] = field(default_factory=set)
    to_location_id: int | None = None


@dataclass
class Trace:
    lot: Lot
    holdings: list[Holding]
    shipments: list[Shipment]
    origins: list[Origin]
    departures: list[Departure] = field(default_factory=list)
    #: Customer returns of the goods whose sale document is not known (they cannot be netted).
    unmatched_returns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Isolation:
    """What ``isolate`` set apart, and the locations being counted whose goods wait for it."""

    rows: list
    counting: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class RecallResult:
    lots: list[Lot]
    units: list[Unit]
    released: list[Released]
    isolation: Isolation


def is_recalled(lot: Lot | None, unit: Unit | None = None) -> bool:
    """Are these goods under a recall (their lot, or the unit itself)?"""
    return (lot is not None and lot.status == LotStatus.recalled) or bool(unit and unit.recalled)


def accepted_status(lot: Lot | None, unit: Unit | None = None) -> StockStatus:
    """Where goods a quality check accepts land: recalled goods go apart (nonconforming), for the
    recall to take out, never back on sale — however sound they look."""
    return StockStatus.nonconforming if is_recalled(lot, unit) else StockStatus.available


def units_in_range(session: Session, item: Item, first: str, last: str) -> list[Unit]:
    """The units of ``item`` with a serial from ``first`` to ``last`` (same length, inclusive).

    Serials of one range share a length, so comparing them as text orders them as numbers too.
    """
    if item.tracking != TrackingMode.serial:
        raise InvalidMovement(
            _("Item %(item)s is not tracked by serial number.", item=item.code), "serial_from"
        )
    if len(first) != len(last) or first > last:
        raise InvalidMovement(
            _(
                "The serial range %(first)s – %(last)s is not a range: both ends need the same "
                "length and the first may not come after the last.",
                first=first,
                last=last,
            ),
            "serial_to",
        )
    units = session.scalars(
        select(Unit)
        .where(Unit.item_id == item.id, Unit.serial >= first, Unit.serial <= last)
        .order_by(Unit.serial)
    ).all()
    units = [unit for unit in units if len(unit.serial) == len(first)]
    if not units:
        raise InvalidMovement(
            _("No serial number of %(item)s lies in %(first)s – %(last)s.",
              item=item.code, first=first, last=last),
            "serial_from",
        )  # fmt: skip
    return units


def recall_lots(
    session: Session,
    item: Item,
    lots: list[Lot] | None = None,
    units: list[Unit] | None = None,
    *,
    user: User | None = None,
    document: str | None = None,
) -> RecallResult:
    """Block ``lots`` (or only ``units``) of ``item`` at once, everywhere; release their holds."""
    lots, units = list(lots or []), list(units or [])
    if not lots and not units:
        raise InvalidMovement(_("A recall names at least one lot or serial number."), "lots")
    for lot in lots:
        if lot.item_id != item.id:
            raise InvalidMovement(
                _("Lot %(lot)s belongs to another item.", lot=lot.lot_number), "lots"
            )
    for unit in units:
        if unit.item_id != item.id:
            raise InvalidMovement(
                _("Serial number %(serial)s belongs to another item.", serial=unit.serial),
                "serial_from",
            )
    for lot in lots:
        if lot.status == LotStatus.recalled:
            raise AlreadyRecalled(_("Lot %(lot)s", lot=lot.lot_number), "lots")
    for unit in units:
        if unit.recalled:
            raise AlreadyRecalled(_("Serial number %(serial)s", serial=unit.serial), "serial_from")
    for lot in lots:
        lot.status_before_recall, lot.status = lot.status, LotStatus.recalled
    for unit in units:
        unit.recalled = True
    session.flush()
    released = release_lot_holds(session, lots) + _release_for_units(session, units)
    isolation = isolate(session, item, lots, units or None, user=user, document=document)
    context = audit.acting(user)
    audit.record(
        session,
        "lot.recalled",
        "lot",
        document,
        changes={
            "item": item.code,
            "lots": [lot.lot_number for lot in lots],
            "serials": [unit.serial for unit in units],
            "released": [[hold.document, hold.line, str(hold.quantity)] for hold in released],
        },
        context=context,
    )
    return RecallResult(lots, units, released, isolation)


def withdraw_recall(
    session: Session,
    item: Item,
    lots: list[Lot] | None = None,
    units: list[Unit] | None = None,
    *,
    user: User | None = None,
    document: str | None = None,
) -> list:
    """Undo a recall issued in error (撤销召回): ``lots`` go back to what they were before it
    (released, or still quarantined if a quarantine stopped them first and has not ended), the
    ``units`` are no longer recalled, and what the recall ``document`` set apart is available
    again where it still is. Goods that left meanwhile (returned to the supplier, scrapped) are
    gone, and goods that landed apart since (an arrival, a return's inspection) stay apart: QA
    releases those at a storage check. A location being counted refuses the withdrawal
    (``LocationLocked``): its count's snapshot must not move. Returns the ledger rows written."""
    lots, units = list(lots or []), list(units or [])
    for lot in lots:
        if lot.status != LotStatus.recalled:
            raise InvalidMovement(
                _("Lot %(lot)s is not recalled: there is nothing to withdraw.",
                  lot=lot.lot_number), "lots",
            )  # fmt: skip
    for unit in units:
        if not unit.recalled:
            raise InvalidMovement(
                _("Serial number %(serial)s is not recalled: there is nothing to withdraw.",
                  serial=unit.serial), "serial_from",
            )  # fmt: skip
    restored = {}
    for lot in lots:
        lot.status = lot.status_before_recall or LotStatus.released
        lot.status_before_recall = None
        restored[lot.lot_number] = str(lot.status)
    for unit in units:
        unit.recalled = False
    session.flush()
    written = post_movements(
        session, _put_back(session, item, lots, units, document), user=user, document=document
    )
    audit.record(
        session, "lot.recall_withdrawn", "lot", document,
        changes={"item": item.code, "lots": restored, "serials": [u.serial for u in units],
                 "put_back": [[row.location_id, str(row.quantity)] for row in written
                              if row.quantity > 0]},
        context=audit.acting(user),
    )  # fmt: skip
    return written


def _put_back(session: Session, item: Item, lots, units, document) -> list[Movement]:
    """Nonconforming → available, where the recall ``document`` set the goods apart and as much
    of them as is still there."""
    set_apart = session.execute(
        select(LedgerEntry.location_id, LedgerEntry.lot_id, LedgerEntry.unit_id,
               func.sum(LedgerEntry.quantity))
        .where(LedgerEntry.document == document, LedgerEntry.reason == Reason.recall,
               LedgerEntry.item_id == item.id, LedgerEntry.status == StockStatus.nonconforming,
               LedgerEntry.quantity > 0)
        .group_by(LedgerEntry.location_id, LedgerEntry.lot_id, LedgerEntry.unit_id)
        .order_by(LedgerEntry.location_id, LedgerEntry.lot_id, LedgerEntry.unit_id)
    ).all()  # fmt: skip
    still = {
        (location.id, lot_id, unit_id): quantity
        for location, lot_id, unit_id, quantity in _on_hand(
            session, lots, units or None, StockStatus.nonconforming
        )
    }
    movements = []
    for location_id, lot_id, unit_id, quantity in set_apart:
        back = min(quantity, still.get((location_id, lot_id, unit_id), Decimal(0)))
        if back <= 0:
            continue
        location = session.get(Location, location_id)
        movements.append(
            Movement(
                item=item, quantity=back, source=location, destination=location,
                lot=session.get(Lot, lot_id) if lot_id else None,
                unit=session.get(Unit, unit_id) if unit_id else None,
                source_status=StockStatus.nonconforming, reason=Reason.recall,
            )
        )  # fmt: skip
    return movements


def _release_for_units(session: Session, units: list[Unit]) -> list[Released]:
    """Make room to set recalled units apart: a lot's holds at a location give back what its free
    stock there cannot spare for them, the latest hold first.

    Holds are on lots, not on serials, so a unit can only be set apart from what nobody holds;
    the orders that lose part of their hold learn it from the recall (``Released``).
    """
    if not units:
        return []
    rows = _on_hand(session, [], units, StockStatus.available)
    needed: dict[tuple, Decimal] = defaultdict(Decimal)
    for location, lot_id, _unit_id, quantity in rows:
        needed[(location.id, units[0].item_id, lot_id or 0, str(StockStatus.available))] += quantity
    balances = lock_balances(session, list(needed))
    released = []
    for key, quantity in sorted(needed.items()):
        short = quantity - balances[key].available
        location_id, item_id, lot_key, _status = key
        holds = session.scalars(
            select(Reservation)
            .where(Reservation.location_id == location_id, Reservation.item_id == item_id,
                   Reservation.lot_key == lot_key)
            .order_by(Reservation.created_at.desc(), Reservation.id.desc())
        )  # fmt: skip
        for hold in holds:
            if short <= 0:
                break
            take = min(short, hold.quantity)
            short -= take
            balances[key].reserved -= take
            hold.quantity -= take
            released.append(Released.taken_from(hold, take))
            if hold.quantity == 0:
                session.delete(hold)
    session.flush()
    return released


def isolate(
    session: Session,
    item: Item,
    lots: list[Lot],
    units: list[Unit] | None = None,
    *,
    user: User | None = None,
    document: str | None = None,
) -> Isolation:
    """Set recalled goods apart: what is ``available`` at a location becomes ``nonconforming``.

    That is where GSP wants recalled goods (不合格品区), and from there the ordinary supplier return
    and scrap documents take them out. Goods in transit land apart when they arrive; goods
    awaiting inspection are isolated once inspected: call this again then. What a reservation
    still holds stays put until the order lets go of it. Each location is posted on its own
    savepoint: a location being counted refuses the posting (``LocationLocked``) and is left for
    a later call, named in ``counting``, so the recall never waits on a count.
    """
    rows = _on_hand(session, lots, units, StockStatus.available)
    free = {
        balance.key: balance.available
        for balance in session.scalars(
            select(StockBalance).where(
                StockBalance.item_id == item.id,
                StockBalance.lot_id.in_(sorted({lot_id for _l, lot_id, _u, _q in rows})),
            )
        )
    }
    by_location: dict[int, list[Movement]] = defaultdict(list)
    for location, lot_id, unit_id, quantity in rows:
        key = (location.id, item.id, lot_id or 0, str(StockStatus.available))
        quantity = min(quantity, free.get(key, Decimal(0)))
        if quantity <= 0:
            continue
        free[key] -= quantity
        by_location[location.id].append(
            Movement(
                item=item, quantity=quantity, source=location, destination=location,
                lot=session.get(Lot, lot_id) if lot_id else None,
                unit=session.get(Unit, unit_id) if unit_id else None,
                destination_status=StockStatus.nonconforming, reason=Reason.recall,
            )
        )  # fmt: skip
    written, counting = [], []
    for location_id, movements in sorted(by_location.items()):
        try:
            with session.begin_nested():
                written += post_movements(session, movements, user=user, document=document)
        except LocationLocked:
            counting.append(location_id)
    return Isolation(written, counting)


def _on_hand(session: Session, lots: list[Lot], units: list[Unit] | None, status: StockStatus):
    """(location, lot id, unit id, quantity) on hand in ``status``, outside transit, by ledger."""
    total = func.sum(LedgerEntry.quantity)
    query = (
        select(Location, LedgerEntry.lot_id, LedgerEntry.unit_id, total)
        .select_from(LedgerEntry)
        .join(Location, Location.id == LedgerEntry.location_id)
        .where(
            LedgerEntry.status == status,
            Location.type != LocationType.transit,
        )
        .group_by(Location.id, LedgerEntry.lot_id, LedgerEntry.unit_id)
        .order_by(Location.id, LedgerEntry.lot_id, LedgerEntry.unit_id)
    )
    if units is not None:  # a serial range: those units, whatever lot they are of
        query = query.where(LedgerEntry.unit_id.in_([unit.id for unit in units]))
    else:
        query = query.where(LedgerEntry.lot_id.in_([lot.id for lot in lots]))
    return [row for row in session.execute(query) if row[3] > 0]  # summed in SQL, compared here


def trace_lot(
    session: Session,
    lot: Lot,
    units: list[Unit] | None = None,
    sale_of_return: Mapping[str, str] | None = None,
) -> Trace:
    """Where ``lot`` (or only its ``units``) is, went to and came from, read from the ledger.

    ``sale_of_return`` maps a customer return's document to the sale document it returns, so a
    sale is reported net of what its customer sent back.
    """
    query = select(LedgerEntry).where(LedgerEntry.lot_id == lot.id)
    serial_of: dict[int, str] = {}
    if units is not None:
        serial_of = {unit.id: unit.serial for unit in units}
        query = query.where(LedgerEntry.unit_id.in_(sorted(serial_of)))
    else:
        serial_of = dict(
            session.execute(select(Unit.id, Unit.serial).where(Unit.lot_id == lot.id)).all()
        )
    entries = session.scalars(query.order_by(LedgerEntry.id)).all()
    shipments, unmatched = _shipments(entries, serial_of, sale_of_return or {})
    return Trace(
        lot=lot,
        holdings=_holdings(entries, serial_of),
        shipments=shipments,
        origins=[
            Origin(
                entry.document,
                entry.at,
                entry.location_id,
                entry.quantity,
                serial_of.get(entry.unit_id),
                Reason(entry.reason),
            )
            for entry in entries
            if entry.reason in ORIGINS and entry.quantity > 0
        ],
        departures=_departures(entries, serial_of),
        unmatched_returns=unmatched,
    )


def _departures(entries, serial_of: dict[int, str]) -> list[Departure]:
    """Per reason, document and location, what left by a reason in ``DEPARTURES``; a recall
    return counts what left the sending location (its other side is the transit it went into)."""
    found: dict[tuple, Departure] = {}
    into: dict[str, int] = {}  # recall return document → the location its goods went into
    for entry in entries:
        if entry.reason not in DEPARTURES:
            continue
        if entry.reason == Reason.recall_return and entry.quantity > 0:
            into[entry.document or ""] = entry.location_id
            continue
        key = (str(entry.reason), entry.document or "", entry.location_id)
        departure = found.setdefault(key, Departure(
            Reason(entry.reason), entry.document, entry.location_id, entry.at, entry.at
        ))  # fmt: skip
        departure.last_at = entry.at
        departure.quantity -= entry.quantity
        if entry.unit_id is not None and entry.quantity < 0:
            departure.serials.add(serial_of[entry.unit_id])
        elif entry.unit_id is not None:
            departure.serials.discard(serial_of[entry.unit_id])
    for (reason, document, _location), departure in found.items():
        if reason == Reason.recall_return:
            departure.to_location_id = into.get(document)
    return [departure for departure in found.values() if departure.quantity != 0]


def _holdings(entries, serial_of: dict[int, str]) -> list[Holding]:
    quantity: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    serials: dict[tuple[int, str], set[str]] = defaultdict(set)
    for entry in entries:
        key = (entry.location_id, str(entry.status))
        quantity[key] += entry.quantity
        if entry.unit_id is not None:
            serial = serial_of[entry.unit_id]
            if entry.quantity > 0:
                serials[key].add(serial)
            else:
                serials[key].discard(serial)
    return [
        Holding(location_id, StockStatus(status), on_hand, tuple(sorted(serials[key])))
        for key, on_hand in sorted(quantity.items())
        if on_hand != 0
        for location_id, status in [key]
    ]


def _shipments(entries, serial_of, sale_of_return) -> tuple[list[Shipment], list[str]]:
    sold: dict[str, Shipment] = {}
    unmatched: list[str] = []
    for entry in entries:
        if entry.reason == Reason.sale and entry.quantity < 0:
            document = entry.document or ""
            shipment = sold.setdefault(document, Shipment(document, entry.at, entry.at))
            shipment.last_at = entry.at
            shipment.quantity -= entry.quantity
            if entry.unit_id is not None:
                shipment.serials.add(serial_of[entry.unit_id])
    for entry in entries:
        if entry.reason != Reason.customer_return or entry.quantity <= 0:
            continue
        shipment = sold.get(sale_of_return.get(entry.document or "", ""))
        if shipment is None:
            if entry.document not in unmatched:
                unmatched.append(entry.document)
            continue
        shipment.quantity -= entry.quantity
        if entry.unit_id is not None:
            shipment.serials.discard(serial_of[entry.unit_id])
    return [shipment for shipment in sold.values() if shipment.quantity > 0], unmatched


def lot_stock_at(session: Session, lot: Lot, location_id: int, units=None) -> Decimal:
    """What ``location_id`` still holds of ``lot`` (or of its ``units``) in every status."""
    query = select(LedgerEntry.quantity).where(
        LedgerEntry.lot_id == lot.id, LedgerEntry.location_id == location_id
    )
    if units is not None:
        query = query.where(LedgerEntry.unit_id.in_([unit.id for unit in units]))
    return sum(session.scalars(query), Decimal(0))


__all__ = [
    "DEPARTURES", "ORIGINS", "AlreadyRecalled", "Departure", "Holding", "Isolation", "Origin",
    "RecallResult", "Released", "Shipment", "Trace", "accepted_status", "is_recalled", "isolate",
    "lot_stock_at", "recall_lots", "trace_lot", "units_in_range",
]  # fmt: skip
