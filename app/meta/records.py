"""The record service: create, update, delete, get and list records of metadata-defined forms.

Every call asks ``access`` first (permission, then data scope) and runs inside the caller's
transaction; nothing is written unless every field passed. The steps of a save, in order:

1. the runtime marshmallow schema turns input into typed values (type, length, pattern, range);
2. defaults (``default`` / ``default_expr``) fill what a new record lacks, and again what the
   input marks as holding its default (``_defaults``: it follows its inputs, see
   ``_Run.forget_defaults``); UDI scans fill their sibling fields; formulas, autonumbers,
   current user/time are computed by the server;
3. ``visible_if`` decides which fields count; ``required``/``required_if`` and the ``validate``
   expressions run on the visible ones; links must exist inside the user's scope; ``unique``
   values must be free;
4. the record is written with its number, state, versions, keys and an audit entry.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import get_locale
from marshmallow import ValidationError, fields
from sqlalchemy import String, and_, cast, false, func, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db import utcnow
from app.i18n import _
from app.kernel import audit, prices, reservations
from app.kernel.errors import LotMismatch, NotWholeUnits, UnknownItem
from app.kernel.items import Item, Lot, Unit, wall_clock
from app.kernel.locations import Location
from app.kernel.periods import PeriodClosed
from app.kernel.udi import UDIError, check_udi, parse_udi
from app.kernel.users import User
from app.meta import access, attachments, links, numbering, periods
from app.meta.expressions import Context, ExpressionError
from app.meta.forms import DATE_TYPES, NUMBER_TYPES, FieldDef, FormDef, label_text
from app.meta.models import Record, RecordKey
from app.meta.registry import Registry
from app.meta.schema_builder import (
    flatten_errors,
    request_schema,
    too_large,
    too_large_message,
)


class RecordError(Exception):
    """Base of the record service's errors; ``status`` is the HTTP status that fits."""

    status = 400


class FormNotFound(RecordError):
    status = 404

    def __init__(self, form: str):
        super().__init__(_("There is no form '%(form)s'.", form=form))


class RecordNotFound(RecordError):
    """``form`` is what the user reads: the form's label in their language."""

    status = 404

    def __init__(self, form: str, record_id):
        super().__init__(_("Record %(id)s of %(form)s was not found.", id=record_id, form=form))


class ValidationFailed(RecordError):
    """Input refused; ``errors`` maps each field path (``lines[2].quantity``) to its reasons."""

    status = 422

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(_("Please correct the marked fields."))


class StaleRecord(RecordError):
    """Someone saved the record since this user loaded it."""

    status = 409

    def __init__(self, record: Record, saved_by: str | None):
        self.record, self.saved_by = record, saved_by
        super().__init__(
            _(
                "This record was changed by %(user)s at %(time)s since you opened it; "
                "reload it and apply your changes again.",
                user=saved_by or "?",
                time=wall_clock(record.updated_at, "%Y-%m-%d %H:%M:%S"),
            )
        )


class NotEditable(RecordError):
    status = 409

    def __init__(self, state: str):
        super().__init__(_("A record in state '%(state)s' can no longer be changed.", state=state))


class InClosedPeriod(RecordError):
    """The record is dated in a month finance has closed (and its form dates it by creation)."""

    status = 409


def require_open_period(session: Session, form: FormDef, data: dict | None, record=None) -> None:
    """Refuse a change to a record dated in a closed month: on its dating field when the form
    has one (a wrong invoice date is the user's to correct), else as a whole."""
    try:
        periods.require_open(session, form, data, record)
    except PeriodClosed as exc:
        if exc.field:
            raise ValidationFailed({exc.field: [str(exc)]}) from None
        raise InClosedPeriod(str(exc)) from None


class StillNeeded(RecordError):
    """A record others rely on — linked to by another record, or signed — is kept."""

    status = 409


#: Checks before a record is deleted, each giving the reason it must stay (None: none). The
#: layers above add theirs: the workflow keeps a signed record.
DELETE_GUARDS: list[Callable[[Session, Record], str | None]] = []


def locale() -> str:
    try:
        return str(get_locale() or "zh_CN")
    except (RuntimeError, AttributeError):
        return "zh_CN"


# --- typed values ---------------------------------------------------------------------------


def _typed(field: FieldDef, value):
    """A stored (JSON) value back as its Python type, for expressions."""
    if value is None:
        return None
    try:
        if field.type in NUMBER_TYPES and field.type != "integer":
            return Decimal(str(value))
        if field.type == "formula" and isinstance(value, str):
            try:
                return Decimal(value)
            except InvalidOperation:
                return value
        if field.type in DATE_TYPES:
            return dt.date.fromisoformat(value) if isinstance(value, str) else value
        if field.type in ("datetime", "current_time"):
            return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if field.type == "table":
            return [typed_values(field.fields, line) for line in value or []]
    except (InvalidOperation, ValueError, TypeError):
        return value
    return value


def typed_values(definition: list[FieldDef], data: dict) -> dict:
    return {field.name: _typed(field, data.get(field.name)) for field in definition}


def header_values(form: FormDef, sent: dict) -> dict:
    """Header values a page sent as text (a link picker's ``this.supplier=7``) as the record
    would hold them: a link as its id, a number as a Decimal, a date as a date; blank is None."""
    values = {}
    for name, text in sent.items():
        field = form.field(name)
        if field is None or text in (None, ""):
            values[name] = None
        elif field.type == "link":
            values[name] = int(text) if str(text).isdigit() else text
        else:
            values[name] = _typed(field, text)
    return values


def record_values(form: FormDef, record: Record) -> dict:
    """A record's values typed, plus its system columns, as expressions see them."""
    return {**typed_values(form.fields, record.data or {}), **system_values(form, record)}


def system_values(form: FormDef, record: Record | None) -> dict:
    """A record's system columns by name; one not yet created is in its form's initial state."""
    if record is None:
        return {"state": form.initial_state}
    return {
        "number": record.number, "state": record.state, "id": record.id,
        "created_at": record.created_at, "updated_at": record.updated_at,
        "created_by": record.created_by,
    }  # fmt: skip


def _integer(value) -> int | None:
    """A link's value as the id it names (None when empty or not a number)."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _empty(value) -> bool:
    return value is None or value == "" or value == []


#: The input's list of the values it holds from their fields' defaults (``_Run.forget_defaults``).
DEFAULTS = "_defaults"
#: A line field's path: ``lines[0].unit_price``.
LINE_PATH = re.compile(r"^([a-z][a-z0-9_]*)\[(\d+)\]\.([a-z][a-z0-9_]*)$")


def _has_default(field: FieldDef | None) -> bool:
    """Whether ``field`` is one a default fills: ``default_expr`` or ``default``, not computed."""
    if field is None or field.computed:
        return False
    return "default_expr" in field.expressions or field.get("default") is not None


def _follows(field: FieldDef | None, siblings: list[FieldDef] = ()) -> bool:
    """Whether ``field``'s value, when it came from its default, follows its inputs: a field a
    default or a scan beside it (among ``siblings``) fills, that the user may type into (a
    read-only one is the server's). So a second scan replaces what the first one filled."""
    if field is None or field.get("read_only"):
        return False
    return _has_default(field) or any(
        field.name in (sibling.get("fills") or {}).values() for sibling in siblings
    )


# --- the save pipeline ------------------------------------------------------------------------


@dataclass
class Evaluation:
    """The outcome of running a form's rules over some input."""

    values: dict
    errors: dict[str, list[str]]
    visible: dict[str, bool]
    #: the paths (``customer``, ``lines[0].unit_price``) this pass filled from their defaults:
    #: the page marks them, so that they follow their inputs until the user types one
    defaulted: set[str]


def expression_context(session: Session, registry: Registry, user, form: FormDef, record: Record):
    """What a rule about ``record`` evaluates in outside a save (a state's submit rules): the
    same functions that reach the database — ``lookup``, ``price``, ``known_lot``,
    ``free_stock`` — as its fields' rules have."""
    return _Run(session, registry, user, form, record).context


class _Run:
    """One pass of a form's rules over input: collects values, errors and visibility."""

    def __init__(self, session, registry, user, form: FormDef, record: Record | None):
        self.session, self.registry, self.user, self.form = session, registry, user, form
        self.record = record
        self.preview = False  # a live recompute: consume no numbers
        #: a workflow action creates the record: its location links may name any location
        self.by_action = False
        #: the input was typed by a person (page or API): read-only fields are not theirs to set
        self.from_client = False
        self.errors: dict[str, list[str]] = {}
        self.visible: dict[str, bool] = {}
        #: header fields the input marked as holding their defaults: computed again, on an
        #: update too (a line's empty field always is)
        self.refill: set[str] = set()
        #: the paths this pass filled from their defaults (``Evaluation.defaulted``)
        self.defaulted: set[str] = set()
        #: header fields the record's state keeps from this user: left empty, they are not
        #: theirs to fill (a field made required after the record passed its draft)
        self.locked = locked_fields(form, record, user) if record is not None else set()
        self.context = Context(
            lookup=self._lookup, my_location=self._my_location, price=self._price,
            record=system_values(form, record), known=self._known, free_stock=self._free_stock,
        )  # fmt: skip
        #: the link fields by name, header and lines, for ``lookup(field, ...)``
        self._links: dict[str, FieldDef] = {}
        #: ``lookup`` answers of this pass: one formula often asks the same card several times
        #: (``lookup(customer, 'kind')`` in each branch), and every line asks its item again.
        self._looked_up: dict[tuple, object] = {}
        #: link checks of this pass, by (field, value): the lines' links are resolved together
        self._linked: dict[tuple[int, object], links.Choice | None] = {}
        self._header: dict = {}
        for top in form.fields:
            for candidate in [top, *top.fields]:
                if candidate.type == "link":
                    self._links[candidate.name] = candidate

    def _names_anywhere(self, link: FieldDef) -> bool:
        """Whether ``link`` may name any location (``link_scope: all``, or a location an action
        sets): it is checked, and looked up, whatever the user's scope."""
        return link.get("link_scope") == "all" or (
            self.by_action and link.get("link") == "location"
        )

    def _lookup(self, name: str, value, field: str):
        link = self._links.get(name)
        if link is None:
            return None
        target = link.get("link")
        key = (target, str(value), field)
        if key not in self._looked_up:
            card = self.registry.card(target)
            everywhere = self._names_anywhere(link)
            found = links.field_of(self.session, self.user, target, value, field, card, everywhere)
            self._looked_up[key] = self._typed_lookup(card[0] if card else target, field, found)
        return self._looked_up[key]

    def _known(self, kind: str, item, value) -> bool:
        """``known_lot(item, lot)`` / ``known_serial(item, serial)``: is that lot or unit of the
        item on record (received at some time)? A complaint about a lot nobody received cannot
        be traced nor recalled."""
        if _empty(item) or _empty(value) or not str(item).isdigit():
            return False
        model, column = (Lot, Lot.lot_number) if kind == "lot" else (Unit, Unit.serial)
        query = select(model.id).where(model.item_id == int(item), column == str(value).strip())
        return self.session.scalar(query.limit(1)) is not None

    def _free_stock(self, item, location, lot) -> Decimal:
        """``free_stock(item, location, lot)``: what of the item (of that lot number, if given)
        may be picked at the location today — available, not reserved, of released lots not
        expired — as FEFO allocation sees it; 0 for an expired, recalled or quarantined lot."""
        if not (str(item).isdigit() and str(location).isdigit()):
            return Decimal(0)
        the_item = self.session.get(Item, int(item))
        place = self.session.get(Location, int(location))
        if the_item is None or place is None:
            return Decimal(0)
        wanted = None if _empty(lot) else str(lot).strip()
        return sum(
            (free for found, free in reservations.free_lots(self.session, the_item, place)
             if wanted is None or (found is not None and found.lot_number == wanted)),
            Decimal(0),
        )  # fmt: skip

    def _price(self, item, location, on: dt.date, kind: str):
        """``price(item, location, date, kind)``: the price a price change set, in force at the
        location that day (empty when none did: the item card's list price applies). Asked once
        per pass for each line's item, as ``lookup`` is."""
        key = ("price", str(item), str(location), on, kind)
        if key not in self._looked_up:
            item_id, location_id = _integer(item), _integer(location)
            self._looked_up[key] = (
                prices.price_on(self.session, item_id, location_id, on, kind)
                if item_id is not None
                else None
            )
        return self._looked_up[key]

    def _typed_lookup(self, holder: str, name: str, value):
        """A looked-up field as its type, as the record's own fields are in expressions: an
        amount a Decimal (``lookup(item, 'purchase_price') * 1.1``), a date a date, a table's
        lines typed too. A kernel column is typed already; a field the holding form does not
        declare is passed as stored."""
        form = self.registry.forms.get(holder)
        field = form.field(name) if form is not None else None
        return _typed(field, value) if field is not None else value

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def _my_location(self) -> int | None:
        """The one location the user works at (a store's clerk, a warehouse's supervisor): what
        ``my_location()`` gives a new document's location field, so staff need not pick their
        own store each time; None for whoever sees more than one (a region, HQ, QA)."""
        ids = list(getattr(self.user, "location_ids", None) or ())
        return ids[0] if len(ids) == 1 and access.scope_of(self.user) == "own" else None

    def evaluate(self, expression, values: dict, path: str, default=None):
        try:
            return expression.evaluate(values, self.context)
        except ExpressionError as exc:
            self.error(path, str(exc))
            return default

    # parsing ----------------------------------------------------------------------------------
    def parse(self, payload: dict, creating: bool) -> dict:
        payload = self.forget_defaults(payload or {})
        payload = self._strip(self.form.fields, payload, creating)
        try:
            loaded = request_schema(self.form, locale()).load(payload)
        except ValidationError as exc:
            for path, texts in flatten_errors(exc.messages).items():
                for text in texts:
                    self.error(path, text)
            loaded = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return loaded

    def forget_defaults(self, payload: dict) -> dict:
        """``payload`` (a copy) without the values it marks, in ``_defaults``, as its fields'
        defaults rather than typed: they are computed again from the values sent with them.

        A value a field's ``default``/``default_expr`` gave follows what it is computed from
        until the user types one, as people expect of an order's line price: the clerk adds a
        line (the retail price), then picks the hospital, and the line takes the price agreed
        with it; so does a sale backdated. The page knows which inputs the user typed into: it
        names the others in ``_defaults`` (``lines[0].unit_price,sale_date``) with every
        recompute and every save, so a save never keeps a default computed for another
        customer, even one sent before the recompute's answer was back. A value the input does
        not mark — typed on the page, or sent by an API client — stays as sent. A name that
        holds no default here is ignored."""
        if not isinstance(payload, dict) or DEFAULTS not in payload:
            return payload
        payload = dict(payload)
        marked = payload.pop(DEFAULTS)
        if isinstance(marked, str):
            marked = marked.split(",")
        if not isinstance(marked, list) or not all(isinstance(path, str) for path in marked):
            self.error(DEFAULTS, _("Name the fields holding their defaults, as in "
                                   "lines[0].unit_price, separated by commas."))  # fmt: skip
            return payload
        for path in marked:
            self._forget_default(payload, path.strip())
        return payload

    def _forget_default(self, payload: dict, path: str) -> None:
        line = LINE_PATH.match(path)
        if line is None:
            if _follows(self.form.field(path), self.form.fields) and path in payload:
                payload[path] = None
                self.refill.add(path)
            return
        name, index, child = line.group(1), int(line.group(2)), line.group(3)
        table = self.form.field(name)
        lines = payload.get(name)
        if (
            table is None
            or not _follows(table.child(child), table.fields)
            or not isinstance(lines, list)
        ):
            return
        if index < len(lines) and isinstance(lines[index], dict) and child in lines[index]:
            payload[name] = lines = list(lines)
            lines[index] = {**lines[index], child: None}

    def _strip(self, definition: list[FieldDef], payload: dict, creating: bool) -> dict:
        """Drop what the user may not set: computed fields, and read-only ones — always from a
        person's input (the server fills them: defaults, workflow actions), and after creation
        from anyone's. Dropped silently, as an update always did: a page posts them back."""
        if not isinstance(payload, dict):
            self.error("_schema", _("Invalid input type."))
            return {}
        clean = {}
        for key, value in payload.items():
            field = next((f for f in definition if f.name == key), None)
            if field is not None and (field.computed or self._read_only(field, creating)):
                if definition is self.form.fields and self._overwrites(field, value, creating):
                    self.error(key, _("Filled in by the system: it cannot be changed here."))
                continue
            if isinstance(value, str) and value.strip() == "" and field is not None:
                value = None
            if field is not None and field.type == "table" and isinstance(value, list):
                value = [
                    self._keep_read_only(field, index, self._strip(field.fields, line, creating))
                    for index, line in enumerate(value)
                ]
            clean[key] = value
        return clean

    def _overwrites(self, field: FieldDef, value, creating: bool) -> bool:
        """Does an update give a read-only header field another value than it holds? (Sent
        back as read, it is dropped as it always was; a formula is never compared: it follows
        its inputs.) Dropping a different value silently would tell an integration its change
        was saved."""
        if creating or field.computed or self.record is None:
            return False
        stored = (self.record.data or {}).get(field.name)
        if field.type == "boolean":
            return not _says_yes_or_no_alike(stored, value)
        return not _says_the_same(stored, value)

    def _read_only(self, field: FieldDef, creating: bool) -> bool:
        return bool(field.get("read_only")) and (self.from_client or not creating)

    def _keep_read_only(self, table: FieldDef, index: int, line: dict) -> dict:
        """A read-only line field keeps its stored value (line matched by position) on update:
        e.g. the shipped quantity of a transfer in, while the store enters what it received."""
        stored = (self.record.data or {}).get(table.name) if self.record is not None else None
        if not isinstance(line, dict) or not stored or index >= len(stored):
            return line
        for child in table.fields:
            if child.get("read_only") and child.name in stored[index]:
                line[child.name] = stored[index][child.name]
        return line

    # computing --------------------------------------------------------------------------------
    def compute(self, values: dict, creating: bool) -> dict:
        # a scan fills its fields first: defaults read them (a scanned line's cost is its item's)
        self._scan(self.form.fields, values, "")
        for field in self.form.fields:
            refilled = creating or field.name in self.refill
            if refilled and _empty(values.get(field.name)):
                self._default(field, values, values, field.name)
            if field.type == "table":
                lines = values.get(field.name) or []
                for index, line in enumerate(lines):
                    scope_path = f"{field.name}[{index}]"
                    self._scan(field.fields, line, scope_path)
                    for child in field.fields:
                        if _empty(line.get(child.name)):
                            path = f"{scope_path}.{child.name}"
                            self._default(child, line, {**values, **line}, path)
                    for child in field.formulas:
                        line[child.name] = self._formula(
                            child, {**values, **line}, f"{scope_path}.{child.name}"
                        )
                values[field.name] = lines
        for field in self.form.formulas:
            values[field.name] = self._formula(field, values, field.name)
        for field in self.form.fields:
            if creating and field.type == "current_user":
                values[field.name] = getattr(self.user, "id", None)
            elif creating and field.type == "current_time":
                values[field.name] = utcnow()
            elif creating and field.type == "autonumber" and not self.preview:
                values[field.name] = numbering.next_value(
                    self.session, f"{self.form.name}.{field.name}"
                )
        return values

    def _default(self, field: FieldDef, target: dict, scope: dict, path: str) -> None:
        """Fill ``field`` (at ``path``) in ``target`` from its default over ``scope``."""
        if not _has_default(field):
            return
        target[field.name] = self.default_of(field, scope, path)
        if _follows(field) and not _empty(target[field.name]):
            self.defaulted.add(path)

    def default_of(self, field: FieldDef, scope: dict, path: str):
        """What ``field``'s default gives over ``scope`` (None if it has none)."""
        if "default_expr" in field.expressions:
            value = self.evaluate(field.expressions["default_expr"], scope, path)
            return _typed(field, value)  # a price read off a card is text
        return _typed(field, field.get("default"))

    def _formula(self, field: FieldDef, scope: dict, path: str):
        value = self.evaluate(field.expressions["formula"], scope, path)
        if isinstance(value, float):  # never store a float
            value = Decimal(str(value))
        if isinstance(value, Decimal) and (too_large(value) or not value.is_finite()):
            self.error(path, too_large_message())
            return None
        if isinstance(value, Decimal) and field.get("scale") is not None:
            value = value.quantize(Decimal(1).scaleb(-field.get("scale")), ROUND_HALF_UP)
        return value

    def _scan(self, definition: list[FieldDef], values: dict, prefix: str) -> None:
        """A UDI field's scan fills its sibling fields still empty, and is refused when one
        already says otherwise (another item chosen, another lot typed): the goods in hand are
        what the record must say, for the trace a recall reads."""
        for field in definition:
            text = values.get(field.name)
            if field.type != "udi" or _empty(text):
                continue
            path = f"{prefix}.{field.name}".lstrip(".")
            fills = field.get("fills") or {}
            try:
                parsed = parse_udi(text)
                if "item" in fills:  # the same checks as the scan itself (forms_api.scan)
                    check_udi(self.session, parsed)
            except (UDIError, UnknownItem, LotMismatch) as exc:
                self.error(path, str(exc))
                continue
            for part, target in fills.items():
                value = resolve_udi_part(self.session, self.user, parsed, part)
                if value is None:
                    continue
                if _empty(values.get(target)):
                    values[target] = value
                    self.defaulted.add(f"{prefix}.{target}".lstrip("."))
                elif str(values[target]) != str(value):
                    self._contradicted(definition, target, value, path)
                    break

    def _contradicted(self, definition: list[FieldDef], target: str, scanned, path: str):
        sibling = next((field for field in definition if field.name == target), None)
        if sibling is not None and sibling.type == "link":
            scanned = links.resolve(self.session, self.user, sibling.get("link"), scanned)
            scanned = scanned.label if scanned is not None else "?"
        label = sibling.label(locale()) if sibling is not None else target
        message = _("The scan says %(field)s %(scanned)s, not what is entered: scan the "
                    "goods in hand, or clear %(field)s.", field=label, scanned=scanned)  # fmt: skip
        self.error(path, message)

    # checking ---------------------------------------------------------------------------------
    def check(self, values: dict) -> None:
        self._header = values  # what a link filter's this('field') reads
        self._check_level(self.form.fields, values, values, "")
        for field in self.form.fields:
            if field.type == "table" and self.visible.get(field.name, True):
                lines = values.get(field.name) or []
                self._resolve_line_links(field, lines)
                for index, line in enumerate(lines):
                    self._check_level(
                        field.fields, line, {**values, **line}, f"{field.name}[{index}]"
                    )

    def _check_level(self, definition, values: dict, scope: dict, prefix: str) -> None:
        for field in definition:
            path = f"{prefix}.{field.name}" if prefix else field.name
            visible = True
            if "visible_if" in field.expressions:
                visible = bool(self.evaluate(field.expressions["visible_if"], scope, path, True))
            self.visible[path] = visible
            if not visible or path in self.errors:
                continue
            value = values.get(field.name)
            required = bool(field.get("required"))
            if "required_if" in field.expressions:
                required = required or bool(
                    self.evaluate(field.expressions["required_if"], scope, path, False)
                )
            if _empty(value):
                if required and not field.computed and not self._locked(path):
                    self.error(path, _("This field is required."))
                continue
            if field.type == "link":
                self._check_link(field, value, path)
            if field.get("whole_units_of"):
                self._check_whole_units(field.get("whole_units_of"), scope, value, path)
            if field.type == "attachment":
                record_id = self.record.id if self.record is not None else None
                if not attachments.usable_by(self.session, self.user, value, record_id):
                    self.error(path, _("No such file, or it belongs to another record."))
            for expression, message in field.validators:
                if self._reads_refused(expression, scope, path):
                    continue  # over a value already refused it would blame the wrong field
                if not self.evaluate(expression, scope, path, True):
                    self.error(path, _label(message))

    def _check_whole_units(self, item_field: str, scope: dict, value, path: str) -> None:
        """A fraction of an item counted in whole units is refused at save, as the kernel would
        refuse it when the goods move (a purchase order's half box would only meet the kernel
        at its receipt)."""
        item = scope.get(item_field)
        if _empty(item) or not isinstance(value, Decimal) or value == value.to_integral_value():
            return
        if self._lookup(item_field, item, "whole_units"):
            self.error(path, str(NotWholeUnits(self.session.get(Item, int(item)), value)))

    def _locked(self, path: str) -> bool:
        """Is the header field of ``path`` (``lines[0].lot``: the table) kept from this user?"""
        return path.split(".", 1)[0].split("[", 1)[0] in self.locked

    def _reads_refused(self, expression, scope: dict, path: str) -> bool:
        """Does the rule at ``path`` read a value refused and so left out (a negative safety
        stock, which the reorder point's rule compares with)? Its own line's fields, or the
        header's."""
        line = path[: path.rfind(".") + 1]
        return any(
            _empty(scope.get(name)) and (name in self.errors or line + name in self.errors)
            for name in expression.names
        )

    def _check_link(self, field: FieldDef, value, path: str) -> None:
        key = (id(field), _hashable(value))
        if key not in self._linked:
            terms = self._link_terms(field, value)
            self._linked[key] = links.resolve(self.session, self.user, *terms)
        if self._linked[key] is None:
            self.error(path, self._link_refusal(field, value))

    def _link_refusal(self, field: FieldDef, value) -> str:
        """Why a link value was refused: one the user may see but the field's ``link_filter``
        turns down is named (another supplier's receipt, an order not approved), not denied."""
        target, _values, title, condition, everywhere = self._link_terms(field, value)
        if condition is not None:
            seen = links.resolve(self.session, self.user, target, value, title, None, everywhere)
            if seen is not None:
                return _("%(choice)s cannot be chosen here.", choice=seen.label)
        return _("No such %(target)s, or it is outside your scope.", target=field.label(locale()))

    def _link_terms(self, field: FieldDef, values) -> tuple:
        """What ``links.resolve`` (one value) or ``resolve_many`` (several) needs for ``field``."""
        target = field.get("link")
        title = self.registry.forms[target].title_field if target in self.registry.forms else None
        condition = links.bound(field.expressions.get("link_filter"), self._header)
        return target, values, title, condition, self._names_anywhere(field)

    def _resolve_line_links(self, table: FieldDef, lines: list) -> None:
        """Resolve each link field's values over all the lines in one query (then checked line
        by line from what was found, as a single value would be)."""
        for field in table.fields:
            if field.type != "link":
                continue
            values = {_hashable(line.get(field.name)) for line in lines if isinstance(line, dict)}
            values -= {None, ""} | {value for (owner, value) in self._linked if owner == id(field)}
            if len(values) > 1:
                terms = self._link_terms(field, values)
                found = links.resolve_many(self.session, self.user, *terms)
                self._linked |= {(id(field), value): choice for value, choice in found.items()}

    def check_unique(self, values: dict) -> None:
        for field in self.form.fields:
            if not field.get("unique") or _empty(values.get(field.name)):
                continue
            query = select(RecordKey.record_id).where(
                RecordKey.form == self.form.name,
                RecordKey.field == field.name,
                RecordKey.value == _key_text(values[field.name]),
                RecordKey.is_unique.is_(True),
            )
            if self.record is not None:
                query = query.where(RecordKey.record_id != self.record.id)
            if self.session.scalar(query.limit(1)) is None:
                continue
            if field.get("hidden"):  # a key made of other fields (location and item): said above
                self.error("_schema", _("Another record already has this %(field)s.",
                                        field=field.label(locale())))  # fmt: skip
            else:
                self.error(field.name, _("This value is already used by another record."))


def audit_as(session: Session, user, action: str, entity: str, entity_id, **kwargs):
    """An audit entry naming ``user`` even where no request fills in the actor (CLI, jobs)."""
    context = audit.context_provider()
    if context.user_id is None and getattr(user, "id", None) is not None:
        context = replace(context, user_id=user.id, username=getattr(user, "username", None))
    return audit.record(session, action, entity, entity_id, context=context, **kwargs)


def _label(message: dict) -> str:
    return label_text(message, locale())


def _hashable(value):
    """A link value as a memo key (a malformed list or dict from the API is kept as text)."""
    return value if isinstance(value, int | str | None) else repr(value)


def _key_text(value) -> str:
    return str(audit.jsonable(value))[:255]


def resolve_udi_part(session: Session, user, parsed, part: str):
    """The value a UDI part gives its target field; ``item`` is looked up by GTIN when possible."""
    if part == "item":
        target = links.LINK_TARGETS.get("item")
        if target is None or "gtin" not in target.model.__table__.columns:
            return None
        row = session.scalar(select(target.model).where(target.model.gtin == parsed.gtin))
        return getattr(row, target.key) if row is not None else None
    return getattr(parsed, part, None)


def _form(registry: Registry, name: str) -> FormDef:
    form = registry.form(name)
    if form is None:
        raise FormNotFound(name)
    return form


def evaluate(session, registry: Registry, user, form_name: str, payload: dict, record_id=None):
    """Run the form's rules without saving: the page's live recompute (server authoritative)."""
    form = _form(registry, form_name)
    record = get(session, registry, user, form_name, record_id) if record_id else None
    run = _Run(session, registry, user, form, record)
    run.preview = True
    run.from_client = True
    creating = record is None
    values = typed_values(form.fields, record.data) if record else {}
    values.update(run.parse(payload, creating))
    run.compute(values, creating)
    run.check(values)
    return Evaluation(values, run.errors, run.visible, run.defaulted)


def holding_defaults(session, registry: Registry, user, form: FormDef, values: dict, record=None):
    """The paths of ``values`` (a page's, as shown) that hold what their field's default gives
    for the values around them. A page opening a record — a draft reopened, a new record's
    first values — cannot know which were typed: one that is its default is taken for the
    default, and follows its inputs from then on (``_Run.forget_defaults``); one that differs
    was typed, and stays."""
    run = _Run(session, registry, user, form, record)
    run.preview = True
    typed = typed_values(form.fields, values)
    held = set()
    for field in form.fields:
        if _follows(field) and _held(run, field, typed, typed, field.name):
            held.add(field.name)
        if field.type != "table":
            continue
        for index, line in enumerate(typed.get(field.name) or []):
            scope = {**typed, **line}
            for child in field.fields:
                path = f"{field.name}[{index}].{child.name}"
                if _follows(child) and _held(run, child, line, scope, path):
                    held.add(path)
    return held


def _held(run: _Run, field: FieldDef, values: dict, scope: dict, path: str) -> bool:
    value = values.get(field.name)
    return not _empty(value) and _says_the_same(run.default_of(field, scope, path), value)


def recomputed(session, registry: Registry, user, form: FormDef, record: Record):
    """``record``'s values with its formulas computed anew by ``form``'s current rules, and the
    paths of the formulas that could not be computed (``{}`` when all could)."""
    run = _Run(session, registry, user, form, record)
    values = run.compute(typed_values(form.fields, record.data or {}), creating=False)
    return values, run.errors


def _prepare(run: _Run, values: dict, payload: dict, creating: bool) -> dict:
    values.update(run.parse(payload, creating))
    run.compute(values, creating)
    run.check(values)
    run.check_unique(values)
    if run.errors:
        raise ValidationFailed(run.errors)
    return values


def _location_id(form: FormDef, values: dict) -> int | None:
    if form.location_field and values.get(form.location_field) is not None:
        return int(values[form.location_field])
    return None


def _require_own_location(session: Session, user, form: FormDef, location_id, action) -> None:
    """The record's own location must be in the scope of a role letting the user take ``action``
    on the form, even where its location field may name any location (``link_scope: all``, for
    the other side of a transfer)."""
    roles = access.granting(user, action, form.name)
    if location_id is not None and not access.in_scope(session, user, location_id, roles):
        raise ValidationFailed(
            {form.location_field: [
                _("No such %(target)s, or it is outside your scope.",
                  target=form.field(form.location_field).label(locale()))
            ]}
        )  # fmt: skip


def _require_write_scope(session: Session, user, form: FormDef, record: Record, action) -> None:
    """A record the user may read may still lie outside where they may change it: the role
    that lets them read it (say, a read-only chain-wide one) is not the one that lets them write."""
    if form.location_field:
        access.require_location(session, user, record.location_id, action, form.name)


def hold_unique_values(session: Session, form: FormDef, record: Record, holds: bool) -> None:
    """A record entering a ``void`` state (voided, cancelled) gives up its unique values: an
    invoice registered by mistake keeps its history, and the invoice number can be registered
    again by the right record. One brought back out of such a state takes them again, refused
    (naming the field) if another record took one meanwhile."""
    unique = [field.name for field in form.fields if field.get("unique")]
    if not unique:
        return
    mine = select(RecordKey.field, RecordKey.value).where(
        RecordKey.record_id == record.id, RecordKey.field.in_(unique)
    )
    for name, value in session.execute(mine) if holds else ():
        taken = select(RecordKey.id).where(
            RecordKey.form == form.name, RecordKey.field == name, RecordKey.value == value,
            RecordKey.is_unique.is_(True), RecordKey.record_id != record.id,
        )  # fmt: skip
        if session.scalar(taken.limit(1)) is not None:
            raise ValidationFailed({name: [_("This value is already used by another record.")]})
    try:  # (two records taking one value back at once: the database's unique index refuses)
        session.execute(
            sql_update(RecordKey)
            .where(RecordKey.record_id == record.id, RecordKey.field.in_(unique))
            .values(is_unique=holds)
        )
    except IntegrityError:
        raise ValidationFailed(
            {"_schema": [_("A unique value is already used by another record.")]}
        ) from None


def _write_keys(
    session: Session, form: FormDef, record: Record, values: dict, fresh: bool = False
) -> None:
    if not fresh:
        session.execute(sql_delete(RecordKey).where(RecordKey.record_id == record.id))
    for field in form.fields:
        if (field.get("unique") or field.get("indexed")) and not _empty(values.get(field.name)):
            session.add(
                RecordKey(
                    record_id=record.id,
                    form=form.name,
                    field=field.name,
                    value=_key_text(values[field.name]),
                    is_unique=bool(field.get("unique")),
                )
            )
    try:
        session.flush()
    except IntegrityError:
        raise ValidationFailed(
            {"_schema": [_("A unique value is already used by another record.")]}
        ) from None


def create(
    session: Session,
    registry: Registry,
    user,
    form_name: str,
    payload: dict,
    by_action: bool = False,
    from_client: bool = False,
    origin: str | None = None,
) -> Record:
    """Validate ``payload`` and create a record of ``form_name`` (caller commits). A person
    creates records only where they work; a workflow action (``by_action``) may create one for
    the counterpart, e.g. the transfer out at the source of an approved request, or the
    fulfilment order at the warehouse an order's allocation chose; ``origin`` names the record
    and transition it was made by, the creation's reason in the audit trail. ``from_client``:
    the payload came from a page or the API, so its read-only fields are ignored (a clerk may not
    name another store's transfer, or write a recall's trace); server callers may fill them.

    An action creates on the workflow's authority: firing the transition is the right that
    counts, so an approver whose role may approve but not create (an area manager approving a
    transfer request) still gets the transfer out its approval makes."""
    form = _form(registry, form_name)
    if not by_action:
        access.require(user, "create", form_name)
    run = _Run(session, registry, user, form, None)
    run.by_action = by_action
    run.from_client = from_client
    values = _prepare(run, {}, payload, creating=True)
    location_id = _location_id(form, values)
    if not by_action:
        _require_own_location(session, user, form, location_id, "create")
    require_open_period(session, form, values)
    number = None
    if form.spec.get("numbering"):
        location = session.get(Location, location_id) if location_id else None
        number = numbering.render(form.spec["numbering"], form.name, location, session=session)
    now = utcnow()
    record = Record(
        form=form.name,
        number=number,
        state=form.initial_state,
        location_id=location_id,
        created_by=getattr(user, "id", None),
        updated_by=getattr(user, "id", None),
        created_at=now,
        updated_at=now,
        meta_version=form.version,
        data=audit.jsonable(values),
    )
    session.add(record)
    session.flush()
    attachments.claim(session, _attachment_ids(form.fields, values), record.id)
    _write_keys(session, form, record, values, fresh=True)
    changes = {form.name: record.data}
    audit_as(session, user, "create", "record", record.id, changes=changes, reason=origin)
    return record


def _attachment_ids(definition: list[FieldDef], values: dict) -> list[int]:
    """The files named by the attachment fields of ``values``, lines included."""
    found = []
    for field in definition:
        value = values.get(field.name)
        if field.type == "attachment" and value is not None:
            found.append(int(value))
        elif field.type == "table":
            for line in value or []:
                found.extend(_attachment_ids(field.fields, line))
    return found


class FieldNotEditable(RecordError):
    """The record's current workflow state does not let this user change ``field``."""

    status = 403

    def __init__(self, field: str, form: FormDef, state: str):
        self.field = field
        self.errors = {field: [_("This field cannot be changed in this state.")]}
        definition = form.field(field)
        super().__init__(
            _(
                "You may not change '%(field)s' in state '%(state)s'.",
                field=definition.label(locale()) if definition is not None else field,
                state=form.state_label(state, locale()),
            )
        )


def state_rights(form: FormDef, state: str) -> dict:
    """The ``fields`` rights a workflow state declares: ``editable``, ``visible``, ``roles``."""
    if not form.workflow:
        return {}
    return form.workflow.get("states", {}).get(state, {}).get("fields") or {}


def editable(form: FormDef, record: Record, partial_allowed: bool = False) -> bool:
    """Whether the record's state lets it be changed (deleted, or with ``partial_allowed``
    updated in the fields its rights list): a page offers Edit and Delete only then."""
    try:
        _editable(form, record, partial_allowed)
    except NotEditable:
        return False
    return True


def _editable(form: FormDef, record: Record, partial_allowed: bool = False) -> None:
    """A state is editable as a whole, or (for updates) in the fields its rights list."""
    if form.workflow:
        state = form.workflow.get("states", {}).get(record.state, {})
        if state.get("editable"):
            return
        if partial_allowed and state_rights(form, record.state).get("editable"):
            return
        raise NotEditable(form.state_label(record.state, locale()))


def _editable_as_a_whole(form: FormDef, record: Record) -> bool:
    """A draft's state: its content is still being written (a later state's few editable fields
    are that step's own — scans, an inspection, a delivery — done on the day they are done)."""
    return not form.workflow or bool(
        form.workflow.get("states", {}).get(record.state, {}).get("editable")
    )


def _kept_from(form: FormDef, record: Record, user, names) -> list[str]:
    """Those of ``names`` the record's state keeps this user from changing."""
    rights = state_rights(form, record.state)
    if not rights:
        return []
    editable, roles = rights.get("editable"), rights.get("roles")
    held = set(getattr(user, "role_names", ()))
    kept = []
    for name in sorted(names):
        field = form.field(name)
        if field is not None and field.computed:
            continue
        if (editable is not None and name not in editable) or (roles and not held & set(roles)):
            kept.append(name)
    return kept


def check_field_rights(form: FormDef, record: Record, user, changed) -> None:
    """Refuse (403, naming the field) a change of a field the state keeps from this user."""
    kept = _kept_from(form, record, user, changed)
    if kept:
        raise FieldNotEditable(kept[0], form, record.state)


def locked_fields(form: FormDef, record: Record, user) -> set[str]:
    """The fields the edit page shows read-only for ``user`` in the record's state."""
    return set(_kept_from(form, record, user, [field.name for field in form.fields]))


def visible_data(form: FormDef, record: Record) -> dict:
    """The record's values its state lets users see (all unless the state lists ``visible``),
    less the fields its ``visible_if`` hides on the values as saved, as the form hides them (the
    review scans of a retail sale, or of a store's own transfer)."""
    visible = state_rights(form, record.state).get("visible")
    data = record.data or {}
    shown = data if visible is None else {k: v for k, v in data.items() if k in visible}
    typed, context = typed_values(form.fields, data), Context(record=system_values(form, record))
    kept = {key: value for key, value in shown.items() if _shown(form.field(key), typed, context)}
    for field in form.fields:
        if field.type == "table" and isinstance(kept.get(field.name), list):
            kept[field.name] = [
                _visible_line(field, line, typed, context) for line in kept[field.name]
            ]
    return kept


def _visible_line(table: FieldDef, line, header: dict, context: Context):
    """A line less the fields its ``visible_if`` hides on it (read with the header's values, as
    the form reads it): a red-letter invoice's lines show no reversal column."""
    if not isinstance(line, dict):
        return line
    scope = {**header, **typed_values(table.fields, line)}
    return {key: value for key, value in line.items() if _shown(table.child(key), scope, context)}


def _shown(field: FieldDef | None, values: dict, context: Context) -> bool:
    expression = field.expressions.get("visible_if") if field is not None else None
    if expression is None:
        return True
    try:
        return bool(expression.evaluate(values, context))
    except ExpressionError:  # what the page cannot work out, it shows
        return True


def _check_version(session: Session, record: Record, version) -> None:
    if version is None:
        return
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationFailed({"version": [_("Not a valid number.")]}) from None
    if version != record.version:
        user = session.get(User, record.updated_by) if record.updated_by else None
        raise StaleRecord(record, user.full_name if user else None)


def _keep_removed_line_fields(form: FormDef, old: dict, new: dict) -> None:
    """Values of line fields an admin removed stay with their line (matched by position)."""
    for field in form.fields:
        if field.type != "table":
            continue
        known = {child.name for child in field.fields}
        old_lines = old.get(field.name) or []
        for index, line in enumerate(new.get(field.name) or []):
            if index < len(old_lines) and isinstance(old_lines[index], dict):
                for key, value in old_lines[index].items():
                    if key not in known:
                        line.setdefault(key, value)


def _same(old, new) -> bool:
    """Whether a stored value and its new value say the same: a key a stored line (or row) lacks
    — e.g. a field added to the form after it was saved — equals that key empty (None)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(_same(old.get(key), new.get(key)) for key in old.keys() | new.keys())
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(map(_same, old, new))
    return old == new


def _says_the_same(stored, sent) -> bool:
    """Whether a value a client sent says what the stored one says, as text or as a number
    (``"99"`` and ``99``, ``"2.50"`` and ``2.5``), empty as empty."""
    if stored in (None, "") or sent in (None, ""):
        return stored in (None, "") and sent in (None, "")
    if isinstance(stored, bool) or isinstance(sent, bool):
        return str(stored).lower() == str(sent).lower()
    if str(stored).strip() == str(sent).strip():
        return True
    try:
        return Decimal(str(stored)) == Decimal(str(sent))
    except (InvalidOperation, ValueError):
        return False


def _yes_or_no(value) -> bool | None:
    """``value`` as yes or no, ``None`` when it says neither: in the words the form's boolean
    fields read (a ticked box sends "1" or "on", JSON true), and a box never ticked (nothing
    sent) is no."""
    if value is None or value == "":
        return False
    try:
        return fields.Boolean().deserialize(value)
    except ValidationError:
        return None


def _says_yes_or_no_alike(stored, sent) -> bool:
    """Whether a yes-or-no a client sent says what the stored one says: a page posts a ticked
    read-only box (须通知客户) back as "1", which is the stored ``true``, not a change of it."""
    said = _yes_or_no(sent)
    return said is not None and said == _yes_or_no(stored)


def update(
    session: Session,
    registry: Registry,
    user,
    form_name: str,
    record_id: int,
    payload: dict,
    version=None,
) -> Record:
    """Apply ``payload`` (fields not given keep their values); ``version`` guards against
    overwriting someone else's save."""
    form = _form(registry, form_name)
    access.require(user, "update", form_name)
    record = get(session, registry, user, form_name, record_id, for_update=True)
    _require_write_scope(session, user, form, record, "update")
    _check_version(session, record, version)
    _editable(form, record, partial_allowed=True)
    if _editable_as_a_whole(form, record):
        require_open_period(session, form, record.data, record)
    run = _Run(session, registry, user, form, record)
    old, old_location = dict(record.data or {}), record.location_id
    values = _prepare(run, typed_values(form.fields, old), payload, creating=False)
    new = {**old, **audit.jsonable(values)}  # removed fields keep their stored values
    _keep_removed_line_fields(form, old, new)
    changes = {
        key: [old.get(key), new.get(key)] for key in new if not _same(old.get(key), new.get(key))
    }
    check_field_rights(form, record, user, changes)
    if form.period_date in changes:  # into or out of a closed month
        require_open_period(session, form, record.data, record)
        require_open_period(session, form, new, record)
    location_id = _location_id(form, values) if form.location_field else None
    if not changes and location_id == old_location:
        return record  # nothing to save: no new version, no empty entry in the audit trail
    record.data = new
    record.location_id = location_id
    if record.location_id != old_location:
        _require_own_location(session, user, form, record.location_id, "update")
    record.updated_at = utcnow()
    record.updated_by = getattr(user, "id", None)
    record.meta_version = form.version
    try:
        session.flush()
    except StaleDataError:
        raise StaleRecord(record, None) from None
    attachments.claim(session, _attachment_ids(form.fields, values), record.id)
    _write_keys(session, form, record, values)
    audit_as(session, user, "update", "record", record.id, changes=changes)
    return record


def delete(
    session: Session, registry: Registry, user, form_name: str, record_id: int, version=None
):
    form = _form(registry, form_name)
    access.require(user, "delete", form_name)
    record = get(session, registry, user, form_name, record_id, for_update=True)
    _require_write_scope(session, user, form, record, "delete")
    _check_version(session, record, version)
    _editable(form, record)
    require_open_period(session, form, record.data, record)
    _require_unneeded(session, registry, record)
    audit_as(
        session,
        user,
        "delete",
        "record",
        record.id,
        changes={form.name: record.data, "number": record.number},
    )
    session.execute(sql_delete(RecordKey).where(RecordKey.record_id == record.id))
    session.delete(record)
    session.flush()


def _require_unneeded(session: Session, registry: Registry, record: Record) -> None:
    """Refuse to delete a record another links to (a customer its sales name: the sales would
    name nobody, and a recall's trace no one to call) or a guard keeps."""
    linking = _linked_from(session, registry, record)
    if linking is not None:
        form = registry.form(linking.form)
        raise StillNeeded(
            _("%(form)s %(number)s refers to this record, so it cannot be deleted: cancel or "
              "deactivate it instead.",
              form=form.label(locale()) if form else linking.form,
              number=linking.number or linking.id)
        )  # fmt: skip
    for guard in DELETE_GUARDS:
        reason = guard(session, record)
        if reason:
            raise StillNeeded(reason)


def _linked_from(session: Session, registry: Registry, record: Record) -> Record | None:
    """The first record whose link field — in its header or on a line — names ``record``."""
    from app.meta.form_sources import lines_table
    from app.meta.sources import building

    def linking(fields: list[FieldDef]) -> list[FieldDef]:
        return [f for f in fields if f.type == "link" and f.get("link") == record.form]

    for form in registry.forms.values():
        named = [Record.data[f.name].as_integer() == record.id for f in linking(form.fields)]
        queries = [select(Record).where(Record.form == form.name, or_(*named))] if named else []
        for table in (f for f in form.fields if f.type == "table" and linking(f.fields)):
            with building(session.get_bind().dialect.name, utcnow().date()):
                lines = lines_table(form.name, table.name)
            named = or_(
                *(lines.c.line[f.name].as_integer() == record.id for f in linking(table.fields))
            )
            queries.append(select(Record).where(Record.id.in_(select(lines.c.id).where(named))))
        for query in queries:
            found = session.scalar(query.where(Record.id != record.id).order_by(Record.id).limit(1))
            if found is not None:
                return found
    return None


def referring(session: Session, registry: Registry, record: Record) -> list[Record]:
    """The documents that name ``record`` in an ``indexed`` field: its number in a text field
    (the transfers and fulfilment orders a sales order's allocation made: ``sales_order``,
    ``parent_order``), or the record itself in a link field to its form (the returns and
    receipts of a sales order, the complaint an adverse event came from). Read through
    ``record_keys``, so the lookup is an index probe."""
    named = []
    for form in registry.forms.values():
        for field in form.fields:
            if not field.get("indexed") or field.get("unique"):
                continue
            if field.type == "text" and record.number:
                value = record.number
            elif field.type == "link" and field.get("link") == record.form:
                value = _key_text(record.id)
            else:
                continue
            named.append(
                and_(RecordKey.form == form.name, RecordKey.field == field.name,
                     RecordKey.value == value)
            )  # fmt: skip
    if not named:
        return []
    referrers = select(RecordKey.record_id).where(or_(*named))
    return list(
        session.scalars(
            select(Record)
            .where(Record.id.in_(referrers), Record.id != record.id)
            .order_by(Record.id)
        )
    )


def _scoped(session: Session, user, form: FormDef):
    query = select(Record).where(Record.form == form.name)
    if form.location_field:
        query = query.where(access.scope_filter(session, user, Record.location_id))
    return query


def get(session, registry, user, form_name: str, record_id, for_update: bool = False) -> Record:
    form = _form(registry, form_name)
    access.require(user, "read", form_name)
    query = _scoped(session, user, form).where(Record.id == record_id)
    if for_update:
        query = query.with_for_update()
    record = session.scalar(query)
    if record is None:
        raise RecordNotFound(form.label(locale()), record_id)
    return record


def by_number(session, registry, user, number: str) -> Record | None:
    """The document ``number`` names, as ``user`` may open it — the ledger and the books name
    documents by number: a record of that number they may read (a number is unique within its
    form), else one of theirs it links to or that names it. A store may not read the warehouse's
    transfer out its stock card names, but opens the transfer in it received the goods by."""
    named = list(session.scalars(select(Record).where(Record.number == number).order_by(Record.id)))
    # the related records are looked up only when none of the numbered ones may be read
    related = (other for record in named for other in _related(registry, session, record))
    for candidate in itertools.chain(named, related):
        try:
            return get(session, registry, user, candidate.form, candidate.id)
        except (RecordError, access.PermissionDenied):
            continue
    return None


def _related(registry, session, record: Record) -> list[Record]:
    """The records ``record``'s link fields name, then those that name it."""
    form = registry.form(record.form)
    linked = [
        (record.data or {}).get(field.name)
        for field in (form.fields if form else [])
        if field.type == "link" and registry.form(field.get("link"))
    ]
    ids = [value for value in linked if isinstance(value, int)]
    named = list(session.scalars(select(Record).where(Record.id.in_(ids)))) if ids else []
    return named + referring(session, registry, record)


@dataclass
class Page:
    items: list[Record]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


SYSTEM_COLUMNS = {
    "id": Record.id,
    "number": Record.number,
    "state": Record.state,
    "created_at": Record.created_at,
    "updated_at": Record.updated_at,
    "created_by": Record.created_by,
    "location_id": Record.location_id,
}


def _sort_column(form: FormDef, name: str):
    """The column ``sort`` names; an unknown one is refused on ``sort``, the parameter given."""
    if name in SYSTEM_COLUMNS:
        return SYSTEM_COLUMNS[name]
    field = form.field(name)
    if field is None or field.type == "table":
        raise ValidationFailed({"sort": [_("Unknown field: %(name)s.", name=name)]})
    element = Record.data[name]
    if field.type in ("integer", "link", "autonumber", "current_user"):
        return element.as_integer() if field.type != "link" else element.as_string()
    if _numeric(field):
        return element.as_numeric(28, 8)
    if field.type == "boolean":
        return element.as_boolean()
    return element.as_string()


def list_records(
    session: Session,
    registry: Registry,
    user,
    form_name: str,
    filters: dict | None = None,
    q: str | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int | None = None,
) -> Page:
    """A page of ``form_name``'s records in the user's scope, filtered, searched and sorted."""
    form = _form(registry, form_name)
    access.require(user, "read", form_name)
    query = _scoped(session, user, form)
    for name, value in (filters or {}).items():
        query = query.where(_filter(form, name, value))
    if q:
        pattern = f"%{q.strip()}%"
        conditions = [Record.number.ilike(pattern)]
        for name in form.search_fields:
            if name in SYSTEM_COLUMNS:
                conditions.append(cast(SYSTEM_COLUMNS[name], String).ilike(pattern))
            else:
                conditions.append(Record.data[name].as_string().ilike(pattern))
        query = query.where(or_(*conditions))
    sort = sort or form.default_sort
    column = _sort_column(form, sort.lstrip("-"))
    order = column.desc() if sort.startswith("-") else column.asc()
    per_page = max(1, min(per_page or form.page_size, 500))
    page = max(1, page)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(order, Record.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def _filter(form: FormDef, name: str, value):
    field = form.field(name)
    if name in SYSTEM_COLUMNS:
        return cast(SYSTEM_COLUMNS[name], String) == str(value)
    if field is None or field.type == "table":
        raise ValidationFailed({name: [_("Unknown field.")]})
    if field.get("indexed") or field.get("unique"):
        keys = select(RecordKey.record_id).where(
            and_(RecordKey.form == form.name, RecordKey.field == name, RecordKey.value == value)
        )
        return Record.id.in_(keys)
    return _typed_filter(field, Record.data[name], str(value))


def _numeric(field: FieldDef) -> bool:
    """A number field, or a formula rounded to a scale (a total): sorted and compared as numbers
    (as text, 12500.00 would sort before 50.00)."""
    rounded = field.type == "formula" and field.get("scale") is not None
    return field.type in NUMBER_TYPES or rounded


def _typed_filter(field: FieldDef, element, value: str):
    """``element == value`` compared as the field's type, the same on SQLite and PostgreSQL."""
    try:
        if field.type in ("integer", "autonumber", "current_user") or (
            field.type == "link" and value.isdigit()
        ):
            number = int(value)
            # (no stored id or count is that large, and the database could not compare it)
            return element.as_integer() == number if abs(number) < 2**63 else false()
        if _numeric(field):
            number = Decimal(value)
            if not number.is_finite():
                raise ValueError(value)
            return element.as_numeric(28, 8) == number
    except (ValueError, InvalidOperation):
        raise ValidationFailed({field.name: [_("Not a valid number.")]}) from None
    if field.type == "boolean":
        return element.as_boolean() == (value.lower() in ("1", "true", "yes", "on"))
    return element.as_string() == value


def to_json(form: FormDef, record: Record) -> dict:
    """The API representation of ``record`` through the runtime response schema."""
    from app.meta.schema_builder import response_schema

    dumped = response_schema(form).dump(record)
    visible = state_rights(form, record.state).get("visible")
    if visible is not None and isinstance(dumped.get("data"), dict):
        dumped["data"] = {k: v for k, v in dumped["data"].items() if k in visible}
    return dumped
