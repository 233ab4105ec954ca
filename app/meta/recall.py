"""The recall trace as the regulator reads it: the kernel's trace with documents resolved.

The kernel knows documents by number only. Here a sale document is joined to its ``sales_order``
record (and that record's customer card, for name, contact and phone; the order's location is
whose customer it is) and a customer return to the sales order it returns, so each customer is
listed net of what came back; a purchase receipt or supplier return to its supplier's card. Row
kinds: ``holder`` (held now), ``customer``, ``origin`` (received, or opening stock), and where
else the goods went — ``returned`` (to the supplier), ``scrapped``, ``adjusted`` (lost, or found,
at a count or adjustment) and ``recall_return`` (sent back to a warehouse, still in the chain) —
so that origin = holder + customer + returned + scrapped + adjusted. Serial goods carry each
unit's UDI (its serial, for an item without a GTIN). Every row carries the ``location_id`` whose
task it belongs to — goods in transit the location they travel to — so each location's task gets
its own part of the trace. Rows are plain dicts of text, ready to store on the recall record and
to export.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import plain_quantity
from app.kernel.items import Item, Lot, Unit, business_timezone
from app.kernel.locations import Location
from app.kernel.recall import Trace, trace_lot
from app.kernel.stock import LedgerEntry, Reason
from app.kernel.transfers import TransitRoute
from app.kernel.udi import UDI, human_readable_udi
from app.meta.models import Record

SALE_FORM, RETURN_FORM, CUSTOMER_FORM = "sales_order", "customer_return", "customer"
RECEIPT_FORM, SUPPLIER_RETURN_FORM = "purchase_receipt", "supplier_return"
SUPPLIER_FORM = "supplier"
#: The row kind of each way goods leave a location other than a sale.
DEPARTURE_KINDS = {
    Reason.supplier_return: "returned",
    Reason.scrap: "scrapped",
    Reason.count_shortage: "adjusted",
    Reason.count_surplus: "adjusted",
    Reason.adjustment: "adjusted",
    Reason.correction: "adjusted",
    Reason.recall_return: "recall_return",
}


def recall_trace(
    session: Session, item: Item, lots: list[Lot], units: list[Unit] | None = None
) -> list[dict]:
    """The rows of every lot (or only of ``units``): see the module's docstring for kinds."""
    rows: list[dict] = []
    for lot in lots:
        scope = [unit for unit in units if unit.lot_id == lot.id] if units is not None else None
        if scope == []:
            continue
        trace = trace_lot(session, lot, scope, sale_of_return=_sale_of_return(session, lot))
        rows += _rows(session, item, trace)
    return rows


def _sale_of_return(session: Session, lot: Lot) -> dict[str, str]:
    """Each customer return document of ``lot`` → the number of the sales order it returns."""
    numbers = session.scalars(
        select(LedgerEntry.document)
        .where(LedgerEntry.lot_id == lot.id, LedgerEntry.reason == Reason.customer_return)
        .distinct()
    ).all()
    if not numbers:
        return {}
    returns = session.scalars(
        select(Record).where(Record.form == RETURN_FORM, Record.number.in_(numbers))
    ).all()
    mapping = {}
    for record in returns:
        order = _record(session, SALE_FORM, (record.data or {}).get("sales_order"))
        if order is not None and order.number:
            mapping[record.number] = order.number
    return mapping


def _record(session: Session, form: str, record_id) -> Record | None:
    try:
        record = session.get(Record, int(record_id))
    except (TypeError, ValueError):
        return None
    return record if record is not None and record.form == form else None


def _rows(session: Session, item: Item, trace: Trace) -> list[dict]:
    lot = trace.lot
    rows = [
        _row("holder", lot, location=_location_name(session, holding.location_id),
             location_id=_task_location(session, holding.location_id),
             status=str(holding.status), quantity=holding.quantity,
             udis=_udis(item, lot, holding.serials))
        for holding in trace.holdings
    ]  # fmt: skip
    orders = _by_number(session, SALE_FORM, [shipment.document for shipment in trace.shipments])
    for shipment in trace.shipments:
        order = orders.get(shipment.document)
        data = order.data if order is not None else {}
        card = _card(session, CUSTOMER_FORM, data.get("customer"))
        seller = order.location_id if order is not None else None  # whose customer it is
        rows.append(
            _row("customer", lot, document=shipment.document, date=_business_date(shipment.last_at),
                 location_id=seller,
                 location=_location_name(session, seller) if seller is not None else None,
                 customer=card.get("name"), contact=card.get("contact"), phone=card.get("phone"),
                 quantity=shipment.quantity, udis=_udis(item, lot, sorted(shipment.serials)))
        )  # fmt: skip
    receipts = _by_number(session, RECEIPT_FORM, [origin.document for origin in trace.origins])
    for origin in trace.origins:
        card = _supplier(session, receipts.get(origin.document))
        rows.append(
            _row("origin", lot, document=origin.document, date=_business_date(origin.at),
                 location=_location_name(session, origin.location_id),
                 location_id=origin.location_id, supplier=card.get("name"),
                 contact=card.get("contact"), phone=card.get("phone"), quantity=origin.quantity,
                 udis=_udis(item, lot, [origin.serial] if origin.serial else None))
        )  # fmt: skip
    returns = _by_number(session, SUPPLIER_RETURN_FORM, [
        departure.document for departure in trace.departures
        if departure.reason == Reason.supplier_return
    ])  # fmt: skip
    for departure in trace.departures:
        kind = DEPARTURE_KINDS[departure.reason]
        card, destination = {}, None
        if kind == "returned":
            card = _supplier(session, returns.get(departure.document))
        if departure.to_location_id is not None:
            destination = _location_name(session, _task_location(session, departure.to_location_id))
        rows.append(
            _row(kind, lot, document=departure.document, date=_business_date(departure.last_at),
                 location=_location_name(session, departure.location_id),
                 location_id=_task_location(session, departure.location_id),
                 supplier=card.get("name"), contact=card.get("contact"), phone=card.get("phone"),
                 destination=destination, quantity=departure.quantity,
                 udis=_udis(item, lot, sorted(departure.serials)))
        )  # fmt: skip
    return rows


def _by_number(session: Session, form: str, numbers: list) -> dict[str, Record]:
    """The records of ``form`` numbered ``numbers``, by number."""
    wanted = sorted({number for number in numbers if number})
    if not wanted:
        return {}
    query = select(Record).where(Record.form == form, Record.number.in_(wanted))
    return {record.number: record for record in session.scalars(query)}


def _card(session: Session, form: str, record_id) -> dict:
    """The fields of the ``form`` card a document links to (``{}`` when there is none)."""
    card = _record(session, form, record_id)
    return (card.data or {}) if card is not None else {}


def _supplier(session: Session, document: Record | None) -> dict:
    """The card of the supplier a receipt or supplier return names (``{}`` when none)."""
    if document is None:
        return {}
    return _card(session, SUPPLIER_FORM, (document.data or {}).get("supplier"))


def _task_location(session: Session, location_id: int) -> int:
    """Whose task a location's rows are. Goods in transit are the task of the location they
    travel to: it receives them (apart, nonconforming) and deals with them, and its task stays
    open until it has; a transit location has no staff of its own to do anything."""
    route = session.get(TransitRoute, location_id)
    return route.destination_id if route is not None else location_id


def _row(kind: str, lot: Lot, quantity: Decimal, **values) -> dict:
    row = {"kind": kind, "lot": lot.lot_number, "quantity": plain_quantity(quantity)}
    for name, value in values.items():
        if value not in (None, "", []):
            row[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return row


def _business_date(at: dt.datetime) -> dt.date:
    """The shops' calendar day of a ledger time: a sale at 01:00 in Shanghai is that day's, not
    the day before's (the ledger keeps UTC)."""
    return at.astimezone(business_timezone()).date()


def _location_name(session: Session, location_id: int) -> str:
    location = session.get(Location, location_id)
    return f"{location.code} {location.name}"


def _udis(item: Item, lot: Lot, serials) -> str | None:
    """The units' UDIs as printed under the barcode; only serial-tracked goods have one each
    (an item without a GTIN has no UDI: its serial numbers, so each unit is still named)."""
    if not serials:
        return None
    if not item.gtin:
        return "; ".join(serials)
    return "; ".join(
        human_readable_udi(UDI(item.gtin, lot.lot_number, lot.expiry_date, serial))
        for serial in serials
    )
