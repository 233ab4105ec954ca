"""Built-in actions ``ship_transfer`` and ``receive_transfer``: a transfer between locations.

``ship_transfer`` moves the lines from the source into transit towards the destination;
``receive_transfer`` books each line's received quantity (default: all shipped) at the destination.
"""

from __future__ import annotations

from decimal import Decimal

from app.kernel import transfers
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext


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
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        lines = []
        for line in common.lines_of(context, params["lines"]):
            the_item = common.item(context, line, params["item"])
            the_lot = common.lot(context, the_item, line, params)
            lines.append(
                transfers.ShipLine(
                    item=the_item,
                    quantity=common.quantity(line, params["quantity"]),
                    lot=the_lot,
                    unit=common.unit(context, the_item, line, params, the_lot),
                )
            )
        transfers.ship(
            context.session, common.document_of(context),
            common.location(context, params["source"]),
            common.location(context, params["destination"]), lines, user=context.user,
        )  # fmt: skip


class ReceiveTransfer(Action):
    name = "receive_transfer"
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "lines": common.FIELD,
            "received": common.FIELD,
            "damaged": common.FIELD,
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        document = common.document_of(context)
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
        transfers.receive(context.session, document, receipts, user=context.user)
