"""Built-in action ``fill_from_stock``: list on a draft what its location holds, lot by lot.

A storage check (养护检查) goes through the lots on the shelf; typing or scanning hundreds of them
is not how anyone starts one. This action adds a line per lot the record's ``location`` holds
available — only GSP's key items (cold chain, class III, near expiry: ``needs_close_care``)
unless the header field ``focus`` says ``all`` — with the lot's expiry and quantity, and
``line_defaults`` for the line's other fields. Lots already on the record are left as they are,
so it can be run again after a delivery::

    - action: fill_from_stock
      params: {location: location, lines: lines, item: item, lot: lot, expiry_date: expiry_date,
               quantity: quantity, focus: focus, line_defaults: {finding: normal, set_apart: "0"}}
"""

from __future__ import annotations

from app.db import plain_quantity
from app.i18n import _
from app.kernel import queries
from app.kernel.items import business_today, needs_close_care
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError

_FIELDS = common.params_schema(
    "location", "lines", "item", "lot", "quantity", optional=("expiry_date", "focus")
)


class FillFromStock(Action):
    name = "fill_from_stock"
    label = {
        "zh_CN": "按地点现有批次填入明细",
        "en": "Fill the lines from the lots the location holds",
    }
    params_schema = {
        **_FIELDS,
        "properties": {**_FIELDS["properties"], "line_defaults": {"type": "object"}},
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        where = common.location(context, params["location"])
        everything = (context.record.data or {}).get(params.get("focus") or "") == "all"
        lines = common.rows(context, params["lines"])
        listed = {(line.get(params["item"]), line.get(params["lot"]) or None) for line in lines}
        today, added = business_today(), 0
        for item, lot, on_hand in queries.lots_held(context.session, where):
            number = lot.lot_number if lot is not None else None
            if (item.id, number) in listed or not (
                everything or needs_close_care(item, lot, today)
            ):
                continue
            lines.append(self._line(params, item, lot, on_hand))
            added += 1
        if not added:
            raise ActionError(
                _("%(location)s holds nothing more to check.", location=where.name)
                if everything
                else _(
                    "%(location)s holds no key items (cold chain, class III, near expiry) that "
                    "are not on the check yet; choose all items to list everything.",
                    location=where.name,
                )
            )
        common.write_rows(context, params["lines"], lines)
        context.records.recompute(context.record)

    @staticmethod
    def _line(params: dict, item, lot, on_hand) -> dict:
        line = {**(params.get("line_defaults") or {}), params["item"]: item.id,
                params["quantity"]: plain_quantity(on_hand)}  # fmt: skip
        if lot is not None:
            line[params["lot"]] = lot.lot_number
            if params.get("expiry_date") and lot.expiry_date is not None:
                line[params["expiry_date"]] = lot.expiry_date.isoformat()
        return line
