"""marshmallow schemas built at runtime from a form definition.

The request schema turns input (JSON or an HTML form) into typed values and applies the static
rules of each field: type, ``max_length``, ``pattern``, ``options``, ``min``/``max``. Rules that
need the whole record or the database (required/required_if, visible_if, ``validate``
expressions, links, uniqueness) are applied by the record service after this step.

Schemas are cached per form version and language, because their messages are translated.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from app.i18n import _
from app.meta.forms import (
    COMPUTED_TYPES,
    DATE_TYPES,
    DECIMAL_TYPES,
    STORED_INTEGER_DIGITS,
    TEXT_TYPES,
    FieldDef,
    FormDef,
)


class LinkValue(fields.Field):
    """A link's key: an integer id when it looks like one, else the text (e.g. a GTIN)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool | dict | list):
            raise ValidationError(_("Not a valid reference."))
        if isinstance(value, int):
            return value
        text = str(value).strip()
        return int(text) if text.isdigit() else text


#: A number written with thousands separators, as amounts are on invoices: 12,000.00.
GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


class PlainDecimal(fields.Decimal):
    """A decimal as people write it: ``1e3`` is stored as 1000 and ``-0`` as 0, not as
    ``1E+3`` and ``-0`` (which a formula turns into ``-0.00``); ``12,000.00`` (copied from an
    invoice) as 12000.00. Only well-formed groups of three are read so: ``12,5`` stays refused,
    where a European 12.5 and a mistyped 125 cannot be told apart."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and GROUPED.fullmatch(value.strip()):
            value = value.strip().replace(",", "")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number is None or not number.is_finite():
            return number
        if number.is_zero():
            number = number.copy_abs()
        if number.as_tuple().exponent > 0 and not too_large(number):
            number = number.quantize(Decimal(1))
        return number


class UTCDateTimeValue(fields.AwareDateTime):
    """A timestamp with its zone (naive means UTC), stored in UTC like every Lianku time."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(dt.UTC)


def _messages() -> dict:
    return {
        "required": _("This field is required."),
        "null": _("This field is required."),
        "invalid": _("Not a valid value."),
    }


def _number_messages() -> dict:
    return {
        **_messages(),
        "invalid": _("Not a valid number."),
        "special": _("Not a valid number."),
        "too_large": _("The number is too large."),
    }


def _range(field: FieldDef) -> list:
    low, high = field.bound("min"), field.bound("max")
    if low is None and high is None:
        return []
    if low is not None and high is not None:
        message = _("Must be between %(low)s and %(high)s.", low=low, high=high)
    elif low is not None:
        message = _("Must be at least %(low)s.", low=low)
    else:
        message = _("Must be at most %(high)s.", high=high)
    return [validate.Range(min=low, max=high, error=message.replace("{", "{{").replace("}", "}}"))]


def _scale(field: FieldDef) -> list:
    """No more decimals than the field's scale, no more whole digits than the columns hold."""
    scale = field.scale

    def check(value):
        if value is None:
            return
        if scale is not None and -value.as_tuple().exponent > scale:
            raise ValidationError(_("At most %(scale)s decimal places.", scale=scale))
        if too_large(value):
            raise ValidationError(too_large_message())

    return [check]


def too_large(value: Decimal) -> bool:
    """Whether ``value`` has more whole digits than a stored number may have."""
    return value.is_finite() and abs(value) >= Decimal(10) ** STORED_INTEGER_DIGITS


def too_large_message() -> str:
    return _(
        "The number is too large: at most %(digits)s digits before the decimal point.",
        digits=STORED_INTEGER_DIGITS,
    )


def _text_rules(field: FieldDef) -> list:
    rules = []
    if field.get("max_length"):
        rules.append(
            validate.Length(
                max=field.get("max_length"),
                error=_("At most %(max)s characters.", max=field.get("max_length")),
            )
        )
    if field.get("pattern"):
        pattern = re.compile(field.get("pattern"))
        rules.append(
            validate.Regexp(pattern, error=_("Does not match the expected format.")),
        )
    return rules


def _option_values(field: FieldDef) -> list:
    return [option["value"] for option in field.options]


def build_field(field: FieldDef) -> fields.Field | None:
    """The marshmallow field for one definition field (``None``: the server computes it)."""
    kind = field.type
    common = {"required": False, "allow_none": True}
    if kind in COMPUTED_TYPES:
        return None
    if kind in TEXT_TYPES:
        return fields.String(validate=_text_rules(field), error_messages=_messages(), **common)
    if kind == "attachment":  # the id of an uploaded file (see app.meta.attachments)
        return fields.Integer(strict=False, error_messages=_number_messages(), **common)
    if kind == "integer":
        return fields.Integer(
            strict=False, validate=_range(field), error_messages=_number_messages(), **common
        )
    if kind in DECIMAL_TYPES:
        return PlainDecimal(
            allow_nan=False,
            as_string=True,
            validate=_range(field) + _scale(field),
            error_messages=_number_messages(),
            **common,
        )
    if kind in DATE_TYPES:
        return fields.Date(
            validate=_range(field),
            error_messages={**_messages(), "invalid": _("Not a valid date.")},
            **common,
        )
    if kind == "datetime":
        return UTCDateTimeValue(
            default_timezone=dt.UTC,
            error_messages={**_messages(), "invalid": _("Not a valid date and time.")},
            **common,
        )
    if kind == "boolean":
        return fields.Boolean(
            error_messages={**_messages(), "invalid": _("Not yes or no.")}, **common
        )
    if kind in ("select", "multiselect"):
        values = _option_values(field)
        inner_class = fields.Integer if all(isinstance(v, int) for v in values) else fields.String
        choice = validate.OneOf(values, error=_("Not one of the allowed choices."))
        if kind == "select":
            return inner_class(validate=choice, error_messages=_messages(), **common)
        return fields.List(
            inner_class(validate=choice, error_messages=_messages()),
            error_messages=_messages(),
            **common,
        )
    if kind == "link":
        return LinkValue(error_messages=_messages(), **common)
    if kind == "table":
        line_schema = build_schema_class(field.fields, f"{field.name}_line")
        return fields.List(
            fields.Nested(line_schema, unknown=RAISE), error_messages=_messages(), **common
        )
    raise ValueError(f"no schema for field type {kind}")


def build_schema_class(definition_fields: list[FieldDef], name: str) -> type[Schema]:
    declared = {}
    for field in definition_fields:
        built = build_field(field)
        if built is not None:
            declared[field.name] = built

    class Base(Schema):
        class Meta:
            unknown = RAISE

        error_messages = {"unknown": _("Unknown field."), "type": _("Invalid input type.")}

    return Base.from_dict(declared, name=name)


@lru_cache(maxsize=256)
def _request_schema(form: FormDef, version: int, locale: str) -> Schema:
    return build_schema_class(form.fields, f"{form.name}_v{version}")()


def request_schema(form: FormDef, locale: str) -> Schema:
    """The input schema of ``form`` (cached per form version and language)."""
    return _request_schema(form, form.version, locale)


@lru_cache(maxsize=256)
def _response_schema(form: FormDef, version: int) -> Schema:
    declared = {f.name: fields.Raw() for f in form.fields}

    class Base(Schema):
        class Meta:
            unknown = EXCLUDE

    data_schema = Base.from_dict(declared, name=f"{form.name}_data_v{version}")
    return Schema.from_dict(
        {
            "id": fields.Integer(),
            "form": fields.String(),
            "number": fields.String(allow_none=True),
            "state": fields.String(),
            "location_id": fields.Integer(allow_none=True),
            "created_by": fields.Integer(allow_none=True),
            "created_at": fields.AwareDateTime(),
            "updated_at": fields.AwareDateTime(),
            "version": fields.Integer(),
            "meta_version": fields.Integer(),
            "data": fields.Nested(data_schema),
        },
        name=f"{form.name}_record_v{version}",
    )()


def response_schema(form: FormDef) -> Schema:
    """The output schema: system columns plus the form's current fields (removed ones hidden)."""
    return _response_schema(form, form.version)


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested errors → ``{"lines[2].quantity": ["..."]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, list):
        flat.setdefault(prefix or "_schema", []).extend(str(m) for m in messages)
        return flat
    for key, value in messages.items():
        if isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        for sub, texts in flatten_errors(value, path).items():
            flat.setdefault(sub, []).extend(texts)
    return flat
