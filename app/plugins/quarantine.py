"""Quarantine actions: ``quarantine_lots`` stops a suspect lot everywhere, ``release_quarantine``
lets it go again.

Both read the record's item and its "lots" field (numbers separated by commas) and call the
kernel (``app.kernel.quarantine``). Orders that held the lots lose those holds at once and show
the shortfall on their lines, as after a recall, so they can be allocated other lots.
"""

from __future__ import annotations

from app.kernel.items import Item, Lot
from app.kernel.quarantine import quarantine_lots, release_lots
from app.plugins import _common as common
from app.plugins.recall import tell_orders
from app.workflow.actions import Action, ActionContext


def _goods(context: ActionContext) -> tuple[Item, list[Lot]]:
    params, data = context.params, context.record.data or {}
    item = common.item(context, data, params["item"])
    numbers = common.lot_numbers(data.get(params["lots"]))
    return item, common.named_lots(context, item, numbers, params["lots"])


class QuarantineLots(Action):
    name = "quarantine_lots"
    label = {
        "zh_CN": "冻结批次：全链暂停销售、调拨和预占",
        "en": "Quarantine the lots: no sale, transfer or hold anywhere",
    }
    params_schema = common.params_schema("item", "lots")

    def run(self, context: ActionContext) -> None:
        item, lots = _goods(context)
        lots_field = context.params["lots"]  # each lot once, as quarantined
        numbers = ", ".join(lot.lot_number for lot in lots)
        context.record.data = {**(context.record.data or {}), lots_field: numbers}
        released = quarantine_lots(
            context.session, item, lots, user=context.user,
            document=common.document_of(context), field=lots_field,
        )  # fmt: skip
        tell_orders(context, released, "quarantine")


class ReleaseQuarantine(Action):
    name = "release_quarantine"
    label = {"zh_CN": "解除冻结：批次恢复正常", "en": "Release the lots from quarantine"}
    params_schema = common.params_schema("item", "lots")

    def run(self, context: ActionContext) -> None:
        item, lots = _goods(context)
        release_lots(
            context.session, item, lots, user=context.user,
            document=common.document_of(context), field=context.params["lots"],
        )  # fmt: skip
