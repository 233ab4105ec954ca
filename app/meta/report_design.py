"""The report designer's changes to a report: its columns picked from its source and labelled,
summed or grouped, ordered, hidden and removed; what the reader chooses when running it (its
parameters: a period, a location, a text to look for, with their defaults); the conditions it
always applies (its filters); columns worked out from the others (formulas) and running
balances; which cells are coloured when; a column spread across the top (a pivot); its chart;
its label, sort order, row limit and totals — set in tables, not typed.

Each change is made to the text being edited (``yaml_edit``), so the preview (the draft run on
live data), the checks and the version diff work as for a typed change. Columns, parameters and
filters are addressed by position (``"2"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ruamel.yaml import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from app.i18n import _
from app.meta import yaml_edit
from app.meta.reports import union
from app.meta.yaml_edit import DesignRefused

REFERENCE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
SORT_KEY = re.compile(r"^-?[a-z][a-z0-9_]*$")
AGGREGATES = ("sum", "count", "count_distinct", "min", "max", "avg")
#: The designer's "summed as" choices: an aggregate, or a sum taken as an opening balance (the
#: rows before the period) or a closing one (the rows up to its end): ``sum:opening``.
SUMMED_AS = (*AGGREGATES, "sum:opening", "sum:closing")
BUCKETS = ("day", "week", "month", "quarter", "year")
COLUMN_KEYS = ("name", "column", "running", "by", "label", "bucket", "aggregate", "balance",
               "formula", "type", "hidden", "drill")  # fmt: skip
PARAM_TYPES = ("date", "date_range", "location", "select", "text", "number")
OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "contains", "in")
#: A parameter also compares as ``covers`` (a location parameter over a scope column).
PARAM_OPS = (*OPS, "covers", "as_of")
PARAM_KEYS = ("name", "type", "label", "op", "column", "required", "default", "default_expr",
              "options")  # fmt: skip
FILTER_KEYS = ("column", "op", "value", "against")
CHART_TYPES = ("bar", "stacked_bar", "line", "pie", "donut", "kpi", "table")
CHART_KEYS = ("type", "x", "y", "series")
HIGHLIGHT_STYLES = ("danger", "warning", "success", "info", "muted")
#: A report's keys in the order they are written; the designer sets those of ``DESIGNED``.
REPORT_KEYS = ("name", "label", "description", "source", "params", "filters", "columns", "sort",
               "limit", "totals", "subtotals", "pivot", "chart")  # fmt: skip
DESIGNED = ("name", "label", "source", "params", "filters", "columns", "sort", "limit", "totals",
            "subtotals", "pivot", "chart")  # fmt: skip


@dataclass
class ReportColumn:
    path: str
    name: str
    column: str
    label_zh: str
    label_en: str
    aggregate: str
    bucket: str
    #: worked out from the row's other columns (``safety_stock - available``), for a column
    #: that reads none of the source's
    formula: str
    #: what the formula gives, when the column says: ``money`` (two decimals)
    type: str
    hidden: bool
    other_keys: list[str]
    #: a running balance: the report's column it adds up row by row, and the columns on whose
    #: every new value it starts again ("location_id, item_id")
    running: str = ""
    by: str = ""
    #: where a click on a cell goes: another report, its parameter given the cell's value
    #: (``stock_card:item``) or the record of a form (``record:sales_order:order_id``); None for a
    #: drill the designer does not draw (the YAML's)
    drill: str | None = ""


@dataclass
class ReportParam:
    path: str
    name: str
    type: str
    label_zh: str
    label_en: str
    column: str
    op: str
    required: bool
    #: a date's default (an expression), the two ends of a date range's, another type's value
    default: str
    default_from: str
    default_to: str
    other_keys: list[str]


@dataclass
class ReportFilter:
    path: str
    column: str
    op: str
    #: the value compared with, as one line of YAML (``0``, ``cancelled``, ``[a, b]``, ``null``)
    value: str
    #: or another column of the row
    against: str


@dataclass
class Highlight:
    """A cell of ``column`` drawn in ``style`` when ``when`` holds for its row."""

    column: str
    when: str
    style: str


@dataclass
class ChartView:
    type: str
    x: str
    y: list[str]
    series: str


@dataclass
class ReportView:
    #: the source as written: a name, or a union of parts (see ``reports.union``)
    source: object
    label_zh: str
    label_en: str
    columns: list[ReportColumn]
    sort: str
    limit: str
    totals: bool
    subtotals: bool
    params: list[ReportParam] = field(default_factory=list)
    filters: list[ReportFilter] = field(default_factory=list)
    chart: ChartView | None = None
    #: the column whose values spread across the top (a pivot), and the figures under each
    pivot_column: str = ""
    pivot_values: list[str] = field(default_factory=list)
    highlights: list[Highlight] = field(default_factory=list)
    #: what else the report declares, kept as written (a pivot, subtotals …)
    other_keys: list[str] = field(default_factory=list)

    @property
    def source_text(self) -> str:
        return union.describe(self.source)


def parse(text: str) -> CommentedMap:
    document = yaml_edit.parse(text, _("The YAML is not a report: it must map columns:."))
    if not isinstance(document.get("columns"), CommentedSeq):
        document["columns"] = CommentedSeq()
    return document


def view(text: str) -> ReportView:
    document = parse(text)
    columns = [
        ReportColumn(
            path=str(index), name=str(raw.get("name", "")), column=str(raw.get("column") or ""),
            label_zh=yaml_edit.label_of(raw)[0], label_en=yaml_edit.label_of(raw)[1],
            aggregate=":".join(str(raw[key]) for key in ("aggregate", "balance") if raw.get(key)),
            bucket=str(raw.get("bucket") or ""),
            formula=yaml_edit.text_of(raw.get("formula")), type=str(raw.get("type") or ""),
            hidden=raw.get("hidden") is True,
            other_keys=[key for key in raw if key not in (*COLUMN_KEYS, "highlight")]
            + (["drill"] if _drill_view(raw.get("drill")) is None else []),
            running=yaml_edit.text_of(raw.get("running")),
            drill=_drill_view(raw.get("drill")),
            by=", ".join(str(name) for name in raw.get("by") or []),
        )
        for index, raw in enumerate(document["columns"])
        if isinstance(raw, dict)
    ]  # fmt: skip
    return ReportView(
        source=document.get("source") or "", label_zh=yaml_edit.label_of(document)[0],
        label_en=yaml_edit.label_of(document)[1], columns=columns,
        sort=", ".join(str(key) for key in document.get("sort") or []),
        limit=str(document.get("limit") or ""), totals=document.get("totals") is True,
        subtotals=document.get("subtotals") is True,
        params=[_param_view(str(index), raw) for index, raw in _entries(document, "params")],
        filters=[_filter_view(str(index), raw) for index, raw in _entries(document, "filters")],
        chart=_chart_view(document.get("chart")),
        pivot_column=yaml_edit.text_of((document.get("pivot") or {}).get("column")),
        pivot_values=[str(name) for name in (document.get("pivot") or {}).get("values") or []],
        highlights=[
            Highlight(str(raw.get("name", "")), *_rule(rule))
            for _index, raw in _entries(document, "columns")
            for rule in raw.get("highlight") or []
            if isinstance(rule, dict)
        ],
        other_keys=[key for key in document if key not in DESIGNED],
    )  # fmt: skip


def _entries(document: CommentedMap, key: str):
    return [(i, raw) for i, raw in enumerate(document.get(key) or []) if isinstance(raw, dict)]


def _param_view(path: str, raw) -> ReportParam:
    kind, given = str(raw.get("type", "")), raw.get("default_expr")
    ends = [yaml_edit.text_of(end) for end in given] if isinstance(given, list) else []
    ends = (ends + ["", ""])[:2] if kind == "date_range" else ["", ""]
    default = yaml_edit.text_of(raw.get(_default_key(kind))) if kind != "date_range" else ""
    designed = {"name", "type", "label", "op", "column", "required", _default_key(kind)}
    return ReportParam(
        path=path, name=str(raw.get("name", "")), type=kind, label_zh=yaml_edit.label_of(raw)[0],
        label_en=yaml_edit.label_of(raw)[1], column=yaml_edit.text_of(raw.get("column")),
        op=str(raw.get("op") or ""), required=raw.get("required") is True, default=default,
        default_from=ends[0], default_to=ends[1],
        other_keys=[key for key in raw if key not in designed],
    )  # fmt: skip


def _default_key(kind: str) -> str:
    """Where the designer writes a parameter's default: an expression for dates (``today()``),
    a value for the others (``mine``: the reader's own location)."""
    return "default_expr" if kind in ("date", "date_range") else "default"


def _filter_view(path: str, raw) -> ReportFilter:
    return ReportFilter(
        path=path, column=yaml_edit.text_of(raw.get("column")), op=str(raw.get("op") or ""),
        value="" if "value" not in raw else yaml_edit.one_line(raw["value"]),
        against=yaml_edit.text_of(raw.get("against")),
    )  # fmt: skip


def _chart_view(raw) -> ChartView | None:
    if not isinstance(raw, dict):
        return None
    return ChartView(
        type=str(raw.get("type", "")), x=yaml_edit.text_of(raw.get("x")),
        y=yaml_edit.names_of(raw, "y"), series=yaml_edit.text_of(raw.get("series")),
    )  # fmt: skip


def update_report(text: str, values: Mapping[str, str]) -> str:
    """The report's label, sort order (column names, ``-`` before one for descending), row
    limit, grand totals and subtotals."""
    document = parse(text)
    name = str(document.get("name", ""))
    yaml_edit.set_label(document, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, REPORT_KEYS)  # fmt: skip
    keys = [key.strip() for key in values.get("sort", "").split(",") if key.strip()]
    if any(not SORT_KEY.match(key) for key in keys):
        raise DesignRefused(_("Sort by column names, separated by commas; a - before one sorts "
                              "it from the largest."), "sort")  # fmt: skip
    if yaml_edit.names_of(document, "sort") != keys:
        sort = yaml_edit.flow_seq(keys) if keys else None
        yaml_edit.set_or_drop(document, "sort", sort, REPORT_KEYS)
    limit = values.get("limit", "").strip()
    if limit and (not limit.isdigit() or not 1 <= int(limit) <= 100_000):
        raise DesignRefused(_("The row limit is a whole number from 1 to 100000."), "limit")
    yaml_edit.set_or_drop(document, "limit", int(limit) if limit else None, REPORT_KEYS)
    for switch in ("totals", "subtotals"):
        yaml_edit.set_or_drop(document, switch, True if values.get(switch) else None, REPORT_KEYS)
    return yaml_edit.dump(document, text)


def update_column(text: str, path: str, values: Mapping[str, str]) -> str:
    """A column's name, source column, labels, aggregate, date bucket and hidden switch."""
    document = parse(text)
    columns, index = _locate(document, path)
    raw = columns[index]
    name = _name(values.get("name", ""), columns, index)
    yaml_edit.set_or_drop(raw, "name", name, COLUMN_KEYS)
    if "column" in raw or values.get("column"):  # a computed or counted one may have none
        yaml_edit.set_or_drop(raw, "column", _reference(values.get("column", "")), COLUMN_KEYS)
    elif "formula" in raw:
        yaml_edit.set_or_drop(raw, "formula", _formula(values), COLUMN_KEYS)
        # what it gives: money, or a number (the default, not written)
        kind = "money" if values.get("type") == "money" else None
        yaml_edit.set_or_drop(raw, "type", kind, COLUMN_KEYS)
    elif "running" in raw:
        yaml_edit.set_or_drop(raw, "running", _running(values, columns, index), COLUMN_KEYS)
        yaml_edit.set_or_drop(raw, "by", _by(raw.get("by"), values, columns, index), COLUMN_KEYS)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, COLUMN_KEYS)  # fmt: skip
    summed, bucket = values.get("aggregate", ""), values.get("bucket", "")
    aggregate, _colon, balance = summed.partition(":") if summed in SUMMED_AS else ("", "", "")
    yaml_edit.set_or_drop(raw, "aggregate", aggregate or None, COLUMN_KEYS)
    yaml_edit.set_or_drop(raw, "balance", balance or None, COLUMN_KEYS)
    yaml_edit.set_or_drop(raw, "bucket", bucket if bucket in BUCKETS else None, COLUMN_KEYS)
    yaml_edit.set_or_drop(raw, "hidden", True if values.get("hidden") else None, COLUMN_KEYS)
    if "drill" in values and _drill_view(raw.get("drill")) is not None:
        yaml_edit.set_or_drop(raw, "drill", _drill(raw.get("drill"), values["drill"]), COLUMN_KEYS)
    return yaml_edit.dump(document, text)


#: The designer's choice of a drill to a form's record: ``record:<form>:<column holding its id>``
#: (no column: the cell itself is the id).
RECORD_DRILL = "record:"
#: The designer's choice of a drill to the document whose number the cell holds.
DOCUMENT_DRILL = "document"


def _drill_view(drill) -> str | None:
    """A column's drill as the designer's choice: ``report:param`` (another report, given the
    cell), ``record:form:column`` (the form's record whose id the row's column holds),
    ``document`` (the document the cell numbers); "" for none, None for a shape the designer
    does not draw."""
    if drill is None:
        return ""
    if drill == {"document": True}:
        return DOCUMENT_DRILL
    if isinstance(drill, dict) and set(drill) == {"report", "param"}:
        return f"{drill['report']}:{drill['param']}"
    if isinstance(drill, dict) and "form" in drill and set(drill) <= {"form", "record_column"}:
        return f"{RECORD_DRILL}{drill['form']}:{drill.get('record_column') or ''}"
    return None


def _drill(current, chosen: str):
    """The drill the choice says (``current`` itself when it says the same)."""
    chosen = chosen.strip()
    if not chosen:
        return None
    if chosen == _drill_view(current):
        return current
    if chosen == DOCUMENT_DRILL:
        return yaml_edit.flow(CommentedMap(document=True))
    if chosen.startswith(RECORD_DRILL):
        form, _colon, column = chosen.removeprefix(RECORD_DRILL).partition(":")
        bad_column = bool(column) and not yaml_edit.IDENTIFIER.match(column)
        if bad_column or not yaml_edit.IDENTIFIER.match(form):
            raise DesignRefused(_("Choose the record a click opens."), "drill")
        drill = CommentedMap(form=form)
        if column:
            drill["record_column"] = column
        return yaml_edit.flow(drill)
    report, _colon, param = chosen.partition(":")
    if not (yaml_edit.IDENTIFIER.match(report) and yaml_edit.IDENTIFIER.match(param)):
        raise DesignRefused(_("Choose the report a click opens, and what it is given."), "drill")
    return yaml_edit.flow(CommentedMap(report=report, param=param))


def add_column(text: str, values: Mapping[str, str], labels: Mapping[str, tuple[str, str]]) -> str:
    """A column reading ``values["column"]`` at the end, named and labelled after the source
    column (``labels``: reference → Chinese and English label) unless given; or, with no source
    column, one worked out by ``values["formula"]`` or the running balance of the column
    ``values["running"]`` (named by the admin)."""
    document = parse(text)
    columns = document["columns"]
    if values.get("formula", "").strip() and not values.get("column", "").strip():
        raw = CommentedMap(name=_name(values.get("name", ""), columns, None))
        raw["formula"], zh, en = _formula(values), "", ""
    elif values.get("running", "").strip() and not values.get("column", "").strip():
        raw = CommentedMap(name=_name(values.get("name", ""), columns, None))
        raw["running"], zh, en = _running(values, columns, None), "", ""
    else:
        reference = _reference(values.get("column", ""))
        name = _name(values.get("name", "").strip() or reference.replace(".", "_"), columns, None)
        raw, (zh, en) = CommentedMap(name=name, column=reference), labels.get(reference, ("", ""))
    yaml_edit.set_label(raw, "label", values.get("label_zh", "") or zh,
                        values.get("label_en", "") or en, str(raw["name"]))  # fmt: skip
    columns.append(yaml_edit.flow(raw))  # one line per column, as the shipped reports write them
    return yaml_edit.dump(document, text)


# --- parameters and filters ------------------------------------------------------------------


def update_param(text: str, path: str, values: Mapping[str, str]) -> str:
    """A parameter's name, type, labels, the column it narrows, how it compares, whether the
    reader must give it, and its default."""
    document = parse(text)
    params, index = _located(document, "params", path)
    raw = params[index]
    name = _param_name(values.get("name", ""), params, index)
    kind = _param_type(values)
    yaml_edit.set_or_drop(raw, "name", name, PARAM_KEYS)
    yaml_edit.set_or_drop(raw, "type", kind, PARAM_KEYS)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, PARAM_KEYS)  # fmt: skip
    op = values.get("compare", "")  # (``op`` names the designer's change)
    yaml_edit.set_or_drop(raw, "op", op if op in PARAM_OPS else None, PARAM_KEYS)
    column = values.get("column", "").strip()
    yaml_edit.set_or_drop(raw, "column", _reference(column) if column else None, PARAM_KEYS)
    yaml_edit.set_or_drop(raw, "required", True if values.get("required") else None, PARAM_KEYS)
    key = _default_key(kind)
    yaml_edit.set_or_drop(raw, key, _default(raw.get(key), kind, values), PARAM_KEYS)
    return yaml_edit.dump(document, text)


def _param_type(values: Mapping[str, str]) -> str:
    kind = values.get("type", "")
    if kind not in PARAM_TYPES:
        raise DesignRefused(_("Choose what the reader gives: a date, a period, a location …"),
                            "type")  # fmt: skip
    return kind


def _default(current, kind: str, values: Mapping[str, str]):
    """The default the inputs give (``current`` itself when they say the same); None for none."""
    if kind == "date_range":
        ends = [values.get("default_from", "").strip(), values.get("default_to", "").strip()]
        if not any(ends):
            return None
        if not all(ends):
            raise DesignRefused(_("Give both ends of the period, such as today() - days(30) "
                                  "and today(), or neither."), "default_from")  # fmt: skip
        if isinstance(current, list) and [yaml_edit.text_of(end) for end in current] == ends:
            return current
        return yaml_edit.flow_seq(DoubleQuotedScalarString(end) for end in ends)  # as shipped
    given = values.get("default", "").strip()
    return current if given and given == yaml_edit.text_of(current) else (given or None)


def add_param(text: str, values: Mapping[str, str]) -> str:
    """A parameter at the end: a name, a type and its labels; the rest is set on its row."""
    document = parse(text)
    params = document.get("params")
    if not isinstance(params, CommentedSeq):
        params = CommentedSeq()
    name = _param_name(values.get("name", ""), params, None)
    kind = _param_type(values)
    raw = CommentedMap(name=name, type=kind)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""), name)
    params.append(raw)
    yaml_edit.set_or_drop(document, "params", params, REPORT_KEYS)
    return yaml_edit.dump(document, text)


def update_filter(text: str, path: str, values: Mapping[str, str]) -> str:
    """A filter's column, comparison and what it compares with: a value (one line of YAML) or,
    when given, another column of the row."""
    document = parse(text)
    filters, index = _located(document, "filters", path)
    _set_filter(filters[index], values)
    return yaml_edit.dump(document, text)


def add_filter(text: str, values: Mapping[str, str]) -> str:
    document = parse(text)
    filters = document.get("filters")
    if not isinstance(filters, CommentedSeq):
        filters = CommentedSeq()
    raw = yaml_edit.flow(CommentedMap())  # one line per filter, as the shipped reports write them
    _set_filter(raw, values)
    filters.append(raw)
    yaml_edit.set_or_drop(document, "filters", filters, REPORT_KEYS)
    return yaml_edit.dump(document, text)


def _set_filter(raw: CommentedMap, values: Mapping[str, str]) -> None:
    op = values.get("compare", "")  # (``op`` names the designer's change)
    if op not in OPS:
        raise DesignRefused(_("Choose how the column is compared."), "compare")
    yaml_edit.set_or_drop(raw, "column", _reference(values.get("column", "")), FILTER_KEYS)
    yaml_edit.set_or_drop(raw, "op", op, FILTER_KEYS)
    against = values.get("against", "").strip()
    if against:
        yaml_edit.drop(raw, "value")
        yaml_edit.set_or_drop(raw, "against", _reference(against, "against"), FILTER_KEYS)
        return
    yaml_edit.drop(raw, "against")
    typed = values.get("value", "").strip() or "null"
    if "value" in raw and typed == yaml_edit.one_line(raw["value"]):
        return
    unread = _("The value does not read; write it as 0, cancelled, true, null or [a, b].")
    value = yaml_edit.one_line_value(typed, unread, "value")
    yaml_edit.set_or_drop(raw, "value", "", FILTER_KEYS)  # its place; a null value is kept
    raw["value"] = value  # ("is empty"), where set_or_drop would drop it


def move_entry(text: str, key: str, path: str, step: int) -> str:
    """Move a parameter (``key`` "params") or a filter ("filters") ``step`` places."""
    document = parse(text)
    return yaml_edit.moved(document, *_located(document, key, path), step, text)


def remove_entry(text: str, key: str, path: str) -> str:
    """Remove a parameter or a filter; the report's last one takes its key along."""
    document = parse(text)
    entries, index = _located(document, key, path)
    del entries[index]
    if not entries:
        yaml_edit.drop(document, key)
    return yaml_edit.dump(document, text)


def update_chart(text: str, values) -> str:
    """The chart drawn above the table: its type, the column along the bottom, the columns it
    draws and the one that splits them into series; no type, no chart (``values`` a request's
    form: ``getlist`` for the columns drawn)."""
    document = parse(text)
    kind = values.get("chart_type", "")
    if kind not in CHART_TYPES:
        yaml_edit.drop(document, "chart")
        return yaml_edit.dump(document, text)
    chart = document.get("chart")
    if not isinstance(chart, CommentedMap):
        chart = yaml_edit.flow(CommentedMap())
    names = yaml_edit.names_in(document["columns"])
    x, series = values.get("x", ""), values.get("series", "")
    drawn = [name for name in values.getlist("y") if name in names]
    yaml_edit.set_or_drop(chart, "type", kind, CHART_KEYS)
    yaml_edit.set_or_drop(chart, "x", x if x in names else None, CHART_KEYS)
    if yaml_edit.names_of(chart, "y") != drawn:
        yaml_edit.set_or_drop(chart, "y", yaml_edit.flow_seq(drawn) if drawn else None, CHART_KEYS)
    yaml_edit.set_or_drop(chart, "series", series if series in names else None, CHART_KEYS)
    yaml_edit.set_or_drop(document, "chart", chart, REPORT_KEYS)
    return yaml_edit.dump(document, text)


def update_pivot(text: str, values) -> str:
    """Spread a column's values across the top, one column each, with the figures ticked under
    each (a pivot); no column, no pivot."""
    document = parse(text)
    names = yaml_edit.names_in(document["columns"])
    column = values.get("pivot_column", "")
    figures = [name for name in values.getlist("pivot_values") if name in names]
    if column not in names:
        yaml_edit.drop(document, "pivot")
        return yaml_edit.dump(document, text)
    if not figures and "pivot" not in document:  # spread for the first time: the summed ones
        summed = [raw for _index, raw in _entries(document, "columns") if raw.get("aggregate")]
        figures = [str(raw.get("name")) for raw in summed if raw.get("name") != column]
    if not figures:
        raise DesignRefused(_("Tick the figures shown under each value across the top."),
                            "pivot_values")  # fmt: skip
    pivot = document.get("pivot")
    if not isinstance(pivot, CommentedMap):
        pivot = yaml_edit.flow(CommentedMap())
    yaml_edit.set_or_drop(pivot, "column", column, ("column", "values"))
    if yaml_edit.names_of(pivot, "values") != figures:
        yaml_edit.set_or_drop(pivot, "values", yaml_edit.flow_seq(figures), ("column", "values"))
    yaml_edit.set_or_drop(document, "pivot", pivot, REPORT_KEYS)
    return yaml_edit.dump(document, text)


def _rule(raw) -> tuple[str, str]:
    return yaml_edit.text_of(raw.get("when")), str(raw.get("style") or "")


def update_highlights(text: str, values) -> str:
    """Which cells are coloured: the designer's rows (``hl_column``, ``hl_when``, ``hl_style``;
    a row whose condition is cleared goes), gathered per column in their order; a column whose
    rules did not change stays as written (``values`` a request's form: ``getlist``)."""
    document = parse(text)
    columns = [raw for _index, raw in _entries(document, "columns")]
    names = {str(raw.get("name", "")) for raw in columns}
    rows = zip(values.getlist("hl_column"), values.getlist("hl_when"), values.getlist("hl_style"),
               strict=True)  # fmt: skip
    wanted: dict[str, list[tuple[str, str]]] = {}
    for column, when, style in rows:
        if not when.strip():
            continue
        if column not in names:
            raise DesignRefused(_("Choose the column whose cells are coloured."), "hl_column")
        if style not in HIGHLIGHT_STYLES:
            raise DesignRefused(_("Choose the colour of the cells."), "hl_style")
        wanted.setdefault(column, []).append((when.strip(), style))
    for raw in columns:
        rules = wanted.get(str(raw.get("name", "")), [])
        if rules == [_rule(rule) for rule in raw.get("highlight") or []]:
            continue
        if raw.fa.flow_style() and rules:  # a column with rules is written a key a line
            raw.fa.set_block_style()
        written = CommentedSeq(
            yaml_edit.flow(CommentedMap(when=DoubleQuotedScalarString(when), style=style))
            for when, style in rules
        )
        yaml_edit.set_or_drop(raw, "highlight", written or None, (*COLUMN_KEYS, "highlight"))
    return yaml_edit.dump(document, text)


def move_column(text: str, path: str, step: int) -> str:
    document = parse(text)
    return yaml_edit.moved(document, *_locate(document, path), step, text)


def remove_column(text: str, path: str) -> str:
    document = parse(text)
    last = _("A report keeps at least one column.")
    return yaml_edit.removed(document, *_locate(document, path), text, last)


def _name(name: str, columns: CommentedSeq, index: int | None) -> str:
    return yaml_edit.new_name(
        name, yaml_edit.names_in(columns, index),
        _("A column name is lower_snake_case: a letter, then letters, digits and _."),
        lambda taken: _("The report already has a column called %(name)s.", name=taken),
    )  # fmt: skip


def _param_name(name: str, params: CommentedSeq, index: int | None) -> str:
    return yaml_edit.new_name(
        name, yaml_edit.names_in(params, index), None,
        lambda taken: _("The report already has a parameter called %(name)s.", name=taken),
    )  # fmt: skip


def _formula(values: Mapping[str, str]) -> str:
    formula = values.get("formula", "").strip()
    if not formula:
        raise DesignRefused(_("Write how the column is worked out, e.g. safety_stock - available."),
                            "formula")  # fmt: skip
    return formula


def _running(values: Mapping[str, str], columns: CommentedSeq, index: int | None) -> str:
    """The column a running balance adds up: another of the report's."""
    running = values.get("running", "").strip()
    if running not in yaml_edit.names_in(columns, index):
        raise DesignRefused(_("Choose the column the balance adds up, row by row."), "running")
    return running


def _by(current, values: Mapping[str, str], columns: CommentedSeq, index: int) -> CommentedSeq:
    """The columns on whose every new value a running balance starts again ("a, b"): the
    report's; ``current`` itself when the input names the same."""
    names = [name.strip() for name in re.split(r"[,，]", values.get("by", "")) if name.strip()]
    if names == [str(name) for name in current or []]:
        return current
    unknown = [name for name in names if name not in yaml_edit.names_in(columns, index)]
    if unknown:
        message = _("%(names)s: not a column of this report; name its columns, such as "
                    "location_id, item_id.", names=", ".join(unknown))  # fmt: skip
        raise DesignRefused(message, "by")
    return yaml_edit.flow_seq(names) if names else None


def _reference(reference: str, field: str = "column") -> str:
    reference = reference.strip()
    if not REFERENCE.match(reference):
        raise DesignRefused(_("Choose the source column it shows."), field)
    return reference


def _locate(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    return _located(document, "columns", path)


def _located(document: CommentedMap, key: str, path: str) -> tuple[CommentedSeq, int]:
    """The entries under ``key`` (columns, params, filters) and the index ``path`` names."""
    stale = _("That part of the report is no longer where the designer saw it; look again and "
              "repeat.")  # fmt: skip
    entries = document.get(key)
    if not isinstance(entries, CommentedSeq):
        raise DesignRefused(stale)
    return entries, yaml_edit.at(entries, path, stale)
