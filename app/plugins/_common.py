"""What several built-in actions share: reading kernel objects named by a record's fields."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from app.i18n import _
from app.kernel.items import Item, Lot, get_or_create_lot, get_or_create_unit, lot_of
from app.kernel.locations import Location
from app.workflow.actions import ActionContext, ActionError

#: JSON Schema of a field name parameter.
FIELD = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    """An amount to the cent, as records keep it and messages say it (1234.50)."""
    return str(value.quantize(CENT, ROUND_HALF_UP))


def params_schema(*required: str, optional: tuple[str, ...] = ()) -> dict:
    """The parameter schema of an action whose parameters all name fields."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": {name: FIELD for name in (*required, *optional)},
    }


def rows(context: ActionContext, table: str) -> list[dict]:
    """Copies of the lines of table ``table`` (empty when there are none), to change and write."""
    return [dict(row) for row in (context.record.data or {}).get(table) or []]


def write_rows(context: ActionContext, table: str, rows: list[dict]) -> None:
    context.record.data = {**(context.record.data or {}), table: rows}


def document_of(context: ActionContext) -> str:
    """The document reference kernel rows carry: the record's number (or form/id)."""
    record = context.record
    return (record.number or f"{record.form}/{record.id}")[:64]


class NoLines(ActionError):
    """The record has no lines to post or pass on (e.g. the workflow has no rule against
    submitting it empty); names the table by its label."""

    def __init__(self, label: str, table: str):
        super().__init__(_("%(table)s has no lines: add at least one line.", table=label))
        self.field = table


def lines_of(context: ActionContext, table: str) -> list[dict]:
    lines = (context.record.data or {}).get(table) or []
    if not lines:
        label = (
            context.records.field_label(context.record.form, table) if context.records else table
        )
        raise NoLines(label, table)
    return lines


def _id(value, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ActionError(f"{what} 无效 / invalid {what}: {value!r}") from None


def location(context: ActionContext, field: str | None) -> Location | None:
    """The location whose id is in the record's header ``field`` (``None`` when not declared)."""
    if not field:
        return None
    value = (context.record.data or {}).get(field)
    found = context.session.get(Location, _id(value, field))
    if found is None:
        raise ActionError(f"地点不存在 / no location {value!r} in {field}")
    return found


def item(context: ActionContext, line: dict, field: str) -> Item:
    found = context.session.get(Item, _id(line.get(field), field))
    if found is None:
        raise ActionError(f"商品不存在 / no item {line.get(field)!r}")
    return found


def quantity(line: dict, field: str) -> Decimal:
    try:
        return Decimal(str(line.get(field)))
    except (InvalidOperation, ValueError):
        raise ActionError(f"数量无效 / invalid quantity {line.get(field)!r}") from None


def lot_numbers(text) -> list[str]:
    """The lot numbers of a "lots" text field (separated by commas), each once, in order."""
    return list(dict.fromkeys(n.strip() for n in str(text or "").split(",") if n.strip()))


def named_lots(context: ActionContext, the_item: Item, numbers: list[str], field: str) -> list[Lot]:
    """The item's lots by number; an unknown number is refused on ``field``."""
    lots = []
    for number in numbers:
        found = lot_of(context.session, the_item, number)
        if found is None:
            raise ActionError(
                _("Item %(item)s has no lot %(lot)s.", item=the_item.code, lot=number), field
            )
        lots.append(found)
    return lots


def lot(context: ActionContext, the_item: Item, line: dict, params: dict):
    number = line.get(params["lot"]) if params.get("lot") else None
    if not number:
        return None
    expiry = line.get(params["expiry_date"]) if params.get("expiry_date") else None
    if isinstance(expiry, str):
        import datetime as dt

        expiry = dt.date.fromisoformat(expiry)
    return get_or_create_lot(context.session, the_item, str(number), expiry)


def unit(context: ActionContext, the_item: Item, line: dict, params: dict, the_lot):
    serial = line.get(params["serial"]) if params.get("serial") else None
    if not serial:
        return None
    return get_or_create_unit(context.session, the_item, str(serial), the_lot)
