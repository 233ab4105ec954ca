"""Built-in action ``adjust_stock``: a stock adjustment or a scrap posts its lines in place.

A stock adjustment (库存调整) corrects what a location holds: each line's signed quantity enters
(> 0) or leaves (< 0) the location, in the stock status the line names, with the reason code of
the document (``adjustment``, ``count_surplus`` — only increases — or ``count_shortage`` — only
decreases). A scrap (报损) takes every line out (``direction: out``) with reason ``scrap``; goods
may be scrapped only when nonconforming or of an expired lot, never good stock. A line's
``unit_cost`` reaches the ledger only on stock coming in: stock leaving goes at the cost it has::

    - action: adjust_stock
      params: {lines: lines, item: item, quantity: quantity, lot: lot, serial: serial,
               status: status, location: location, reason: scrap, direction: out}

At submit (an approval's ``on_pending``), ``check_only: true`` runs the posting and rolls it back,
so that more than is there is refused on the clerk's line, not after every approver signed;
``cost_from_stock: true`` writes onto each outgoing line, in its ``unit_cost``, what its goods
cost as the stock holds them, so the document's amount is the loss the approvers weigh.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.db import plain_money
from app.i18n import _, localized
from app.kernel.items import business_today, is_expired, lot_of
from app.kernel.stock import LedgerEntry, Movement, Reason, StockStatus, post_movements
from app.plugins import _common as common
from app.plugins.picking import rehearse
from app.workflow.actions import Action, ActionContext, ActionError

#: The reason codes a document may post in place, and the sign their lines must have.
REASONS = {
    Reason.adjustment: None,
    Reason.count_surplus: 1,
    Reason.count_shortage: -1,
    Reason.scrap: -1,
}
#: Statuses a line may name (in transit is the transfers' business).
STATUSES = [str(s) for s in StockStatus if s != StockStatus.in_transit]


class AdjustStock(Action):
    name = "adjust_stock"
    label = {
        "zh_CN": "按原因调整库存（报损、调整）",
        "en": "Adjust stock in place with a reason code (scrap, adjustment)",
    }
    param_labels = {
        "reason_field": {"zh_CN": "原因取自字段", "en": "Reason from the field"},
        "direction": {"zh_CN": "方向（signed 按正负，out 一律出库）",
                      "en": "Direction (signed: by sign; out: always out)"},
        "check_only": {"zh_CN": "只检查能否过账，不移动库存", "en": "Only check it can post"},
        "cost_from_stock": {"zh_CN": "出库行按库存成本计价",
                            "en": "Price outgoing lines at the stock's cost"},
    }  # fmt: skip
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["lines", "item", "quantity", "location"],
        "oneOf": [{"required": ["reason"]}, {"required": ["reason_field"]}],
        "properties": {
            "lines": common.FIELD,
            "item": common.FIELD,
            "quantity": common.FIELD,
            "lot": common.FIELD,
            "expiry_date": common.FIELD,
            "serial": common.FIELD,
            "unit_cost": common.FIELD,
            "status": common.FIELD,
            "location": common.FIELD,
            "reason": {"enum": [str(reason) for reason in REASONS]},
            "reason_field": common.FIELD,
            "direction": {"enum": ["signed", "out"]},
            "check_only": {"type": "boolean"},
            "cost_from_stock": {"type": "boolean"},
        },
        "dependentRequired": {"cost_from_stock": ["unit_cost"]},
    }

    def run(self, context: ActionContext) -> None:
        if context.params.get("check_only"):
            rehearse(context.session, lambda: self._post(context, checking=True))
        else:
            self._post(context)
        if context.params.get("cost_from_stock"):
            _price_at_stock_cost(context)

    def _post(self, context: ActionContext, checking: bool = False) -> None:
        params = context.params
        reason = self._reason(context)
        location = common.location(context, params["location"])
        movements = [
            self._movement(context, number, line, location, reason, checking)
            for number, line in enumerate(common.lines_of(context, params["lines"]), start=1)
        ]
        post_movements(
            context.session, movements, user=context.user, document=common.document_of(context)
        )

    @staticmethod
    def _reason(context: ActionContext) -> Reason:
        params = context.params
        value = params.get("reason") or (context.record.data or {}).get(params["reason_field"])
        if value not in {str(reason) for reason in REASONS}:
            raise ActionError(
                _("Choose the reason code (%(field)s): one of %(choices)s.",
                  field=params.get("reason_field", "reason"),
                  choices=", ".join(str(reason) for reason in REASONS))
            )  # fmt: skip
        return Reason(value)

    def _movement(
        self, context, number: int, line: dict, location, reason: Reason, checking: bool = False
    ) -> Movement:
        """The line's movement. ``checking`` (at submit): whether good stock may be scrapped is
        left to the posting, which judges the lot's expiry on the day the goods leave (the form
        refuses, as the line is written, good stock whose expiry it knows)."""
        params = context.params
        the_item = common.item(context, line, params["item"])
        the_lot = common.lot(context, the_item, line, params)
        quantity = _signed(line, params)
        expected = REASONS[reason]
        if quantity == 0 or (expected is not None and (quantity > 0) != (expected > 0)):
            raise ActionError(
                _("Line %(line)s: the quantity of a %(reason)s must be %(sign)s, not %(quantity)s.",
                  line=number, reason=_reason_label(context, reason), quantity=quantity,
                  sign=_("positive") if expected and expected > 0 else
                  (_("negative") if expected else _("other than zero")))
            )  # fmt: skip
        status = _status_of((line.get(params["status"]) if params.get("status") else None), number)
        if reason == Reason.scrap and not checking:
            _check_scrappable(the_lot, status, number)
        side = {"destination": location} if quantity > 0 else {"source": location}
        return Movement(
            item=the_item, quantity=abs(quantity), lot=the_lot,
            unit=common.unit(context, the_item, line, params, the_lot),
            source_status=status, destination_status=status, reason=reason,
            unit_cost=_incoming_cost(line, params, quantity), line=number, **side,
        )  # fmt: skip


def _signed(line: dict, params: dict) -> Decimal:
    """The line's quantity, negative for goods leaving (all of them with ``direction: out``)."""
    quantity = common.quantity(line, params["quantity"])
    return -abs(quantity) if params.get("direction") == "out" else quantity


def _price_at_stock_cost(context: ActionContext) -> None:
    """Write onto each outgoing line, in its ``unit_cost``, what its goods cost as the stock
    holds them, and compute the amounts again: a scrap's loss is what the goods cost, not what
    someone typed (12.50 a box for a lot received at 157). Left empty when the ledger holds no
    cost for the item and lot (none came in with one): the stock value has none for it either."""
    params = context.params
    lines = common.rows(context, params["lines"])
    for line in lines:
        if _signed(line, params) >= 0:
            continue
        cost = _stock_cost(context, line, params)
        line[params["unit_cost"]] = None if cost is None else str(plain_money(cost))
    common.write_rows(context, params["lines"], lines)
    if context.records is not None:  # (None only where a test runs the action bare)
        context.records.recompute(context.record, lines=True)


def _stock_cost(context: ActionContext, line: dict, params: dict) -> Decimal | None:
    """The unit cost of the latest costed ledger row of the line's item and lot: the rule the
    stock value reports read (``app.meta.kernel_sources._last_costs``), so a scrap takes off
    the value what the reports counted the goods at."""
    the_item = common.item(context, line, params["item"])
    number = line.get(params["lot"]) if params.get("lot") else None
    the_lot = lot_of(context.session, the_item, str(number).strip()) if number else None
    if number and the_lot is None:
        return None
    same_lot = (
        LedgerEntry.lot_id == the_lot.id if the_lot is not None else LedgerEntry.lot_id.is_(None)
    )
    query = (
        select(LedgerEntry.unit_cost)
        .where(LedgerEntry.item_id == the_item.id, same_lot, LedgerEntry.unit_cost.isnot(None))
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    return context.session.scalar(query)


def _incoming_cost(line: dict, params: dict, quantity: Decimal) -> Decimal | None:
    """The line's unit cost for the ledger: only goods coming in carry one.

    Stock is valued at the latest cost the ledger holds for its item and lot, so a cost on an
    outgoing row would revalue everything left of the lot, everywhere (one strip short at 0.01
    and the rest of the lot is worth 0.01 each; a scrap at 0 zeroes it). Goods leave at the cost
    they have. The typed cost of an outgoing line is not refused: it still prices the document
    (its amount, which decides whether HQ must approve), it just does not reach the ledger."""
    cost = line.get(params["unit_cost"]) if params.get("unit_cost") else None
    if quantity < 0 or cost in (None, ""):
        return None
    return Decimal(str(cost))


def _reason_label(context: ActionContext, reason: Reason) -> str:
    """The reason as its users read it (盘亏, not ``count_shortage``): the label of its choice on
    the form's reason field, else — a reason the workflow fixes, as a scrap's — the form's own
    label, else the code."""
    definition = context.records.definition(context.record.form) if context.records else {}
    name = context.params.get("reason_field")
    if name:
        field = next((f for f in definition.get("fields", []) if f.get("name") == name), {})
        options = field.get("options")  # a shared option list's name: not read here
        for option in options if isinstance(options, list) else []:
            if option.get("value") == str(reason) and option.get("label"):
                return localized(option["label"])
        return str(reason)
    return localized(definition.get("label")) or str(reason)


def _status_of(value: str | None, number: int) -> StockStatus:
    """The line's stock status (default: available)."""
    value = value or str(StockStatus.available)
    if value not in STATUSES:
        raise ActionError(
            _("Line %(line)s: unknown stock status %(status)s.", line=number, status=value)
        )
    return StockStatus(value)


def _check_scrappable(lot, status: StockStatus, number: int) -> None:
    """Good stock is never scrapped: only nonconforming goods or an expired lot."""
    if status != StockStatus.available:
        return
    if lot is None or not is_expired(lot.expiry_date, business_today()):
        raise ActionError(
            _("Line %(line)s: only nonconforming goods or an expired lot may be scrapped.",
              line=number)
        )  # fmt: skip
