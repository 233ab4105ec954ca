"""A form's records as JSON Schema, the way the generated API takes and gives them — for the
OpenAPI description integrators read (``app.web.openapi``).

Built from the same definition as the marshmallow schemas that check the input
(``schema_builder``), so the description cannot drift from what is enforced: decimals travel as
strings to stay exact, a link is the id (or code) of what it names, a select lists its values
with their labels, computed fields are read-only. Rules that need the whole record (required_if,
visible_if, ``validate`` expressions) are named in the field's description, not encoded.
"""

from __future__ import annotations

from app.i18n import _
from app.meta.forms import (
    COMPUTED_TYPES,
    DATE_TYPES,
    DECIMAL_TYPES,
    TEXT_TYPES,
    FieldDef,
    FormDef,
    label_text,
)


def _value_schema(field: FieldDef, locale: str | None) -> dict:
    """The schema of one value of ``field`` (a line's object for a table)."""
    kind = field.type
    if kind in TEXT_TYPES:
        schema = {"type": "string"}
        if field.get("max_length"):
            schema["maxLength"] = field.get("max_length")
        if field.get("pattern"):
            schema["pattern"] = field.get("pattern")
        return schema
    if kind == "integer":
        bounds = {"minimum": field.get("min"), "maximum": field.get("max")}
        return {"type": "integer", **{k: v for k, v in bounds.items() if v is not None}}
    if kind in ("attachment", "current_user"):
        return {"type": "integer"}
    if kind in DECIMAL_TYPES:
        return {"type": ["string", "number"], "pattern": r"^-?\d+(\.\d+)?$"}
    if kind == "formula":  # a number, a code, yes/no, a name: whatever its expression gives
        return {"enum": [o["value"] for o in field.options]} if field.options else {}
    if kind in DATE_TYPES:
        return {"type": "string", "format": "date"}
    if kind in ("datetime", "current_time"):
        return {"type": "string", "format": "date-time"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind in ("select", "multiselect"):
        values = [option["value"] for option in field.options]
        one = {"enum": values}
        return one if kind == "select" else {"type": "array", "items": one}
    if kind == "link":
        return {"type": ["integer", "string"]}
    if kind == "table":
        return {"type": "array", "items": data_schema(field.fields, locale)}
    return {"type": "integer"}  # autonumber: the record's sequence number


def _description(field: FieldDef, locale: str | None) -> str:
    """The field's label and help, then what the type and rules mean for a caller."""
    parts = [label_text(field.get("label"), locale) or field.name]
    if field.get("help"):
        parts.append(label_text(field.get("help"), locale))
    if field.type in DECIMAL_TYPES:
        parts.append(_("A decimal number; send it as a string to keep it exact."))
    if field.type == "link":
        parts.append(_("The id of a %(target)s (as the API gives it).", target=field.get("link")))
    if field.type in ("select", "multiselect"):
        parts.append(
            "; ".join(
                f"{option['value']} = {label_text(option['label'], locale)}"
                for option in field.options
            )
        )
    if field.type == "attachment":
        parts.append(_("The id of a file uploaded to /api/v1/attachments."))
    if field.type in COMPUTED_TYPES:
        parts.append(_("Computed by the server."))
    if field.get("required_if"):
        parts.append(_("Required when: %(expr)s", expr=field.get("required_if")))
    if field.get("visible_if"):
        parts.append(_("Shown when: %(expr)s", expr=field.get("visible_if")))
    return " — ".join(parts)


def field_schema(field: FieldDef, locale: str | None) -> dict:
    """One field: its values' schema (or none, where a field may be empty), what it means, and
    whether only the server writes it."""
    value = _value_schema(field, locale)
    schema = value if field.type == "table" or not value else {"anyOf": [value, {"type": "null"}]}
    schema["description"] = _description(field, locale)
    if field.type in COMPUTED_TYPES or field.get("read_only"):
        schema["readOnly"] = True
    return schema


def data_schema(fields: list[FieldDef], locale: str | None) -> dict:
    """A record's (or a line's) ``data``: its fields; those always required listed so."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {field.name: field_schema(field, locale) for field in fields},
        "required": [field.name for field in fields if _always_given(field)],
    }


def _always_given(field: FieldDef) -> bool:
    """Required of every caller: not computed, not filled by a default when left out, not
    required only when shown (a red-letter invoice's original: its ``visible_if`` says)."""
    return (
        field.get("required") is True
        and field.type not in COMPUTED_TYPES
        and "visible_if" not in field.expressions
        and "default_expr" not in field.expressions
        and field.get("default") is None
    )


def record_schema(form: FormDef, data: dict) -> dict:
    """A record as the API gives it back: its system columns and its ``data``."""
    states = list(form.workflow["states"]) if form.workflow else [form.initial_state]
    return {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "form": {"const": form.name},
            "number": {"type": ["string", "null"]},
            "state": {"enum": states},
            "location_id": {"type": ["integer", "null"]},
            "created_by": {"type": ["integer", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "version": {
                "type": "integer",
                "description": _("Send it back with a change: a stale one is refused (409)."),
            },
            "meta_version": {"type": "integer"},
            "data": data,
        },
    }
