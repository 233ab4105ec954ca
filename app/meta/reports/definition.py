"""Compiling a report definition at metadata load: every problem with its path."""

from __future__ import annotations

from app.i18n import _
from app.meta.expressions import Expression, ExpressionError, compile_expression, yields_boolean
from app.meta.loader import cross_check
from app.meta.reports import union
from app.meta.reports.model import Report, ReportColumn, ReportParam
from app.meta.sources import NUMERIC_TYPES, Source, SourceColumn

DEFAULT_LIMIT = 10_000
DATE_TYPES = ("date", "datetime")
SUMMABLE = ("sum", "avg")


@cross_check
def check_reports(metadata, issues) -> None:
    """Compile every report at load, so a wrong column or formula never reaches a user.

    While a form does not load (its own error is reported), a report's problems are most likely
    that form's missing columns: they are left out, and show once the form loads again."""
    for document in metadata.reports.values():
        report, problems = compile_report(document.data, metadata)
        if metadata.broken_forms and problems:
            continue
        for path, message in problems:
            issues.append(document.issue(path, message))
        if report is not None:
            metadata.cache.setdefault("reports", {})[report.name] = report


def get_report(metadata, name: str) -> Report | None:
    """The compiled report ``name`` of this metadata set."""
    return metadata.cache.get("reports", {}).get(name)


def compile_report(data: dict, metadata) -> tuple[Report | None, list[tuple[tuple, str]]]:
    """Compile ``data``; returns the report (None if broken) and the (path, message) problems."""
    source, problems = union.resolve(data["source"], metadata)
    if source is None:
        return None, problems
    columns = _compile_columns(data, source, metadata, problems)
    names = {column.name for column in columns}
    params = _compile_params(data, source, problems)
    _check_conditions(source, data.get("filters", []), ("filters",), problems)
    sort = data.get("sort", [])
    for index, key in enumerate(sort):
        target = next((c for c in columns if c.name == key.lstrip("-")), None)
        if target is None:
            problems.append((("sort", index), _("unknown column '%(name)s'", name=key)))
        elif target.kind == "formula":
            problems.append((("sort", index), _("cannot sort by a formula column")))
    report = Report(
        name=data["name"],
        label=data["label"],
        source=source,
        columns=columns,
        params=params,
        filters=data.get("filters", []),
        sort=sort,
        limit=data.get("limit", DEFAULT_LIMIT),
        totals=data.get("totals", False),
        subtotals=data.get("subtotals", False),
        pivot=data.get("pivot"),
        chart=data.get("chart"),
    )
    _check_shape(report, names, data, problems)
    _check_running(report, problems)
    _check_balances(report, problems)
    if isinstance(source, union.UnionSource):
        report.source = source.narrowed(_references(report))
    return (None if problems else report), problems


def _references(report: Report) -> set[str]:
    """The source columns ``report`` reads."""
    found = {column.ref for column in report.columns if column.ref}
    found |= {param.column for param in report.params if param.column}
    conditions = report.filters + [c for column in report.measures for c in column.filters]
    for condition in conditions:
        found |= {condition[key] for key in ("column", "against") if key in condition}
    return found


def _compile_columns(data, source: Source, metadata, problems) -> list[ReportColumn]:
    columns: list[ReportColumn] = []
    seen: set[str] = set()
    for index, spec in enumerate(data["columns"]):
        path = ("columns", index)
        if spec["name"] in seen:
            problems.append(((*path, "name"), _("duplicate column '%(name)s'", name=spec["name"])))
        seen.add(spec["name"])
        column = _compile_column(spec, source, path, problems)
        if column is not None:
            columns.append(column)
    names = [column.name for column in columns]
    ours = {param["name"]: param["type"] for param in data.get("params", [])}
    for index, spec in enumerate(data["columns"]):
        _check_drill(spec.get("drill") or {}, ("columns", index, "drill"), names, metadata,
                     problems, ours)  # fmt: skip
    for index, spec in enumerate(data["columns"]):
        column = next((c for c in columns if c.name == spec["name"]), None)
        if column is None:
            continue
        others = [name for name in names if name != column.name]
        if "formula" in spec:
            column.formula = _expression(
                spec["formula"], others, ("columns", index, "formula"), problems
            )
        for h_index, rule in enumerate(spec.get("highlight", [])):
            where = ("columns", index, "highlight", h_index, "when")
            expression = _expression(rule["when"], names, where, problems)
            if expression is not None:
                column.highlight.append((expression, rule["style"]))
    return columns


def _compile_column(spec: dict, source: Source, path: tuple, problems) -> ReportColumn | None:
    common = {
        "name": spec["name"],
        "label": spec["label"],
        "hidden": spec.get("hidden", False),
        "drill": spec.get("drill"),
    }
    if "formula" in spec:
        kind = spec.get("type") or _formula_type(spec["formula"])
        return ReportColumn(kind="formula", type=kind, **common)
    if "type" in spec:
        problems.append(((*path, "type"), _("only a formula column takes a type: the others "
                                            "have their source column's")))  # fmt: skip
    if "running" in spec:  # its type and its targets are checked once all columns are known
        for key in ("column", "aggregate", "bucket"):
            if key in spec:
                problems.append(((*path, key), _("a running column takes no '%(key)s'", key=key)))
        return ReportColumn(
            kind="running", type="decimal", running=spec["running"], by=spec.get("by", []),
            **common,
        )  # fmt: skip
    ref = spec.get("column")
    source_column = _need_source_column(source, ref, (*path, "column"), problems) if ref else None
    if ref and source_column is None:
        return None
    aggregate = spec.get("aggregate")
    if aggregate:
        kind_type = _aggregate_type(aggregate, source_column, path, problems)
        balance = spec.get("balance")
        if balance and aggregate != "sum":
            problems.append(((*path, "balance"), _("an opening or closing balance is a sum")))
        _check_conditions(source, spec.get("filters", []), (*path, "filters"), problems)
        return ReportColumn(
            kind="measure", type=kind_type, ref=ref, aggregate=aggregate, balance=balance,
            filters=spec.get("filters", []), **common,
        )  # fmt: skip
    for key in ("balance", "filters"):
        if key in spec:
            problems.append(((*path, key), _("only an aggregate column takes '%(key)s'", key=key)))
    bucket = spec.get("bucket")
    if bucket and source_column.type not in DATE_TYPES:
        problems.append(
            (
                (*path, "bucket"),
                _("only a date or datetime column can be bucketed by %(bucket)s", bucket=bucket),
            )
        )
    column_type = "text" if bucket else source_column.type
    options = None if bucket else source_column.options
    return ReportColumn(
        kind="dimension", type=column_type, ref=ref, bucket=bucket, options=options, **common
    )


def _formula_type(text) -> str:
    """A formula that gives true or false (``on_hand < safety_stock``) is a yes/no column, read
    as 是/否 like a form's yes/no field; any other formula gives a number, unless its column
    says it gives money (``type: money``: shown with two decimals)."""
    return "boolean" if isinstance(text, str) and yields_boolean(text) else "decimal"


def _check_conditions(source: Source, conditions: list[dict], path: tuple, problems) -> None:
    """Fixed conditions (the report's filters, an aggregate column's): known source columns,
    codes they can hold, and another column compared only by order or equality."""
    for index, condition in enumerate(conditions):
        where = (*path, index)
        found = _need_source_column(source, condition["column"], (*where, "column"), problems)
        _need_known_values(found, condition, (*where, "value"), problems)
        if "against" in condition:
            _need_source_column(source, condition["against"], (*where, "against"), problems)
            if condition["op"] in ("contains", "in"):
                problems.append(
                    ((*where, "op"), _("a column can only be compared with =, ≠, <, ≤, > or ≥"))
                )


def _aggregate_type(aggregate: str, source_column: SourceColumn | None, path, problems) -> str:
    if aggregate == "count" or aggregate == "count_distinct":
        if aggregate == "count_distinct" and source_column is None:
            problems.append(((*path, "column"), _("count_distinct needs a column")))
        return "integer"
    if source_column is None:
        problems.append(((*path, "column"), _("%(aggregate)s needs a column", aggregate=aggregate)))
        return "decimal"
    if aggregate in SUMMABLE and source_column.type not in NUMERIC_TYPES:
        problems.append(
            (
                (*path, "aggregate"),
                _(
                    "cannot %(aggregate)s a %(type)s column",
                    aggregate=aggregate,
                    type=source_column.type,
                ),
            )
        )
    return "decimal" if aggregate == "avg" else source_column.type


def _need_known_values(column: SourceColumn | None, condition: dict, path: tuple, problems):
    """A filter comparing a code column (a state, a select field's value) with a code it never
    holds finds nothing or everything: a typo (``recieved``), said rather than a report that
    silently leaves the received receipts out."""
    if column is None or not column.options or condition["op"] not in ("eq", "ne", "in"):
        return
    value = condition.get("value")
    listed = isinstance(value, list)
    for index, code in enumerate(value if listed else [value]):
        if code is not None and code not in column.options:
            problems.append((
                (*path, index) if listed else path,
                _("unknown value '%(value)s'; expected one of: %(known)s", value=code,
                  known=", ".join(str(known) for known in column.options)),
            ))  # fmt: skip


def _need_source_column(source: Source, ref: str, path: tuple, problems) -> SourceColumn | None:
    found = source.column(ref)
    if found is None:
        problems.append(
            (
                path,
                _(
                    "unknown column '%(name)s' in source '%(source)s'; expected one of: %(known)s",
                    name=ref,
                    source=source.name,
                    known=", ".join(source.references()),
                ),
            )
        )
    return found


def _expression(text: str, names, path: tuple, problems) -> Expression | None:
    try:
        return compile_expression(text, names)
    except ExpressionError as exc:
        problems.append((path, str(exc)))
        return None


def _check_drill(drill: dict, path: tuple, names: list[str], metadata, problems, ours) -> None:
    """Where a column's cells link to: a form's record (its id in one of the report's columns),
    the document whose number the cell holds, or another report and the parameter the cell's
    value is given to, with those of ``ours`` (this report's parameters: name → type) it
    keeps."""
    if drill and sum(key in drill for key in ("form", "document", "report")) != 1:
        problems.append(
            (path, _("a drill goes to a form's record, a document or a report: name one"))
        )
    if "report" in drill and "param" not in drill:
        problems.append((path, _("missing required key '%(key)s'", key="param")))
        return
    if "form" in drill and drill["form"] not in metadata.forms:
        problems.append(((*path, "form"), _("unknown form '%(name)s'", name=drill["form"])))
    if "record_column" in drill and drill["record_column"] not in names:
        problems.append(
            ((*path, "record_column"), _("unknown column '%(name)s'", name=drill["record_column"]))
        )
    if "report" not in drill:
        return
    target = getattr(metadata, "reports", {}).get(drill["report"])
    if target is None:
        problems.append(((*path, "report"), _("unknown report '%(name)s'", name=drill["report"])))
        return
    theirs = {param["name"]: param["type"] for param in target.data.get("params", [])}
    if drill["param"] not in theirs:
        problems.append(
            ((*path, "param"), _("report '%(report)s' has no parameter '%(name)s'",
                                 report=drill["report"], name=drill["param"]))
        )  # fmt: skip
    for index, name in enumerate(drill.get("keep", [])):
        if name not in ours or theirs.get(name) != ours[name]:
            problems.append(
                ((*path, "keep", index), _("'%(name)s' is not a parameter of the same kind in"
                                           " both reports", name=name))
            )  # fmt: skip


def _compile_params(data: dict, source: Source, problems) -> list[ReportParam]:
    params = []
    for index, spec in enumerate(data.get("params", [])):
        path = ("params", index)
        kind = spec["type"]
        ref = spec.get("column")
        if kind == "location" and ref is None:
            ref = source.location_column
        if spec.get("op") == "as_of":
            if kind != "date":
                problems.append(((*path, "op"), _("only a date parameter can compare as as_of")))
            if source.as_of is None:
                problems.append(((*path, "op"), _("this source cannot be read as of a day")))
                continue
            ref = ref or source.as_of
        if ref is None:
            problems.append((path, _("missing required key '%(key)s'", key="column")))
        elif _need_source_column(source, ref, (*path, "column"), problems) is None:
            continue
        if spec.get("op") == "covers" and kind != "location":
            problems.append(((*path, "op"), _("only a location parameter can compare as covers")))
        if kind == "select" and not spec.get("options"):
            problems.append((path, _("missing required key '%(key)s'", key="options")))
        default_expr = None
        if "default_expr" in spec:
            raw = spec["default_expr"]
            if kind == "date_range" and not isinstance(raw, list):
                problems.append(
                    (
                        (*path, "default_expr"),
                        _("a date range default needs two expressions: [from, to]"),
                    )
                )
            elif isinstance(raw, list):
                default_expr = [
                    _expression(text, (), (*path, "default_expr", i), problems)
                    for i, text in enumerate(raw)
                ]
            else:
                default_expr = _expression(raw, (), (*path, "default_expr"), problems)
        params.append(
            ReportParam(
                name=spec["name"],
                type=kind,
                label=spec["label"],
                column=ref,
                op=spec.get("op", "contains" if kind == "text" else "eq"),
                required=spec.get("required", False),
                default=spec.get("default"),
                default_expr=default_expr,
                options=spec.get("options", []),
            )
        )
    return params


def _check_shape(report: Report, names: set[str], data: dict, problems) -> None:
    dimensions = {column.name for column in report.dimensions}
    measures = {column.name for column in report.measures}
    if report.pivot:
        if report.pivot["column"] not in dimensions:
            problems.append((("pivot", "column"), _("the pivot column must be a dimension")))
        for index, value in enumerate(report.pivot["values"]):
            if value not in measures:
                problems.append(
                    (
                        ("pivot", "values", index),
                        _("'%(name)s' is not an aggregate column", name=value),
                    )
                )
    if (report.totals or report.subtotals) and not measures:
        problems.append((("totals",), _("totals need at least one aggregate column")))
    for key in ("x", "series"):
        value = (report.chart or {}).get(key)
        if value and value not in names:
            problems.append((("chart", key), _("unknown column '%(name)s'", name=value)))
    for index, value in enumerate((report.chart or {}).get("y", [])):
        if value not in names:
            problems.append((("chart", "y", index), _("unknown column '%(name)s'", name=value)))


def _check_running(report: Report, problems) -> None:
    """A running column accumulates a figure the report shows row by row — an aggregate of a
    grouped report, a number of a list — in the report's own order, per values of dimensions."""
    for index, column in enumerate(report.columns):
        if column.kind != "running":
            continue
        path = ("columns", index)
        target = next((c for c in report.columns if c.name == column.running), None)
        wanted = "measure" if report.grouped else "dimension"
        additive = target is not None and target.aggregate in (None, "sum", "count")
        if not additive or target.kind != wanted or target.type not in NUMERIC_TYPES:
            problems.append(
                (
                    (*path, "running"),
                    _(
                        "a running balance adds up a sum or count column (a number column in a"
                        " list); '%(name)s' is not one",
                        name=column.running,
                    ),
                )
            )
        else:
            column.type = target.type
        for b_index, name in enumerate(column.by):
            if name not in {c.name for c in report.dimensions}:
                problems.append(
                    ((*path, "by", b_index), _("'%(name)s' is not a dimension", name=name))
                )
        if not report.sort:
            problems.append((("sort",), _("a running column needs the report's sort order")))
        if report.pivot:
            problems.append(((*path, "running"), _("a pivot cannot have a running column")))


def _check_balances(report: Report, problems) -> None:
    """An opening or closing balance is told from the period's figures by the report's one
    date range parameter: the rows before its start, the rows up to its end."""
    if not report.balances:
        return
    ranges = [param for param in report.params if param.type == "date_range"]
    if len(ranges) != 1:
        index = report.columns.index(report.balances[0])
        problems.append(
            (
                ("columns", index, "balance"),
                _("an opening or closing balance needs the report's one period (a date range"
                  " parameter)"),
            )
        )  # fmt: skip
