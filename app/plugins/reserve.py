"""Built-in actions ``reserve`` and ``release``: hold stock for the record's lines, or free it.

``reserve`` holds each line's quantity at the record's location (the line's lot if it names one,
else FEFO picks); ``release`` gives back all the record holds, e.g. when an order is cancelled.
"""

from __future__ import annotations

from app.kernel import reservations
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext


class Reserve(Action):
    name = "reserve"
    label = {"zh_CN": "预占明细的库存", "en": "Reserve the lines' stock"}
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["lines", "item", "quantity", "location"],
        "properties": {
            "lines": common.FIELD,
            "item": common.FIELD,
            "quantity": common.FIELD,
            "lot": common.FIELD,
            "location": common.FIELD,
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        where = common.location(context, params["location"])
        document = common.document_of(context)
        for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
            the_item = common.item(context, line, params["item"])
            lot_number = line.get(params["lot"]) if params.get("lot") else None
            the_lot = common.lot(context, the_item, line, params) if lot_number else None
            reservations.reserve(
                context.session, document, number, the_item,
                common.quantity(line, params["quantity"]), where, lot=the_lot, user=context.user,
            )  # fmt: skip


class Release(Action):
    """Give back all the record holds; ``if_any``: holding nothing is fine (e.g. cancelling a
    transfer out, which holds goods only when an order's allocation made it)."""

    name = "release"
    label = {"zh_CN": "释放单据的预占", "en": "Release what the record holds"}
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"if_any": {"type": "boolean"}},
    }

    def run(self, context: ActionContext) -> None:
        document = common.document_of(context)
        if context.params.get("if_any") and not reservations.reservations_of(
            context.session, document
        ):
            return
        reservations.release(context.session, document, user=context.user)
