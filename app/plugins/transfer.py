"""Built-in actions ``ship_transfer``, ``receive_transfer`` and ``return_transfer``.

``ship_transfer`` moves the lines from the source into transit towards the destination (what an
order's allocation reserved for the transfer is released as it leaves) — when the record names an
issued recall (parameter ``recall``), as a recall return (召回退回): the recall's goods, set apart
as nonconforming, go back to a warehouse and arrive nonconforming; with ``check_only: true`` (the
picker's "picking done") it refuses what the shipment would refuse and moves nothing;
``receive_transfer`` books each line's received quantity (default: all still outstanding) at the
destination, damaged ones as nonconforming; ``return_transfer`` sends what is still in transit back
to the source. A transfer in is a record of its own: its ``document`` parameter names the header
field holding the number of the transfer out it receives, and its own number goes on the ledger.
"""

from __future__ import annotations

from decimal import Decimal

from app.db import plain_quantity
from app.i18n import _
from app.kernel import reservations, transfers
from app.kernel.items import lot_of
from app.plugins import _common as common
from app.plugins.picking import rehearse
from app.workflow.actions import Action, ActionContext, ActionError

#: The transfer out form and its field naming the transfer in its shipment made.
TRANSFER_FORM, RECEIPT_FIELD, RECEIPT_FORM = "transfer_out", "transfer_in", "transfer_in"


class ShipTransfer(Action):
    """Ship the lines into transit. ``check_only: true`` runs the whole shipment — the lines read,
    the order's hold released, every rule of the kernel's posting checked, the quantities against
    what is free — and rolls it all back: a warehouse's "picking done" hands its reviewer only a
    picking that can leave (an expired lot, a unit sold or elsewhere, more than is on hand are
    refused on the picker's line, not after the second scan)."""

    name = "ship_transfer"
    label = {
        "zh_CN": "调拨发货：货物转入在途",
        "en": "Ship the transfer: the goods go into transit",
    }
    param_labels = {
        "check_only": {"zh_CN": "只检查能否发货，不移动库存", "en": "Only check it can ship"}
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["lines", "item", "quantity", "source", "destination"],
        "properties": {
            "lines": common.FIELD,
            "item": common.FIELD,
            "quantity": common.FIELD,
            "lot": common.FIELD,
            "serial": common.FIELD,
            "source": common.FIELD,
            "destination": common.FIELD,
            "recall": common.FIELD,
            "check_only": {"type": "boolean"},
        },
    }

    def run(self, context: ActionContext) -> None:
        if context.params.get("check_only"):
            rehearse(context.session, lambda: _ship(context))
        else:
            _ship(context)


def _ship(context: ActionContext) -> None:
    """The lines into transit, as the kernel's ``transfers.ship`` moves them."""
    params = context.params
    recall = _recall_of(context)
    lines = []
    for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
        the_item = common.item(context, line, params["item"])
        if recall is not None and str(recall.data.get("item")) != str(the_item.id):
            raise ActionError(
                _("Line %(line)s: %(item)s is not the item of recall %(recall)s.",
                  line=number, item=the_item.code, recall=recall.number)
            )  # fmt: skip
        the_lot = _lot_on_record(context, the_item, line, number)
        lines.append(
            transfers.ShipLine(
                item=the_item,
                quantity=common.quantity(line, params["quantity"]),
                lot=the_lot,
                unit=common.unit(context, the_item, line, params, the_lot),
            )
        )
    document = common.document_of(context)
    if reservations.reservations_of(context.session, document):
        # an order's allocation held these goods for this transfer: they leave now
        reservations.release(context.session, document, user=context.user)
    transfers.ship(
        context.session, document,
        common.location(context, params["source"]),
        common.location(context, params["destination"]), lines, user=context.user,
        recall_return=recall is not None,
    )  # fmt: skip


def _lot_on_record(context: ActionContext, the_item, line: dict, number: int):
    """The line's lot, as on record for its item: what leaves is in stock, so a lot number the
    item has no lot under (mistyped, or another item's) is refused on the line, not made up."""
    params = context.params
    lot_number = line.get(params["lot"]) if params.get("lot") else None
    if not lot_number:
        return None
    found = lot_of(context.session, the_item, str(lot_number))
    if found is None:
        raise ActionError(
            _("Line %(line)s: %(item)s has no lot %(lot)s on record.",
              line=number, item=the_item.code, lot=lot_number),
            f"{params['lines']}[{number - 1}].{params['lot']}",
        )  # fmt: skip
    return found


def _recall_of(context: ActionContext):
    """The issued recall the record returns goods for (header field ``recall``), else None."""
    field = context.params.get("recall")
    value = (context.record.data or {}).get(field) if field else None
    if not value:
        return None
    recall = context.records.read("recall", value)
    if recall is None or recall.state != "issued":
        raise ActionError(
            _("Recall %(recall)s is not in progress: only the goods of an issued recall go back "
              "as a recall return (field %(field)s).",
              recall=recall.number if recall is not None else value, field=field)
        )  # fmt: skip
    return recall


class ReceiptMismatch(ActionError):
    """The transfer in does not list what was shipped: the document would say one thing and the
    ledger book another. ``field`` points at the line to correct."""

    def __init__(self, message: str, field: str):
        self.field = field
        super().__init__(message)


class ReceiveTransfer(Action):
    """Book what arrived against the shipped lines. The receiving record must be at the
    transfer's destination and, when the shipment made a transfer in, be that one; each of its
    lines is matched to a shipped line by item, lot and serial (every shipped line once). After
    the booking the lines show what the ledger holds, so the document and the stock agree."""

    name = "receive_transfer"
    label = {
        "zh_CN": "按发货明细收货，记录短少和破损",
        "en": "Receive against the shipped lines, recording short and damaged",
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "lines": common.FIELD,
            "item": common.FIELD,
            "lot": common.FIELD,
            "serial": common.FIELD,
            "shipped": common.FIELD,  # line fields written back after the booking
            "received": common.FIELD,
            "damaged": common.FIELD,
            "short": common.FIELD,
            "short_total": common.FIELD,  # header field written back: the lines' shortfall
            "document": common.FIELD,
            "location": common.FIELD,  # header field: where the goods are received
            # the rest arrived: everything still outstanding is received, whatever is entered
            "rest": {"type": "boolean"},
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        document = transfer_document(context)
        shipped = transfers.transfer_lines(context.session, document, lock=True)
        _check_receiver(context, document, shipped)
        given = common.rows(context, params["lines"]) if params.get("lines") else []
        entries = _match(context, document, shipped, given) if params.get("lines") else {}
        receipts = [
            _receipt(params, line, given[entries[line.line]] if line.line in entries else None)
            for line in shipped
        ]
        transfers.receive(
            context.session, document, receipts, user=context.user,
            receipt_document=common.document_of(context),
        )  # fmt: skip
        if entries:
            _write_booked(context, shipped, given, entries)
        # what arrived in good order, for a later action (``hold_for_order``), with the line of
        # this record it was entered on
        context.outputs["received_transfer_lines"] = [
            (line, receipt.received)
            for line, receipt in zip(shipped, receipts, strict=True)
            if receipt.received > 0
        ]
        context.outputs["received_entries"] = {
            number: given[index] for number, index in entries.items()
        }


def _receipt(params: dict, line, entered: dict | None) -> transfers.ReceiveLine:
    """What one shipped line receives now: the entered figures, or all still outstanding."""
    if params.get("rest") or entered is None:
        return transfers.ReceiveLine(line=line.line, received=line.outstanding)
    return transfers.ReceiveLine(
        line=line.line,
        received=_decimal(entered, params.get("received")),
        damaged=_decimal(entered, params.get("damaged")),
    )


def _decimal(entered: dict, field: str | None) -> Decimal:
    value = entered.get(field) if field else None
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _check_receiver(context: ActionContext, document: str, shipped: list) -> None:
    """Only the destination receives, and on the transfer in the shipment made for it."""
    here = common.location(context, context.params.get("location"))
    if here is not None and any(line.destination_id != here.id for line in shipped):
        raise ReceiptMismatch(
            _("Transfer %(number)s goes to %(destination)s: only its destination receives it.",
              number=document, destination=shipped[0].destination.code),
            context.params["location"],
        )  # fmt: skip
    transfer_out = context.records.by_number(TRANSFER_FORM, document)
    made = (transfer_out.data or {}).get(RECEIPT_FIELD) if transfer_out is not None else None
    if made and str(made) != str(context.record.id):
        receipt = context.records.read(RECEIPT_FORM, made)
        raise ReceiptMismatch(
            _("Transfer %(number)s is received on its own transfer in %(receipt)s, not on this "
              "one.", number=document, receipt=getattr(receipt, "number", None) or made),
            context.params.get("document") or "_schema",
        )  # fmt: skip


def _match(context, document: str, shipped: list, given: list[dict]) -> dict[int, int]:
    """Shipped line number → index of the entered line listing the same goods (item, lot,
    serial), each entered line used once; a shipped line missing or an entered line not shipped
    is refused, naming it."""
    table = context.params["lines"]
    free = list(range(len(given)))
    found = {}
    for line in shipped:
        index = next((i for i in free if _same_goods(context.params, line, given[i])), None)
        if index is None:
            raise ReceiptMismatch(
                _("Transfer %(number)s shipped %(goods)s (its line %(line)s), which this "
                  "transfer in does not list: add it back with what arrived (0 if nothing).",
                  number=document, goods=_goods(line), line=line.line),
                table,
            )  # fmt: skip
        free.remove(index)
        found[line.line] = index
    if free:
        index = free[0]
        raise ReceiptMismatch(
            _("Line %(line)s: these goods were not shipped on transfer %(number)s (or are "
              "listed twice): remove the line or correct its item, lot and serial number.",
              line=index + 1, number=document),
            f"{table}[{index}].{context.params.get('item', 'item')}",
        )  # fmt: skip
    return found


def _same_goods(params: dict, line, entered: dict) -> bool:
    """The entered line lists the shipped line's item, lot and serial (a serial unit's lot may
    be left out: the serial names it)."""
    item = entered.get(params.get("item", "item"))
    lot = str(entered.get(params.get("lot", "lot")) or "")
    serial = str(entered.get(params.get("serial", "serial")) or "")
    shipped_lot = line.lot.lot_number if line.lot is not None else ""
    shipped_serial = line.unit.serial if line.unit is not None else ""
    return (
        str(item) == str(line.item_id)
        and (lot == shipped_lot or (not lot and line.unit is not None))
        and serial == shipped_serial
    )


def _goods(line) -> str:
    text = line.item.code
    if line.lot is not None:
        text += f" {line.lot.lot_number}"
    if line.unit is not None:
        text += f" {line.unit.serial}"
    return text


def _write_booked(context, shipped: list, given: list[dict], entries: dict[int, int]) -> None:
    """The lines show what the ledger now holds for each shipped line: shipped, received and
    damaged so far, and what is still short; the header its total shortfall."""
    params = context.params
    for line in shipped:
        entered = given[entries[line.line]]
        short = line.shipped - line.received - line.damaged
        figures = {params.get("shipped"): line.shipped, params.get("received"): line.received,
                   params.get("damaged"): line.damaged, params.get("short"): short}  # fmt: skip
        for field, value in figures.items():
            if field:
                entered[field] = plain_quantity(value)
    common.write_rows(context, params["lines"], given)
    if params.get("short_total"):
        total = sum((line.shipped - line.received - line.damaged for line in shipped), Decimal(0))
        context.record.data = {**context.record.data, params["short_total"]: plain_quantity(total)}


class ReturnTransfer(Action):
    """What never arrived goes back to the source, available again (the transfer is closed);
    with ``lost``, it was lost on the road and is written off instead."""

    name = "return_transfer"
    label = {"zh_CN": "未到货物退回调出地点（或作丢失核销）",
             "en": "Return what never arrived to the source (or write it off as lost)"}  # fmt: skip
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"document": common.FIELD, "lost": {"type": "boolean"}},
    }
    param_labels = {"lost": {"zh_CN": "在途丢失，核销", "en": "Lost on the road: write it off"}}

    def run(self, context: ActionContext) -> None:
        lost = context.params.get("lost")
        close = transfers.write_off_remainder if lost else transfers.return_remainder
        close(context.session, transfer_document(context), user=context.user)


def transfer_document(context: ActionContext) -> str:
    """The transfer's number: the header field ``document`` names, else this record's own."""
    field = context.params.get("document")
    if not field:
        return common.document_of(context)
    number = (context.record.data or {}).get(field)
    if not number or not transfers.transfer_lines(context.session, str(number)):
        raise ActionError(
            _("No shipped transfer %(number)s to receive (field %(field)s).",
              number=number or "-", field=field)
        )  # fmt: skip
    return str(number)
