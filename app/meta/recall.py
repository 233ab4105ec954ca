"""The recall trace as the regulator reads it: the kernel's trace with documents resolved.

The kernel knows documents by number only. Here a sale document is joined to its ``sales_order``
record (and that record's customer card, for name, contact and phone; the order's location is
whose customer it is) and a customer return to the sales order it returns, so each customer is
listed net of what came back. Every row carries the ``location_id`` it belongs to, so each
location's task gets its own part of the trace. Rows are plain
dicts of text, ready to store on the recall record and to export.
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
from app.kernel.udi import UDI, human_readable_udi
from app.meta.models import Record

SALE_FORM, RETURN_FORM, CUSTOMER_FORM = "sales_order", "customer_return", "customer"


def recall_trace(
    session: Session, item: Item, lots: list[Lot], units: list[Unit] | None = None
) -> list[dict]:
    """Rows of kind ``holder``, ``customer`` and ``origin`` for every lot (or only ``units``)."""
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
             location_id=holding.location_id, status=str(holding.status),
             quantity=holding.quantity, udis=_udis(item, lot, holding.serials))
        for holding in trace.holdings
    ]  # fmt: skip
    orders = {
        record.number: record
        for record in session.scalars(
            select(Record).where(
                Record.form == SALE_FORM,
                Record.number.in_([shipment.document for shipment in trace.shipments]),
            )
        )
    }
    for shipment in trace.shipments:
        order = orders.get(shipment.document)
        data = order.data if order is not None else {}
        customer = _record(session, CUSTOMER_FORM, data.get("customer"))
        card = customer.data if customer is not None else {}
        seller = order.location_id if order is not None else None  # whose customer it is
        rows.append(
            _row("customer", lot, document=shipment.document, date=_business_date(shipment.last_at),
                 location_id=seller,
                 location=_location_name(session, seller) if seller is not None else None,
                 customer=card.get("name"), contact=card.get("contact"), phone=card.get("phone"),
                 quantity=shipment.quantity, udis=_udis(item, lot, sorted(shipment.serials)))
        )  # fmt: skip
    rows += [
        _row("origin", lot, document=origin.document, date=_business_date(origin.at),
             location=_location_name(session, origin.location_id),
             location_id=origin.location_id, quantity=origin.quantity)
        for origin in trace.origins
    ]  # fmt: skip
    return rows


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
    """The units' UDIs as printed under the barcode; only serial-tracked goods have one each."""
    if not serials or not item.gtin:
        return None
    return "; ".join(
        human_readable_udi(UDI(item.gtin, lot.lot_number, lot.expiry_date, serial))
        for serial in serials
    )
