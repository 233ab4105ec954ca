"""Built-in actions ``ship_transfer``, ``receive_transfer`` and ``return_transfer``.

``ship_transfer`` moves the lines from the source into transit towards the destination (what an
order's allocation reserved for the transfer is released as it leaves) — when the record names an
issued recall (parameter ``recall``), as a recall return (召回退回): the recall's goods, set apart
as nonconforming, go back to a warehouse and arrive nonconforming;
``receive_transfer`` books each line's received quantity (default: all still outstanding) at the
destination, damaged ones as nonconforming; ``return_transfer`` sends what is still in transit back
to the source. A transfer in is a record of its own: its ``document`` parameter names the header
field holding the number of the transfer out it receives, and its own number goes on the ledger.
"""

from __future__ import annotations

from decimal import Decimal

from app.i18n import _
from app.kernel import reservations, transfers
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError


class ShipTransfer(Action):
    name = "ship_transfer"
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
        },
    }

    def run(self, context: ActionContext) -> None:
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
            the_lot = common.lot(context, the_item, line, params)
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


class ReceiveTransfer(Action):
    name = "receive_transfer"
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "lines": common.FIELD,
            "received": common.FIELD,
            "damaged": common.FIELD,
            "document": common.FIELD,
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        document = transfer_document(context)
        shipped = transfers.transfer_lines(context.session, document, lock=True)
        given = (context.record.data or {}).get(params.get("lines", ""), []) or []
        receipts = []
        for index, line in enumerate(shipped):
            entered = given[index] if index < len(given) else {}
            received = entered.get(params["received"]) if params.get("received") else None
            damaged = entered.get(params["damaged"]) if params.get("damaged") else None
            receipts.append(
                transfers.ReceiveLine(
                    line=line.line,
                    received=Decimal(str(received)) if received is not None else line.outstanding,
                    damaged=Decimal(str(damaged)) if damaged is not None else Decimal(0),
                )
            )
        transfers.receive(
            context.session, document, receipts, user=context.user,
            receipt_document=common.document_of(context),
        )  # fmt: skip
        # what arrived in good order, for a later action (``hold_for_order``)
        context.outputs["received_transfer_lines"] = [
            (line, receipt.received)
            for line, receipt in zip(shipped, receipts, strict=True)
            if receipt.received > 0
        ]


class ReturnTransfer(Action):
    """What never arrived goes back to the source, available again (the transfer is closed)."""

    name = "return_transfer"
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"document": common.FIELD},
    }

    def run(self, context: ActionContext) -> None:
        transfers.return_remainder(context.session, transfer_document(context), user=context.user)


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
