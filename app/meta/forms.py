"""A form definition compiled for use: fields with their expressions compiled once.

``FormDef`` is what the record service, the schema builder, the API and the pages read; it is
built from a validated ``SourceDocument`` whenever the metadata (re)loads.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from app.i18n import localized
from app.meta.checks import EXPRESSION_KEYS, SYSTEM_NAMES
from app.meta.expressions import Expression, compile_expression, yields_boolean

#: Field types whose value the server computes; input for them is ignored.
COMPUTED_TYPES = frozenset({"formula", "autonumber", "current_user", "current_time"})
NUMBER_TYPES = frozenset({"integer", "decimal", "money", "percent"})
DATE_TYPES = frozenset({"date", "expiry_date"})
TEXT_TYPES = frozenset({"text", "long_text", "lot", "serial", "barcode", "udi"})
#: Typed input of these holds decimals (``integer`` is whole; ``formula`` is computed).
DECIMAL_TYPES = frozenset({"decimal", "money", "percent"})
#: What the kernel's Money and Quantity columns hold, ``Numeric(18, 4)``: a decimal a form
#: accepts must fit there when it is posted, so that stock and money stay exact.
STORED_SCALE = 4
STORED_INTEGER_DIGITS = 14


def label_text(label: dict | None, locale: str | None) -> str:
    """The label in ``locale`` (``zh_CN`` or ``en``), falling back to Chinese."""
    return localized(label or {}, "en" if locale and locale.startswith("en") else "zh_CN")


@dataclass(eq=False)
class FieldDef:
    name: str
    type: str
    spec: dict
    expressions: dict[str, Expression] = field(default_factory=dict)
    validators: list[tuple[Expression, dict]] = field(default_factory=list)
    fields: list[FieldDef] = field(default_factory=list)  # for table fields

    def get(self, key, default=None):
        return self.spec.get(key, default)

    @property
    def computed(self) -> bool:
        return self.type in COMPUTED_TYPES

    @property
    def options(self) -> list[dict]:
        return self.spec.get("options", [])

    @functools.cached_property
    def yes_no(self) -> bool:
        """Shown as yes/no: a boolean field, or a formula that gives true or false."""
        return self.type == "boolean" or (
            self.type == "formula" and yields_boolean(self.spec["formula"])
        )

    def label(self, locale: str | None) -> str:
        return label_text(self.spec["label"], locale)

    def help(self, locale: str | None) -> str:
        return label_text(self.spec.get("help"), locale)

    def child(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)

    @functools.cached_property
    def formulas(self) -> list[FieldDef]:
        """A table's formula fields, in the order they are computed."""
        return formulas_in_order(self.fields)

    @property
    def scale(self) -> int | None:
        """Decimal places a value may have: the field's ``scale``, else for typed decimals the
        columns' 4 (a quantity of 0.00001 would be rounded away in the ledger)."""
        if self.spec.get("scale") is not None:
            return self.spec["scale"]
        return STORED_SCALE if self.type in DECIMAL_TYPES else None

    def bound(self, key: str):
        """``min``/``max`` as a value of this field's type (``Decimal`` or ``date``)."""
        value = self.spec.get(key)
        if value is None:
            return None
        try:
            if self.type in NUMBER_TYPES:
                return Decimal(str(value))
            if self.type in DATE_TYPES:
                return dt.date.fromisoformat(str(value))
            if self.type == "datetime":
                return dt.datetime.fromisoformat(str(value))
        except (InvalidOperation, ValueError):
            return None
        return None


@dataclass(eq=False)
class FormDef:
    name: str
    spec: dict
    version: int
    yaml_text: str
    fields: list[FieldDef]
    workflow: dict | None = None

    @property
    def kind(self) -> str:
        return self.spec.get("kind", "document")

    @property
    def initial_state(self) -> str:
        return self.workflow["initial"] if self.workflow else "draft"

    @property
    def location_field(self) -> str | None:
        return self.spec.get("location_field")

    @property
    def period_date(self) -> str | None:
        """The date field that dates a document for period close (None: its creation day)."""
        return self.spec.get("period_date")

    @property
    def title_field(self) -> str | None:
        return self.spec.get("title_field")

    def label(self, locale: str | None) -> str:
        return label_text(self.spec["label"], locale)

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)

    @functools.cached_property
    def formulas(self) -> list[FieldDef]:
        """The header's formula fields, in the order they are computed."""
        return formulas_in_order(self.fields)

    @property
    def sections(self) -> list[dict]:
        """The sections to render; one unnamed section with every field when none is declared."""
        declared = list(self.spec.get("sections") or [])
        placed = {name for section in declared for name in section["fields"]}
        rest = [f.name for f in self.fields if f.name not in placed]
        if rest:  # a field left out of every section is still on the page: never lose input
            declared.append({"name": "other", "label": None, "fields": rest})
        return declared

    @property
    def list_columns(self) -> list[str]:
        return self.spec.get("list", {}).get("columns") or default_list_columns(self.spec)

    @property
    def default_sort(self) -> str:
        return self.spec.get("list", {}).get("sort", "-id")

    @property
    def page_size(self) -> int:
        return self.spec.get("list", {}).get("page_size", 25)

    @property
    def search_fields(self) -> list[str]:
        return self.spec.get("search", [])

    def state_label(self, state: str, locale: str | None) -> str:
        if self.workflow and state in self.workflow.get("states", {}):
            return label_text(self.workflow["states"][state].get("label"), locale) or state
        if not self.workflow and state == "draft":  # a form without a flow: its one state
            return label_text(UNFLOWED_STATE, locale)
        return state


#: The state of a record whose form has no workflow, as a person reads it.
UNFLOWED_STATE = {"zh_CN": "已保存", "en": "Saved"}


def default_list_columns(spec) -> list[str]:
    """The columns a form's record list shows when it names none: the record number (when the
    form numbers its records), then its first five fields that are not tables."""
    fields = [f for f in spec.get("fields") or [] if isinstance(f, dict)]
    simple = [str(f.get("name")) for f in fields if f.get("type") != "table"][:5]
    return (["number"] if spec.get("numbering") else []) + simple


def formulas_in_order(fields: list[FieldDef]) -> list[FieldDef]:
    """The formula fields of ``fields``, each after the formulas it reads (declared order
    otherwise): an admin may put a field's double above the total it doubles."""
    formulas = {f.name: f for f in fields if f.type == "formula" and "formula" in f.expressions}
    placed: dict[str, FieldDef] = {}

    def place(field: FieldDef, path: tuple[str, ...]) -> None:
        if field.name in placed or field.name in path:  # a circle: the load check refuses it
            return
        for name in sorted(field.expressions["formula"].names & formulas.keys()):
            place(formulas[name], (*path, field.name))
        placed[field.name] = field

    for formula in formulas.values():
        place(formula, ())
    return list(placed.values())


def _compile_field(spec: dict, names: set[str], link_names) -> FieldDef:
    definition = FieldDef(spec["name"], spec["type"], spec)
    if spec["type"] == "table":
        line_names = names | {child["name"] for child in spec["fields"]}
        definition.fields = [
            _compile_field(child, line_names, link_names) for child in spec["fields"]
        ]
    if "link_filter" in spec and spec.get("link"):
        target_names = link_names(spec["link"])
        # an unregistered kernel target cannot be checked now: accept any name, fail at runtime
        definition.expressions["link_filter"] = compile_expression(
            spec["link_filter"], target_names if target_names is not None else _AnyName()
        )
    for key in EXPRESSION_KEYS:
        if key in spec:
            definition.expressions[key] = compile_expression(spec[key], names)
    for rule in spec.get("validate", []):
        definition.validators.append((compile_expression(rule["expr"], names), rule["message"]))
    return definition


class _AnyName(set):
    def __contains__(self, name) -> bool:
        return True


def compile_form(
    spec: dict, version: int, yaml_text: str, workflow: dict | None, link_names=lambda t: None
) -> FormDef:
    """Compile a validated form definition (the loader's checks already passed)."""
    names = {f["name"] for f in spec["fields"]} | set(SYSTEM_NAMES)
    fields = [_compile_field(f, names, link_names) for f in spec["fields"]]
    return FormDef(spec["name"], spec, version, yaml_text, fields, workflow)
