"""Built-in action ``suggest_picks``: the lots to pick, earliest expiry first (拣货建议).

A transfer out that a store's request made reaches the warehouse as items and quantities; which
lots leave is the picker's choice, and GSP and common sense want the earliest-expiring sellable
lot first (FEFO). Rather than look each item up in the stock view, the picker asks the record:
this action writes onto each line, as text, the lots (and for serial devices the units) the
source holds free for it — ``L1 (2027-03-31) × 4; L2 (2027-06-30) × 2`` — skipping expired,
recalled and quarantined lots as the kernel's FEFO allocation does, and saying what is short.
Lines of the same item share the stock in their order; a line whose lot is already named (an
order's allocation chose and reserved it, or the picker scanned it) gets no suggestion, and what
it takes is not offered to the others. Nothing is reserved or moved: the picker still scans
what they take, and the review compares those scans.

``rehearse`` is what "picking done" checks with: the shipment's own action run in full inside a
SAVEPOINT that is then rolled back, so the picker hears every refusal the shipment would give
(the kernel's posting rules included) and nothing is moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy.orm import Session

from app.db import plain_quantity
from app.kernel import reservations
from app.kernel.audit import AuditChainHead
from app.kernel.items import Item, Lot, TrackingMode, Unit
from app.kernel.locations import Location
from app.kernel.stock import StockBalance
from app.plugins import _common as common
from app.plugins.allocation import described_pick
from app.workflow.actions import Action, ActionContext

#: What a posting writes with Core and mirrors into the objects this session loaded (without
#: marking them changed): a rolled-back SAVEPOINT leaves those saying what it undid.
MIRRORED = (StockBalance, Unit, AuditChainHead)


def rehearse(session: Session, ship: Callable[[], None]) -> None:
    """Run ``ship`` — a shipment's action — for its refusals only: it runs in full (lots and
    units read, holds released, the kernel's ``post_movements`` validating, locking and checking
    what is free), inside a SAVEPOINT that is rolled back whether it passed or not. The kernel
    has no validate-only entry: what is free is known only once the balances are locked, and
    its rule pass alone would miss the quantity. Its refusal is raised as it came."""
    savepoint = session.begin_nested()  # flushes first: what the record holds is kept
    try:
        ship()
    finally:
        savepoint.rollback()
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, MIRRORED):
                session.expire(loaded)


class SuggestPicks(Action):
    name = "suggest_picks"
    label = {
        "zh_CN": "按近效期先出写出每行应拣的批号（不预占）",
        "en": "Write each line's lots to pick, earliest expiry first (nothing reserved)",
    }
    params_schema = common.params_schema(
        "lines", "item", "quantity", "location", "suggestion", optional=("lot",)
    )

    def run(self, context: ActionContext) -> None:
        params = context.params
        where = common.location(context, params["location"])
        lines = [dict(line) for line in common.lines_of(context, params["lines"])]
        items = [common.item(context, line, params["item"]) for line in lines]
        named = [line.get(params["lot"]) if params.get("lot") else None for line in lines]
        taken_by_named = _taken_by_named(context, lines, items, named, where)
        free: dict[int, list[list]] = {}
        taken: set[str] = set()  # serial units already proposed to an earlier line
        for line, item, lot in zip(lines, items, named, strict=True):
            line[params["suggestion"]] = None
            if item.tracking == TrackingMode.none or lot:
                continue
            if item.id not in free:
                free[item.id] = _free(context, item, where, taken_by_named)
            wanted = common.quantity(line, params["quantity"])
            line[params["suggestion"]] = _take(context, item, free[item.id], wanted, where, taken)
        common.write_rows(context, params["lines"], lines)


def _taken_by_named(context, lines, items, named, where) -> dict[tuple[int, str], Decimal]:
    """What the lines naming a lot (``named``, each line's lot or None) take of it that is still
    counted free: their quantity less what this record itself reserved of the lot (an order's
    allocation reserved those)."""
    taken: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for line, item, lot in zip(lines, items, named, strict=True):
        if lot:
            taken[(item.id, str(lot))] += common.quantity(line, context.params["quantity"])
    for hold in reservations.reservations_of(context.session, common.document_of(context)):
        held = context.session.get(Lot, hold.lot_id) if hold.lot_id else None
        if hold.location_id == where.id and held is not None:
            taken[(hold.item_id, held.lot_number)] -= hold.quantity
    return {key: quantity for key, quantity in taken.items() if quantity > 0}


def _free(context, item: Item, where: Location, taken_by_named: dict) -> list[list]:
    """The lots of ``item`` free at ``where`` for the lines to share, FEFO, as [lot, quantity]:
    what the kernel counts free less what lines naming a lot take."""
    free = []
    for lot, available in reservations.free_lots(context.session, item, where):
        number = lot.lot_number if lot is not None else ""
        left = available - taken_by_named.get((item.id, number), Decimal(0))
        if left > 0:
            free.append([lot, left])
    return free


def _take(context, item: Item, free: list[list], wanted: Decimal, where, taken: set) -> str:
    """The picks of ``wanted`` taken from the front of ``free``, and what is short."""
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
