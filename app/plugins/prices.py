"""Built-in actions ``apply_prices`` and ``withdraw_prices``: a price change (调价单) takes effect.

``apply_prices`` writes each line's new retail and wholesale price to the kernel's item prices,
from the record's date, for the location its header names (the whole chain when it names none);
sales look them up with ``price(item, location, date)``. A change approved after its date starts
on the day of approval (a price never changes in the past), and the record's date is set to it,
so the document says when the price really took effect; its formulas (the prices before) are
computed again then, as they are on that day::

    - action: apply_prices
      params: {valid_from: valid_from, location: location, lines: lines, item: item,
               retail_price: new_retail_price, wholesale_price: new_wholesale_price}

``withdraw_prices`` takes a change back before it takes effect (``params: {}``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from app.kernel.items import business_today
from app.kernel.prices import PriceLine, set_prices, withdraw_prices
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError


class ApplyPrices(Action):
    name = "apply_prices"
    label = {"zh_CN": "调价生效（写入商品价格）", "en": "Put the new prices in force"}
    params_schema = common.params_schema(
        "valid_from", "lines", "item", optional=("location", "retail_price", "wholesale_price")
    )
    param_labels = {
        "valid_from": {"zh_CN": "生效日期字段", "en": "Effective date field"},
        "retail_price": {"zh_CN": "新零售价字段", "en": "New retail price field"},
        "wholesale_price": {"zh_CN": "新批发价字段", "en": "New wholesale price field"},
    }

    def run(self, context: ActionContext) -> None:
        params, data = context.params, context.record.data or {}
        valid_from = max(_date(data.get(params["valid_from"])), business_today())
        lines = [
            PriceLine(
                common.item(context, line, params["item"]),
                _price(line, params.get("retail_price")),
                _price(line, params.get("wholesale_price")),
            )
            for line in common.lines_of(context, params["lines"])
        ]
        scope = params.get("location")  # an empty location: the whole chain
        location = common.location(context, scope) if data.get(scope or "") else None
        context.record.data = {**data, params["valid_from"]: valid_from.isoformat()}
        # the prices before, as they are now on that day: another change may have been approved
        # since this one was drafted (read before these prices are written, or they would be
        # their own "before")
        context.records.recompute(context.record, lines=True)
        set_prices(
            context.session, lines, valid_from, common.document_of(context), location, context.user
        )


class WithdrawPrices(Action):
    name = "withdraw_prices"
    label = {"zh_CN": "撤销尚未生效的调价", "en": "Withdraw prices not yet in force"}

    def run(self, context: ActionContext) -> None:
        withdraw_prices(
            context.session, common.document_of(context), user=context.user, reason=context.comment
        )


def _date(value) -> dt.date:
    try:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        raise ActionError(f"日期无效 / invalid date {value!r}") from None


def _price(line: dict, field: str | None) -> Decimal | None:
    value = line.get(field) if field else None
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ActionError(f"价格无效 / invalid price {value!r}") from None
