"""Running a report: access, parameters, the statement, then layout of the aggregated rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from flask_babel import force_locale
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from app.i18n import _, localized
from app.kernel.items import wall_clock
from app.meta import access
from app.meta.expressions import Context, ExpressionError
from app.meta.reports.model import Page, ParamError, Report, ReportColumn
from app.meta.reports.params import parse_params
from app.meta.reports.query import build_statement, local_now


@dataclass
class ReportResult:
    report: Report
    columns: list[ReportColumn]
    rows: list[dict] | Iterator[dict]  # an iterator from stream_report
    totals: dict | None
    params: dict
    pivot_values: list = field(default_factory=list)
    #: The page shown (None: every row up to the report's limit) and whether another follows.
    page: Page | None = None
    has_next: bool = False
    #: How many detail rows ``rows`` holds or will yield (when asked for: an export's progress).
    row_count: int | None = None
    #: The running columns' opening balances (期初), shown above the rows (see ``_opening``).
    opening: dict | None = None


def run_report(
    session: Session,
    report: Report,
    raw_params: Mapping[str, str],
    user,
    *,
    timezone: str = "Asia/Shanghai",
    today: dt.date | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> ReportResult:
    """Check access, parse the parameters, run the one statement and lay out its rows.

    With a ``page``, only that page of detail rows is read (one more tells whether another page
    follows), in the same statement as the totals over every row. A pivot is laid out from all
    its cells and is not paged."""
    require_runnable(session, report, user)
    today = today or local_now(timezone).date()
    values = parse_params(report, raw_params, session, user, today)
    page = None if report.pivot else page
    offset, limit = _window(report, page, limit)
    statement = build_statement(
        report, values, session, user, timezone=timezone, limit=limit, offset=offset, today=today
    )
    rows = [dict(row._mapping) for row in session.execute(statement)]
    if report.pivot:
        return _pivot(report, rows, values, today)
    if report.grouped:
        full = (1 << len(report.dimensions)) - 1
        detail = [row for row in rows if row["_g"] == full]
        subtotals = [row for row in rows if row["_g"] not in (full, 0)]
        # without dimensions the one row is the whole report (the stock value): shown once,
        # not again as its own total
        total = next((row for row in rows if row["_g"] == 0), None) if full else None
    else:
        detail, subtotals, total = rows, [], None
    detail, following = _cut(detail, page)
    ordered = _with_subtotals(report, detail, subtotals, following)
    opening = _opening(report, values, total)
    for row in [*ordered, *([total] if total else [])]:
        _finish_row(report, row, today)
    return ReportResult(
        report, report.columns, ordered, total, values, page=page,
        has_next=following is not None, opening=opening,
    )  # fmt: skip


def _opening(report: Report, values: dict, total: dict | None) -> dict | None:
    """What the running columns open the period with (期初余额): the totals row's closing
    balance less the period's own figure. None without a period start or a totals row."""
    if not (report.period(values) and total and report.running):
        return None
    opening = {}
    for column in report.running:
        closing = total.get(column.name)
        opening[column.name] = None if closing is None else closing - (total[column.running] or 0)
    _tidy(report.columns, opening)
    return opening


def stream_report(
    session: Session,
    report: Report,
    raw_params: Mapping[str, str],
    user,
    *,
    timezone: str = "Asia/Shanghai",
    today: dt.date | None = None,
    counted: bool = False,
) -> ReportResult:
    """Like ``run_report`` (every row up to the report's limit), but ``rows`` is an iterator
    reading the statement's rows in batches (a server-side cursor on PostgreSQL) while the
    session is open, so an export of 100k rows never holds them all; ``totals`` is filled when
    the rows are used up. Subtotals and pivots must be laid out from all the rows: those reports
    are run whole, and so are reports with running balances (a statement, a stock card: one
    party's, one item's), whose opening row comes before the rows. ``counted``: count the detail
    rows first (one more statement), for a background export to show how far it is."""
    if report.pivot or report.subtotals or report.running:
        result = run_report(session, report, raw_params, user, timezone=timezone, today=today)
        result.row_count = len(result.rows)
        return result
    require_runnable(session, report, user)
    today = today or local_now(timezone).date()
    values = parse_params(report, raw_params, session, user, today)
    statement = build_statement(report, values, session, user, timezone=timezone, today=today)
    result = ReportResult(report, report.columns, [], None, values)
    full = (1 << len(report.dimensions)) - 1
    if counted:
        found = statement.subquery("counted")
        detail = found.c._g == full if report.grouped else true()
        result.row_count = session.scalar(select(func.count()).select_from(found).where(detail))

    def rows():
        found = session.execute(statement, execution_options={"yield_per": 1000})
        for row in found:  # detail rows first (``_g`` descending), the total last
            values = dict(row._mapping)
            _finish_row(report, values, today)
            if report.grouped and values["_g"] != full:
                result.totals = values
                continue
            values["_level"] = 0
            yield values

    result.rows = rows()
    return result


def _window(report: Report, page: Page | None, limit: int | None) -> tuple[int, int | None]:
    """(offset, how many detail rows to read): a page and the first row of the next one, never
    past the report's own limit (its top N)."""
    if page is None:
        return 0, limit
    return page.offset, max(0, min(page.per_page + 1, report.limit - page.offset))


def _cut(detail: list[dict], page: Page | None) -> tuple[list[dict], dict | None]:
    """The page's detail rows and the first row after it (None on the last page)."""
    if page is None or len(detail) <= page.per_page:
        return detail, None
    return detail[: page.per_page], detail[page.per_page]


def drill_rows(
    session: Session,
    report: Report,
    raw_params: Mapping[str, str],
    user,
    drill: str,
    *,
    timezone: str = "Asia/Shanghai",
    today: dt.date | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> ReportResult:
    """The source rows behind one aggregate cell: ``drill`` is ``dimension:value,...`` (an empty
    value is a blank cell). Same access, parameters, scope and paging as the report itself."""
    require_runnable(session, report, user)
    today = today or local_now(timezone).date()
    values = parse_params(report, raw_params, session, user, today)
    cells = _drill_cells(report, drill)
    detail = replace(
        report,
        columns=_detail_columns(report),
        totals=False,
        subtotals=False,
        pivot=None,
        sort=[key for key in report.sort if key.lstrip("-") in {c.name for c in report.dimensions}],
    )
    offset, limit = _window(detail, page, limit)
    statement = build_statement(
        detail, values, session, user, timezone=timezone, limit=limit, offset=offset, today=today,
        drill=cells,
    )  # fmt: skip
    rows, following = _cut([dict(row._mapping) for row in session.execute(statement)], page)
    for row in rows:
        row["_level"], row["_styles"] = 0, {}
        _tidy(detail.columns, row)
    return ReportResult(
        detail, detail.columns, rows, None, values, page=page, has_next=following is not None
    )


def _detail_columns(report: Report) -> list[ReportColumn]:
    """Un-aggregated columns: each dimension unbucketed, each measure's source column."""
    columns = [
        ReportColumn(
            name=c.name,
            label=c.label,
            kind="dimension",
            type=report.source.column(c.ref).type,
            ref=c.ref,
            options=report.source.column(c.ref).options,
        )
        for c in report.dimensions
    ]
    names = {c.name for c in columns}
    for measure in report.measures:
        if measure.ref and measure.name not in names:
            source_type = report.source.column(measure.ref).type
            columns.append(
                ReportColumn(
                    name=measure.name,
                    label=measure.label,
                    kind="dimension",
                    type=source_type,
                    ref=measure.ref,
                )
            )
    return columns


def _drill_cells(report: Report, drill: str) -> list[tuple[ReportColumn, object]]:
    """Parse ``dimension:value,...`` into (dimension, typed value); a ParamError names a bad one."""
    by_name = {column.name: column for column in report.dimensions}
    cells = []
    for part in drill.split(","):
        name, sep, text = part.partition(":")
        column = by_name.get(name.strip())
        if not sep or column is None:
            raise ParamError(
                "drill", _("drill must be dimension:value pairs of this report's dimensions")
            )
        cells.append((column, _typed_cell(column, text)))
    return cells


def _typed_cell(column: ReportColumn, text: str):
    if text == "":
        return None
    try:
        if column.type == "integer":
            return int(text)
        if column.type in ("decimal", "money"):
            return Decimal(text)
        if column.type == "date":
            return dt.date.fromisoformat(text)
        if column.type == "boolean":
            return text.lower() in ("1", "true", "yes")
    except (ValueError, ArithmeticError):
        raise ParamError(
            "drill",
            _("%(column)s: '%(value)s' is not a valid value", column=column.name, value=text),
        ) from None
    return text


def runnable(session: Session, report: Report, user) -> bool:
    """May ``user`` run ``report``: its permission, its source's, and a scope the source allows?"""
    source = report.source
    if not access.can(user, f"report:{report.name}"):
        return False
    if source.permission and not access.can(user, source.permission):
        return False
    if source.location_column is not None or access.visible_location_ids(session, user) is None:
        return True
    # a source without a location column is readable only by those who see every location, but
    # a form's chain-wide records by whoever may read that form
    return source.chain_wide_form is not None and access.can(user, "read", source.chain_wide_form)


def exportable(report: Report, user) -> bool:
    """May ``user`` take ``report``'s rows away as a file? A report over a form's records needs
    that form's export right (E in the roles designer): a clerk reads the day's sales on the page
    but does not download the customers in them. A report over stock or accounts has no form's
    right to ask; running it is enough."""
    name = report.source.name
    if not name.startswith("form:"):
        return True
    return access.can(user, "export", name.removeprefix("form:").split(".")[0])


def require_runnable(session: Session, report: Report, user) -> None:
    if not runnable(session, report, user):
        raise access.PermissionDenied(f"report:{report.name}")


def _with_subtotals(
    report: Report, detail: list[dict], subtotals: list[dict], after: dict | None = None
) -> list[dict]:
    """Detail rows with each first-dimension subtotal after the last row of its group; a group
    that goes on past the page (``after`` is the next page's first row) gets its subtotal there."""
    for row in detail:
        row["_level"] = 0
    if not subtotals:
        return detail
    first = report.dimensions[0].name
    by_key = {row[first]: row for row in subtotals}
    ordered: list[dict] = []
    rows = [*detail, *([after] if after is not None else [])]
    for index, row in enumerate(detail):
        ordered.append(row)
        following = rows[index + 1][first] if index + 1 < len(rows) else object()
        if following != row[first] and row[first] in by_key:
            subtotal = by_key.pop(row[first])
            subtotal["_level"] = 1
            ordered.append(subtotal)
    return ordered


def plain_number(value, kind: str):
    """A figure as people write it: no exponent, no trailing zeros (money keeps two decimals).
    The database hands back its column's scale: ``5.00000000``, and zero as ``0E-8``."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return value
    if value.is_zero():
        value = Decimal(0)
    value = value.normalize()
    if value.as_tuple().exponent > 0:
        value = value.quantize(Decimal(1))
    if kind == "money" and value.as_tuple().exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return value


def _tidy(columns: list[ReportColumn], row: dict) -> None:
    for column in columns:
        if column.type in ("decimal", "money") and column.name in row:
            row[column.name] = plain_number(row[column.name], column.type)


def shown(column: ReportColumn, value, language: str | None = None):
    """What a person reads in a cell: a code column's value by its label (``合格`` for
    ``accepted``), a yes/no column's as 是/否 — not Python's ``True`` — in ``language`` (default:
    the user's); other values as they are."""
    if column.options and isinstance(value, str | int) and value in column.options:
        return localized(column.options[value], language)
    if column.type == "boolean" and isinstance(value, bool | int):
        return yes_no(bool(value), language)
    return value


def yes_no(value: bool, language: str | None = None) -> str:
    """Yes or No as form pages word a yes/no field; in ``language`` when given (an export's,
    which a background job runs outside the request that asked for it)."""
    if language is None:
        return str(_("Yes") if value else _("No"))
    with force_locale(language):
        return str(_("Yes") if value else _("No"))


def _finish_row(report: Report, row: dict, today: dt.date) -> None:
    """Evaluate formulas and highlight rules over the row; tidy its figures."""
    context = Context(today=lambda: today)
    for column in report.columns:
        if column.formula is not None:
            try:
                row[column.name] = column.formula.evaluate(row, context)
            except ExpressionError:
                row[column.name] = None
    _tidy(report.columns, row)
    styles = {}
    for column in report.columns:
        for expression, style in column.highlight:
            try:
                if expression.evaluate(row, context):
                    styles[column.name] = style
                    break
            except ExpressionError:
                continue
    row["_styles"] = styles


def _pivot(report: Report, rows: list[dict], values: dict, today: dt.date) -> ReportResult:
    """Lay the pivot dimension out across the columns: one column per (pivot value, measure)."""
    pivot_name = report.pivot["column"]
    measures = [c for c in report.measures if c.name in report.pivot["values"]]
    keep = [c for c in report.dimensions if c.name != pivot_name]
    names = [c.name for c in report.dimensions]
    full = (1 << len(names)) - 1
    pivot_bit = 1 << names.index(pivot_name)
    pivot_values = sorted(
        {row[pivot_name] for row in rows if row["_g"] & pivot_bit},
        key=lambda value: (value is None, str(value)),
    )
    columns = list(keep)
    pivot_column = next(c for c in report.dimensions if c.name == pivot_name)
    for value in pivot_values:
        heading = {language: shown(pivot_column, value, language) for language in ("zh_CN", "en")}
        for measure in measures:
            columns.append(
                ReportColumn(
                    name=f"{value}·{measure.name}",
                    kind="measure",
                    type=measure.type,
                    label={
                        "zh_CN": f"{heading['zh_CN']} {measure.label['zh_CN']}",
                        "en": f"{heading['en']} {measure.label['en']}",
                    },
                )
            )
    if report.totals:
        columns.extend(
            ReportColumn(
                name=f"total·{m.name}",
                kind="measure",
                type=m.type,
                label={"zh_CN": f"合计 {m.label['zh_CN']}", "en": f"Total {m.label['en']}"},
            )
            for m in measures
        )
    table: dict[tuple, dict] = {}
    order: list[tuple] = []
    for row in rows:
        key = tuple(row[c.name] for c in keep) if row["_g"] & ~pivot_bit & full else ("__total__",)
        if key not in table:
            table[key] = {c.name: row[c.name] for c in keep}
            table[key]["_level"] = 2 if key == ("__total__",) else 0
            order.append(key)
        target = table[key]
        suffix = row[pivot_name] if row["_g"] & pivot_bit else "total"
        for measure in measures:
            target[f"{suffix}·{measure.name}"] = row[measure.name]
    detail = [table[key] for key in order if key != ("__total__",)]
    total = table.get(("__total__",))
    for row in [*detail, *([total] if total else [])]:
        row["_styles"] = {}
        _tidy(columns, row)
    return ReportResult(report, columns, detail, total, values, pivot_values)


def result_json(result: ReportResult) -> dict:
    """The result as JSON-safe data: columns with labels in the user's language, rows, totals."""
    visible = [column for column in result.columns if not column.hidden]
    return {
        "report": result.report.name,
        "label": localized(result.report.label),
        "page": result.page.number if result.page else None,
        "per_page": result.page.per_page if result.page else None,
        "has_next": result.has_next,
        "columns": [
            {"name": c.name, "label": localized(c.label), "type": c.type, "kind": c.kind}
            | ({"link": _link(c.drill, result)} if c.drill else {})
            for c in visible
        ],
        "rows": [_json_row(row, visible) for row in result.rows],
        "totals": _json_row(result.totals, visible) if result.totals else None,
        "opening": _json_row(result.opening, visible) if result.opening else None,
        "chart": result.report.chart,
        "record_form": result.report.source.record[0] if result.report.source.record else None,
        "drill": _drill_dimensions(result),
    }


def _link(drill: dict, result: ReportResult) -> dict:
    """A column's drill, with the values of the parameters it keeps as this report ran with them
    (``carry``: query parameters, a period as its ``_from`` and ``_to``): an item's stock card
    opens on the period and the location of the summary it was clicked in."""
    carry = {}
    for param in result.report.params:
        value = result.params.get(param.name)
        if param.name not in drill.get("keep", []) or value is None:
            continue
        if param.type == "date_range":
            for suffix, day in zip(("_from", "_to"), value, strict=True):
                if day is not None:
                    carry[param.name + suffix] = day.isoformat()
        elif param.type == "location":
            if value != "mine":  # one's own locations: what a report opens on anyway
                carry[param.name] = value.code
        else:
            carry[param.name] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return {**drill, "carry": carry} if carry else drill


def _drill_dimensions(result: ReportResult) -> list[str]:
    """The dimensions a row's ``drill`` link names: a grouped, unpivoted report's dimensions."""
    report = result.report
    return [c.name for c in report.dimensions] if report.grouped and not report.pivot else []


def _json_row(row: dict, columns: list[ReportColumn]) -> dict:
    """``values`` as stored (filters and drill links use them); ``labels``: what a person reads
    for the code columns' values (a select field's option label, a stock status) and the yes/no
    columns' (是/否)."""
    values = {c.name: _json_value(row.get(c.name)) for c in columns}
    labels = _labels(row, columns)
    extra = {"level": row.get("_level", 0), "styles": row.get("_styles", {}), "labels": labels}
    links = _links(row, columns)
    if links:
        extra["links"] = links
    if row.get("_record_id") is not None:
        extra["record_id"] = row["_record_id"]
    if row.get("_record_form"):  # a union's row: the record of whichever form it came from
        extra["record_form"] = row["_record_form"]
    return {"values": values, **extra}


def _labels(row: dict, columns: list[ReportColumn]) -> dict:
    """The cells a person reads otherwise than stored: a code column's label, a yes/no
    column's 是/否, a moment on the shops' clock (the page shows these; filters and drill links
    use the values)."""
    labels = {}
    for column in columns:
        value = row.get(column.name)
        if column.type == "datetime" and value not in (None, ""):
            labels[column.name] = _on_the_clock(value)
            continue
        text = shown(column, value)
        if (column.options or column.type == "boolean") and text != value:
            labels[column.name] = text
    return labels


def _on_the_clock(value) -> str:
    """A moment (stored UTC; an aggregate of one may come back as its text) as the shops'
    clock reads it."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return wall_clock(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))


def _links(row: dict, columns: list[ReportColumn]) -> dict:
    """Where each cell of a column with a ``drill`` links to: the id of a form's record (read
    from the row's ``record_column``, which may be hidden, else from the cell), the number of a
    document, or the value the other report's parameter is given. A cell without one (an empty
    cell, an id that is not a number) links nowhere."""
    links = {}
    for column in columns:
        drill = column.drill or {}
        if "form" in drill:
            target = row.get(drill.get("record_column") or column.name)
            if isinstance(target, int) or isinstance(target, str) and target.isdigit():
                links[column.name] = int(target)
        elif "document" in drill and row.get(column.name) not in (None, ""):
            links[column.name] = str(row[column.name])
        elif "report" in drill and row.get(column.name) is not None:
            links[column.name] = _json_value(row[column.name])
    return links


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
