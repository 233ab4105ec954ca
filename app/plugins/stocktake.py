"""Built-in stocktake (盘点) actions: open a count, record a count sheet, post or abort the count.

The count itself lives in the kernel (``app.kernel.stocktake``), keyed by the stocktake record's
number. Counters each fill their own count sheet (``stocktake_count``) by scanning on a phone; its
submission adds one count entry per line, so any number of counters count at once::

    - action: open_stocktake          # on the stocktake: lock + snapshot
      params: {location: location, blind: blind, items: items, item: item}
    - action: record_count            # on a count sheet: its lines become count entries
      params: {stocktake: stocktake, location: location, lines: lines, item: item, lot: lot,
               expiry_date: expiry_date, serial: serial, status: status, quantity: quantity}
    - action: review_stocktake        # approval on_pending: in review, no more count sheets
    - action: resume_stocktake        # approval on_reject: back to counting
    - action: post_stocktake          # on the stocktake's approval: post the variance
    - action: abort_stocktake         # on the stocktake: release the lock, post nothing
"""

from __future__ import annotations

from app.i18n import _
from app.kernel.errors import KernelError
from app.kernel.items import Item
from app.kernel.stock import StockStatus
from app.kernel.stocktake import (
    StocktakeError,
    abort_stocktake,
    add_count,
    approve_stocktake,
    open_stocktake,
    resume_counting,
    stocktake_of,
    submit_stocktake,
)
from app.kernel.users import User
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError

_NO_PARAMS = {"type": "object", "additionalProperties": False}


class OpenStocktake(Action):
    name = "open_stocktake"
    label = {
        "zh_CN": "开始盘点：锁定地点并拍快照",
        "en": "Open the count: lock the location and take the snapshot",
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["location"],
        "properties": {
            "location": common.FIELD,
            "blind": common.FIELD,
            "items": common.FIELD,
            "item": common.FIELD,
        },
    }

    def run(self, context: ActionContext) -> None:
        params, data = context.params, context.record.data or {}
        location = common.location(context, params["location"])
        lines = data.get(params["items"]) or [] if params.get("items") else []
        items = [common.item(context, line, params.get("item", "item")) for line in lines]
        open_stocktake(
            context.session, common.document_of(context), location, context.user,
            items=items, blind=bool(data.get(params["blind"])) if params.get("blind") else False,
        )  # fmt: skip


class RecordCount(Action):
    name = "record_count"
    label = {"zh_CN": "记录盘点表的点数", "en": "Record a count sheet's counts"}
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["stocktake", "lines", "item", "quantity"],
        "properties": {
            name: common.FIELD
            for name in (
                "stocktake",
                "location",
                "lines",
                "item",
                "lot",
                "expiry_date",
                "serial",
                "status",
                "quantity",
            )
        },  # fmt: skip
    }

    def run(self, context: ActionContext) -> None:
        params, data = context.params, context.record.data or {}
        stocktake_record = context.records.read("stocktake", data.get(params["stocktake"]))
        if stocktake_record is None or not stocktake_record.number:
            raise ActionError(_("Choose the stocktake this count sheet belongs to."))
        stocktake = stocktake_of(context.session, stocktake_record.number)
        location = common.location(context, params.get("location"))
        if location is not None and location.id != stocktake.location_id:
            raise ActionError(
                _("Stocktake %(document)s counts another location, not %(location)s.",
                  document=stocktake.document, location=location.code)
            )  # fmt: skip
        for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
            self._count(context, stocktake, number, line)

    @staticmethod
    def _count(context: ActionContext, stocktake, number: int, line: dict) -> None:
        params = context.params
        the_item: Item = common.item(context, line, params["item"])
        status = (line.get(params["status"]) if params.get("status") else None) or "available"
        if status not in {str(s) for s in StockStatus if s != StockStatus.in_transit}:
            raise ActionError(
                _("Line %(line)s: unknown stock status %(status)s.", line=number, status=status)
            )
        try:  # the lot and the serial are checked against the item too: name the line
            the_lot = common.lot(context, the_item, line, params)
            add_count(
                context.session, stocktake, the_item, common.quantity(line, params["quantity"]),
                lot=the_lot, unit=common.unit(context, the_item, line, params, the_lot),
                status=StockStatus(status), user=context.user,
            )  # fmt: skip
        except StocktakeError:  # about the count (closed, in review), not about this line
            raise
        except KernelError as error:  # name the line it is about: its words and its field
            error.message = _("Line %(line)s: %(error)s", line=number, error=error.message)
            error.line = error.line or number  # the engine names it ``lines[0].lot``
            raise


class ReviewStocktake(Action):
    """The count goes to variance review: the kernel takes no count sheet until it returns.

    Refused while a count sheet of the count is still open (being filled, or not yet through its
    own flow): the variance would leave its lines out and show them as shortages. The count's
    row is locked first (``submit_stocktake``), so the sheets being submitted at this moment are
    through before their states are read, and a sheet submitted after is refused in review.
    """

    name = "review_stocktake"
    label = {"zh_CN": "盘点进入差异审核", "en": "Send the count to variance review"}
    params_schema = _NO_PARAMS

    def run(self, context: ActionContext) -> None:
        stocktake = stocktake_of(context.session, common.document_of(context))
        submit_stocktake(context.session, stocktake, context.user)
        sheets = _open_sheets(context)
        if sheets:
            raise OpenCountSheets(stocktake.document, sheets)


#: The form of the counters' count sheets (naming their stocktake in an indexed link).
COUNT_SHEET = "stocktake_count"
#: How many open sheets a refusal lists before it says how many more there are.
SHOWN = 10


class OpenCountSheets(ActionError):
    """Count sheets of the count are still open: each counter submits (or cancels) theirs."""

    def __init__(self, document: str, sheets: list[str]):
        listed = ", ".join(sheets[:SHOWN])
        if len(sheets) > SHOWN:
            listed = _("%(sheets)s and %(more)s more", sheets=listed, more=len(sheets) - SHOWN)
        super().__init__(
            _("Count sheets of %(document)s are still open: %(sheets)s. Their lines are not in "
              "the count yet. Each counter submits their sheet (or cancels it if it was started "
              "by mistake); then submit the count for review.",
              document=document, sheets=listed)
        )  # fmt: skip


def _open_sheets(context: ActionContext) -> list[str]:
    """The count sheets of this stocktake not yet through their flow (录入中, or any other state
    that is not final), as "number (counter)", oldest first; among those of the count's location
    (a sheet for another is refused on submission and never counts)."""
    return [
        _("%(sheet)s (%(counter)s)", sheet=sheet.number or f"#{sheet.id}",
          counter=_counter(context, sheet.created_by))
        for sheet in context.records.referring(context.record, COUNT_SHEET, open_only=True)
        if sheet.location_id == context.record.location_id
    ]  # fmt: skip


def _counter(context: ActionContext, user_id: int | None) -> str:
    user = context.session.get(User, user_id) if user_id else None
    return user.full_name if user is not None else "-"


class ResumeStocktake(Action):
    """The reviewer sent the count back: count sheets are taken again."""

    name = "resume_stocktake"
    label = {
        "zh_CN": "退回重盘：重新接收盘点表",
        "en": "Send the count back: count sheets are taken again",
    }
    params_schema = _NO_PARAMS

    def run(self, context: ActionContext) -> None:
        stocktake = stocktake_of(context.session, common.document_of(context))
        resume_counting(context.session, stocktake, context.user, reason=context.comment or "")


class PostStocktake(Action):
    name = "post_stocktake"
    label = {
        "zh_CN": "过账盘点差异并解除锁库",
        "en": "Post the count's variances and lift the lock",
    }
    params_schema = _NO_PARAMS

    def run(self, context: ActionContext) -> None:
        stocktake = stocktake_of(context.session, common.document_of(context))
        approve_stocktake(context.session, stocktake, context.user)


class AbortStocktake(Action):
    name = "abort_stocktake"
    label = {"zh_CN": "中止盘点并解除锁库", "en": "Abort the count and lift the location's lock"}
    params_schema = _NO_PARAMS

    def run(self, context: ActionContext) -> None:
        stocktake = stocktake_of(context.session, common.document_of(context))
        abort_stocktake(context.session, stocktake, context.user, reason=context.comment or "")
