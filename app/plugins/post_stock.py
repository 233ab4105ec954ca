"""Built-in action ``post_stock``: post the record's table lines to the stock ledger.

The parameters map the form's fields to a movement, e.g. a purchase receipt's lines arrive as
``awaiting_inspection`` at the receipt's location, and inspection moves them to ``available``::

    - action: post_stock
      params: {lines: lines, item: item, quantity: quantity, lot: lot, expiry_date: expiry_date,
               destination: location, destination_status: awaiting_inspection,
               reason: purchase_receipt}

Lines whose quantity is empty or zero are skipped, so that one table can feed several postings
(an inspected line's accepted and rejected quantities go to different statuses).
"""

from __future__ import annotations

from app.kernel.stock import Movement, Reason, StockStatus, post_movements
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext

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
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        source = common.location(context, params.get("source"))
        destination = common.location(context, params.get("destination"))
        movements = []
        for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
            if _nothing(line, params["quantity"]):
                continue  # e.g. no rejected quantity on an inspected line: nothing to move
            the_item = common.item(context, line, params["item"])
            the_lot = common.lot(context, the_item, line, params)
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
