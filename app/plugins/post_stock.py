"""Built-in action ``post_stock``: post the record's table lines to the stock ledger.

The parameters map the form's fields to a movement, e.g. a purchase receipt's lines arrive as
``awaiting_inspection`` at the receipt's location, and inspection moves them to ``available``::

    - action: post_stock
      params: {lines: lines, item: item, quantity: quantity, lot: lot, expiry_date: expiry_date,
               destination: location, destination_status: awaiting_inspection,
               reason: purchase_receipt}

Lines whose quantity is empty or zero are skipped, so that one table can feed several postings
(an inspected line's accepted and rejected quantities go to different statuses).

``as_received`` guards an inspection: the inspector edits the lines table to record the results, so
before anything moves, every line must still be what the receive posting (``reason``) brought in —
same item, lot, serial number and ``quantity`` — and its ``parts`` (accepted + rejected) must add
up to that quantity. Otherwise an edited line would move another receipt's stock, or leave part of
this one awaiting inspection under a finished receipt. With ``unit_cost`` named, the line's unit
cost must also be the one the receive posting wrote to the ledger: the document's amount (what is
owed the supplier) and the stock's value would otherwise disagree::

    as_received: {reason: purchase_receipt, quantity: quantity,
                  parts: [accepted_quantity, rejected_quantity], unit_cost: unit_cost}

``against_order`` ties a receipt to the purchase order its header field ``order`` names (if any):
the same ``supplier`` and ``location`` as the order, only items on the order, and over all the
order's receipts never more of an item than ordered (no over-receipt tolerance: what the supplier
sends beyond the order is a new order). What is received is counted on the order's lines
(``received``), which the order is locked for::

    against_order: {order: purchase_order, form: purchase_order, supplier: supplier,
                    location: location, received: received}

``supplied_by`` guards a supplier return: goods go back only to the supplier they came from. With
a purchase receipt named (header field ``receipt``, of form ``form``), the receipt must be from the
return's ``supplier`` and every line's lot or serial number must be on it; without one, a lot or
unit that purchase receipts brought in must have come on one from that supplier (goods of unknown
origin, e.g. an opening balance, are not refused)::

    supplied_by: {supplier: supplier, receipt: purchase_receipt, form: purchase_receipt}

``check_only: true`` refuses what the posting would refuse — every check above and the kernel's,
what is on hand included — and posts nothing (``picking.rehearse``): a warehouse's "picking
done" hands its reviewer only goods that can leave.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.db import plain_money, plain_quantity
from app.i18n import _
from app.kernel.errors import LotMismatch
from app.kernel.items import Item, Lot, Unit, lot_of
from app.kernel.locations import Location
from app.kernel.stock import LedgerEntry, Movement, Reason, StockStatus, post_movements
from app.plugins import _common as common
from app.plugins.picking import rehearse
from app.workflow.actions import Action, ActionContext, ActionError

STATUSES = [str(status) for status in StockStatus]


def _nothing(line: dict, field: str) -> bool:
    """An empty or zero quantity moves nothing: the line is skipped, not refused."""
    return line.get(field) in (None, "") or common.quantity(line, field) == 0


class PostStock(Action):
    name = "post_stock"
    label = {"zh_CN": "按明细过账库存移动", "en": "Post the lines' stock movements"}
    param_labels = {
        "against_order": {"zh_CN": "对照采购订单收货", "en": "Received against the order"},
        "supplied_by": {"zh_CN": "只退回原供应商", "en": "Back only to its supplier"},
        "as_received": {"zh_CN": "验收前须与收货一致", "en": "Inspected as received"},
        "check_only": {"zh_CN": "只检查能否过账，不移动库存", "en": "Only check, post nothing"},
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["lines", "item", "quantity", "reason"],
        "properties": {
            "lines": common.FIELD,
            "item": common.FIELD,
            "quantity": common.FIELD,
            "lot": common.FIELD,
            "expiry_date": common.FIELD,
            "serial": common.FIELD,
            "unit_cost": common.FIELD,
            "source": common.FIELD,
            "destination": common.FIELD,
            "source_status": {"enum": STATUSES},
            "destination_status": {"enum": STATUSES},
            "reason": {"enum": [str(reason) for reason in Reason]},
            "check_only": {"type": "boolean"},
            "against_order": {
                "type": "object",
                "additionalProperties": False,
                "required": ["order", "form", "supplier", "location", "received"],
                "properties": {
                    name: common.FIELD
                    for name in ("order", "form", "supplier", "location", "received")
                },
            },
            "supplied_by": {
                "type": "object",
                "additionalProperties": False,
                "required": ["supplier", "receipt", "form"],
                "properties": {name: common.FIELD for name in ("supplier", "receipt", "form")},
            },
            "as_received": {
                "type": "object",
                "additionalProperties": False,
                "required": ["reason", "quantity", "parts"],
                "properties": {
                    "reason": {"enum": [str(reason) for reason in Reason]},
                    "quantity": common.FIELD,
                    "parts": {"type": "array", "items": common.FIELD, "minItems": 1},
                    "unit_cost": common.FIELD,
                },
            },
        },
    }

    def run(self, context: ActionContext) -> None:
        if context.params.get("check_only"):
            rehearse(context.session, lambda: self.post(context))
        else:
            self.post(context)

    def post(self, context: ActionContext) -> None:
        params = context.params
        if params.get("as_received"):
            check_as_received(context, params)
        if params.get("supplied_by"):
            check_supplied_by(context, params)
        order = against_order(context, params) if params.get("against_order") else None
        source = common.location(context, params.get("source"))
        destination = common.location(context, params.get("destination"))
        movements = []
        for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
            if _nothing(line, params["quantity"]):
                continue  # e.g. no rejected quantity on an inspected line: nothing to move
            the_item = common.item(context, line, params["item"])
            the_lot = _lot(context, the_item, line, params, number)
            cost = line.get(params["unit_cost"]) if params.get("unit_cost") else None
            movements.append(
                Movement(
                    item=the_item,
                    quantity=common.quantity(line, params["quantity"]),
                    source=source,
                    destination=destination,
                    lot=the_lot,
                    unit=common.unit(context, the_item, line, params, the_lot),
                    source_status=StockStatus(params.get("source_status", "available")),
                    destination_status=StockStatus(params.get("destination_status", "available")),
                    reason=Reason(params["reason"]),
                    unit_cost=cost,
                    line=number,
                )
            )
        post_movements(
            context.session, movements, user=context.user, document=common.document_of(context)
        )
        if order is not None:
            order.count_received()


def _lot(context: ActionContext, the_item, line: dict, params: dict, number: int):
    """The line's lot; a lot whose dates contradict the lot on record is refused naming the line
    (which of a receipt's scans is wrong is what the clerk needs to know) and its date field."""
    try:
        return common.lot(context, the_item, line, params)
    except LotMismatch as exc:
        name = params.get(exc.field or "")
        field = f"{params['lines']}[{number - 1}].{name}" if name else None
        message = _("Line %(line)s: %(message)s", line=number, message=exc)
        raise ActionError(message, field) from None


def check_as_received(context: ActionContext, params: dict) -> None:
    """Refuse, naming the line, lines that are no longer what was received, or whose parts
    (accepted + rejected) do not add up to the received quantity."""
    received = params["as_received"]
    lines = common.lines_of(context, params["lines"])
    entries = _received(context, Reason(received["reason"]))
    for number in range(1, max(len(lines), max(entries, default=0)) + 1):
        entry = entries.get(number)
        if entry is None:
            raise ActionError(
                _(
                    "Line %(line)s was not received; lines cannot be added or removed "
                    "during inspection.",
                    line=number,
                )
            )
        if number > len(lines):
            raise ActionError(
                _(
                    "Line %(line)s was received but is no longer on the receipt; lines cannot "
                    "be added or removed during inspection.",
                    line=number,
                )
            )
        _check_line(context, params, lines[number - 1], number, entry)


def _received(context: ActionContext, reason: Reason) -> dict[int, LedgerEntry]:
    """What the receive posting brought in, by line: the truth the inspection sorts."""
    rows = context.session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.document == common.document_of(context),
            LedgerEntry.reason == str(reason),
            LedgerEntry.quantity > 0,
        )
    )
    return {row.document_line: row for row in rows}


def _check_line(context, params: dict, line: dict, number: int, entry: LedgerEntry) -> None:
    session, received = context.session, params["as_received"]
    item = session.get(Item, entry.item_id)
    lot = session.get(Lot, entry.lot_id) if entry.lot_id else None
    unit = session.get(Unit, entry.unit_id) if entry.unit_id else None
    was = (item.id, lot.lot_number if lot else None, unit.serial if unit else None, entry.quantity)
    now = (
        _int(line.get(params["item"])),
        line.get(params["lot"]) or None if params.get("lot") else None,
        line.get(params["serial"]) or None if params.get("serial") else None,
        _decimal(line.get(received["quantity"])),
    )
    if now != was:
        what = [
            item.code,
            lot and lot.lot_number,
            unit and unit.serial,
            plain_quantity(entry.quantity),
        ]
        raise ActionError(
            _(
                "Line %(line)s was received as %(received)s; what was received cannot be "
                "changed during inspection.",
                line=number,
                received=" / ".join(str(part) for part in what if part),
            )
        )
    if received.get("unit_cost"):
        _check_cost(context, params, line, number, entry)
    parts = [_decimal(line.get(name)) or Decimal(0) for name in received["parts"]]
    if sum(parts) != entry.quantity:
        raise ActionError(
            _(
                "Line %(row)s: accepted %(accepted)s and rejected %(rejected)s must add up to "
                "the %(quantity)s received.",
                row=number,
                accepted=plain_quantity(parts[0]),
                rejected=plain_quantity(sum(parts[1:], Decimal(0))),
                quantity=plain_quantity(entry.quantity),
            )
        )


def _check_cost(context, params: dict, line: dict, number: int, entry: LedgerEntry) -> None:
    """Refuse, naming the line and the field, a unit cost other than the one received: the
    ledger keeps the cost the goods arrived at, and the receipt's total must stay what it says.

    A line received without a cost is let through: the form fills an empty cost from the cards
    at each save, so a price put on the card since would otherwise block the inspection for good
    (the line cannot be emptied again)."""
    field = params["as_received"]["unit_cost"]
    if entry.unit_cost is None or _decimal(line.get(field)) == entry.unit_cost:
        return
    refused = ActionError(
        _(
            "Line %(line)s: %(field)s was %(received)s when the goods were received; it cannot "
            "be changed during inspection.",
            line=number,
            field=context.records.field_label(context.record.form, f"{params['lines']}.{field}"),
            received=plain_money(entry.unit_cost),
        )
    )
    refused.field = f"{params['lines']}[{number - 1}].{field}"
    raise refused


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except ArithmeticError:
        return None


class _Order:
    """A purchase order as a receipt against it sees it: what it orders and has received of
    each item, and what this receipt adds."""

    def __init__(self, context: ActionContext, record, spec: dict):
        self.context, self.record, self.spec = context, record, spec
        self.number = record.number or str(record.id)
        self.lines = [dict(line) for line in (record.data or {}).get("lines") or []]
        self.ordered: dict[int, Decimal] = {}
        self.received: dict[int, Decimal] = {}
        for line in self.lines:
            item = _int(line.get("item"))
            self.ordered[item] = self.ordered.get(item, Decimal(0)) + _decimal(line["quantity"])
            done = _decimal(line.get(spec["received"])) or Decimal(0)
            self.received[item] = self.received.get(item, Decimal(0)) + done
        self.arriving: dict[int, Decimal] = {}

    def check_header(self, data: dict) -> None:
        """Refuse, naming the receipt's header field, another supplier or location than the
        order's."""
        ordered, spec = self.record.data or {}, self.spec
        if str(ordered.get(spec["supplier"])) != str(data.get(spec["supplier"])):
            raise ActionError(
                _(
                    "Purchase order %(order)s is with supplier %(ordered)s, not %(given)s.",
                    order=self.number,
                    ordered=self._supplier(ordered.get(spec["supplier"])),
                    given=self._supplier(data.get(spec["supplier"])),
                ),
                spec["supplier"],
            )
        if str(ordered.get(spec["location"])) != str(data.get(spec["location"])):
            raise ActionError(
                _(
                    "Purchase order %(order)s is received at %(ordered)s, not at %(given)s.",
                    order=self.number,
                    ordered=self._location(ordered.get(spec["location"])),
                    given=self._location(data.get(spec["location"])),
                ),
                spec["location"],
            )

    def add(self, number: int, item: Item, quantity: Decimal, fields: tuple[str, str]) -> None:
        """Line ``number`` brings ``quantity`` of ``item``: refused if not ordered, or beyond,
        naming the line's field to change (``fields``: the item's and the quantity's path)."""
        if item.id not in self.ordered:
            raise ActionError(
                _(
                    "Line %(line)s: %(item)s is not on purchase order %(order)s.",
                    line=number,
                    item=item.code,
                    order=self.number,
                ),
                fields[0],
            )
        arriving = self.arriving.get(item.id, Decimal(0)) + quantity
        if self.received[item.id] + arriving > self.ordered[item.id]:
            raise ActionError(
                _(
                    "Line %(line)s: purchase order %(order)s orders %(ordered)s of %(item)s, "
                    "%(received)s are received already and this receipt brings %(arriving)s.",
                    line=number,
                    order=self.number,
                    ordered=plain_quantity(self.ordered[item.id]),
                    item=item.code,
                    received=plain_quantity(self.received[item.id]),
                    arriving=plain_quantity(arriving),
                ),
                fields[1],
            )
        self.arriving[item.id] = arriving

    def count_received(self) -> None:
        """Write what arrived onto the order's lines, filling each line of an item in turn."""
        field = self.spec["received"]
        for line in self.lines:
            item = _int(line.get("item"))
            done = _decimal(line.get(field)) or Decimal(0)
            taken = min(self.arriving.get(item, Decimal(0)), _decimal(line["quantity"]) - done)
            if taken > 0:
                line[field] = plain_quantity(done + taken)
                self.arriving[item] -= taken
        self.record.data = {**(self.record.data or {}), "lines": self.lines}

    def _supplier(self, value) -> str:
        return _supplier_name(self.context, value)

    def _location(self, value) -> str:
        found = self.context.session.get(Location, _int(value)) if _int(value) else None
        return found.name if found is not None else str(value)


def against_order(context: ActionContext, params: dict) -> _Order | None:
    """The order the receipt names, checked against the receipt's header and lines (refused
    naming the line); ``None`` for a receipt without an order."""
    spec, data = params["against_order"], context.record.data or {}
    if data.get(spec["order"]) in (None, ""):
        return None
    found = context.records.read(spec["form"], data[spec["order"]])
    if found is None:
        raise ActionError(_("The purchase order of this receipt does not exist."))
    locked = context.records.by_number(spec["form"], found.number, for_update=True)
    order = _Order(context, locked or found, spec)
    order.check_header(data)
    for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
        if not _nothing(line, params["quantity"]):
            the_item = common.item(context, line, params["item"])
            paths = tuple(
                f"{params['lines']}[{number - 1}].{params[name]}" for name in ("item", "quantity")
            )
            order.add(number, the_item, common.quantity(line, params["quantity"]), paths)
    return order


def _supplier_name(context: ActionContext, value) -> str:
    found = context.records.read("supplier", value)
    return (found.data or {}).get("name") or found.number if found else str(value)


def check_supplied_by(context: ActionContext, params: dict) -> None:
    """Refuse a return to a supplier other than the receipt's, or of goods (named by line) not
    on the receipt named, or received from other suppliers only."""
    spec, data = params["supplied_by"], context.record.data or {}
    supplier = str(data.get(spec["supplier"]))
    receipt = None
    if data.get(spec["receipt"]) not in (None, ""):
        receipt = context.records.read(spec["form"], data[spec["receipt"]])
        received_from = str((receipt.data or {}).get(spec["supplier"])) if receipt else None
        if receipt is not None and received_from != supplier:
            raise ActionError(
                _(
                    "Purchase receipt %(receipt)s is from supplier %(received)s, not %(given)s.",
                    receipt=receipt.number,
                    received=_supplier_name(context, received_from),
                    given=_supplier_name(context, supplier),
                )
            )
    for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
        the_item = common.item(context, line, params["item"])
        lot = line.get(params["lot"]) if params.get("lot") else None
        serial = line.get(params["serial"]) if params.get("serial") else None
        documents = _receipts_of(context, the_item, lot, serial)
        goods = " ".join(str(part) for part in (the_item.code, lot, serial) if part)
        if receipt is not None and receipt.number not in documents:
            raise ActionError(
                _(
                    "Line %(line)s: %(goods)s was not received on purchase receipt %(receipt)s.",
                    line=number,
                    goods=goods,
                    receipt=receipt.number,
                )
            )
        if receipt is None and documents and supplier not in _suppliers(context, spec, documents):
            raise ActionError(
                _(
                    "Line %(line)s: %(goods)s was not received from supplier %(supplier)s.",
                    line=number,
                    goods=goods,
                    supplier=_supplier_name(context, supplier),
                )
            )


def _receipts_of(context: ActionContext, item: Item, lot, serial) -> set[str]:
    """The documents whose purchase receipt posting brought in this lot (or unit) of ``item``."""
    query = select(LedgerEntry.document).where(
        LedgerEntry.item_id == item.id,
        LedgerEntry.reason == str(Reason.purchase_receipt),
        LedgerEntry.quantity > 0,
    )
    if serial:
        unit = context.session.scalar(
            select(Unit.id).where(Unit.item_id == item.id, Unit.serial == str(serial))
        )
        if unit is None:
            return set()
        query = query.where(LedgerEntry.unit_id == unit)
    elif lot:
        found = lot_of(context.session, item, str(lot))
        if found is None:
            return set()
        query = query.where(LedgerEntry.lot_id == found.id)
    return set(context.session.scalars(query.distinct()))


def _suppliers(context: ActionContext, spec: dict, documents: set[str]) -> set[str]:
    found = (context.records.by_number(spec["form"], number) for number in documents)
    return {str((record.data or {}).get(spec["supplier"])) for record in found if record}
