"""Sales actions: the customer's qualification, delivery by scan, customer returns.

- ``check_customer_qualification``: class II/III devices go to a business customer (hospital,
  clinic, distributor) only while its licence is valid; the customer card must be QA-approved;
  every item's registration certificate must be valid (kernel ``require_registration``).
- ``check_credit_limit``: what the customer owes, its open orders and this one stay within the
  credit limit on its card.
- ``deliver_scanned`` checks what the clerk scanned against the allocation (``allocation.py``:
  the lots reserved at the store, own or arrived by transfer) — another lot or unit only when it
  is sellable and no earlier-expiring lot is left free (FEFO) — and posts the sale. It waits for
  the transfers the order counts on; what fulfilment orders ship directly is not the store's to
  hand over.
- ``receive_customer_return`` / ``inspect_customer_return``: goods come back awaiting inspection,
  never more of a lot or unit than the order sold; the quality check sorts them into available
  and nonconforming.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import select

from app.db import plain_quantity
from app.i18n import _
from app.kernel import queries, recall, reservations
from app.kernel.errors import (
    InsufficientStock,
    LocationLocked,
    LotBlocked,
    LotExpired,
    UnitNotHere,
)
from app.kernel.items import (
    DeviceClass,
    Item,
    Lot,
    LotStatus,
    TrackingMode,
    Unit,
    UnitStatus,
    business_today,
    lot_of,
    require_registration,
    wall_clock,
)
from app.kernel.stock import (
    LedgerEntry,
    Movement,
    Reason,
    StockStatus,
    post_movements,
)
from app.kernel.stock_locks import StockLock
from app.plugins import _common as common
from app.plugins import allocation
from app.workflow.actions import Action, ActionContext, ActionError

FIELD = common.FIELD
#: Device classes a business customer may buy only with a valid licence.
LICENSED_CLASSES = (DeviceClass.II, DeviceClass.III)
RETAIL = "retail"
#: A unit price's places (the money columns' 4).
PRICE_PLACES = Decimal("0.0001")


def _date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


# --- qualification ---------------------------------------------------------------------------


class CheckCustomerQualification(Action):
    """Refuse a sale the customer may not receive, naming the licence and its expiry date."""

    name = "check_customer_qualification"
    label = {
        "zh_CN": "客户资质不符时拒绝销售",
        "en": "Refuse a sale the customer's licences do not allow",
    }
    params_schema = common.params_schema("customer", "lines", "item")

    def run(self, context: ActionContext) -> None:
        params = context.params
        customer_id = (context.record.data or {}).get(params["customer"])
        customer = None
        if customer_id not in (None, ""):
            customer = context.records.read("customer", customer_id)
            if customer is None:
                raise ActionError(
                    _("Customer %(id)s does not exist.", id=customer_id), params["customer"]
                )
            _check_approved(customer, params["customer"])
        today = business_today()
        for line in common.lines_of(context, params["lines"]):
            item = common.item(context, line, params["item"])
            require_registration(item, today)
            if customer is not None:
                _check_licences(customer, item, today, params["customer"])


class CheckCreditLimit(Action):
    """Refuse a sale that would take what the customer owes past the credit limit on its card
    (信用额度): what its account says it owes now, what its other open orders (``open_states``)
    come to and this order. The customer's card is locked meanwhile, so two orders confirmed at
    once are counted one after the other, not each against the same room."""

    name = "check_credit_limit"
    label = {
        "zh_CN": "超出客户信用额度时拒绝",
        "en": "Refuse a sale beyond the customer's credit limit",
    }
    params_schema = common.params_schema("customer", "amount")
    params_schema["properties"]["open_states"] = {"type": "array", "items": FIELD}
    param_labels = {
        "amount": {"zh_CN": "金额字段", "en": "Amount field"},
        "open_states": {"zh_CN": "未出库订单的状态", "en": "States of orders not yet delivered"},
    }

    def run(self, context: ActionContext) -> None:
        params, data = context.params, context.record.data or {}
        customer_id = data.get(params["customer"])
        if customer_id in (None, ""):
            return  # a walk-in sale: paid at the counter
        customer = context.records.locked("customer", [int(customer_id)]).get(int(customer_id))
        limit = (customer.data or {}).get("credit_limit") if customer is not None else None
        if limit in (None, ""):
            return
        owed = context.records.owed(customer)
        open_orders = context.records.total(
            context.record.form, params["amount"], equal={params["customer"]: customer.id},
            states=params.get("open_states", []), exclude=context.record.id,
        )  # fmt: skip
        amount = Decimal(str(data.get(params["amount"]) or 0))
        limit = Decimal(str(limit))
        if owed + open_orders + amount > limit:
            raise ActionError(
                _(
                    "This order of %(amount)s would take customer %(customer)s past its credit "
                    "limit of %(limit)s: it owes %(owed)s and its open orders come to "
                    "%(open)s. Collect a payment first, or ask finance to raise the limit.",
                    amount=common.money(amount),
                    customer=customer.data.get("name"),
                    limit=common.money(limit),
                    owed=common.money(owed),
                    open=common.money(open_orders),
                ),
                params["customer"],
            )


def _check_approved(customer, field: str) -> None:
    if customer.state != "approved":
        raise ActionError(
            _(
                "Customer %(customer)s is not approved by QA yet (first-time qualification): "
                "it cannot buy.",
                customer=customer.data.get("name"),
            ),
            field,
        )


def _check_licences(customer, item: Item, today: dt.date, field: str) -> None:
    """A business customer needs a valid licence for class II/III and a valid business licence
    (each refusal names the order's customer ``field``)."""
    data = customer.data
    if data.get("kind", RETAIL) == RETAIL:
        return
    name = data.get("name")
    business_expiry = _date(data.get("business_licence_expiry"))
    if business_expiry is not None and business_expiry < today:
        raise ActionError(
            _(
                "The business licence %(licence)s of customer %(customer)s expired on %(date)s: "
                "nothing may be sold to it.",
                licence=data.get("business_licence_number") or "-",
                customer=name,
                date=business_expiry.isoformat(),
            ),
            field,
        )
    if item.device_class not in LICENSED_CLASSES:
        return
    number, expiry = data.get("licence_number"), _date(data.get("licence_expiry"))
    if not number or expiry is None:
        raise ActionError(
            _(
                "Customer %(customer)s may not buy class %(device_class)s device %(item)s: it "
                "has no licence (number and expiry date) on record.",
                customer=name,
                device_class=str(item.device_class),
                item=item.code,
            ),
            field,
        )
    if expiry < today:
        raise ActionError(
            _(
                "Customer %(customer)s may not buy class %(device_class)s device %(item)s: its "
                "licence %(licence)s expired on %(date)s.",
                customer=name,
                device_class=str(item.device_class),
                item=item.code,
                licence=number,
                date=expiry.isoformat(),
            ),
            field,
        )


# --- delivery --------------------------------------------------------------------------------


class DeliverScanned(Action):
    """Post the sale of exactly what was scanned, once it matches the order and FEFO.

    ``check_only: true`` checks the scans against the order — every item scanned in the
    quantity to hand over, each lot and unit on record, each unit scanned once — and posts
    nothing: the picker's "picking done" (the reviewer must not be handed an empty or short
    picking). FEFO and the reservations are checked when the goods leave."""

    name = "deliver_scanned"
    label = {
        "zh_CN": "按扫码出库，核对订单与近效期先出",
        "en": "Deliver exactly what was scanned, checked against the order and FEFO",
    }
    params_schema = common.params_schema(
        "lines", "item", "quantity", "location", "deliveries",
        optional=("fulfilments", "amount", "unit_price", "unit_cost", "tax_rate"),
    )  # fmt: skip
    params_schema["properties"]["check_only"] = {"type": "boolean"}
    params_schema["dependentRequired"] = {"unit_price": ["amount"]}
    param_labels = {
        "check_only": {"zh_CN": "只核对扫码，不出库", "en": "Only check the scans"},
        "amount": {"zh_CN": "明细行的金额字段", "en": "The lines' amount field"},
        "unit_price": {"zh_CN": "出库行的成交单价字段", "en": "The delivery rows' price field"},
        "unit_cost": {"zh_CN": "出库行的成本单价字段", "en": "The delivery rows' cost field"},
        "tax_rate": {
            "zh_CN": "明细行与出库行的税率字段",
            "en": "The lines' and rows' tax rate field",
        },
    }

    def run(self, context: ActionContext) -> None:
        params, session = context.params, context.session
        where = common.location(context, params["location"])
        document = common.document_of(context)
        fulfilments = allocation.fulfilment_rows(context, params.get("fulfilments"))
        allocation.no_shortfall(fulfilments)
        allocation.transfers_arrived(context, fulfilments)
        ordered: dict[int, Decimal] = defaultdict(Decimal)
        for line in common.lines_of(context, params["lines"]):
            ordered[common.item(context, line, params["item"]).id] += common.quantity(
                line, params["quantity"]
            )
        for item_id, shipped in allocation.direct_quantities(fulfilments).items():
            ordered[item_id] -= shipped  # the fulfilment orders hand these over
        scans = common.rows(context, params["deliveries"])
        if not scans and any(quantity > 0 for quantity in ordered.values()):
            raise ActionError(
                _("Scan the goods you hand over before delivering."), params["deliveries"]
            )
        movements = [_scanned_movement(context, number, scan, where, ordered)
                     for number, scan in enumerate(scans, start=1)]  # fmt: skip
        _check_units_once(movements, params["deliveries"])
        _check_quantities(session, movements, ordered, params["deliveries"])
        if params.get("check_only"):
            return
        if movements:  # (goods the fulfilment orders hand over move nothing here)
            _not_being_counted(session, where)
        held = _held(session, document)
        if held:
            reservations.release(session, document, user=context.user)
        _check_substitutions(session, movements, held, where)
        movements = [_costed(session, movement) for movement in movements]
        post_movements(session, movements, user=context.user, document=document)
        prices = _net_prices(context) if params.get("unit_price") else {}
        rates = _tax_rates(context) if params.get("tax_rate") else {}
        for scan, movement in zip(scans, movements, strict=True):
            _record_delivered(scan, movement)
            if params.get("unit_cost"):
                scan[params["unit_cost"]] = _text(movement.unit_cost)
            if params.get("unit_price"):
                scan[params["unit_price"]] = _text(prices.get(movement.item.id))
            if params.get("tax_rate"):
                scan[params["tax_rate"]] = rates.get(movement.item.id)
        common.write_rows(context, params["deliveries"], scans)
        if any(params.get(name) for name in ("unit_cost", "unit_price", "tax_rate")):  # margin
            context.records.recompute(context.record, lines=(params["deliveries"],))


def _scanned_movement(context, number: int, scan: dict, where, ordered) -> Movement:
    """The sale of one scanned row: its item, lot and unit as the kernel knows them.

    A row names its item and quantity like the order's lines do; ``lot`` and ``serial`` are
    what the scan filled in."""
    session, params = context.session, context.params
    item = common.item(context, scan, params["item"])
    if item.id not in ordered:
        raise ActionError(
            _("Scan %(row)s: %(item)s is not on this order.", row=number, item=item.code)
        )
    quantity = common.quantity(scan, params["quantity"])
    lot = _known_lot(session, item, scan.get("lot"), number)
    unit = None
    if item.tracking == TrackingMode.serial:
        unit = _known_unit(session, item, scan.get("serial"), number)
        if lot is not None and unit.lot_id not in (None, lot.id):
            raise ActionError(
                _(
                    "Scan %(row)s: serial number %(serial)s is not of lot %(lot)s.",
                    row=number,
                    serial=unit.serial,
                    lot=lot.lot_number,
                )
            )
        lot = lot or unit.lot
    elif item.tracking == TrackingMode.lot and lot is None:
        raise ActionError(
            _("Scan %(row)s: %(item)s is tracked by lot: scan the lot.", row=number, item=item.code)
        )
    return Movement(
        item=item, quantity=quantity, source=where, lot=lot, unit=unit, reason=Reason.sale,
        line=number,
    )  # fmt: skip


def _known_lot(session, item: Item, number, row: int) -> Lot | None:
    if not number:
        return None
    lot = lot_of(session, item, str(number))
    if lot is None:
        raise ActionError(
            _("Scan %(row)s: %(item)s has no lot %(lot)s on record.",
              row=row, item=item.code, lot=number)
        )  # fmt: skip
    return lot


def _known_unit(session, item: Item, serial, row: int) -> Unit:
    unit = None
    if serial:
        unit = session.scalar(
            select(Unit).where(Unit.item_id == item.id, Unit.serial == str(serial))
        )
    if unit is None:
        raise ActionError(
            _(
                "Scan %(row)s: %(item)s is tracked by serial number: scan the unit's UDI "
                "(serial %(serial)s is not on record).",
                row=row,
                item=item.code,
                serial=serial or "-",
            )
        )
    return unit


class SerialScannedTwice(ActionError):
    """A serial-numbered unit scanned on two rows of the delivery scans: it is one device, not
    two (counted twice, the item's quantity would come out wrong without saying why). ``field``
    names the second row's serial, where the form marks it."""

    def __init__(self, table: str, row: int, serial: str, first: int):
        super().__init__(
            _("Scan %(row)s: serial %(serial)s is scanned twice (also scan %(first)s).",
              row=row, serial=serial, first=first),
            f"{table}[{row - 1}].serial",
        )  # fmt: skip


def _check_units_once(movements: list[Movement], table: str) -> None:
    """Each serial unit is handed over once: refuse the first row that scans one again."""
    first_row: dict[int, int] = {}
    for movement in movements:
        if movement.unit is None:
            continue
        first = first_row.setdefault(movement.unit.id, movement.line)
        if first != movement.line:
            raise SerialScannedTwice(table, movement.line, movement.unit.serial, first)


def _check_quantities(session, movements: list[Movement], ordered: dict[int, Decimal], table: str):
    """Each item is delivered exactly in the quantity ordered (else refused on the scans)."""
    scanned: dict[int, Decimal] = defaultdict(Decimal)
    for movement in movements:
        scanned[movement.item.id] += movement.quantity
    for item_id, quantity in ordered.items():
        if scanned[item_id] != quantity:
            raise ActionError(
                _(
                    "%(item)s: %(ordered)s ordered but %(scanned)s scanned.",
                    item=session.get(Item, item_id).code,
                    ordered=plain_quantity(quantity),
                    scanned=plain_quantity(scanned[item_id]),
                ),
                table,
            )


def _held(session, document: str) -> dict[tuple[int, int], Decimal]:
    """What the document reserved, by (item, lot key)."""
    held: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for reservation in reservations.reservations_of(session, document):
        held[(reservation.item_id, reservation.lot_key)] += reservation.quantity
    return held


def _not_being_counted(session, where) -> None:
    """A count under way at the store refuses the delivery first, saying so: checked later, by
    the posting, a lot scanned in place of the one reserved would be refused for FEFO instead
    (the reservation given back for the check), which sends the clerk to the wrong shelf."""
    lock = session.scalar(select(StockLock).where(StockLock.location_id == where.id))
    if lock is not None:
        by = lock.user.full_name if lock.user is not None else None
        raise LocationLocked(where, wall_clock(lock.opened_at), by)


def _check_substitutions(session, movements: list[Movement], held, where) -> None:
    """A lot taken beyond what was allocated must be sellable, free here in the quantity taken,
    and must not skip an earlier lot.

    Runs after the order's own reservation is released, so the allocated lots count as free
    except for what this delivery takes from them.
    """
    taken: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for movement in movements:
        _unit_here(movement, where)
        taken[(movement.item.id, movement.lot.id if movement.lot else 0)] += movement.quantity
    today = business_today()
    for movement in movements:
        lot = movement.lot
        if lot is None or taken[(movement.item.id, lot.id)] <= held.get(
            (movement.item.id, lot.id), 0
        ):
            continue
        if lot.status != LotStatus.released:
            raise LotBlocked(lot, lot.status)
        if lot.is_expired(today):
            raise LotExpired(lot, lot.expiry_date)
        free = queries.available_quantity(session, where, movement.item, lot)
        if taken[(movement.item.id, lot.id)] > free:  # (not FEFO's fault: it is not here)
            raise InsufficientStock(movement.item, lot, where, taken[(movement.item.id, lot.id)],
                                    free)  # fmt: skip
        earlier = _earlier_free_lot(session, movement.item, lot, where, taken, today)
        if earlier is not None:
            raise ActionError(
                _(
                    "Lot %(lot)s (expires %(date)s) may not be sold yet: lot %(earlier)s of "
                    "%(item)s expires earlier (%(earlier_date)s) and is still free here (FEFO).",
                    lot=lot.lot_number,
                    date=lot.expiry_date.isoformat() if lot.expiry_date else "-",
                    earlier=earlier.lot_number,
                    item=movement.item.code,
                    earlier_date=earlier.expiry_date.isoformat(),
                )
            )


def _unit_here(movement: Movement, where) -> None:
    """A scanned serial sold already (or elsewhere) is named as such, on its row — not taken
    for a shortage of its lot."""
    unit = movement.unit
    if unit is not None and (unit.location_id != where.id or unit.status != UnitStatus.in_stock):
        refused = UnitNotHere(unit, where)
        refused.line = movement.line
        raise refused


def _earlier_free_lot(session, item: Item, lot: Lot, where, taken, today) -> Lot | None:
    """The first sellable lot here expiring before ``lot`` with stock nobody holds or takes:
    the lots FEFO would promise first (``free_lots``, as ``check_fefo`` reads them)."""
    for candidate, free in reservations.free_lots(session, item, where, today=today):
        if candidate is None or candidate.expiry_date is None:
            break  # (undated lots come last: none of them expires earlier)
        if lot.expiry_date is not None and candidate.expiry_date >= lot.expiry_date:
            break
        if free - taken.get((item.id, candidate.id), 0) > 0:
            return candidate
    return None


def _costed(session, movement: Movement) -> Movement:
    """The sale at what its goods cost (销售成本): the lot's latest cost, kept on its ledger row
    and on the delivery row, so what a sale earned is read from the sale itself."""
    return replace(
        movement, unit_cost=queries.latest_unit_cost(session, movement.item, movement.lot)
    )


def _net_prices(context: ActionContext) -> dict[int, Decimal]:
    """Each item's price on the order after discount: its lines' amount over their quantity
    (lines of one item at two prices give their average), to 4 places."""
    params = context.params
    amounts: dict[int, Decimal] = defaultdict(Decimal)
    quantities: dict[int, Decimal] = defaultdict(Decimal)
    for line in common.lines_of(context, params["lines"]):
        item_id = common.item(context, line, params["item"]).id
        amounts[item_id] += Decimal(str(line.get(params["amount"]) or 0))
        quantities[item_id] += common.quantity(line, params["quantity"])
    return {
        item_id: (amounts[item_id] / quantity).quantize(PRICE_PLACES)
        for item_id, quantity in quantities.items()
        if quantity > 0
    }


def _tax_rates(context: ActionContext) -> dict[int, str]:
    """Each item's VAT rate on the order: its first line's that says one (the rate it sold at,
    kept on the rows as they leave, so a later change of the item's rate does not restate it)."""
    params, rates = context.params, {}
    for line in common.lines_of(context, params["lines"]):
        rate = line.get(params["tax_rate"])
        if rate not in (None, ""):
            rates.setdefault(common.item(context, line, params["item"]).id, str(rate))
    return rates


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _record_delivered(scan: dict, movement: Movement) -> None:
    """Write what left onto the scan row: the lot, its expiry and the unit's UDI."""
    lot, unit, item = movement.lot, movement.unit, movement.item
    if lot is not None:
        scan["lot"] = lot.lot_number
        scan["expiry_date"] = lot.expiry_date.isoformat() if lot.expiry_date else None
    if unit is not None:
        scan["serial"] = unit.serial
        scan["udi"] = udi_text(item, lot, unit.serial)


def udi_text(item: Item, lot: Lot | None, serial: str) -> str:
    """The human-readable UDI of a unit: (01) GTIN, (17) expiry, (10) lot, (21) serial."""
    parts = [f"(01){item.gtin}"] if item.gtin else []
    if lot is not None and lot.expiry_date is not None:
        parts.append(f"(17){lot.expiry_date:%y%m%d}")
    if lot is not None:
        parts.append(f"(10){lot.lot_number}")
    parts.append(f"(21){serial}")
    return "".join(parts)


# --- customer returns ------------------------------------------------------------------------


class ReceiveCustomerReturn(Action):
    """Take returned goods in as awaiting inspection, within what the sales order delivered."""

    name = "receive_customer_return"
    label = {
        "zh_CN": "接收客户退货为待验",
        "en": "Take a customer's returned goods in as awaiting inspection",
    }
    params_schema = common.params_schema(
        "sales_order", "lines", "item", "quantity", "location", optional=("lot", "serial")
    )

    def run(self, context: ActionContext) -> None:
        params, session = context.params, context.session
        order = _delivered_order(context, (context.record.data or {}).get(params["sales_order"]))
        where = common.location(context, params["location"])
        delivered = [dict(row) for row in order.data.get("deliveries") or []]
        movements = []
        for number, line in enumerate(common.lines_of(context, params["lines"]), start=1):
            item = common.item(context, line, params["item"])
            quantity = common.quantity(line, params["quantity"])
            lot_number = line.get(params["lot"]) if params.get("lot") else None
            serial = line.get(params["serial"]) if params.get("serial") else None
            lot, unit = _returned_lot_and_unit(session, item, lot_number, serial, number)
            _take_from_delivered(delivered, order, number, item, lot, unit, quantity)
            movements.append(
                Movement(
                    item=item, quantity=quantity, destination=where, lot=lot, unit=unit,
                    destination_status=StockStatus.awaiting_inspection,
                    reason=Reason.customer_return, line=number,
                )
            )  # fmt: skip
        post_movements(session, movements, user=context.user, document=common.document_of(context))
        order.data = {**order.data, "deliveries": delivered}  # the tally of what came back
        context.records.recompute(order, lines=("deliveries",))  # what the sale kept, earned


def _delivered_order(context: ActionContext, order_id):
    order = context.records.read("sales_order", order_id) if order_id else None
    if order is None or order.state != "delivered":
        raise ActionError(
            _(
                "Sales order %(order)s has not been delivered: there is nothing to return.",
                order=getattr(order, "number", None) or order_id or "-",
            )
        )
    return order


def _returned_lot_and_unit(session, item: Item, lot_number, serial, row: int):
    lot = _known_lot(session, item, lot_number, row)
    unit = None
    if item.tracking == TrackingMode.serial:
        unit = _known_unit(session, item, serial, row)
        lot = lot or unit.lot
    return lot, unit


def _take_from_delivered(delivered, order, row, item: Item, lot, unit, quantity: Decimal) -> None:
    """Count ``quantity`` against the delivery rows of the same item, lot and unit."""
    wanted = quantity
    for scan in delivered:
        if str(scan.get("item")) != str(item.id):
            continue
        if lot is not None and scan.get("lot") != lot.lot_number:
            continue
        if unit is not None and scan.get("serial") != unit.serial:
            continue
        returned = Decimal(str(scan.get("returned_quantity") or 0))
        free = Decimal(str(scan.get("quantity"))) - returned
        take = min(free, wanted)
        if take > 0:
            scan["returned_quantity"] = str(returned + take)
            wanted -= take
        if wanted == 0:
            return
    raise ActionError(
        _(
            "Line %(row)s: only %(left)s of %(item)s (lot %(lot)s, serial %(serial)s) was "
            "delivered by %(order)s and not yet returned; %(quantity)s cannot come back.",
            row=row,
            left=quantity - wanted,
            item=item.code,
            lot=lot.lot_number if lot else "-",
            serial=unit.serial if unit else "-",
            order=order.number,
            quantity=quantity,
        )
    )


class InspectCustomerReturn(Action):
    """The quality check: accepted goods go back on sale, rejected ones are kept apart; goods
    under a recall are kept apart even when accepted (the recall takes them out)."""

    name = "inspect_customer_return"
    label = {
        "zh_CN": "退货质检：合格的重新上架，不合格的隔离",
        "en": "Inspect returned goods: accepted back on sale, rejected kept apart",
    }
    params_schema = common.params_schema(
        "lines", "accepted", "rejected", "location", "inspector",
        optional=("item", "lot", "serial", "quantity"),
    )  # fmt: skip

    def run(self, context: ActionContext) -> None:
        params, session = context.params, context.session
        where = common.location(context, params["location"])
        document = common.document_of(context)
        lines = common.rows(context, params["lines"])
        movements = []
        for entry in _received(session, document):
            line = lines[entry.document_line - 1] if entry.document_line <= len(lines) else {}
            accepted, rejected = _verdict(line, params, entry)
            lot = session.get(Lot, entry.lot_id) if entry.lot_id else None
            unit = session.get(Unit, entry.unit_id) if entry.unit_id else None
            for quantity, status in ((accepted, recall.accepted_status(lot, unit)),
                                     (rejected, StockStatus.nonconforming)):  # fmt: skip
                if quantity > 0:
                    movements.append(
                        Movement(
                            item=session.get(Item, entry.item_id), quantity=quantity,
                            source=where, destination=where, lot=lot, unit=unit,
                            source_status=StockStatus.awaiting_inspection,
                            destination_status=status, reason=Reason.inspection,
                            line=entry.document_line,
                        )
                    )  # fmt: skip
            line[params["accepted"]], line[params["rejected"]] = str(accepted), str(rejected)
        post_movements(session, movements, user=context.user, document=document)
        common.write_rows(context, params["lines"], lines)
        user_id = getattr(context.user, "id", None)
        context.record.data = {**context.record.data, params["inspector"]: user_id}


def _received(session, document: str) -> list[LedgerEntry]:
    """What the return brought in (its receive posting): the truth the inspection sorts."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.document == document,
                LedgerEntry.reason == str(Reason.customer_return),
                LedgerEntry.quantity > 0,
            )
            .order_by(LedgerEntry.document_line, LedgerEntry.id)
        )
    )


def _verdict(line: dict, params: dict, entry: LedgerEntry) -> tuple[Decimal, Decimal]:
    """Accepted and rejected quantities of one received line; together they are all of it."""
    accepted, rejected = line.get(params["accepted"]), line.get(params["rejected"])
    rejected = Decimal(str(rejected)) if rejected not in (None, "") else Decimal(0)
    if accepted in (None, ""):
        accepted = entry.quantity - rejected
    accepted = Decimal(str(accepted))
    if accepted < 0 or accepted + rejected != entry.quantity:
        raise ActionError(
            _(
                "Line %(row)s: accepted %(accepted)s and rejected %(rejected)s must add up to "
                "the %(quantity)s received.",
                row=entry.document_line,
                accepted=accepted,
                rejected=rejected,
                quantity=entry.quantity,
            )
        )
    return accepted, rejected
