"""Built-in action ``suggest_picks``: the lots to pick, earliest expiry first (拣货建议).

A transfer out that a store's request made reaches the warehouse as items and quantities; which
lots leave is the picker's choice, and GSP and common sense want the earliest-expiring sellable
lot first (FEFO). Rather than look each item up in the stock view, the picker asks the record:
this action writes onto each line, as text, the lots (and for serial devices the units) the
source holds free for it — ``L1 (2027-03-31) × 4; L2 (2027-06-30) × 2`` — skipping expired,
recalled and quarantined lots as the kernel's FEFO allocation does, and saying what is short.
Lines of the same item share the stock in their order. Nothing is reserved or moved: the
picker still scans what they take, and the review compares those scans.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from app.db import plain_quantity
from app.kernel import reservations
from app.kernel.errors import InsufficientStock
from app.kernel.items import Item, TrackingMode
from app.kernel.locations import Location
from app.plugins import _common as common
from app.plugins.allocation import described_pick
from app.workflow.actions import Action, ActionContext


class SuggestPicks(Action):
    name = "suggest_picks"
    label = {
        "zh_CN": "按近效期先出写出每行应拣的批号（不预占）",
        "en": "Write each line's lots to pick, earliest expiry first (nothing reserved)",
    }
    params_schema = common.params_schema("lines", "item", "quantity", "location", "suggestion")

    def run(self, context: ActionContext) -> None:
        params = context.params
        where = common.location(context, params["location"])
        lines = [dict(line) for line in common.lines_of(context, params["lines"])]
        items = [common.item(context, line, params["item"]) for line in lines]
        wanted: dict[int, Decimal] = defaultdict(Decimal)
        for line, item in zip(lines, items, strict=True):
            wanted[item.id] += common.quantity(line, params["quantity"])
        free = {item.id: _free(context, item, wanted[item.id], where) for item in items}
        taken: set[str] = set()  # serial units already proposed to an earlier line
        for line, item in zip(lines, items, strict=True):
            line[params["suggestion"]] = (
                None
                if item.tracking == TrackingMode.none
                else _take(context, item, free[item.id], line, params, where, taken)
            )
        common.write_rows(context, params["lines"], lines)


def _free(context: ActionContext, item: Item, quantity: Decimal, where: Location) -> list[list]:
    """The FEFO picks of up to ``quantity`` of ``item`` free at ``where``, as [lot, quantity]."""
    try:
        picks = reservations.allocate(context.session, item, quantity, where)
    except InsufficientStock as short:
        available = Decimal(short.available)
        picks = reservations.allocate(context.session, item, available, where) if available else []
    return [[lot, amount] for lot, amount in picks]


def _take(context, item: Item, free: list[list], line: dict, params, where, taken: set) -> str:
    """The picks of this line, taken from the front of ``free``, and what is short."""
    wanted = common.quantity(line, params["quantity"])
    parts = []
    while wanted > 0 and free:
        lot, amount = free[0]
        take = min(amount, wanted)
        parts.append(described_pick(context.session, item, lot, take, where, taken))
        wanted -= take
        free[0][1] -= take
        if free[0][1] <= 0:
            free.pop(0)
    if wanted > 0:
        parts.append(f"缺货 / short {plain_quantity(wanted)}")
    return "; ".join(parts)
