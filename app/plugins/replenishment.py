"""Built-in action ``create_replenishment_documents``: an approved replenishment suggestion becomes
the documents that carry it out, each a draft at the location whose staff carry it on:

* ``transfer`` lines → one transfer request per (source → destination), a line per item and
  lot: the transfer out it becomes names the lot for the picker (a near-expiry lot goes where it
  sells, not whichever the source would pick first);
* ``purchase`` lines → one purchase order per (location, supplier);
* ``return`` lines → one supplier return per (location, supplier), by lot (a serial-numbered
  item's units by serial). The goods are set apart as nonconforming where they are at once
  (ledger reason ``adjustment``, this document's number), so nobody sells them meanwhile and the
  return ships them as it ships any rejected goods.

Lines whose quantity was edited down to 0 are dropped. The numbers of the created documents are
written to the suggestion's ``documents`` field. Goes through the record service (every form's
own rules) as the approving user; any refusal undoes the whole approval.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from app.i18n import _
from app.kernel.errors import InsufficientStock
from app.kernel.items import TrackingMode, Unit, lot_of
from app.kernel.locations import Location
from app.kernel.queries import units_in_status
from app.kernel.stock import Movement, Reason, StockStatus, post_movements
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError

ZERO = Decimal(0)


class CreateReplenishmentDocuments(Action):
    name = "create_replenishment_documents"
    label = {
        "zh_CN": "将补货建议转为调拨申请和采购订单",
        "en": "Turn replenishment suggestions into transfer requests and purchase orders",
    }
    params_schema = {"type": "object", "additionalProperties": False}

    def run(self, context: ActionContext) -> None:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for index, line in enumerate(common.lines_of(context, "lines")):
            quantity = common.quantity(line, "quantity")
            if quantity <= 0:  # the form refuses a negative one; 0 drops the line
                continue
            action = line.get("action")
            if action == "transfer":
                key = ("transfer_request", line.get("from_location"), line.get("to_location"))
            elif action == "purchase":
                key = ("purchase_order", line.get("to_location"), _supplier(line, index))
            else:
                key = ("supplier_return", line.get("from_location"), _supplier(line, index))
            groups[key].append({**line, "quantity": quantity})
        numbers = []
        for (form, first, second), lines in groups.items():
            payload = BUILDERS[form](context, first, second, lines)
            numbers.append(_create(context, form, payload).number)
        if not numbers:
            raise ActionError(_("Every line's quantity is 0: there is nothing to create."))
        context.record.data = {**(context.record.data or {}), "documents": ", ".join(numbers)}


def _supplier(line: dict, index: int):
    if not line.get("supplier"):
        raise ActionError(
            _("Line %(line)s needs a supplier (field %(field)s).",
              line=index + 1, field=f"lines[{index}].supplier")
        )  # fmt: skip
    return line["supplier"]


def _per_item(lines: list[dict], by_lot: bool = False) -> list[dict]:
    """One line per item (and lot, ``by_lot``), quantities added up, in the order they first
    appear."""
    merged: dict = {}
    for line in lines:
        key = (line["item"], line.get("lot")) if by_lot else line["item"]
        first = {"item": line["item"], "quantity": ZERO, "unit_price": ZERO}
        if by_lot and line.get("lot"):  # the plan chose it for where it sells (not FEFO's)
            first["lot"], first["fefo_reason"] = line["lot"], "plan"
        entry = merged.setdefault(key, first)
        entry["quantity"] += line["quantity"]
        if line.get("unit_price") is not None:
            entry["unit_price"] = Decimal(str(line["unit_price"]))
    return [
        {**entry, "quantity": str(entry["quantity"]), "unit_price": str(entry["unit_price"])}
        for entry in merged.values()
    ]


def _transfer_request(context: ActionContext, source, destination, lines: list[dict]) -> dict:
    return {
        "from_location": source,
        "to_location": destination,
        "reason": f"补货建议 / replenishment {context.record.number}",
        "lines": _per_item(lines, by_lot=True),
    }


def _purchase_order(context: ActionContext, location, supplier, lines: list[dict]) -> dict:
    return {"location": location, "supplier": supplier, "lines": _per_item(lines)}


def _supplier_return(context: ActionContext, location, supplier, lines: list[dict]) -> dict:
    return {
        "location": location,
        "supplier": supplier,
        "reason": "near_expiry",
        "note": f"补货建议 / replenishment {context.record.number}",
        "lines": _set_apart(context, location, lines),
    }


def _set_apart(context: ActionContext, location_id, lines: list[dict]) -> list[dict]:
    """The goods going back stop being sellable now: available → nonconforming in place. Of a
    serial-numbered item the units go (the first by serial of the lot's available ones), one
    line each. Returns the supplier return's lines."""
    session = context.session
    location = session.get(Location, int(location_id))
    movements, returned = [], []
    for line in lines:
        item = common.item(context, line, "item")
        lot = lot_of(session, item, str(line["lot"])) if line.get("lot") else None
        goods = {"item": line["item"], "lot": line.get("lot")}
        if item.tracking == TrackingMode.serial:
            units = _available_units(context, location, item, lot, line["quantity"])
            movements += [_apart(location, item, lot, Decimal(1), unit) for unit in units]
            returned += [{**goods, "serial": unit.serial, "quantity": "1"} for unit in units]
        else:
            movements.append(_apart(location, item, lot, line["quantity"]))
            returned.append({**goods, "quantity": str(line["quantity"])})
    post_movements(
        session, movements, user=context.user, document=common.document_of(context),
        reason=Reason.adjustment,
    )  # fmt: skip
    return returned


def _apart(location, item, lot, quantity, unit=None) -> Movement:
    return Movement(
        item=item, quantity=quantity, lot=lot, unit=unit, source=location, destination=location,
        source_status=StockStatus.available, destination_status=StockStatus.nonconforming,
    )  # fmt: skip


def _available_units(context: ActionContext, location, item, lot, quantity) -> list[Unit]:
    """``quantity`` units of the lot available at the location, the first by serial."""
    ids = units_in_status(
        context.session, location, item, lot.id if lot else None, StockStatus.available
    )
    units = sorted((context.session.get(Unit, i) for i in ids), key=lambda unit: unit.serial)
    if len(units) < quantity:
        raise InsufficientStock(item, lot, location, quantity, Decimal(len(units)))
    return units[: int(quantity)]


BUILDERS = {
    "transfer_request": _transfer_request,
    "purchase_order": _purchase_order,
    "supplier_return": _supplier_return,
}


def _create(context: ActionContext, form: str, payload: dict):
    """A record through the record service; its refusal names the form and the fields."""
    try:
        return context.records.create(form, payload)
    except Exception as exc:  # the record service's typed errors, without importing them
        errors = getattr(exc, "errors", None)
        if type(exc).__module__.startswith("app."):
            detail = f": {errors}" if errors else ""
            raise ActionError(f"{form}: {exc}{detail}") from None
        raise
