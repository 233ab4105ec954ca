"""Quarantine actions: ``quarantine_lots`` stops a suspect lot everywhere, ``release_quarantine``
lets it go again.

Both read the record's item and its "lots" field (numbers separated by commas) and call the
kernel (``app.kernel.quarantine``). Orders that held the lots lose those holds at once and show
the shortfall on their lines, as after a recall, so they can be allocated other lots. With
``roles``, the holders of those roles at each location that has the lots on hand hear of it,
with how much is there: the goods are set apart on the shelf, not only in the system. The
quarantine record is QA's, so the message names the lots rather than linking to it.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.kernel.items import Item, Lot
from app.kernel.locations import Location
from app.kernel.quarantine import quarantine_lots, release_lots
from app.kernel.stock import StockBalance
from app.kernel.users import holding
from app.plugins import _common as common
from app.plugins.recall import tell_orders
from app.workflow.actions import Action, ActionContext
from app.workflow.models import inbox_message

PARAMS = common.params_schema("item", "lots")
PARAMS["properties"]["roles"] = {"type": "array", "items": {"type": "string"}}

#: What the staff of a location holding the lots read, by language.
TOLD = {
    "quarantined": {
        "zh_CN": "{document}：{item} 批号 {lots} 已质量冻结，"
                 "本地 {quantity} 请隔离存放，暂停销售和调拨",
        "en": "{document}: lots {lots} of {item} are quarantined: set the {quantity} here apart "
              "and neither sell nor transfer them",
    },
    "released": {
        "zh_CN": "{document}：{item} 批号 {lots} 已解除质量冻结（本地 {quantity}），可恢复销售",
        "en": "{document}: lots {lots} of {item} are released from quarantine ({quantity} here): "
              "they may be sold again",
    },
}  # fmt: skip


def _tell_holders(context: ActionContext, item: Item, lots: list[Lot], what: str) -> None:
    """Each holder of the action's ``roles`` at a location with the lots on hand (any status)
    hears what happened and how much is there."""
    roles = context.params.get("roles")
    if not roles or not lots:
        return
    session = context.session
    held = session.execute(
        select(StockBalance.location_id, func.sum(StockBalance.on_hand))
        .where(StockBalance.item_id == item.id, StockBalance.lot_id.in_([lot.id for lot in lots]),
               StockBalance.on_hand > 0)
        .group_by(StockBalance.location_id)
    ).all()  # fmt: skip
    facts = {"document": common.document_of(context), "item": f"{item.code} {item.name}",
             "lots": ", ".join(lot.lot_number for lot in lots)}  # fmt: skip
    sender = getattr(context.user, "id", None)
    for location_id, quantity in sorted(held):
        amount = f"{Decimal(quantity).normalize():f} {item.unit_of_measure}"
        text = {language: message.format(**facts, quantity=amount)
                for language, message in TOLD[what].items()}  # fmt: skip
        for user_id in sorted(holding(session, roles, session.get(Location, location_id))):
            session.add(inbox_message(user_id, None, text, sender_id=sender))
    session.flush()


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
    params_schema = PARAMS

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
        _tell_holders(context, item, lots, "quarantined")


class ReleaseQuarantine(Action):
    name = "release_quarantine"
    label = {"zh_CN": "解除冻结：批次恢复正常", "en": "Release the lots from quarantine"}
    params_schema = PARAMS

    def run(self, context: ActionContext) -> None:
        item, lots = _goods(context)
        release_lots(
            context.session, item, lots, user=context.user,
            document=common.document_of(context), field=context.params["lots"],
        )  # fmt: skip
        _tell_holders(context, item, lots, "released")
