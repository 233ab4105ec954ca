"""Building the one SQL statement a report runs as; every value bound, never spliced."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Integer,
    Numeric,
    String,
    and_,
    cast,
    distinct,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from app.db import utcnow
from app.kernel.locations import Location, path_ids
from app.meta import access
from app.meta.reports.model import Report, ReportColumn, ReportParam
from app.meta.sources import Reader, building


class _Builder(Reader):
    """Builds a report's parts over its source's rows (see ``Reader``)."""

    def __init__(self, report: Report, dialect: str, timezone: str, base=None):
        if base is None and report.source.read_once:
            base = report.source.table().element.cte()  # (a name of its own in each statement)
        super().__init__(report.source, base)
        self.report, self.dialect, self.timezone = report, dialect, timezone
        #: (column, start) of the period when opening and closing balances read the rows before
        #: it: each aggregate then takes its part of the rows (``within``)
        self.period_start: tuple[ColumnElement, object] | None = None

    def dimension(self, column: ReportColumn) -> ColumnElement:
        expression = self.ref(column.ref)
        if column.bucket:
            source_type = self.report.source.column(column.ref).type
            expression = type_coerce(
                bucket(expression, column.bucket, source_type, self.dialect, self.timezone), String
            )
        return expression

    def measure(
        self, column: ReportColumn, expression: ColumnElement | None = None
    ) -> ColumnElement:
        """``column``'s aggregate of its own column, or of ``expression`` when given."""
        if expression is None and column.ref:
            expression = self.ref(column.ref)
        if column.aggregate == "count_distinct":
            figure = func.count(distinct(expression))
        else:
            arguments = [] if expression is None else [expression]  # count() counts rows
            figure = getattr(func, column.aggregate)(*arguments)
        within = self.within(column)
        if within is not None:
            figure = figure.filter(within)
            if column.aggregate == "sum":
                figure = func.coalesce(figure, 0)  # none of the rows: nothing sold, not unknown
        if column.aggregate == "avg":
            return type_coerce(figure, Numeric(28, 6, asdecimal=True))
        if column.aggregate in ("count", "count_distinct"):
            return figure
        return type_coerce(figure, expression.type)

    def within(self, column: ReportColumn) -> ColumnElement | None:
        """Which of the rows an aggregate column takes, when not all: those meeting its own
        filters and, in a report with opening and closing balances, those of its part of time —
        before the period (opening), up to its end (closing, every row read) or within it.

        The part of time comes first: the database stops at it for most rows (a month's rows of
        years of history) before it works out the column's filters (a movement's flow)."""
        found = []
        if self.report.balances and column.balance != "closing":
            if self.period_start is None:  # no start: nothing comes before, all is within
                found += [false()] if column.balance == "opening" else []
            else:
                at, start = self.period_start
                found.append(at < start if column.balance == "opening" else at >= start)
        found += [fixed_condition(self, condition) for condition in column.filters]
        return and_(*found) if found else None

    def conditions(
        self, values: dict, session: Session, user, before: str | None = None
    ) -> list[ColumnElement]:
        """The rows the report reads; ``before``: a date range parameter whose rows before its
        start are read instead (what a running balance opens with)."""
        report = self.report
        conditions = []
        if report.source.where is not None:
            conditions.append(report.source.where(self.base))
        if report.source.location_column:
            location = self.ref(report.source.location_column)
            # (the scope of the roles that grant this report, not of the user's other roles)
            granting = access.granting(user, f"report:{report.name}")
            conditions.append(access.scope_filter(session, user, location, granting))
            hidden = access.hidden_books(session, user) if report.source.book_figures else None
            if hidden:
                conditions.append(location.not_in(sorted(hidden)))
        if report.source.user_column:
            conditions.append(self.base.c[report.source.user_column] == getattr(user, "id", None))
        conditions.extend(fixed_condition(self, condition) for condition in report.filters)
        for param in report.params:
            if param.name == before:
                start = self.day_start(values[param.name][0], self.source_type(param.column))
                conditions.append(self.ref(param.column) < start)
            elif param.op == "as_of":
                continue  # the day the source is read as of (``as_of``), not a condition
            elif param.name in values:
                conditions.extend(self.param_conditions(param, values[param.name], session, user))
        return conditions

    def source_type(self, name: str) -> str:
        return self.report.source.column(name).type

    def param_conditions(
        self, param: ReportParam, value, session: Session, user
    ) -> list[ColumnElement]:
        column = self.ref(param.column)
        column_type = self.source_type(param.column)
        if param.type == "location" and param.op == "covers":
            return covering(session, user, column, value)
        if param.type == "location":
            if value == "mine":
                return []  # the data scope already limits rows to the user's own locations
            # the subtree's ids as values, as the data scope gives them: the database can then
            # narrow a grouped or windowed source (stock age, the ledger's figures) before it
            # sorts, instead of sorting every location's rows and joining the few it wants
            return [column.in_(sorted(_subtree_ids(session, value)))]
        if param.type == "date_range":
            start, end = value
            found = []
            if start is not None and self.report.balances:
                # the rows before the period are read too: the start divides them (``within``)
                self.period_start = (column, self.day_start(start, column_type))
            elif start is not None:
                found.append(column >= self.day_start(start, column_type))
            if end is not None:
                found.append(column < self.day_start(end + dt.timedelta(days=1), column_type))
            return found
        if param.type == "date":
            return [
                compare(column, param.op, self.day_start(value, column_type))
                if column_type == "datetime"
                else compare(column, param.op, value)
            ]
        return [compare(column, param.op, value)]

    def day_start(self, day: dt.date, column_type: str):
        """The start of ``day`` in the report's time zone, as the column compares it."""
        if column_type != "datetime":
            return day
        local = dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(self.timezone))
        return local.astimezone(dt.UTC)


def covering(session: Session, user, column: ColumnElement, value) -> list[ColumnElement]:
    """The rows whose location — a scope, empty for the whole chain — takes in some of ``value``
    (a location, or ``mine``: the user's own): the chain, the location's region or the
    location itself, or a place under it. What a store reads of HQ's price changes: those that
    set its prices, not every region's."""
    if value == "mine":
        ids = access.visible_location_ids(session, user)
        if ids is None:
            return []  # the user sees every location: every scope takes in some of it
        paths = session.scalars(select(Location.path).where(Location.id.in_(sorted(ids))))
    else:
        ids, paths = _subtree_ids(session, value), [value.path]
    covered = set(ids) | {ancestor for path in paths for ancestor in path_ids(path)}
    return [or_(column.is_(None), column.in_(sorted(covered)))]


def _subtree_ids(session: Session, location: Location) -> set[int]:
    """``location`` and every location below it, by id."""
    return set(session.scalars(select(Location.id).where(Location.path.startswith(location.path))))


def fixed_condition(reader: Reader, condition: dict) -> ColumnElement:
    """A fixed condition (a report's filter, an aggregate column's, a union part's) over the
    rows ``reader`` reads: a column against a value, or against another column of the same row
    (stock against its safety level)."""
    against = condition.get("against")
    value = condition.get("value") if against is None else reader.ref(against)
    return compare(reader.ref(condition["column"]), condition["op"], value)


def compare(column: ColumnElement, op: str, value) -> ColumnElement:
    """``column <op> value`` with ``value`` always bound, never spliced into the SQL text."""
    if op == "contains":
        return column.contains(str(value), autoescape=True)
    if op == "in":
        return column.in_(list(value) if isinstance(value, list | tuple) else [value])
    operators = {
        "eq": "__eq__",
        "ne": "__ne__",
        "lt": "__lt__",
        "lte": "__le__",
        "gt": "__gt__",
        "gte": "__ge__",
    }
    return getattr(column, operators[op])(value)


def local_now(timezone: str) -> dt.datetime:
    """Now in ``timezone`` (the report's "today", and SQLite's offset for date buckets), read
    from the one clock (``utcnow``)."""
    return utcnow().astimezone(zoneinfo.ZoneInfo(timezone))


def bucket(expression, size: str, source_type: str, dialect: str, timezone: str):
    """The date bucket label of ``expression``: 2026-11-25, 2026-11-23 (week's Monday), 2026-11,
    2026-Q4, 2026 — the same text on both databases, in the report's time zone."""
    if dialect == "postgresql":
        local = func.timezone(timezone, expression) if source_type == "datetime" else expression
        if size == "week":
            return func.to_char(func.date_trunc("week", local), "YYYY-MM-DD")
        pattern = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}
        return func.to_char(local, pattern[size])
    local = expression
    if source_type == "datetime":
        offset = local_now(timezone).utcoffset()
        local = func.datetime(expression, f"{int(offset.total_seconds() // 60):+d} minutes")
    if size == "week":
        return func.date(local, "weekday 0", "-6 days")
    if size == "quarter":
        month = cast(func.strftime("%m", local), Integer)
        return func.strftime("%Y", local) + "-Q" + cast((month + 2) // 3, String)
    return func.strftime({"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[size], local)


def build_statement(
    report: Report,
    values: dict,
    session: Session,
    user,
    *,
    timezone: str,
    limit: int | None = None,
    offset: int = 0,
    today: dt.date | None = None,
    drill: list | None = None,
):
    """The one SELECT that runs ``report``; grouping branches are tagged with a ``_g`` mask.

    Only the detail rows are limited: ``limit`` of them (at most the report's own limit) from
    ``offset`` on, in the report's order — a page; totals and subtotals are over every row.
    ``drill`` ([(dimension, value)]) narrows the rows to one aggregate cell's."""
    dialect = session.get_bind().dialect.name
    today = as_of(report, values) or today or local_now(timezone).date()
    limit = report.limit if limit is None else min(limit, report.limit)
    with building(dialect, today):
        return _build(report, values, session, user, dialect, timezone, limit, offset, drill or [])


def as_of(report: Report, values: dict) -> dt.date | None:
    """The day an ``as_of`` parameter asks for: the statement is built as of that day (the
    source keeps the rows dated up to it and counts ages from it)."""
    return next(
        (values[p.name] for p in report.params if p.op == "as_of" and values.get(p.name)), None
    )


def _build(report, values, session, user, dialect, timezone, limit, offset, drill):
    builder = _Builder(report, dialect, timezone)
    conditions = builder.conditions(values, session, user)
    for column, value in drill:
        expression = builder.dimension(column)
        conditions.append(expression.is_(None) if value is None else expression == value)
    openings = _openings(report, values, session, user, dialect, timezone)
    if not report.grouped:
        return _row_statement(report, builder, conditions, limit, offset, openings)
    below = None if drill else _aggregated_below_links(report, builder, conditions, values)
    if below is None:
        measures = [builder.measure(column).label(column.name) for column in report.measures]
    else:
        builder, conditions, measures = below
    dimensions = [builder.dimension(column).label(column.name) for column in report.dimensions]
    shown = _shown(report, measures)
    full = (1 << len(dimensions)) - 1
    masks = _grouping_masks(report, full)
    if (
        dialect == "postgresql"
        and len(masks) > 1
        and _few_detail_rows(report)
        and not report.running
    ):
        return _grouping_sets(
            report, builder, conditions, dimensions, measures, masks, limit, offset, shown
        )
    # The detail rows are their own branch, sorted and limited by a top-N sort (a list report's
    # detail can be every balance row); the margins are small branches of their own.
    branches = []
    for mask in masks:
        kept = [
            d if mask & (1 << i) else cast(null(), d.type).label(d.name)
            for i, d in enumerate(dimensions)
        ]
        grouping = [d for i, d in enumerate(dimensions) if mask & (1 << i)]
        grouping = _sort_keys_first(report, grouping)
        branch = (
            select(*kept, *measures, literal(mask, Integer).label("_g"))
            .select_from(builder.from_clause())
            .where(and_(true(), *conditions))
            .group_by(*grouping)
        )
        if shown is not None:
            branch = branch.having(shown)
        if mask == full:
            if report.running:
                branch = _running(report, branch.subquery(), openings)
            else:
                branch = branch.order_by(*_order(report, dimensions + measures))
            branch = select(branch.limit(limit).offset(offset).subquery())
        else:
            branch = branch.add_columns(*_running_margins(report, measures, openings, mask))
        branches.append(branch)
    combined = union_all(*branches).subquery() if len(branches) > 1 else branches[0].subquery()
    return select(combined).order_by(combined.c._g.desc(), *_order(report, list(combined.c)))


def _aggregated_below_links(report: Report, builder: _Builder, conditions: list, values: dict):
    """Aggregate the source rows by the keys the dimensions' links join on, then join the links.

    "Stock by location" reads 1M balance rows but its dimension, the location's name, comes from
    200 locations: grouped by ``location_id`` first (the partial aggregates: sums, counts, minima,
    maxima; a distinct-counted column becomes part of the key), the join and the grouping by name
    work on a few hundred rows instead of a million, and the first grouping follows the order of
    an index on the key. The result is the same, so it is done whenever it can be: every
    dimension read through a link, every measure over the source's own columns (or a figure of
    its own row read through a link: a movement's value at its lot's cost) and every condition
    too, no average (an average of averages is not the average), and link keys that are plain
    columns (not a JSON document). A sum of a ``Priced`` figure (a movement's value) groups by
    its link's keys too (item and lot) and sums the quantities; the prices are joined to the
    groups. Returns (the builder over the aggregated rows, its conditions: none left, the final
    measures), or None to aggregate as usual."""
    source = report.source
    if not source.links or any("." not in column.ref for column in report.dimensions):
        return None
    for column in report.measures:
        if column.aggregate == "avg":
            return None
        if column.ref and "." in column.ref:
            return None
    if _reads_links(report, values):
        return None
    priced = _priced_after_grouping(report)
    links = [column.ref.split(".", 1)[0] for column in report.dimensions]
    links += [source.columns[column.ref].via for column in priced.values()]
    keys: dict[str, ColumnElement] = {}
    for name in dict.fromkeys(links):
        link = source.links[name]
        for element in visitors.iterate(link.on(builder.base, link.target())):
            if getattr(element, "table", None) is builder.base and hasattr(element, "name"):
                if isinstance(element.type, JSON):
                    return None
                keys[element.name] = element
    partials, distinct_keys = [], []
    for index, column in enumerate(report.measures):
        name = f"_p{index}"
        if column.aggregate == "count_distinct":
            distinct_keys.append(builder.ref(column.ref).label(name))
        elif index in priced:  # the quantities, priced once per key below
            quantity = source.columns[column.ref].priced.quantity(builder.base)
            partials.append(builder.measure(column, quantity).label(name))
        else:
            partials.append(builder.measure(column).label(name))
    group = [element.label(name) for name, element in keys.items()] + distinct_keys
    rows = (
        select(*group, *partials)
        .select_from(builder.from_clause())
        .where(and_(true(), *conditions))
        .group_by(*[element.element for element in group])
        .cte("aggregated")
    )
    grouped = _Builder(report, builder.dialect, builder.timezone, base=rows)
    measures = []
    for index, column in enumerate(report.measures):
        partial = rows.c[f"_p{index}"]
        if column.aggregate == "count_distinct":
            final = func.count(distinct(partial))
        elif column.aggregate == "count":
            final = cast(func.sum(partial), BigInteger)
        elif index in priced:
            figure = source.columns[column.ref]
            final = func.sum(partial * figure.priced.price(grouped.joined(figure.via)))
            if builder.within(column) is not None:  # none of the rows: nothing, not unknown
                final = func.coalesce(final, 0)
            final = type_coerce(final, partial.type)
        else:  # sum, min, max: the sum of sums, the least of minima, the greatest of maxima
            final = type_coerce(getattr(func, column.aggregate)(partial), partial.type)
        measures.append(final.label(column.name))
    return grouped, [], measures


def _priced_after_grouping(report: Report) -> dict[int, ReportColumn]:
    """The measures (by index) summing a ``Priced`` column, when no other measure reads that
    column's link: the rows are then grouped by the link's keys too and never meet the link one
    by one (a measure reading the link itself would join it below the grouping anyway)."""
    source = report.source
    priced, joined_below = {}, set()
    for index, column in enumerate(report.measures):
        figure = source.columns.get(column.ref or "")
        if figure is None or figure.via is None:
            continue
        if figure.priced is not None and column.aggregate == "sum":
            priced[index] = column
        else:
            joined_below.add(figure.via)
    return {
        index: column
        for index, column in priced.items()
        if source.columns[column.ref].via not in joined_below
    }


def _reads_links(report: Report, values: dict) -> bool:
    """Whether a filter or a parameter given a value compares a linked column (then rows cannot
    be aggregated before the links are joined)."""
    columns = [condition["column"] for condition in report.filters]
    columns += [condition["against"] for condition in report.filters if "against" in condition]
    columns += [param.column for param in report.params if param.column and param.name in values]
    columns += [c["column"] for column in report.measures for c in column.filters]
    columns += [
        c["against"] for column in report.measures for c in column.filters if "against" in c
    ]
    return any("." in name for name in columns)


def _few_detail_rows(report: Report) -> bool:
    """Whether the detail rows are expected to be few: a pivot (a cross-tab meant for one page)
    or a summary by one dimension (by location, region, supplier: as many rows as it has values).
    Then one pass over the source with ``GROUPING SETS`` is cheapest, and the window limiting the
    detail sorts little. A list grouped by several dimensions can have a detail row per source
    row: a window would sort them all, a top-N sort of its own branch does not."""
    return bool(report.pivot) or len(report.dimensions) == 1


def _sort_keys_first(report: Report, dimensions: list) -> list:
    """``dimensions`` with the report's sort keys first, in sort order: grouping and ordering
    then share one sort."""
    sort = [key.lstrip("-") for key in report.sort]
    return sorted(dimensions, key=lambda d: sort.index(d.name) if d.name in sort else len(sort))


def _shown(report: Report, measures: list) -> ColumnElement | None:
    """Which groups show: all of them; with opening and closing balances, those with stock or
    movement — a figure that is not zero (every item once stocked somewhere is a group of the
    rows read, most of them long gone)."""
    if not report.balances:
        return None
    sums = [
        m.element for m, c in zip(measures, report.measures, strict=True) if c.aggregate == "sum"
    ]
    return or_(*[figure != 0 for figure in sums])


def _grouping_sets(report, builder, conditions, dimensions, measures, masks, limit, offset, shown):
    """PostgreSQL, few detail rows: all groupings in ONE pass over the rows (``GROUP BY GROUPING
    SETS``), each row tagged with the same ``_g`` mask as the UNION ALL branches; only detail rows
    are limited (by a window, which sorts only the few aggregated rows)."""
    full = masks[0]
    elements = [dimension.element for dimension in dimensions]
    sets = [tuple_(*[e for i, e in enumerate(elements) if mask & (1 << i)]) for mask in masks]
    mask_expr = None
    for index, element in enumerate(elements):
        term = (1 - func.grouping(element)) * (1 << index)
        mask_expr = term if mask_expr is None else mask_expr + term
    by_name = {c.name: c.element for c in dimensions + measures}
    order = []
    for key in report.sort:
        element = by_name.get(key.lstrip("-"))
        if element is not None:
            order.append(element.desc() if key.startswith("-") else element.asc())
    rank = func.row_number().over(partition_by=mask_expr, order_by=order or None)
    inner = (
        select(*dimensions, *measures, mask_expr.label("_g"), rank.label("_rn"))
        .select_from(builder.from_clause())
        .where(and_(true(), *conditions))
        .group_by(func.grouping_sets(*sets))
    )
    if shown is not None:
        inner = inner.having(shown)
    inner = inner.subquery()
    names = [column.name for column in dimensions + measures]
    kept = [inner.c[name] for name in names]
    return (
        select(*kept, inner.c._g)
        .where(or_(inner.c._g != full, and_(inner.c._rn > offset, inner.c._rn <= offset + limit)))
        .order_by(inner.c._g.desc(), *_order(report, kept))
    )


def _grouping_masks(report: Report, full: int) -> list[int]:
    """Which dimension subsets to group by: all of them, plus totals/subtotals/pivot margins."""
    masks = [full]
    names = [column.name for column in report.dimensions]
    if report.pivot:
        pivot_bit = 1 << names.index(report.pivot["column"])
        if report.totals:
            masks += [full & ~pivot_bit, pivot_bit, 0]  # row totals, column totals, grand total
        return list(dict.fromkeys(masks))
    if report.subtotals and len(names) > 1:
        masks.append(1)  # by the first dimension
    if report.totals:
        masks.append(0)
    return list(dict.fromkeys(masks))


def _order(report: Report, columns: list) -> list:
    by_name = {column.name: column for column in columns}
    order = []
    for key in report.sort:
        column = by_name.get(key.lstrip("-"))
        if column is not None:
            order.append(column.desc() if key.startswith("-") else column.asc())
    return order


def _row_statement(report: Report, builder: _Builder, conditions, limit, offset, openings):
    selected = [builder.dimension(column).label(column.name) for column in report.dimensions]
    record = report.source.record
    if record:
        selected.append(builder.ref(record[1]).label("_record_id"))
    if report.source.record_form_column:
        selected.append(builder.ref(report.source.record_form_column).label("_record_form"))
    statement = (
        select(*selected).select_from(builder.from_clause()).where(and_(true(), *conditions))
    )
    if report.running:
        statement = _running(report, statement.subquery(), openings)
    else:
        statement = statement.order_by(*_order(report, selected))
    return statement.limit(limit).offset(offset)


def _openings(report: Report, values: dict, session: Session, user, dialect, timezone) -> dict:
    """Each running column's opening balances (期初): its figure summed over the rows before the
    report's period, per value of its ``by`` columns — the rows the report would read with the
    period's start as their end. None without a period start: then nothing comes before."""
    period = report.period(values)
    if period is None:
        return {}
    openings = {}
    for column in report.running:
        builder = _Builder(report, dialect, timezone)
        conditions = builder.conditions(values, session, user, before=period.name)
        target = report.column(column.running)
        amount = (
            builder.measure(target)
            if target.kind == "measure"
            else func.sum(builder.ref(target.ref))
        )
        keys = [builder.dimension(report.column(name)).label(name) for name in column.by]
        openings[column.name] = (
            select(*keys, amount.label("_opening"))
            .select_from(builder.from_clause())
            .where(and_(true(), *conditions))
            .group_by(*[key.element for key in keys])
            .subquery()
        )
    return openings


def _running(report: Report, rows, openings: dict):
    """``rows`` in the report's order with each running column: the row's figure added up from
    the first row of its ``by`` group on (rows, not peers: each row its own balance), starting
    from the group's opening balance.

    The opening balances come in as rows of their own, first in their group, and leave once
    counted: joining them to the rows would compare keys that may be NULL (an untracked item has
    no lot), which PostgreSQL can only do by a nested loop over both."""
    names = [column.name for column in rows.c]
    figures = {c.name: rows.c[c.running] for c in report.running}
    parts = [
        select(*rows.c, literal(1).label("_in"), *[f.label(f"_f_{n}") for n, f in figures.items()])
    ]
    for column in report.running:
        opening = openings.get(column.name)
        if opening is None:
            continue
        keys = [
            opening.c[c.name] if c.name in column.by else cast(null(), c.type).label(c.name)
            for c in rows.c
        ]
        opened = [
            (opening.c._opening if n == column.name else cast(null(), f.type)).label(f"_f_{n}")
            for n, f in figures.items()
        ]
        parts.append(select(*keys, literal(0).label("_in"), *opened))
    both = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    order = [both.c._in.asc(), *_order(report, list(both.c))]
    balances = [
        type_coerce(
            func.sum(both.c[f"_f_{column.name}"]).over(
                partition_by=[both.c[name] for name in column.by] or None,
                order_by=order,
                rows=(None, 0),
            ),
            figures[column.name].type,
        ).label(column.name)
        for column in report.running
    ]
    counted = select(*[both.c[name] for name in names], both.c._in, *balances).subquery()
    kept = [counted.c[name] for name in names] + [counted.c[c.name] for c in report.running]
    return select(*kept).where(counted.c._in == 1).order_by(*_order(report, kept))


def _running_margins(report: Report, measures: list, openings: dict, mask: int) -> list:
    """A running column's cell in the totals row: the closing balance (期末), every opening
    balance plus the period's figure; blank in a subtotal row."""
    cells = []
    for column in report.running:
        measure = next(m for m in measures if m.name == column.running)
        if mask != 0:
            cells.append(cast(null(), measure.type).label(column.name))
            continue
        closing = measure.element
        opening = openings.get(column.name)
        if opening is not None:
            before = select(func.sum(opening.c._opening)).scalar_subquery()
            closing = func.coalesce(closing, 0) + func.coalesce(before, 0)
        cells.append(type_coerce(closing, measure.type).label(column.name))
    return cells
