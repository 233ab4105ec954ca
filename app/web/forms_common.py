"""What the generated pages and API share: the live registry, JSON errors, form-data parsing."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from app.i18n import _
from app.meta import registry as meta_registry
from app.meta.access import PermissionDenied
from app.meta.records import RecordError, ValidationFailed
from app.web.session import db_session


def registry() -> meta_registry.Registry:
    """The live registry, checked against the database once per request."""
    if "lianku_registry" not in g:
        current = current_app.extensions["lianku.registry"]
        fresh = meta_registry.refresh(current, db_session())
        if fresh is not current:
            current_app.extensions["lianku.registry"] = fresh
            current_app.extensions["lianku.metadata"] = fresh.metadata
        g.lianku_registry = fresh
    return g.lianku_registry


class ExactJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading every JSON number with a fraction as a ``Decimal``: money and
    quantities arrive exactly as sent (``12345678901234567.89`` stays that), never via a float."""

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        return super().loads(s, **kwargs)


def json_error(exc: Exception):
    """A JSON error response naming each field and the reason. Every API error has ``message``
    (the text to show) and, where inputs are at fault, ``errors`` (per field) or ``field``;
    ``error`` repeats the text here, as clients of the forms API have always read it."""
    if isinstance(exc, PermissionDenied):
        return jsonify(error=str(exc), message=str(exc)), 403
    if isinstance(exc, ValidationFailed):
        return jsonify(error=str(exc), message=str(exc), errors=exc.errors), 422
    if isinstance(exc, RecordError):
        field = getattr(exc, "field", None)  # a refused transition may name the input concerned
        extra = {"field": field} if field else {}
        return jsonify(error=str(exc), message=str(exc), **extra), exc.status
    raise exc


#: The largest id, page or version a database integer column holds (PostgreSQL BIGINT, SQLite).
MAX_INT = 2**63 - 1


def edited_version(value, required: bool = True) -> int | None:
    """The version of the record the client edited (body ``version``, ``?version=`` or
    ``If-Match``): a whole number. A save or delete without it could overwrite or remove what
    someone else changed since, so writes require it; ``1.9`` or ``true`` is refused, not cut."""
    if value is None or value == "":
        if required:
            raise ValidationFailed({"version": [_("Send the version you edited.")]})
        return None
    if isinstance(value, str):
        text = value.strip().removeprefix("W/").strip('"')
        value = int(text) if text.isdigit() and text.isascii() else None
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise ValidationFailed({"version": [_("Not a valid version number.")]})
    return value


#: The highest page number a list answers: far beyond any real list, and its offset still fits.
MAX_PAGE = 1_000_000
#: The most records a list page holds: ``records.list_records`` cuts a larger page to this, so
#: ``per_page`` says so rather than accept more (a form's ``list.page_size`` allows no more).
MAX_PER_PAGE = 500


class DatabaseIntConverter(IntegerConverter):
    """``<int:…>`` in a URL, up to the largest database integer: a longer id is not found
    (404), rather than overflowing the database driver."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def whole_number(text: str | None, name: str, default: int, highest: int = MAX_INT) -> int:
    """A query parameter that must be a whole number from 1 to ``highest``; 422 naming it."""
    if text is None or text.strip() == "":
        return default
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= highest:
        raise ValidationFailed(
            {name: [_("Give a whole number from 1 to %(highest)s.", highest=highest)]}
        )
    return int(text)


def record_id(value, name: str) -> int | None:
    """An id in a JSON body: a whole number (not ``true``, ``1.5`` or an object), or None."""
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= MAX_INT:
        raise ValidationFailed({name: [_("Not a valid id.")]})
    return value


def too_large_numbers(value, path: str = "") -> dict[str, list[str]]:
    """Whole numbers anywhere in a JSON body that no database integer can hold, by the field's
    path (``lines[0].item``): refused up front instead of overflowing at the database."""
    if type(value) is int and not -MAX_INT <= value <= MAX_INT:
        return {path or "_schema": [_("This number is too large.")]}
    found: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            found |= too_large_numbers(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found |= too_large_numbers(inner, f"{path}[{index}]")
    return found


def comment_text(value) -> str | None:
    """A decision's or transition's comment: text or nothing (a number or list is refused)."""
    if value is not None and not isinstance(value, str):
        raise ValidationFailed({"comment": [_("Write the comment as text.")]})
    return value


def lookup_limit() -> int:
    """``?limit=`` of a picker lookup: 1 to 100 choices, 20 when not given."""
    return whole_number(request.args.get("limit"), "limit", 20, highest=100)


#: A line field's name in a page's form and in error keys: ``lines[0].quantity``.
INDEXED_NAME = re.compile(r"^([a-z][a-z0-9_]*)\[(\d+)\]\.([a-z][a-z0-9_]*)$")


def payload_from_form(form_def, data) -> dict:
    """HTML form data (``lines[0].quantity`` names) → the nested payload the service takes."""
    payload: dict = {}
    lines: dict[str, dict[int, dict]] = {}
    multi = {f.name for f in form_def.fields if f.type == "multiselect"}
    # an unchecked box sends nothing: only boxes the page shows (and lets edit) mean "false"
    shown = [f for f in form_def.fields if not (f.get("hidden") or f.get("read_only"))]
    booleans = {f.name for f in shown if f.type == "boolean"}
    for key in data:
        if key in ("csrf_token", "version", "_trigger", "_record_id"):  # the page's, not data
            continue
        match = INDEXED_NAME.match(key)
        if match:
            table, index, name = match.group(1), int(match.group(2)), match.group(3)
            lines.setdefault(table, {}).setdefault(index, {})[name] = data.get(key)
        elif key in multi:
            payload[key] = [value for value in data.getlist(key) if value != ""]
        else:
            payload[key] = data.get(key)
    for name in booleans:
        payload[name] = name in data and data.get(name) not in ("", "0", "false")
    for field in shown:
        if field.type == "table":
            rows = lines.get(field.name, {})
            payload[field.name] = [
                _ticked(field, rows[i])
                for i in sorted(rows)
                if any(v not in ("", None) for v in rows[i].values())
            ]
    return payload


def _ticked(table, row: dict) -> dict:
    """A line's boxes as yes or no: an unticked one sends nothing, and means no (外包装完好: 否)."""
    for child in table.fields:
        if child.type == "boolean" and not (child.get("hidden") or child.get("read_only")):
            row[child.name] = row.get(child.name) not in (None, "", "0", "false")
    return row


def wants_json() -> bool:
    return request.path.startswith("/api/")


def picker_field(form_name: str | None, path: str | None):
    """The field a link picker serves (``?form=…&field=lines.item``), or ``None``."""
    form = registry().form(form_name) if form_name else None
    if form is None or not path:
        return None
    table, _dot, name = path.rpartition(".")
    level = form.field(table).fields if table and form.field(table) else form.fields
    return next((field for field in level if field.name == name), None)
