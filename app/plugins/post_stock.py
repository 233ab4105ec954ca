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
this one awaiting inspection under a finished receipt::

    as_received: {reason: purchase_receipt, quantity: quantity,
                  parts: [accepted_quantity, rejected_quantity]}
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.i18n import _
from app.kernel.errors import LotMismatch
from app.kernel.items import Item, Lot, Unit
from app.kernel.stock import LedgerEntry, Movement, Reason, StockStatus, post_movements
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError

STATUSES = [str(status) for status in StockStatus]


def _nothing(line: dict, field: str) -> bool:
    """An empty or zero quantity moves nothing: the line is skipped, not refused."""
    return line.get(field) in (None, "") or common.quantity(line, field) == 0


class PostStock(Action):
    name = "post_stock"
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
            "as_received": {
                "type": "object",
                "additionalProperties": False,
                "required": ["reason", "quantity", "parts"],
                "properties": {
                    "reason": {"enum": [str(reason) for reason in Reason]},
                    "quantity": common.FIELD,
                    "parts": {"type": "array", "items": common.FIELD, "minItems": 1},
                },
            },
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        if params.get("as_received"):
            check_as_received(context, params)
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


def _lot(context: ActionContext, the_item, line: dict, params: dict, number: int):
    """The line's lot; a lot whose dates contradict the lot on record is refused naming the line
    (which of a receipt's scans is wrong is what the clerk needs to know)."""
    try:
        return common.lot(context, the_item, line, params)
    except LotMismatch as exc:
        raise ActionError(_("Line %(line)s: %(message)s", line=number, message=exc)) from None


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
        what = [item.code, lot and lot.lot_number, unit and unit.serial, _shown(entry.quantity)]
        raise ActionError(
            _(
                "Line %(line)s was received as %(received)s; what was received cannot be "
                "changed during inspection.",
                line=number,
                received=" / ".join(str(part) for part in what if part),
            )
        )
    parts = [_decimal(line.get(name)) or Decimal(0) for name in received["parts"]]
    if sum(parts) != entry.quantity:
        raise ActionError(
            _(
                "Line %(row)s: accepted %(accepted)s and rejected %(rejected)s must add up to "
                "the %(quantity)s received.",
                row=number,
                accepted=_shown(parts[0]),
                rejected=_shown(sum(parts[1:], Decimal(0))),
                quantity=_shown(entry.quantity),
            )
        )


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


def _shown(quantity: Decimal) -> str:
    """A quantity as people write it: 10, 2.5 (not 10.0000)."""
    return format(quantity.normalize(), "f")
