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

``check_fefo`` holds the picker to it (近效期先出): a line picking a lot while a lot of the same
item that expires earlier lies free at the source is refused, unless the line says why (the
earlier lot would not sell in time where the goods go, the customer named the lot, its packs are
damaged…) — the reason stays on the record for the inspector who asks. What the document itself
reserved (an order's allocation chose it, the customer's shelf-life rule included) is not the
picker's choice and is not checked.

``rehearse`` is what "picking done" checks with: the shipment's own action run in full inside a
SAVEPOINT that is then rolled back, so the picker hears every refusal the shipment would give
(the kernel's posting rules included) and nothing is moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from app.db import plain_quantity
from app.i18n import _
from app.kernel import reservations
from app.kernel.audit import AuditChainHead
from app.kernel.items import Item, Lot, TrackingMode, Unit, lot_of
from app.kernel.locations import Location
from app.kernel.stock import StockBalance
from app.plugins import _common as common
from app.plugins.allocation import described_pick
from app.workflow.actions import Action, ActionContext, ActionError

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


class CheckFefo(Action):
    """Refuse a picking that passes over an earlier-expiring free lot without a reason."""

    name = "check_fefo"
    label = {
        "zh_CN": "近效期先出：有更早到期的可用批号时，拣其他批号须说明原因",
        "en": "Earliest expiry first: picking past an earlier free lot needs a reason",
    }
    params_schema = common.params_schema(
        "lines", "item", "quantity", "lot", "location", optional=("reason",)
    )
    param_labels = {
        "reason": {"zh_CN": "记录未按近效期先出原因的行字段", "en": "Line field for the reason"},
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        where = common.location(context, params["location"])
        picks = _picks(context, common.lines_of(context, params["lines"]))
        reserved = _reserved_here(context, where)
        for item in {pick.item.id: pick.item for pick in picks}.values():
            own = [pick for pick in picks if pick.item.id == item.id]
            _check_item(context, item, where, own, reserved)


@dataclass(frozen=True)
class _Pick:
    """One line naming a lot: its position, item, lot, quantity and the reason it gives."""

    index: int
    item: Item
    lot: Lot
    quantity: Decimal
    reason: str | None


def _picks(context: ActionContext, lines: list[dict]) -> list[_Pick]:
    """The lines naming a lot on record with an expiry date: the only picks FEFO orders."""
    params = context.params
    picks = []
    for index, line in enumerate(lines):
        number = line.get(params["lot"])
        if not number:
            continue
        item = common.item(context, line, params["item"])
        lot = lot_of(context.session, item, str(number))
        if lot is None or lot.expiry_date is None:
            continue  # an unknown lot is the shipment's refusal; an undated one has no order
        reason = line.get(params["reason"]) if params.get("reason") else None
        picks.append(_Pick(index, item, lot, common.quantity(line, params["quantity"]), reason))
    return picks


def _reserved_here(context: ActionContext, where: Location) -> dict[int, Decimal]:
    """What this document holds at ``where``, by lot id: chosen for it, not by the picker."""
    held: dict[int, Decimal] = defaultdict(Decimal)
    for hold in reservations.reservations_of(context.session, common.document_of(context)):
        if hold.location_id == where.id and hold.lot_id is not None:
            held[hold.lot_id] += hold.quantity
    return held


def _check_item(context, item: Item, where: Location, picks: list[_Pick], reserved) -> None:
    """Refuse the first pick of ``item`` without a reason whose lot expires after a lot still
    free at ``where`` once this document's own picks are taken out of it."""
    picked: dict[int, Decimal] = defaultdict(Decimal)
    for pick in picks:
        picked[pick.lot.id] += pick.quantity
    chosen = {lot: picked[lot] - reserved.get(lot, Decimal(0)) for lot in picked}
    free = [
        (lot, available - max(chosen.get(lot.id, Decimal(0)), Decimal(0)))
        for lot, available in reservations.free_lots(context.session, item, where)
        if lot is not None and lot.expiry_date is not None
    ]
    for pick in picks:
        if pick.reason or chosen[pick.lot.id] <= 0:
            continue
        earlier = [
            (lot, left) for lot, left in free
            if left > 0 and lot.expiry_date < pick.lot.expiry_date
        ]  # fmt: skip
        if earlier:
            _refuse(context, pick, *earlier[0])


def _refuse(context: ActionContext, pick: _Pick, lot: Lot, left: Decimal) -> None:
    params = context.params
    facts = {
        "line": pick.index + 1, "item": pick.item.code, "lot": pick.lot.lot_number,
        "expiry": pick.lot.expiry_date.isoformat(), "earlier": lot.lot_number,
        "earlier_expiry": lot.expiry_date.isoformat(), "free": plain_quantity(left),
    }  # fmt: skip
    if params.get("reason"):
        message = _(
            "Line %(line)s: lot %(lot)s of %(item)s expires %(expiry)s, but lot %(earlier)s "
            "(expires %(earlier_expiry)s) has %(free)s free here: pick the earlier lot first "
            "(earliest expiry first), or choose on the line why not.",
            **facts,
        )
    else:
        message = _(
            "Line %(line)s: lot %(lot)s of %(item)s expires %(expiry)s, but lot %(earlier)s "
            "(expires %(earlier_expiry)s) has %(free)s free here: pick the earlier lot first "
            "(earliest expiry first).",
            **facts,
        )
    raise ActionError(message, f"{params['lines']}[{pick.index}].{params['lot']}")
