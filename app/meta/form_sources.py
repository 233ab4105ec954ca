"""Form records as report sources: ``form:<name>`` and ``form:<name>.<table field>``.

A form's records live in one ``records`` table with their values in a JSON column. A form source
gives each scalar field a typed column extracted in SQL (``->>`` on PostgreSQL, ``json_extract``
on SQLite, cast to a number, Decimal or date), so filtering, grouping and sums run in the
database. A link field is its target's id, with a declared link to the target's columns (a kernel
table such as items, or another form's records). A table field's lines are a source of their own:
one row per line (``jsonb_array_elements`` / ``json_each``) joined to its header's columns.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    Text,
    cast,
    func,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from app.meta.expressions import yields_boolean
from app.meta.kernel_sources import (
    STOCK_FIGURES,
    location_link,
    region_link,
    stock_at,
    user_link,
)
from app.meta.links import LINK_TARGETS
from app.meta.models import Record
from app.meta.sources import SOURCE_BUILDERS, Link, Source, SourceColumn, current_dialect

#: Form field type → report column type; fields of other types (tables, files) are not columns.
FIELD_TYPES = {
    "text": "text",
    "long_text": "text",
    "select": "text",
    "lot": "text",
    "serial": "text",
    "barcode": "text",
    "udi": "text",
    "autonumber": "text",
    "integer": "integer",
    "current_user": "integer",
    "link": "integer",
    "decimal": "decimal",
    "percent": "decimal",
    "formula": "decimal",
    "money": "money",
    "date": "date",
    "expiry_date": "date",
    "datetime": "datetime",
    "current_time": "datetime",
    "boolean": "boolean",
}
CORE_LABELS = {
    "id": ("编号", "Record id"),
    "number": ("单号", "Number"),
    "state": ("状态", "State"),
    "location_id": ("地点编号", "Location id"),
    "created_at": ("创建时间", "Created at"),
    "created_by": ("创建人编号", "Created by"),
}
CORE_TYPES = {
    "id": "integer",
    "number": "text",
    "state": "text",
    "location_id": "integer",
    "created_at": "datetime",
    "created_by": "integer",
}


class json_date(FunctionElement):  # noqa: N801  (an SQL function, named like one)
    """An ISO date text as a date: CAST on PostgreSQL; SQLite keeps the text (ISO sorts right)."""

    type = Date()
    inherit_cache = True


@compiles(json_date)
def _json_date_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(json_date, "sqlite")
def _json_date_sqlite(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


class json_datetime(FunctionElement):  # noqa: N801
    """An ISO datetime text as a timestamp with time zone (SQLite keeps the text)."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(json_datetime)
def _json_datetime_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMP WITH TIME ZONE)"


@compiles(json_datetime, "sqlite")
def _json_datetime_sqlite(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


def extract(data: ColumnElement, name: str, kind: str) -> ColumnElement:
    """The JSON value ``data[name]`` as an SQL value of report type ``kind``."""
    element = data[name]
    if kind == "integer":
        return element.as_integer()
    if kind == "money":
        return type_coerce(element.as_numeric(18, 4), Numeric(18, 4, asdecimal=True))
    if kind == "decimal":
        return type_coerce(element.as_numeric(28, 8), Numeric(28, 8, asdecimal=True))
    if kind == "boolean":
        return element.as_boolean()
    if kind == "date":
        return json_date(element.as_string())
    if kind == "datetime":
        return json_datetime(element.as_string())
    return element.as_string()


def _label(pair) -> dict:
    return {"zh_CN": pair[0], "en": pair[1]}


def _field_label(spec: dict) -> dict:
    label = spec.get("label") or {}
    return {"zh_CN": label.get("zh_CN", spec["name"]), "en": label.get("en", spec["name"])}


def _json_getter(data_column: str, name: str, kind: str):
    return lambda table: extract(table.c[data_column], name, kind)


def _formula_type(spec: dict) -> str:
    """A formula's column type: a code when it has options (a sale's kind), yes/no when it
    gives true or false, an amount when it is rounded to cents (shown as 60.00, not 60), else a
    number."""
    if spec.get("options"):
        return "text"
    if yields_boolean(spec["formula"]):
        return "boolean"
    return "money" if spec.get("scale") == 2 else "decimal"


def _field_columns(specs: list[dict], data_column: str) -> dict[str, SourceColumn]:
    columns = {}
    for spec in specs:
        kind = _formula_type(spec) if spec["type"] == "formula" else FIELD_TYPES.get(spec["type"])
        if kind is not None:
            getter = _json_getter(data_column, spec["name"], kind)
            options = {o["value"]: o["label"] for o in spec.get("options") or []} or None
            columns[spec["name"]] = SourceColumn(kind, _field_label(spec), getter, options=options)
    return columns


def _table_columns(model) -> dict[str, SourceColumn]:
    """A kernel table's plain columns as link columns, typed from the model."""
    columns = {}
    for column in model.__table__.columns:
        if isinstance(column.type, Integer):
            kind = "integer"
        elif isinstance(column.type, Numeric):
            kind = "decimal"
        elif isinstance(column.type, Date):
            kind = "date"
        elif isinstance(column.type, DateTime) or column.type.__class__.__name__ == "UTCDateTime":
            kind = "datetime"
        elif isinstance(column.type, String | Text) or hasattr(column.type, "enums"):
            kind = "text"
        else:
            continue
        name = column.name
        columns[name] = SourceColumn(kind, {"zh_CN": name, "en": name}, _named(name))
    return columns


def _named(name: str):
    return lambda table: table.c[name]


def field_link(spec: dict, value, metadata) -> Link | None:
    """The declared link of a link field (``value(base)`` gives the id) to its target."""
    target = spec.get("link")
    if target == "location":
        return location_link_by(value)
    if target == "user":
        return Link(
            target=user_link("x").target,
            on=lambda base, other: value(base) == other.c.id,
            columns=user_link("x").columns,
        )
    if target in LINK_TARGETS:
        model = LINK_TARGETS[target].model
        return Link(
            target=lambda: model.__table__.alias(),
            on=lambda base, other: value(base) == other.c.id,
            columns=_table_columns(model),
        )
    document = metadata.forms.get(target)
    if document is None:
        return None
    scalar = [s for s in document.data.get("fields", []) if s["type"] != "table"]
    records = Record.__table__
    return Link(
        target=lambda: records.alias(),
        on=lambda base, other: (value(base) == other.c.id) & (other.c.form == target),
        columns={
            "number": SourceColumn("text", _label(CORE_LABELS["number"]), _named("number")),
            **_field_columns(scalar, "data"),
        },
    )


def location_link_by(value) -> Link:
    base = location_link("x")
    return Link(
        target=base.target,
        on=lambda table, other: value(table) == other.c.id,
        columns=base.columns,
    )


def _stock_columns(specs: list[dict], data_column: str) -> dict[str, SourceColumn]:
    """For each link field to an item: the item's sellable stock at the record's location now,
    ``<field>_on_hand`` and ``<field>_available`` (a stock policy against its safety level, an
    order line against what the store has)."""
    columns = {}
    for spec in specs:
        if spec["type"] == "link" and spec.get("link") == "item":
            item = _json_getter(data_column, spec["name"], "integer")
            for figure, label in STOCK_FIGURES.items():
                columns[f"{spec['name']}_{figure}"] = SourceColumn(
                    "decimal", label, _stock_getter(item, figure)
                )
    return columns


def _stock_getter(item, figure: str):
    return lambda table: stock_at(table.c.location_id, item(table), figure)


def _core_columns(location_column: str, form_name: str, metadata) -> dict[str, SourceColumn]:
    columns = {
        name: SourceColumn(
            CORE_TYPES[name],
            _label(CORE_LABELS[name]),
            _named(location_column if name == "location_id" else name),
        )
        for name in CORE_TYPES
    }
    columns["state"] = replace(columns["state"], options=_state_labels(form_name, metadata))
    return columns


def _state_labels(form_name: str, metadata) -> dict | None:
    """The form's workflow states by their labels, so that a report shows 确认不合格, not the
    code (a form without a workflow has none)."""
    workflow = metadata.workflows.get(form_name)
    if workflow is None:
        return None
    return {state: spec["label"] for state, spec in workflow.data.get("states", {}).items()}


def _links(header: list[dict], metadata, location_field) -> dict[str, Link]:
    """The record's location, its region and creator, then the header's link fields (a header
    field named ``location`` of a form without a location field is that field)."""
    links: dict[str, Link] = {
        "location": location_link("location_id"),
        "region": region_link("location_id"),
        "creator": user_link("created_by"),
    }
    return links | _field_links(header, "data", metadata, location_field)


def _field_links(specs: list[dict], data_column: str, metadata, location_field) -> dict:
    links = {}
    for spec in specs:
        if spec["type"] == "link" and spec["name"] != location_field:
            getter = _json_getter(data_column, spec["name"], "integer")
            link = field_link(spec, getter, metadata)
            if link is not None:
                links[spec["name"]] = link
    return links


def build_form_source(name: str, metadata) -> Source | None:
    """``<form>`` or ``<form>.<table field>`` of ``metadata``'s forms, or None if unknown."""
    form_name, _sep, table_name = name.partition(".")
    document = metadata.forms.get(form_name)
    if document is None:
        return None
    spec = document.data
    fields = spec.get("fields", [])
    header = [f for f in fields if f["type"] != "table"]
    location_field = spec.get("location_field")
    label = _field_label({"name": form_name, "label": spec.get("label")})
    if not table_name:
        return _header_source(name, form_name, label, header, location_field, metadata)
    table = next((f for f in fields if f["name"] == table_name and f["type"] == "table"), None)
    if table is None:
        return None
    return _lines_source(name, form_name, label, header, table, location_field, metadata)


def _header_source(name, form_name, label, header, location_field, metadata) -> Source:
    columns = {
        **_field_columns(header, "data"),
        **_stock_columns(header, "data"),
        **_core_columns("location_id", form_name, metadata),
    }
    if location_field:  # the form's location field IS the indexed location column
        columns[location_field] = columns["location_id"]
    return Source(
        name=f"form:{name}",
        label=label,
        table=lambda: Record.__table__,
        columns=columns,
        links=_links(header, metadata, location_field),
        **_located(form_name, location_field),
        where=lambda table: table.c.form == form_name,
        record=(form_name, "id"),
    )


def _located(form_name: str, location_field: str | None) -> dict:
    """A form's records belong to their location field's location; without one they are the
    chain's, read as the form's list reads them."""
    if location_field:
        return {"location_column": "location_id"}
    return {"chain_wide_form": form_name}


def lines_table(form_name: str, table_name: str):
    """One row per line of ``table_name``: the record's columns, ``line`` (JSON), ``line_no``."""
    records = Record.__table__
    if current_dialect() == "postgresql":
        elements = func.jsonb_array_elements(records.c.data[table_name]).table_valued(
            "value", with_ordinality="ordinality"
        )
        line = type_coerce(elements.c.value, JSONB)
        line_no = elements.c.ordinality
    else:
        elements = func.json_each(records.c.data, f"$.{table_name}").table_valued("key", "value")
        line = type_coerce(elements.c.value, JSON)
        line_no = elements.c.key + 1
    return (
        select(
            *[records.c[name] for name in CORE_TYPES],
            records.c.data,
            line.label("line"),
            cast(line_no, Integer).label("line_no"),
        )
        .select_from(records.join(elements, true()))
        .where(records.c.form == form_name)
        .subquery(f"{table_name}_lines")
    )


def _lines_source(name, form_name, label, header, table, location_field, metadata) -> Source:
    lines = table["fields"]
    columns = {
        **_field_columns(header, "data"),
        **_field_columns(lines, "line"),
        **_stock_columns(lines, "line"),
        **_core_columns("location_id", form_name, metadata),
        "line_no": SourceColumn("integer", _label(("行号", "Line")), _named("line_no")),
    }
    if location_field:
        columns[location_field] = columns["location_id"]
    links = _links(header, metadata, location_field) | _field_links(lines, "line", metadata, None)
    return Source(
        name=f"form:{name}",
        label=label,
        table=lambda: lines_table(form_name, table["name"]),
        columns=columns,
        links=links,
        **_located(form_name, location_field),
        record=(form_name, "id"),
    )


SOURCE_BUILDERS["form"] = build_form_source
