"""Order allocation actions (订单分配): where each line of an order comes from, and why.

- ``allocate_order`` (confirm) plans every line with the kernel (``allocation.plan``) by the
  rules of the form's ``allocation`` block for the record's kind, then makes the plan real in one
  go: the ordering location's part is reserved under the order (lots and serials written onto the
  line, as ``allocate_fefo`` always did); a part another location fills is reserved there and
  either
  - ``transfer``: a transfer out from that location to the ordering one, naming the order in
    ``sales_order`` and each line's ``order_line``, holding its goods until it ships; when it
    arrives, ``hold_for_order`` holds the goods for the order at the store; or
  - ``direct``: a fulfilment order — a record of the same form at that location, naming this one
    in the ``parent`` field, confirmed at once (it reserves there) and delivered by its staff.
  Each line gets the reason; ``fulfilments`` gets one row per line and location (rule, distance,
  mode, document, lots). Two orders racing for the same last goods: the loser's reservation is
  refused by the kernel's lock and re-check, and it plans again from what is left (a few times),
  so it is allocated elsewhere or refused cleanly.
- ``allocate_fefo``: the ordering location only (``allocate_order`` with just ``own_location``).
- ``release_allocation`` (cancel, reopen) gives back all the order holds and cancels the
  documents its allocation made; a fulfilment order already delivered cannot be undone that way.
- ``hold_for_order`` (receiving a transfer in) holds what arrived for the order it was sent for.
- ``report_to_order`` (a transfer out cancelled or shipped short, a transfer in received short or
  damaged, a fulfilment order cancelled) tells the order its transfer or fulfilment order will
  not bring all it was to: the order's ``fulfilments`` row gets the ``shortfall`` (缺口) and a
  ``note`` (说明) saying why, the order line its ``unallocated`` (待重新分配) quantity, and the
  order's creator an inbox message.
- ``reallocate_order`` (the order's ``reallocate``, confirmed → confirmed) allocates only the
  shortfall by the same rules (own stock, nearest, split) and clears it. The delivery is refused
  (``ShortfallRemains``) while any shortfall remains.

``transfers_arrived`` and ``direct_quantities`` let the delivery check what the order waits for
and what the store itself hands over.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from app.db import plain_quantity
from app.i18n import _
from app.kernel import allocation, reservations, transfers
from app.kernel.allocation import Plan, Rule, Rules
from app.kernel.errors import (
    AllocationImpossible,
    InsufficientStock,
    LocationLocked,
    LotBlocked,
    LotExpired,
)
from app.kernel.items import Item, Lot, TrackingMode, Unit, UnitStatus, business_today
from app.kernel.locations import Location, LocationType
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError
from app.workflow.models import inbox_message

#: How many times an allocation that lost a race for the goods is planned again.
ATTEMPTS = 3
#: What another writer may have changed between the plan and the reservation: plan again.
STALE_PLAN = (InsufficientStock, LocationLocked, LotBlocked, AllocationImpossible)
#: The form of the transfers an allocation makes, and the transitions it fires.
TRANSFER_FORM = "transfer_out"
#: The states of a sales order still waiting: for its goods (confirmed), or picked and waiting for
#: its outbound review (picked). A transfer that arrives or falls short still concerns it.
WAITING = ("confirmed", "picked")
CANCEL, CANCELLED = "cancel", "cancelled"
OWN, TRANSFER, DIRECT = "own", "transfer", "direct"
#: The keys of a ``fulfilments`` row for what it will not bring (still to re-allocate) and why.
SHORTFALL, NOTE = "shortfall", "note"


class ShortfallRemains(ActionError):
    """Part of the order lost its allocation (a transfer cancelled, short or damaged) and has not
    been re-allocated: the order cannot be delivered."""

    field = "fulfilments"

    def __init__(self, line: int, quantity: Decimal, note: str | None):
        self.line, self.quantity, self.note = line, quantity, note
        super().__init__(
            _(
                "Line %(line)s: %(quantity)s units still to re-allocate (%(note)s): re-allocate "
                "the order (or reopen it) before delivering.",
                line=line,
                quantity=plain_quantity(quantity),
                note=note or "-",
            )
        )


def rules_of(definition: dict, data: dict) -> tuple[Rules, str]:
    """The kernel rules and the fulfilment mode the form's ``allocation`` block gives a record:
    its ``default``, with the keys of ``kinds[<value of the field by names>]`` replacing it.
    A form without the block allocates at the ordering location only."""
    block = definition.get("allocation")
    if not block:
        return Rules(order=(Rule.own_location,)), TRANSFER
    merged = dict(block["default"])
    if block.get("by"):
        merged.update((block.get("kinds") or {}).get(str(data.get(block["by"])), {}))
    rules = Rules(
        order=tuple(Rule(rule) for rule in merged["rules"]),
        location_types=tuple(
            LocationType(kind) for kind in merged.get("location_types", ("store", "warehouse"))
        ),
        max_distance_km=merged.get("max_distance_km"),
        min_shelf_life_days=merged.get("min_shelf_life_days", 0),
    )
    return rules, merged.get("fulfilment", TRANSFER)


def _lot_key(lot: Lot | None) -> int:
    return lot.id if lot is not None else 0


def _decimal(value) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def shortfalls(rows: list[dict]) -> dict[int, Decimal]:
    """What is still to re-allocate, by order line (lines without any left out)."""
    missing: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        if _decimal(row.get(SHORTFALL)) > 0:
            missing[int(row["line"])] += _decimal(row.get(SHORTFALL))
    return dict(missing)


def describe(lot: Lot, quantity: Decimal, serials: list[str] | None = None) -> str:
    """``L1 (2027-03-31) × 2``, with ``: SN1, SN2`` for serial units: what the clerk picks."""
    expiry = lot.expiry_date.isoformat() if lot.expiry_date else "-"
    text = f"{lot.lot_number} ({expiry}) × {plain_quantity(quantity)}"
    return text + (": " + ", ".join(serials) if serials else "")


def free_serials(session, item: Item, lot: Lot, where: Location, taken: set) -> list[str]:
    """The serial numbers of ``lot`` in stock at ``where`` not yet proposed (``taken``)."""
    in_stock = session.scalars(
        select(Unit.serial)
        .where(
            Unit.item_id == item.id,
            Unit.lot_id == lot.id,
            Unit.location_id == where.id,
            Unit.status == UnitStatus.in_stock,
            Unit.recalled.is_(False),
        )
        .order_by(Unit.serial)
    ).all()
    return [serial for serial in in_stock if serial not in taken]


def described_pick(session, item: Item, lot: Lot, quantity: Decimal, where, taken: set) -> str:
    """What the clerk picks of ``lot`` (``describe``), naming the serial units of a serial item:
    the first in stock at ``where`` not in ``taken``, which they join."""
    serials = None
    if item.tracking == TrackingMode.serial:
        serials = free_serials(session, item, lot, where, taken)[: int(quantity)]
        taken.update(serials)
    return describe(lot, quantity, serials)


# --- allocating ------------------------------------------------------------------------------


class AllocateOrder(Action):
    """Allocate every line by the form's rules; reserve and create what the plan needs."""

    name = "allocate_order"
    label = {
        "zh_CN": "按表单的分配规则为订单分配货源并生成单据",
        "en": "Allocate the order by the form's rules and make the documents it needs",
    }
    params_schema = common.params_schema(
        "lines", "item", "quantity", "location", "allocation",
        optional=("reason", "fulfilments", "parent", "unallocated"),
    )  # fmt: skip
    #: ``allocate_fefo``: the ordering location only, whatever the form declares.
    own_only = False

    def rules(self, context: ActionContext) -> tuple[Rules, str]:
        data = context.record.data or {}
        if self.own_only:
            return Rules(order=(Rule.own_location,)), TRANSFER
        rules, mode = rules_of(context.records.definition(context.record.form), data)
        if self.is_fulfilment(context):
            # a fulfilment order: its parent chose this location, it does not look further
            rules = dataclasses.replace(rules, order=(Rule.own_location,))
        return rules, mode

    def run(self, context: ActionContext) -> None:
        rules, mode = self.rules(context)
        # a fulfilment order planned by its parent lets the parent plan again
        attempts = 1 if self.is_fulfilment(context) else ATTEMPTS
        for attempt in range(1, attempts + 1):
            savepoint = context.session.begin_nested()
            try:
                data = self.attempt(context, rules, mode)
            except _Outdated as outdated:
                savepoint.rollback()
                if attempt == attempts:
                    raise outdated.error from None
                continue
            savepoint.commit()
            context.record.data = data
            return

    def attempt(self, context: ActionContext, rules: Rules, mode: str) -> dict:
        """One try at the plan; ``_Outdated`` when another writer took the goods meanwhile."""
        return _Allocation(context, rules, mode).run()

    def is_fulfilment(self, context: ActionContext) -> bool:
        parent = context.params.get("parent")
        return bool(parent and (context.record.data or {}).get(parent))


class _Outdated(Exception):
    """The plan met stock another writer changed since it was read: plan again."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class AllocateFefo(AllocateOrder):
    """Reserve every line at the selling location, earliest expiry first; show the picks."""

    name = "allocate_fefo"
    label = {
        "zh_CN": "在销售地点按近效期先出预占每行",
        "en": "Reserve each line at the selling location, earliest expiry first",
    }
    params_schema = common.params_schema("lines", "item", "quantity", "location", "allocation")
    own_only = True


class _Allocation:
    """One attempt: plan all lines, then reserve and create documents; returns the new data."""

    def __init__(self, context: ActionContext, rules: Rules, mode: str):
        self.context, self.rules, self.mode = context, rules, mode
        self.session, self.params = context.session, context.params
        self.where = common.location(context, self.params["location"])
        self.document = common.document_of(context)
        self.proposed_serials: set[str] = set()  # two lines of one item propose different units
        self.fulfilments: list[dict] = []

    def run(self) -> dict:
        params = self.params
        lines = [dict(line) for line in common.lines_of(self.context, params["lines"])]
        plans = self._plans(lines)
        try:
            return self._make(lines, plans)
        except STALE_PLAN as error:
            raise _Outdated(error) from None

    def _make(self, lines: list[dict], plans) -> dict:
        """Reserve and create what ``plans`` say; a refusal here means the plan is outdated."""
        params = self.params
        remote: dict[int, list[tuple[int, dict, Item, list]]] = {}
        for number, line, item, plan in plans:
            proposed = []
            for picks in plan.by_location().values():
                place = picks[0].location
                if place.id == self.where.id:
                    proposed += self._reserve_own(number, item, picks)
                else:
                    remote.setdefault(place.id, []).append((number, line, item, picks))
                self.fulfilments.append(self._row(number, item, picks))
            self._describe(line, proposed, plan.reason)
        for parts in remote.values():
            made = self._transfer(parts) if self.mode == TRANSFER else self._direct(parts)
            source = parts[0][3][0].location.id
            for row in self.fulfilments:
                if row["location"] == source:
                    row["document"] = made
        data = {**(self.context.record.data or {}), params["lines"]: lines}
        if params.get("fulfilments"):
            data[params["fulfilments"]] = self.fulfilments
        return data

    def _describe(self, line: dict, proposed: list[str], reason: str) -> None:
        """Write the picks and the reason onto the order line (nothing is short yet)."""
        line[self.params["allocation"]] = "; ".join(proposed) or None
        if self.params.get("reason"):
            line[self.params["reason"]] = reason
        if self.params.get("unallocated"):
            line[self.params["unallocated"]] = None

    def _plans(
        self, lines: list[dict], quantities: dict[int, Decimal] | None = None
    ) -> list[tuple[int, dict, Item, Plan]]:
        """Every line's plan (or, with ``quantities``, of those lines only, for that quantity);
        a later line of the same item sees what earlier ones took."""
        today = business_today()
        taken: dict[int, dict[tuple[int, int], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        plans = []
        for number, line in enumerate(lines, start=1):
            if quantities is not None and number not in quantities:
                continue
            item = common.item(self.context, line, self.params["item"])
            if quantities is None:
                quantity = common.quantity(line, self.params["quantity"])
            else:
                quantity = quantities[number]
            if item.tracking == TrackingMode.serial and quantity != quantity.to_integral_value():
                raise ActionError(
                    _(
                        "Line %(row)s: %(item)s is sold by the unit; %(quantity)s is not a "
                        "whole number.",
                        row=number,
                        item=item.code,
                        quantity=quantity,
                    )
                )
            try:
                plan = allocation.plan(
                    self.session, item, quantity, self.where, self.rules, today, taken[item.id]
                )
            except AllocationImpossible as refused:  # the clerk sees which line cannot be filled
                refused.field = f"{self.params['lines']}[{number - 1}].{self.params['quantity']}"
                raise
            for pick in plan.picks:
                taken[item.id][(pick.location.id, _lot_key(pick.lot))] += pick.quantity
            plans.append((number, line, item, plan))
        return plans

    def _reserve_own(self, number: int, item: Item, picks) -> list[str]:
        proposed = []
        for pick in picks:
            reservations.reserve(
                self.session, self.document, number, item, pick.quantity, self.where,
                lot=pick.lot, user=self.context.user,
            )  # fmt: skip
            if pick.lot is not None:
                proposed.append(
                    described_pick(self.session, item, pick.lot, pick.quantity, self.where,
                              self.proposed_serials)
                )  # fmt: skip
        return proposed

    def _row(self, number: int, item: Item, picks) -> dict:
        first = picks[0]
        own = first.location.id == self.where.id
        distance = first.distance_km
        return {
            "line": number,
            "item": item.id,
            "quantity": plain_quantity(sum((pick.quantity for pick in picks), Decimal(0))),
            "location": first.location.id,
            "rule": str(first.rule),
            "distance_km": None if distance is None else f"{distance:.1f}",
            "mode": OWN if own else self.mode,
            "document": None,
            "received": None if own or self.mode != TRANSFER else "0",
            "lots": "; ".join(
                f"{pick.lot.lot_number} × {plain_quantity(pick.quantity)}"
                for pick in picks
                if pick.lot is not None
            )
            or None,
        }

    def _transfer(self, parts) -> str:
        """A transfer out from the fulfilling location to the ordering one, its goods held."""
        source = parts[0][3][0].location
        lines, held, serials_taken = [], [], set()
        for number, _line, item, picks in parts:
            for pick in picks:
                lot = pick.lot
                base = {
                    "item": item.id,
                    "lot": lot.lot_number if lot else None,
                    "expiry_date": lot.expiry_date.isoformat() if lot and lot.expiry_date else None,
                    "order_line": number,
                }
                if item.tracking == TrackingMode.serial:
                    serials = free_serials(self.session, item, lot, source, serials_taken)
                    serials = serials[: int(pick.quantity)]
                    serials_taken.update(serials)
                    lines += [{**base, "serial": serial, "quantity": "1"} for serial in serials]
                    held += [(item, lot, Decimal(1))] * len(serials)
                else:
                    lines.append({**base, "quantity": plain_quantity(pick.quantity)})
                    held.append((item, lot, pick.quantity))
        record = self.context.records.create(
            TRANSFER_FORM,
            {"from_location": source.id, "to_location": self.where.id,
             "sales_order": self.document, "lines": lines},
        )  # fmt: skip
        for number, (item, lot, quantity) in enumerate(held, start=1):
            reservations.reserve(
                self.session, record.number, number, item, quantity, source, lot=lot,
                user=self.context.user,
            )  # fmt: skip
        return record.number

    def _direct(self, parts) -> str:
        """A fulfilment order at the fulfilling location for the same customer, confirmed."""
        params, data = self.params, self.context.record.data or {}
        if not params.get("parent"):
            raise ActionError(
                "直发需要 parent 参数 / allocate_order needs the parameter 'parent' to ship "
                "directly"
            )
        source = parts[0][3][0].location
        written = {params["allocation"], params.get("reason"), params.get("unallocated")}
        lines = []
        for _order_line, line, _item, picks in parts:
            quantity = sum((pick.quantity for pick in picks), Decimal(0))
            copied = {key: value for key, value in line.items() if key not in written}
            lines.append({**copied, params["quantity"]: plain_quantity(quantity)})
        header = {key: value for key, value in data.items() if not isinstance(value, list)}
        header.update({params["location"]: source.id, params["parent"]: self.document,
                       params["lines"]: lines})  # fmt: skip
        record = self.context.records.create(self.context.record.form, header)
        self.context.records.fire(record, self.confirmation())
        return record.number

    def confirmation(self) -> str:
        """The transition a new fulfilment order goes through: the one confirming this order."""
        return self.context.transition


# --- releasing -------------------------------------------------------------------------------


class FulfilmentStillCountedOn(ActionError):
    """A fulfilment order is reopened while the order it ships for still counts on it: that
    order would go on promising goods nobody holds any more."""

    def __init__(self, number: str, order: str, field: str):
        self.field = field
        super().__init__(
            _("%(number)s ships for order %(order)s, which counts on it: it cannot be reopened. "
              "Cancel it instead (order %(order)s then learns the shortfall and re-allocates "
              "it), or reopen order %(order)s.", number=number, order=order)
        )  # fmt: skip


class ReleaseAllocation(Action):
    """Give back whatever the order holds (nothing held is fine), cancel the documents its
    allocation made and clear the proposals. With ``parent`` (the reopen), a fulfilment order
    the order it ships for still counts on is refused: it is cancelled instead, which tells that
    order (``report_to_order``)."""

    name = "release_allocation"
    label = {
        "zh_CN": "释放订单的预占并取消其分配生成的单据",
        "en": "Release the order's holds and cancel the documents its allocation made",
    }
    params_schema = common.params_schema(
        "lines", "allocation", optional=("reason", "fulfilments", "unallocated", "parent")
    )

    def run(self, context: ActionContext) -> None:
        params = context.params
        document = common.document_of(context)
        if params.get("parent"):
            _not_counted_on(context, params["parent"], params.get("fulfilments", "fulfilments"))
        if reservations.reservations_of(context.session, document):
            reservations.release(context.session, document, user=context.user)
        if params.get("fulfilments"):
            made = {(row.get("mode"), row.get("document"))
                    for row in common.rows(context, params["fulfilments"])}  # fmt: skip
            # the order forgets its rows first: the transfers it cancels have nothing to report
            context.record.data = {**context.record.data, params["fulfilments"]: []}
            for mode, number in sorted(made, key=str):
                if number and mode in (TRANSFER, DIRECT):
                    _undo(context, mode, number, document)
        lines = common.rows(context, params["lines"])
        for line in lines:
            line[params["allocation"]] = None
            for field in ("reason", "unallocated"):
                if params.get(field):
                    line[params[field]] = None
        common.write_rows(context, params["lines"], lines)


def _not_counted_on(context: ActionContext, parent_field: str, fulfilments: str) -> None:
    """Refuse when the order named in ``parent_field`` still waits and one of its
    ``fulfilments`` rows is this record."""
    number = (context.record.data or {}).get(parent_field)
    parent = context.records.by_number(context.record.form, number) if number else None
    if parent is None or parent.state not in WAITING:
        return
    here = common.document_of(context)
    rows = (parent.data or {}).get(fulfilments) or []
    if any(row.get("mode") == DIRECT and row.get("document") == here for row in rows):
        raise FulfilmentStillCountedOn(here, parent.number, parent_field)


def _undo(context: ActionContext, mode: str, number: str, order: str) -> None:
    """Cancel a document the allocation made while it can be: a transfer not shipped yet (one
    shipped arrives as the store's own stock), a fulfilment order not delivered yet."""
    form = TRANSFER_FORM if mode == TRANSFER else context.record.form
    record = context.records.by_number(form, number, for_update=True)
    if record is None or record.state == CANCELLED:
        return
    if mode == DIRECT and record.state == "delivered":
        raise ActionError(
            _(
                "%(number)s has already been delivered to the customer: it cannot be undone "
                "with this order; take the goods back with a customer return.",
                number=number,
            )
        )
    if mode == TRANSFER and record.state != "draft":
        return
    comment = f"随订单 {order} 撤销 / undone with order {order}"
    context.records.fire(record, CANCEL, comment)


# --- holding what arrives --------------------------------------------------------------------


class HoldForOrder(Action):
    """Hold what a transfer in just received for the order it was sent for (if that order is
    still confirmed and still counts on this transfer): reserved under the order's line at the
    store, the lots added to the line's proposal and the arrival to its ``fulfilments`` row.
    Goods that arrived anywhere but the order's own store are not held: an order holds goods
    only where it hands them over (``report_to_order`` then tells it the shortfall)."""

    name = "hold_for_order"
    label = {
        "zh_CN": "将调入的货物为其订单保留",
        "en": "Hold what a transfer brought for the order it was sent for",
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["order", "lines", "order_line"],
        "properties": {
            "order": common.FIELD,  # header field: the order's number
            "lines": common.FIELD,
            "order_line": common.FIELD,  # line field: the order's line number
            "form": common.FIELD,  # the order's form (default sales_order)
            "order_lines": common.FIELD,  # the order's fields (defaults: lines, allocation,
            "allocation": common.FIELD,  # fulfilments)
            "fulfilments": common.FIELD,
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        received = context.outputs.get("received_transfer_lines") or []
        number = (context.record.data or {}).get(params["order"])
        order = context.records.by_number(params.get("form", "sales_order"), number,
                                          for_update=True)  # fmt: skip
        if not received or order is None or order.state not in WAITING:
            return  # the order was cancelled or reopened: the goods are the store's stock
        order_lines = params.get("order_lines", "lines")
        allocation_field = params.get("allocation", "allocation")
        fulfilments_field = params.get("fulfilments", "fulfilments")
        data = order.data or {}
        rows = [dict(row) for row in data.get(fulfilments_field) or []]
        lines = [dict(line) for line in data.get(order_lines) or []]
        given = common.rows(context, params["lines"])
        entries = context.outputs.get("received_entries") or {}
        for transfer_line, quantity in received:
            if transfer_line.destination_id != order.location_id:
                continue  # it went to another store: its stock there, a shortfall for the order
            entered = entries.get(transfer_line.line) or (
                given[transfer_line.line - 1] if transfer_line.line <= len(given) else {}
            )
            row = _expecting(rows, transfer_line, entered.get(params["order_line"]))
            if row is None:
                continue
            hold = min(quantity, Decimal(row["quantity"]) - Decimal(row["received"] or 0))
            if hold <= 0:
                continue
            try:
                reservations.reserve(
                    context.session, order.number, int(row["line"]), transfer_line.item, hold,
                    transfer_line.destination, lot=transfer_line.lot, user=context.user,
                )  # fmt: skip
            except (LotBlocked, LotExpired):
                continue  # recalled or expired on the road: it arrives, but is sold to nobody
            row["received"] = plain_quantity(Decimal(row["received"] or 0) + hold)
            if transfer_line.lot is not None:
                line = lines[int(row["line"]) - 1]
                serials = [transfer_line.unit.serial] if transfer_line.unit else None
                text = describe(transfer_line.lot, hold, serials)
                line[allocation_field] = "; ".join(filter(None, [line.get(allocation_field), text]))
        order.data = {**data, order_lines: lines, fulfilments_field: rows}


def _expecting(rows: list[dict], transfer_line, order_line) -> dict | None:
    """The order's ``fulfilments`` row this transfer line fills: same transfer, same item, the
    order line the transfer names (any line of the item when the clerk re-scanned it)."""
    for row in rows:
        if (row.get("mode") == TRANSFER and row.get("document") == transfer_line.document
                and int(row["item"]) == transfer_line.item_id
                and (order_line in (None, "") or int(row["line"]) == int(order_line))
                and Decimal(row["received"] or 0) < Decimal(row["quantity"])):  # fmt: skip
            return row
    return None


# --- what the delivery waits for -------------------------------------------------------------


def fulfilment_rows(context: ActionContext, field: str | None) -> list[dict]:
    return common.rows(context, field) if field else []


def transfers_arrived(context: ActionContext, rows: list[dict]) -> None:
    """Refuse the delivery while a transfer the order counts on has not arrived."""
    waiting = {row["document"] for row in rows
               if row.get("mode") == TRANSFER and row.get("document")
               and _decimal(row.get("received")) < _decimal(row["quantity"])}  # fmt: skip
    for number in sorted(waiting):
        shipped = transfers.transfer_lines(context.session, number)
        if not shipped:
            record = context.records.by_number(TRANSFER_FORM, number)
            if record is not None and record.state == CANCELLED:
                raise ActionError(
                    _(
                        "Transfer %(number)s for this order was cancelled: reopen the order and "
                        "confirm it again to allocate the goods anew.",
                        number=number,
                    )
                )
            raise ActionError(
                _(
                    "Transfer %(number)s for this order has not been shipped yet: deliver once "
                    "its goods have arrived.",
                    number=number,
                )
            )
        outstanding = sum((line.outstanding for line in shipped), Decimal(0))
        if outstanding > 0:
            raise ActionError(
                _(
                    "Transfer %(number)s for this order is still on the way (%(quantity)s in "
                    "transit): deliver once it has arrived.",
                    number=number,
                    quantity=plain_quantity(outstanding),
                )
            )


def direct_quantities(rows: list[dict]) -> dict[int, Decimal]:
    """What fulfilment orders ship straight to the customer, by item id: not the store's to
    hand over."""
    shipped: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.get("mode") == DIRECT:
            shipped[int(row["item"])] += Decimal(str(row["quantity"]))
    return shipped


def no_shortfall(rows: list[dict]) -> None:
    """Refuse the delivery while part of the order is still to re-allocate (first line first)."""
    missing = shortfalls(rows)
    if not missing:
        return
    line = min(missing)
    notes = [row.get(NOTE) for row in rows
             if int(row["line"]) == line and _decimal(row.get(SHORTFALL)) > 0]  # fmt: skip
    note = "; ".join(filter(None, notes)) or None
    raise ShortfallRemains(line, missing[line], note)


# --- learning that an allocation failed after the fact ----------------------------------------

#: What ``report_to_order`` counts as coming for the order: nothing (the transfer is cancelled),
#: what was shipped (the transfer out ships), what arrived and is held (the transfer in).
COUNTS = ("nothing", "shipped", "received")


class ReportToOrder(Action):
    """Tell the order its transfer (or fulfilment order) will not bring all it was to: per
    ``fulfilments`` row of that document, the ``shortfall`` (what the row was to bring minus
    what ``counts`` says is coming) and a ``note`` saying why; the order line's ``unallocated``
    total; an inbox message to the order's creator when a shortfall grows. Goods that turn up
    after all (the rest of a short transfer) shrink it again. Nothing happens for an order no
    longer confirmed or no longer counting on this document (its own cancel or reopen cancels
    its transfers and fulfilment orders)."""

    name = "report_to_order"
    label = {
        "zh_CN": "告知订单调拨或履约的短缺",
        "en": "Tell the order what its transfer or fulfilment will not bring",
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["counts"],
        "properties": {
            "counts": {"enum": list(COUNTS)},
            "order": common.FIELD,  # header field: the order's number (default sales_order)
            "document": common.FIELD,  # header field: the transfer out's number (default: own)
            "form": common.FIELD,  # the order's form (default sales_order)
            "order_lines": common.FIELD,  # the order's fields (defaults: lines, unallocated,
            "unallocated": common.FIELD,  # fulfilments)
            "fulfilments": common.FIELD,
        },
    }

    def run(self, context: ActionContext) -> None:
        params, data = context.params, context.record.data or {}
        number = data.get(params.get("order", "sales_order"))
        transfer = data.get(params["document"]) if params.get("document") else None
        transfer = str(transfer) if transfer else common.document_of(context)
        if not number:
            return
        order = context.records.by_number(params.get("form", "sales_order"), number,
                                          for_update=True)  # fmt: skip
        if order is None or order.state not in WAITING:
            return  # delivered, cancelled or reopened: the order no longer waits for anything
        fulfilments_field = params.get("fulfilments", "fulfilments")
        rows = [dict(row) for row in (order.data or {}).get(fulfilments_field) or []]
        mine = [row for row in rows
                if row.get("mode") in (TRANSFER, DIRECT)
                and row.get("document") == transfer]  # fmt: skip
        if not mine:
            return
        coming = _coming(context, transfer, params["counts"], mine)
        grown = []
        for row in mine:
            arriving, why = coming[id(row)]
            before = _decimal(row.get(SHORTFALL))
            now = max(Decimal(0), _decimal(row["quantity"]) - arriving)
            if now == before:
                continue
            row[SHORTFALL] = plain_quantity(now) if now > 0 else None
            row[NOTE] = _both(why) if now > before else _settled(row.get(NOTE), transfer)
            if now > before:
                grown.append((int(row["line"]), now - before, why))
        lines_field = params.get("order_lines", "lines")
        lines = [dict(line) for line in (order.data or {}).get(lines_field) or []]
        missing = shortfalls(rows)
        unallocated = params.get("unallocated", "unallocated")
        for index, line in enumerate(lines, start=1):
            if index in missing or line.get(unallocated) not in (None, ""):
                line[unallocated] = plain_quantity(missing[index]) if index in missing else None
        order.data = {**(order.data or {}), lines_field: lines, fulfilments_field: rows}
        for line, quantity, why in grown:
            _tell_creator(context, order, line, quantity, why)


def report_lost_hold(
    context: ActionContext, order, line: int, location_id: int, quantity: Decimal, why: dict
) -> None:
    """The order lost ``quantity`` of what line ``line`` held at ``location_id`` (a recall took
    it back): its fulfilments row there gets the shortfall and why, the line its ``unallocated``
    quantity and the creator a message, so ``reallocate`` allocates it again. ``why``: in both
    languages, ``{zh_CN, en}``."""
    data = order.data or {}
    rows = [dict(row) for row in data.get("fulfilments") or []]
    mine = [row for row in rows if int(row["line"]) == line]
    row = next((row for row in mine if int(row["location"]) == location_id), None)
    if row is None:
        row = {
            "line": line,
            "location": location_id,
            "mode": OWN,
            "quantity": plain_quantity(quantity),
        }
        rows.append(row)
    row[SHORTFALL] = plain_quantity(_decimal(row.get(SHORTFALL)) + quantity)
    row[NOTE] = "; ".join(filter(None, [row.get(NOTE), _both(why)]))
    lines = [dict(each) for each in data.get("lines") or []]
    missing = shortfalls(rows)
    for index, each in enumerate(lines, start=1):
        each["unallocated"] = plain_quantity(missing[index]) if index in missing else None
    order.data = {**data, "lines": lines, "fulfilments": rows}
    _tell_creator(context, order, line, quantity, why)


def _coming(context: ActionContext, transfer: str, counts: str, rows: list[dict]) -> dict:
    """For each row (by ``id``): what of it is still coming, and the note saying what happened."""
    if counts == "nothing":
        comment = context.comment or "-"
        if context.record.form == TRANSFER_FORM:
            why = {"zh_CN": f"调拨单 {transfer} 已取消：{comment}",
                   "en": f"transfer {transfer} cancelled: {comment}"}  # fmt: skip
        else:
            why = {"zh_CN": f"直发订单 {transfer} 已取消：{comment}",
                   "en": f"fulfilment order {transfer} cancelled: {comment}"}  # fmt: skip
        return {id(row): (_decimal(row.get("received")), why) for row in rows}
    record = context.records.by_number(TRANSFER_FORM, transfer)
    entered = ((record.data or {}).get("lines") or []) if record is not None else []
    shipped = transfers.transfer_lines(context.session, transfer)
    here = common.document_of(context)
    answer = {}
    for row in rows:
        figures = dict.fromkeys(("shipped", "received", "damaged", "short"), Decimal(0))
        for line in shipped:
            given = entered[line.line - 1] if line.line <= len(entered) else {}
            order_line = given.get("order_line")
            if line.item_id != int(row["item"]) or (
                order_line not in (None, "") and int(order_line) != int(row["line"])
            ):
                continue
            figures["shipped"] += line.shipped
            figures["received"] += line.received
            figures["damaged"] += line.damaged
            figures["short"] += line.outstanding
        n = {key: plain_quantity(value) for key, value in figures.items()} | {
            "held": plain_quantity(_decimal(row.get("received")))
        }
        if counts == "shipped":
            arriving = figures["shipped"]
            why = {"zh_CN": f"调拨单 {transfer} 只发出 {n['shipped']}",
                   "en": f"transfer {transfer} shipped only {n['shipped']}"}  # fmt: skip
        else:  # what arrived in good order and is held for the order
            arriving = _decimal(row.get("received"))
            why = {"zh_CN": f"调拨入库 {here}：实收 {n['received']}，短少 {n['short']}，"
                            f"破损 {n['damaged']}，为本订单留货 {n['held']}",
                   "en": f"transfer in {here}: {n['received']} received, {n['short']} short, "
                         f"{n['damaged']} damaged, {n['held']} held for this order"}  # fmt: skip
        answer[id(row)] = (arriving, why)
    return answer


def _settled(note: str | None, transfer: str) -> str:
    return "; ".join(filter(None, [note, f"余货已到 / the rest of {transfer} arrived"]))


def _both(why: dict) -> str:
    """A note kept on the order, read in either language: both, Chinese first."""
    return f"{why['zh_CN']} / {why['en']}"


def _tell_creator(context: ActionContext, order, line: int, quantity: Decimal, why: dict) -> None:
    """An inbox message to whoever took the order: which line lacks how much, and why."""
    if not order.created_by:
        return
    short = plain_quantity(quantity)
    text = {
        "zh_CN": f"{order.number}: 第 {line} 行缺口 {short}，请重新分配（{why['zh_CN']}）",
        "en": f"{order.number}: line {line}: {short} short, re-allocate ({why['en']})",
    }
    sender = getattr(context.user, "id", None)
    context.session.add(inbox_message(order.created_by, order.id, text, sender_id=sender))
    context.session.flush()


# --- re-allocating the shortfall ---------------------------------------------------------------


class ReallocateOrder(AllocateOrder):
    """Allocate what the order's ``fulfilments`` rows say is short, by the same rules, and clear
    it: the rows that fell short keep what they still bring (their quantity shrinks by their
    shortfall, the note says it was re-allocated), new rows say where the rest comes from."""

    name = "reallocate_order"
    label = {"zh_CN": "为订单缺口重新分配货源", "en": "Allocate again what the order is short of"}
    params_schema = common.params_schema(
        "lines", "item", "quantity", "location", "allocation", "fulfilments", "unallocated",
        optional=("reason", "parent", "confirm"),
    )  # fmt: skip

    def attempt(self, context: ActionContext, rules: Rules, mode: str) -> dict:
        return _Reallocation(context, rules, mode).run()


class _Reallocation(_Allocation):
    def confirmation(self) -> str:
        """Not ``reallocate``: a new fulfilment order starts in draft and is confirmed."""
        return self.params.get("confirm", "confirm")

    def run(self) -> dict:
        params = self.params
        lines = [dict(line) for line in common.lines_of(self.context, params["lines"])]
        rows = common.rows(self.context, params["fulfilments"])
        missing = shortfalls(rows)
        if not missing:
            raise ActionError(_("Nothing on this order is waiting to be re-allocated."))
        plans = self._plans(lines, missing)
        try:
            data = self._make(lines, plans)
        except STALE_PLAN as error:
            raise _Outdated(error) from None
        for row in rows:
            short = _decimal(row.get(SHORTFALL))
            if short > 0:
                row["quantity"] = plain_quantity(_decimal(row["quantity"]) - short)
                row[SHORTFALL] = None
                row[NOTE] = "; ".join(filter(None, [
                    row.get(NOTE),
                    f"已重新分配 {plain_quantity(short)} / {plain_quantity(short)} re-allocated",
                ]))  # fmt: skip
        for line in data[params["lines"]]:
            line[params["unallocated"]] = None
        data[params["fulfilments"]] = rows + self.fulfilments
        return data

    def _describe(self, line: dict, proposed: list[str], reason: str) -> None:
        """Add the new picks and reason to what the line already says."""
        field = self.params["allocation"]
        line[field] = "; ".join(filter(None, [line.get(field), *proposed])) or None
        if self.params.get("reason"):
            field = self.params["reason"]
            again = f"重新分配 / re-allocated: {reason}"
            line[field] = "; ".join(filter(None, [line.get(field), again]))
