"""What a workflow action may write into a record: a field of the form's header, with a value the
field can hold.

A record keeps in ``records.data`` whatever an action writes, but the API and the pages show only
the form's fields, each read as its type: a key the form does not declare is kept yet never shown
(an ERP reference a plugin wrote is lost to everyone), and "very hot" in a decimal field breaks
every sum and report that reads it. So a value is held to the same rules as a clerk's input for
that field — the form's own input schema (``app.meta.schema_builder``): its type, options, bounds
and decimals — both when a workflow is loaded (``set_field``'s literal ``value``, checked in
``app.workflow.checks``) and when an action runs (``RecordsInterface.value_for``).
"""

from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError

from app.i18n import _
from app.kernel.audit import jsonable
from app.meta.forms import COMPUTED_TYPES, FieldDef
from app.meta.schema_builder import build_field


class ValueRefused(ValueError):
    """``value`` does not fit the field; ``str(error)`` says why, for a message naming both."""


def header_field(form_spec: dict, name: str) -> dict | None:
    """The definition of the header field ``name`` of a form (its YAML mapping), if any."""
    return next((f for f in form_spec.get("fields") or [] if f.get("name") == name), None)


def links_to_user(spec: dict) -> bool:
    """Whether the field holds a user (``set_field``'s ``user: true`` writes the firing one)."""
    return spec.get("type") == "link" and spec.get("link") == "user"


def fitted(spec: dict, value):
    """``value`` as the field ``spec`` stores it (JSON-safe, as a save through the form stores
    it: a decimal as its text, a date as ISO), or ``ValueRefused`` saying why it cannot hold it.
    ``None`` empties any field that is not computed (whether it may stay empty is a save's rule)."""
    kind = spec.get("type")
    if kind in COMPUTED_TYPES:
        raise ValueRefused(_("it is computed (%(type)s), not written", type=kind))
    if value is None:
        return None
    if kind == "link":  # a record's id: a text key (a GTIN) is for people typing, not for rules
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueRefused(_("a link holds a record's id, a whole number (or null)"))
        return value
    if isinstance(value, dt.date):  # YAML reads 2025-03-01 as a date
        value = value.isoformat()
    try:
        return jsonable(build_field(_definition(spec)).deserialize(value))
    except ValidationError as exc:
        raise ValueRefused(_reasons(exc.messages)) from None


def _definition(spec: dict) -> FieldDef:
    children = [_definition(child) for child in spec.get("fields") or []]
    return FieldDef(spec["name"], spec["type"], spec, fields=children)


def _reasons(messages, where: str = "") -> str:
    """marshmallow's messages as one line: a table's by line and field (``[0].quantity: …``)."""
    if isinstance(messages, dict):
        parts = []
        for key, inner in messages.items():
            at = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}".lstrip(".")
            parts.append(_reasons(inner, at))
        return "; ".join(parts)
    text = " ".join(str(message) for message in messages)
    return f"{where}: {text}" if where else text
