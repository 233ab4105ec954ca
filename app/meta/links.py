"""Link targets: what a ``link`` field may point at, table-driven.

A kernel or identity table becomes linkable with one line::

    register_link_target("item", Item, key="id", label="name", search=("code", "name"))

Links to other forms resolve to ``records`` rows of that form. Every lookup and every check of a
link value goes through ``access``: a value must exist AND be inside the user's data scope.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import String, and_, cast, false, func, literal, not_, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from app.kernel.items import Item, Lot, Unit
from app.kernel.locations import Location
from app.kernel.udi import UDIError, parse_udi
from app.kernel.users import User
from app.meta import access
from app.meta.expressions import CONSTANTS, Context, Expression, ExpressionError, this_names
from app.meta.forms import FieldDef, FormDef
from app.meta.models import Record, RecordKey


@dataclass(frozen=True)
class LinkTarget:
    name: str
    model: type
    key: str
    label: str | Callable
    location_attr: str | None = None
    search: tuple[str, ...] = ()
    #: Extra data scope for targets not held at one location (users: colleagues only).
    scope: Callable[[Session, object], object] | None = None
    #: What a scanned code typed into the search matches (items: the GTIN of a whole GS1
    #: string), or ``None`` when the text is no such code.
    scanned: Callable[[str], object] | None = None

    def label_of(self, row) -> str:
        return self.label(row) if callable(self.label) else str(getattr(row, self.label))


LINK_TARGETS: dict[str, LinkTarget] = {}


def register_link_target(
    name: str,
    model: type,
    key: str,
    label: str | Callable,
    location_attr: str | None = None,
    search: tuple[str, ...] | None = None,
    scope: Callable[[Session, object], object] | None = None,
    scanned: Callable[[str], object] | None = None,
) -> None:
    """Make ``model`` linkable as ``name``; ``location_attr`` scopes it by the user's locations,
    ``scope(session, user)`` (a WHERE clause) by any other rule; ``scanned(text)`` is what a
    scan typed into its search matches besides the text itself."""
    if search is None:
        search = (key, label) if isinstance(label, str) else (key,)
    LINK_TARGETS[name] = LinkTarget(
        name, model, key, label, location_attr, tuple(search), scope, scanned
    )


register_link_target(
    "location", Location, "id", lambda row: f"{row.code} {row.name}", "id", ("code", "name")
)
# staff of another store are as private as that store's records
register_link_target(
    "user", User, "id", "full_name", None, ("username", "full_name"),
    scope=lambda session, user: access.users_scope_filter(session, user, User.id),
)  # fmt: skip


def _scanned_item(text: str):
    """The item a scanner's whole GS1 string (or plain EAN-13 / GTIN-14) names: ``01…17…10…``
    holds the GTIN but is no substring of it."""
    try:
        return Item.gtin == parse_udi(text).gtin
    except UDIError:
        return None


# Master data of the kernel: items and lots are chain-wide; a serial unit is where it is.
register_link_target(
    "item", Item, "id", lambda row: f"{row.code} {row.name}", None, ("code", "name", "gtin"),
    scanned=_scanned_item,
)  # fmt: skip
register_link_target("lot", Lot, "id", "lot_number", None, ("lot_number",))
register_link_target("unit", Unit, "id", "serial", "location_id", ("serial",))


def record_label(record: Record, title_field: str | None) -> str:
    if title_field and record.data.get(title_field) not in (None, ""):
        return str(record.data[title_field])
    return record.number or f"#{record.id}"


@dataclass(frozen=True)
class Choice:
    value: object
    label: str


def _coerce(target: LinkTarget, value):
    column = getattr(target.model, target.key)
    python_type = getattr(column.type, "python_type", str)
    try:
        return python_type(value)
    except (TypeError, ValueError):
        return None


def _target_query(session: Session, user, target: LinkTarget, everywhere: bool = False):
    query = select(target.model)
    if target.location_attr and not everywhere:
        query = query.where(
            access.scope_filter(session, user, getattr(target.model, target.location_attr))
        )
    if target.scope is not None:
        query = query.where(target.scope(session, user))
    return query


def _form_query(session: Session, user, form: str, everywhere: bool = False):
    """The records of ``form`` a link may name: those in the user's scope, or — ``everywhere``,
    a field with ``link_scope: all`` — any (the counterpart document at the other location: its
    number is shown, its content still needs the user's own rights)."""
    query = select(Record).where(Record.form == form)
    if everywhere:
        return query
    return query.where(
        or_(Record.location_id.is_(None), access.scope_filter(session, user, Record.location_id))
    )


def row_values(row) -> dict:
    """What a ``link_filter`` sees of a candidate: its fields (records) or columns (tables)."""
    if isinstance(row, Record):
        return {**(row.data or {}), "number": row.number, "state": row.state, "id": row.id,
                "created_at": row.created_at, "updated_at": row.updated_at,
                "created_by": row.created_by}  # fmt: skip
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


@dataclass(frozen=True)
class BoundFilter:
    """A ``link_filter`` that reads the referring record (``this('supplier')``), with that
    record's values: evaluated over a candidate row like any filter."""

    expression: Expression
    this: dict

    def evaluate(self, values: dict):
        return self.expression.evaluate(values, Context(this=self.this))


def bound(condition: Expression | None, this: dict):
    """``condition`` with the referring record's header values for its ``this('field')``
    (a filter that reads none is returned as it is)."""
    names = this_names(condition)
    if not names:
        return condition
    return BoundFilter(condition, {name: this.get(name) for name in names})


def passes(condition, row) -> bool:
    """Does ``row`` satisfy the link field's ``link_filter`` (no filter: yes)?"""
    if condition is None:
        return True
    try:
        return bool(condition.evaluate(row_values(row)))
    except ExpressionError:
        return False


def resolve(
    session: Session,
    user,
    target: str,
    value,
    title_field=None,
    condition=None,
    everywhere: bool = False,
) -> Choice | None:
    """The linked row as a ``Choice`` if it exists, ``user`` may see it and it passes the
    field's ``link_filter`` (``condition``); else ``None``. ``everywhere`` (a location field with
    ``link_scope: all``) accepts any location: a counterpart, not a place the user works at; a
    record link with it names the counterpart's document wherever it lies."""
    if value in (None, ""):
        return None
    if target in LINK_TARGETS:
        spec = LINK_TARGETS[target]
        key = _coerce(spec, value)
        if key is None:
            return None
        query = _target_query(session, user, spec, everywhere and target == "location")
        row = session.scalar(query.where(getattr(spec.model, spec.key) == key))
        if row is None or not passes(condition, row):
            return None
        return Choice(getattr(row, spec.key), spec.label_of(row))
    record_id = _record_id(value)
    if record_id is None:
        return None
    query = _form_query(session, user, target, everywhere)
    row = session.scalar(query.where(Record.id == record_id))
    if row is None or not passes(condition, row):
        return None
    return Choice(row.id, record_label(row, title_field))


#: How many keys one lookup of ``resolve_many`` sends (well under every database's limit).
CHUNK = 1000


def resolve_many(
    session: Session,
    user,
    target: str,
    values,
    title_field=None,
    condition=None,
    everywhere: bool = False,
) -> dict:
    """``resolve`` for many values of one link field in one query per thousand: a document of
    hundreds of lines (a replenishment suggestion, an imported order) checks its items and
    locations at once, not line by line. Returns each value given → its ``Choice`` or ``None``."""
    spec = LINK_TARGETS.get(target)
    coerce = (lambda value: _coerce(spec, value)) if spec else _record_id
    keys = {value: coerce(value) for value in values if value not in (None, "")}
    wanted = sorted({key for key in keys.values() if key is not None})
    found = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        if spec is not None:
            query = _target_query(session, user, spec, everywhere and target == "location")
            rows = session.scalars(query.where(getattr(spec.model, spec.key).in_(chunk)))
            found |= {getattr(row, spec.key): Choice(getattr(row, spec.key), spec.label_of(row))
                      for row in rows if passes(condition, row)}  # fmt: skip
        else:
            query = _form_query(session, user, target, everywhere)
            rows = session.scalars(query.where(Record.id.in_(chunk)))
            found |= {row.id: Choice(row.id, record_label(row, title_field))
                      for row in rows if passes(condition, row)}  # fmt: skip
    return {value: found.get(key) for value, key in keys.items()}


def _record_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def search(
    session: Session,
    user,
    target: str,
    q: str,
    limit: int = 20,
    title_field=None,
    searchable=(),
    condition=None,
) -> list[Choice]:
    """Choices of ``target`` matching ``q`` (case-insensitive substring), inside the scope,
    passing ``condition`` (the link field's ``link_filter``). What of the filter SQL can say
    (``state == 'delivered' and customer == this('customer')``) narrows the query itself, so a
    hospital's older orders are found behind thousands of other customers' newer ones; the rest
    is checked row by row, page after page."""
    pattern = f"%{q.strip()}%" if q else "%"
    dialect = session.get_bind().dialect.name
    if target in LINK_TARGETS:
        spec = LINK_TARGETS[target]
        columns = [cast(getattr(spec.model, name), String) for name in spec.search]
        query = _target_query(session, user, spec)
        if q:
            matches = [column.ilike(pattern) for column in columns]
            if spec.scanned and (scanned := spec.scanned(q.strip())) is not None:
                matches.append(scanned)
            query = query.where(or_(*matches))
        where, exact = sql_filter(condition, _table_column(spec.model), dialect)
        key = getattr(spec.model, spec.key)
        rows = _passing(session, query, where, exact, condition, key, False, limit)
        return [Choice(getattr(row, spec.key), spec.label_of(row)) for row in rows]
    query = _form_query(session, user, target)
    if q:
        conditions = [Record.number.ilike(pattern)]
        for name in searchable or ((title_field,) if title_field else ()):
            conditions.append(Record.data[name].as_string().ilike(pattern))
        query = query.where(or_(*conditions))
    where, exact = sql_filter(condition, _record_column, dialect)
    rows = _passing(session, query, where, exact, condition, Record.id, True, limit)
    return [Choice(row.id, record_label(row, title_field)) for row in rows]


#: The most rows one picker search reads to find its choices when part of the link filter is
#: checked row by row (``count(tasks, 'location', this('from_location')) > 0``): enough for any
#: document a person picks by typing, and a bound on a search that matches nearly nothing.
SCAN_LIMIT = 5000


def _passing(session, query, where, exact, condition, key, newest_first, limit) -> list:
    """Up to ``limit`` rows of ``query`` (narrowed by ``where``) that pass ``condition``, in
    ``key`` order. A filter SQL says ``exact``-ly needs one page; else the next pages are read
    until ``limit`` pass or the rows (or ``SCAN_LIMIT``) run out: a match is not lost for being
    older than the first page."""
    if where is not None:
        query = query.where(where)
    page_size = limit if exact else limit * 10
    found, scanned, last = [], 0, None
    while len(found) < limit and scanned < SCAN_LIMIT:
        page = query
        if last is not None:
            page = page.where(key < last if newest_first else key > last)
        order = key.desc() if newest_first else key
        rows = session.scalars(page.order_by(order).limit(page_size)).all()
        found += [row for row in rows if passes(condition, row)]
        scanned += len(rows)
        if len(rows) < page_size:
            break
        last = getattr(rows[-1], key.key)
    return found[:limit]


# --- link filters in SQL -------------------------------------------------------------------
#
# A filter is translated part by part into a WHERE clause that keeps every row the filter keeps
# (row by row, ``passes`` still decides): a part SQL cannot say exactly (a comparison with a
# date, ``count(…)``, ``<``) is left out of an ``and`` and makes an ``or`` wholly unsaid. Only
# ``==``, ``!=``, ``in`` and ``not in`` between a field and texts, whole numbers or nothing are
# said, each with Python's meaning: ``5 != '5'``, a missing field is ``None``.

#: A record's columns a filter reads under their own names (``row_values``), with their type.
RECORD_COLUMNS = {"number": str, "state": str, "id": int, "created_by": int}
#: Values a translated comparison may hold: others (a Decimal, a date) are checked in Python.
SAID = (str, int, type(None))
NOT_SAID = (None, False)


def sql_filter(condition, column_of, dialect: str) -> tuple[object | None, bool]:
    """``condition`` (an ``Expression`` or a ``BoundFilter``) as ``(where, exact)``: a WHERE
    clause no row passing it fails (``None``: nothing said) and whether it says all of it.
    ``column_of(name, value, dialect)`` is ``name == value`` in SQL, or ``None``."""
    if condition is None:
        return None, True
    expression, this = condition, {}
    if isinstance(condition, BoundFilter):
        expression, this = condition.expression, condition.this
    return _said(expression.tree.body, this, column_of, dialect)


def _said(node, this: dict, column_of, dialect: str):
    if isinstance(node, ast.BoolOp):
        parts = [_said(value, this, column_of, dialect) for value in node.values]
        exact = all(part_exact for _where, part_exact in parts)
        clauses = [where for where, _exact in parts if where is not None]
        if isinstance(node.op, ast.And):
            return (and_(*clauses) if clauses else None), exact and len(clauses) == len(parts)
        if len(clauses) < len(parts):  # an unsaid alternative may let any row through
            return NOT_SAID
        return or_(*clauses), exact
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return NOT_SAID
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if isinstance(op, ast.Eq | ast.NotEq) and not _is_field(left):
        left, right = right, left
    if not _is_field(left):
        return NOT_SAID
    if isinstance(op, ast.Eq | ast.NotEq):
        values = [_value(right, this)]
    elif isinstance(op, ast.In | ast.NotIn) and isinstance(right, ast.Tuple | ast.List):
        values = [_value(element, this) for element in right.elts]
    else:
        return NOT_SAID
    if any(value is _UNKNOWN for value in values):
        return NOT_SAID
    equals = [column_of(left.id, value, dialect) for value in values]
    if any(clause is None for clause in equals):
        return NOT_SAID
    if isinstance(op, ast.Eq | ast.In):
        return or_(false(), *equals), True
    return and_(true(), *(not_(clause) for clause in equals)), True


_UNKNOWN = object()


def _is_field(node) -> bool:
    return isinstance(node, ast.Name) and node.id not in CONSTANTS


def _value(node, this: dict):
    """The constant a comparison holds (``'red'``, ``None``, ``this('customer')``'s value), if
    SQL may compare with it; else ``_UNKNOWN``."""
    if isinstance(node, ast.Constant):
        value = node.value
    elif isinstance(node, ast.Name) and node.id in CONSTANTS:
        value = CONSTANTS[node.id]
    elif (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "this"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
    ):
        value = this.get(node.args[0].value)
    else:
        return _UNKNOWN
    if not isinstance(value, SAID) or isinstance(value, bool):
        return _UNKNOWN
    if isinstance(value, int) and not -(2**63) <= value < 2**63:  # no SQL integer holds it
        return _UNKNOWN
    return _UNKNOWN if isinstance(value, str) and "\x00" in value else value  # nor a text


def _column_equals(column, python_type, value):
    """``column == value`` never unknown (NULL), so that ``not`` of it is Python's ``!=``;
    ``None`` when the types differ (Python's ``'5' == 5`` is simply false: left to it)."""
    if value is None:
        return column.is_(None)
    if python_type is not type(value):
        return None
    return and_(column.is_not(None), column == value)


def _record_column(name: str, value, dialect: str):
    """``name == value`` over a record: a system column, else the field in ``data``."""
    if name in RECORD_COLUMNS:
        return _column_equals(getattr(Record, name), RECORD_COLUMNS[name], value)
    if name in ("created_at", "updated_at"):
        return None
    return _json_equals(name, value, dialect)


def _json_equals(name: str, value, dialect: str):
    """``data[name] == value`` as Python compares the decoded JSON: a text only with a text,
    a whole number with any equal number (and ``true``/``false`` with 1/0), ``None`` with a
    missing field or ``null``."""
    if dialect == "postgresql":
        field = Record.data[name]
        if value is None:
            return or_(field.is_(None), field == cast(literal("null"), JSONB))
        said = [json.dumps(value)]
        if isinstance(value, int) and value in (0, 1):
            said.append("true" if value else "false")
        return func.coalesce(or_(*(field == cast(literal(text), JSONB) for text in said)), false())
    path = f'$."{name}"'
    kind = func.coalesce(func.json_type(Record.data, path), "null")
    if value is None:
        return kind == "null"
    extracted = func.json_extract(Record.data, path)
    if isinstance(value, str):
        return and_(kind == "text", func.coalesce(extracted == value, false()))
    return and_(kind.in_(("integer", "real", "true", "false")),
                func.coalesce(extracted == value, false()))  # fmt: skip


def _table_column(model):
    """``column_of`` for a kernel table: its columns by key, typed from the model."""

    def column_of(name: str, value, dialect: str):
        column = model.__table__.columns.get(name)
        if column is None:
            return None
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            return None
        return _column_equals(getattr(model, column.key), python_type, value)

    return column_of


#: Enough rows to tell one from several (a ``link_filter`` may drop some of them).
FIND_LIMIT = 20


def find(
    session: Session,
    user,
    target: str,
    text: str,
    title_field=None,
    condition=None,
    everywhere: bool = False,
    search_fields=(),
) -> list[Choice]:
    """The rows a person means by ``text`` (a cell of an imported sheet): those one of whose
    searchable columns is exactly ``text`` (an item's code, name or GTIN; a location's code), or
    a record whose number, title or one of the form's ``search_fields`` (a supplier's code) it
    is — in the scope, passing ``condition``. A list's label
    ("S1 一号店") is found by its first word. More than one choice means ``text`` is ambiguous."""
    for wanted in dict.fromkeys((text, text.split(" ", 1)[0])):
        if target in LINK_TARGETS:
            spec = LINK_TARGETS[target]
            query = _target_query(session, user, spec, everywhere and target == "location")
            columns = [cast(getattr(spec.model, name), String) for name in spec.search]
            query = query.where(or_(*(column == wanted for column in columns)))
            rows = session.scalars(query.limit(FIND_LIMIT))
            found = [Choice(getattr(row, spec.key), spec.label_of(row))
                     for row in rows if passes(condition, row)]  # fmt: skip
        else:
            matches = [Record.number == wanted]
            for name in dict.fromkeys([title_field, *search_fields]):
                if name:
                    matches.append(Record.data[name].as_string() == wanted)
            query = _form_query(session, user, target, everywhere).where(or_(*matches))
            found = [Choice(row.id, record_label(row, title_field))
                     for row in session.scalars(query.limit(FIND_LIMIT))
                     if passes(condition, row)]  # fmt: skip
        if found:
            return found
    return []


def field_of(
    session: Session, user, target: str, value, field: str, card=None, everywhere: bool = False
):
    """A field of the linked row, for ``lookup(link, 'field')`` in expressions (scoped too).
    ``card``: (form, key) of the master form whose records are the cards of a kernel target
    (``card_of``): a field the kernel row lacks (an item's retail price) is read there.
    ``everywhere``: the link may name any location (``link_scope: all``, or set by an action), so
    a location's own columns (its type) are read whatever the user's scope, as its name is."""
    if value in (None, ""):
        return None
    if target in LINK_TARGETS:
        spec = LINK_TARGETS[target]
        key = _coerce(spec, value)
        query = _target_query(session, user, spec, everywhere and target == "location")
        row = session.scalar(query.where(getattr(spec.model, spec.key) == key))
        if row is None or field.startswith("_"):
            return None
        if field in spec.model.__table__.columns:
            return getattr(row, field)
        return _card_field(session, user, card, row, field) if card else None
    try:
        record_id = int(value)
    except (TypeError, ValueError):
        return None
    row = session.scalar(_form_query(session, user, target).where(Record.id == record_id))
    if row is None:
        return None
    if field in ("number", "state", "id"):
        return getattr(row, field)
    return row.data.get(field)


def _card_field(session: Session, user, card: tuple[str, str], row, field: str):
    """``field`` of ``row``'s card: the record of form ``card[0]`` whose unique field ``card[1]``
    holds the row's value of that column (an index probe of ``record_keys``)."""
    form, key = card
    named = select(RecordKey.record_id).where(
        RecordKey.form == form, RecordKey.field == key, RecordKey.value == str(getattr(row, key))
    )
    found = session.scalar(_form_query(session, user, form).where(Record.id.in_(named)))
    return (found.data or {}).get(field) if found is not None else None


def may_pick(user, form: FormDef | None, field: FieldDef | None, target: str) -> bool:
    """May ``user`` choose among ``target``'s records in the picker of ``field`` of ``form``,
    without the right to read them? Where they may write ``form`` and the field narrows its
    choices by a ``link_filter``: a store picks the recall its goods go back on (the issued ones
    with a task at the store) by its number, which is not reading the recall — every store's
    customers are in it."""
    if form is None or field is None or field.get("link") != target:
        return False
    if "link_filter" not in field.expressions:
        return False
    return access.can(user, "create", form.name) or access.can(user, "update", form.name)
