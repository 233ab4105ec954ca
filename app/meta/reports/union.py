"""Union sources: one report over the rows of several sources.

A record book a regulator reads is one list, whichever flow the goods took: the 出库复核记录 holds
what a second person checked as it left for a hospital (a sales order), for one of the chain's
own stores (a transfer out) or back to a supplier (a supplier return). Each is a form with a table
of its own, so a report over one form misses the others. A union names its parts, each a source
with its own fixed filters (the order delivered, the transfer shipped) and the columns it gives
under the union's names (the order's ``sale_date`` and the transfer's ``ship_date`` are the
book's date):

    source:
      union:
        - source: form:sales_order.review_scans
          filters: [{column: state, op: eq, value: delivered}]
          columns: {date: sale_date, destination: customer.name}
        - source: form:transfer_out.review_scans
          filters: [{column: state, op: eq, value: shipped}]
          columns: {date: ship_date, destination: to_location.name}

The union offers every column that each part has, of one type — its own names (``item.name``, a
column read through a link, is one name here) and the ones its parts rename. The report reads
them as it reads any source's; data scope applies to each row's location, and a row links to
the record of whichever form it came from. Each part reads only the columns the report uses,
joining only the links those need.

A union that ``sum``s adds its parts' figures up per document: what a receipt still awaits from
its supplier's invoices is what it accepted, less the returns credited and the invoice lines
billed against it — three forms, one row per receipt. A part gives a figure's opposite with
``-column``; a part without a summed column adds nothing to it. Its columns are the ones its
parts name, and what it does not sum says what one row is. ``location`` and ``record`` say whose
rows a part's are when not its own (an invoice line belongs to the receipt it bills); a row
links to a record only when every part names it (a sum of many records belongs to none). With
``as_of``, each part's rows are dated and only those up to the day the report is read as of are
summed, so a past month-end reads as it stood then::

    source:
      union:
        - source: form:purchase_receipt
          columns: {day: arrival_date, number: number, uninvoiced: total}
          record: {form: purchase_receipt, id: id}
        - source: form:purchase_invoice.lines
          columns: {day: invoice_date, number: purchase_receipt.number, uninvoiced: -amount}
          location: purchase_receipt.location
          record: {form: purchase_receipt, id: purchase_receipt}
      sum: [uninvoiced]
      as_of: day
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Date, and_, cast, func, literal, null, select, true, type_coerce, union_all

from app.i18n import _
from app.meta.reports.query import fixed_condition
from app.meta.sources import (
    NUMERIC_TYPES,
    Reader,
    Source,
    SourceColumn,
    col,
    current_dialect,
    current_today,
    resolve_source,
)

#: The union's own columns: each row's location (data scope), and its record's form and id.
LOCATION, FORM, RECORD_ID = "_location", "_form", "_record_id"


@dataclass(frozen=True)
class Part:
    source: Source
    #: the union's column name → this part's reference, where they differ (``-ref``: negated)
    renamed: dict[str, str]
    filters: list[dict]
    #: the column giving the location its rows belong to, when not the source's own
    location: str | None = None
    #: (form, id column) of the record its rows belong to, when not the source's own
    record: tuple[str, str] | None = None
    #: gives only the columns it names (in a union that sums), not its own of the same name
    named_only: bool = False

    def ref(self, name: str) -> str:
        """The part's column giving ``name``, without its sign."""
        return self.renamed.get(name, name).removeprefix("-")

    def column(self, name: str) -> SourceColumn | None:
        if self.named_only and name not in self.renamed:
            return None
        return self.source.column(self.ref(name))

    def element(self, reader: Reader, name: str):
        element = reader.ref(self.ref(name))
        return -element if self.renamed.get(name, "").startswith("-") else element


@dataclass(frozen=True)
class Summing:
    """What a summing union adds up, and the date column that dates its parts' rows."""

    summed: tuple[str, ...]
    as_of: str | None = None


@dataclass(frozen=True)
class UnionSource(Source):
    parts: tuple[Part, ...] = ()
    #: the union's column names, in the order the parts' rows give them
    names: tuple[str, ...] = ()
    summing: Summing | None = None

    def narrowed(self, names: set[str]) -> UnionSource:
        """The same union reading only ``names`` (the columns a report uses): each part selects
        and joins no more than those need. A summing union keeps every column it sums by: they
        say what one of its rows is (a receipt), whichever the report shows."""
        summing = self.summing
        kept = tuple(
            name
            for name in self.names
            if name in names or (summing is not None and name not in summing.summed)
        )
        return replace(
            self,
            names=kept,
            columns={name: self.columns[name] for name in kept}
            | _own_columns(self.location_column, self.record),
            table=lambda: _rows(self.parts, kept, self.location_column, self.record, self.summing),
        )


def is_union(spec) -> bool:
    return isinstance(spec, dict)


def describe(spec) -> str:
    """The source as a person reads it in the designer: ``form:a.t + form:b.t``."""
    if not is_union(spec):
        return str(spec or "")
    return " + ".join(str(part.get("source", "")) for part in spec.get("union") or [])


def resolve(spec, metadata) -> tuple[Source | None, list[tuple[tuple, str]]]:
    """The source a report's ``spec`` names — a registered or form source, or a union — or None
    and the (path, message) problems that stop it."""
    if is_union(spec):
        return build_union(spec, metadata)
    source = resolve_source(spec, metadata)
    if source is None:
        return None, [(("source",), _("unknown source '%(name)s'", name=spec))]
    return source, []


def build_union(spec: dict, metadata) -> tuple[UnionSource | None, list[tuple[tuple, str]]]:
    """The union ``spec`` declares, or None and the (path, message) problems that stop it."""
    problems: list[tuple[tuple, str]] = []
    parts = [
        part
        for index, raw in enumerate(spec["union"])
        if (part := _part(raw, ("source", "union", index), metadata, problems, "sum" in spec))
        is not None
    ]
    if problems:
        return None, problems
    summed = set(spec["sum"]) if "sum" in spec else None
    columns = _common_columns(parts, summed, problems)
    located = {part.source.location_column is not None for part in parts}
    if len(located) > 1:
        problems.append(
            (("source", "union"), _("either every part of a union is read per location, or none"))
        )
    permissions = {part.source.permission for part in parts} - {None}
    if len(permissions) > 1:
        problems.append((("source", "union"), _("the parts of a union need different permissions")))
    summing = _summing(spec, columns, problems)
    if problems:
        return None, problems
    names = tuple(columns)
    location = LOCATION if located == {True} else None
    record = (None, RECORD_ID) if all(_record(part, summing) for part in parts) else None
    return UnionSource(
        name=describe(spec),
        label=parts[0].source.label,
        table=lambda: _rows(parts, names, location, record, summing),
        columns=columns | _own_columns(location, record),
        location_column=location,
        record=record,
        record_form_column=FORM if record else None,
        permission=next(iter(permissions), None),
        book_figures=any(part.source.book_figures for part in parts),
        parts=tuple(parts),
        names=names,
        summing=summing,
        as_of=summing.as_of if summing else None,
    ), problems


def _record(part: Part, summing: Summing | None) -> tuple[str | None, str] | None:
    """The record a part's rows belong to: its own or the one it names; in a union that sums,
    only the one it names (a sum of many records' figures belongs to none of them)."""
    return part.record if summing else part.record or part.source.record


def _summing(spec: dict, columns: dict, problems) -> Summing | None:
    """What ``spec`` sums, checked: figures of the union, dated by a date column (which, not
    summed, every part gives)."""
    if "sum" not in spec:
        if "as_of" in spec:
            problems.append(
                (("source", "as_of"), _("only a union that sums can be read as of a day"))
            )
        return None
    for index, name in enumerate(spec["sum"]):
        column = columns.get(name)
        if column is None or column.type not in NUMERIC_TYPES:
            problems.append(
                (("source", "sum", index), _("'%(name)s' is no figure of the union", name=name))
            )
    as_of = spec.get("as_of")
    column = columns.get(as_of)
    if as_of is not None and (column is None or column.type != "date" or as_of in spec["sum"]):
        problems.append((("source", "as_of"), _("'%(name)s' is no date of the union", name=as_of)))
    return Summing(tuple(spec["sum"]), as_of)


def _part(raw: dict, path: tuple, metadata, problems, named_only: bool) -> Part | None:
    source, refused = resolve(raw["source"], metadata)
    if source is None:
        problems.extend(((*path, *where), message) for where, message in refused)
        return None
    if source.user_column:
        problems.append(((*path, "source"), _("a source read per user cannot be part of a union")))
    record = raw.get("record")
    part = Part(
        source,
        dict(raw.get("columns") or {}),
        list(raw.get("filters") or []),
        location=raw.get("location"),
        record=(record["form"], record["id"]) if record else None,
        named_only=named_only,
    )
    for name, ref in part.renamed.items():
        found = part.column(name)
        if found is None:
            problems.append(((*path, "columns", name), _unknown(ref.removeprefix("-"), source)))
        elif ref.startswith("-") and found.type not in NUMERIC_TYPES:
            problems.append(
                ((*path, "columns", name), _("only a figure can be taken off: '%(name)s' is no "
                                             "number", name=ref.removeprefix("-")))
            )  # fmt: skip
    for key, ref in (("location", part.location), ("record", part.record and part.record[1])):
        if ref is None:
            continue
        found = source.column(ref)
        if found is None or found.type != "integer":
            problems.append(((*path, key), _unknown(ref, source)))
    if part.record and part.record[0] not in metadata.forms:
        problems.append(
            ((*path, "record", "form"), _("unknown form '%(name)s'", name=part.record[0]))
        )
    for index, condition in enumerate(part.filters):
        for key in ("column", "against"):
            if key in condition and source.column(condition[key]) is None:
                problems.append(((*path, "filters", index, key), _unknown(condition[key], source)))
    return part


def _unknown(ref: str, source: Source) -> str:
    return _(
        "unknown column '%(name)s' in source '%(source)s'; expected one of: %(known)s",
        name=ref,
        source=source.name,
        known=", ".join(source.references()),
    )


def _common_columns(parts: list[Part], summed: set[str] | None, problems):
    """Every name each part gives, of the same type in all. A name one part renames is meant for
    the union: a part without it, or giving another type, is a problem — unless the union sums
    it (that part adds nothing to it); a name the parts merely happen to share is simply not
    offered when they disagree. A union that sums offers only the names its parts give: the
    ones it does not sum say what one of its rows is (a receipt), none may slip in unasked."""
    renamed = [name for part in parts for name in part.renamed]
    shared = parts[0].source.references() if summed is None else []
    offered = dict.fromkeys([*renamed, *shared])
    columns = {}
    for name in offered:
        found = [part.column(name) for part in parts]
        if summed and name in summed:
            found = [column for column in found if column is not None]
        if any(column is None for column in found):
            problems.extend(
                (("source", "union", index, "columns"),
                 _("this part gives no '%(name)s', which another part names: say which of its "
                   "columns it is", name=name))
                for index, column in enumerate(found)
                if column is None and name in renamed
            )  # fmt: skip
            continue
        types = {column.type for column in found}
        if len(types) == 1:
            options = {}
            for column in reversed(found):  # the first part's label of a value wins
                options |= column.options or {}
            columns[name] = SourceColumn(
                found[0].type, found[0].label, col(name), options=options or None
            )
        elif any(name in part.renamed for part in parts):
            problems.append(
                (
                    ("source", "union"),
                    _(
                        "the parts of the union give '%(name)s' as different types: %(types)s",
                        name=name,
                        types=", ".join(sorted(types)),
                    ),
                )
            )
    return columns


def _own_columns(location: str | None, record) -> dict[str, SourceColumn]:
    own = {}
    if location:
        own[LOCATION] = SourceColumn("integer", {"zh_CN": "地点", "en": "Location"}, col(LOCATION))
    if record:
        own[RECORD_ID] = SourceColumn("integer", {"zh_CN": "单据", "en": "Record"}, col(RECORD_ID))
        own[FORM] = SourceColumn("text", {"zh_CN": "表单", "en": "Form"}, col(FORM))
    return own


def _rows(parts, names: tuple[str, ...], location: str | None, record, summing=None):
    """Each part's rows with ``names`` (and the union's own columns), one after the other; in a
    summing union, their figures added up per row of the other columns, of the rows dated up to
    the day the statement is built for."""
    missing = {
        name: _typed_null(parts, name)
        for name in names
        if any(part.column(name) is None for part in parts)
    }
    rows = union_all(
        *[_part_rows(part, names, location, record, missing, summing) for part in parts]
    ).subquery("union_rows")
    if summing is None:
        return rows
    keys = [column for column in rows.c if column.name not in (*summing.summed, summing.as_of)]
    figures = [_sum(rows.c[name]).label(name) for name in names if name in summing.summed]
    dated = []
    if summing.as_of:
        day = rows.c[summing.as_of]
        figures.append(func.max(day).label(summing.as_of))
        dated.append(day <= literal(current_today(), Date))
    return (
        select(*keys, *figures).where(and_(true(), *dated)).group_by(*keys).subquery("summed_rows")
    )


def _sum(figure):
    """The sum of ``figure``. SQLite adds decimals as binary floats, so that 0.30 - 0.10 - 0.20
    comes out a hair from zero and a receipt invoiced in full would still await 0.00: its sums
    are rounded well below any scale a figure is kept at (PostgreSQL's are exact)."""
    total = func.sum(figure)
    if current_dialect() == "sqlite":
        total = type_coerce(func.round(total, 8), figure.type)
    return total


def _typed_null(parts, name: str):
    """Nothing, of the type the parts giving ``name`` give it: what a part without a summed
    figure gives (a union's columns take their types from its first part)."""
    part = next(part for part in parts if part.column(name) is not None)
    return cast(null(), part.element(Reader(part.source), name).type)


def _part_rows(part: Part, names, location: str | None, record, missing: dict, summing):
    reader = Reader(part.source)
    selected = [
        (part.element(reader, name) if part.column(name) else missing[name]).label(name)
        for name in names
    ]
    if location:
        selected.append(reader.ref(part.location or part.source.location_column).label(LOCATION))
    if record:
        form, id_column = _record(part, summing)
        selected.append(reader.ref(id_column).label(RECORD_ID))
        selected.append(literal(form).label(FORM))
    conditions = [part.source.where(reader.base)] if part.source.where is not None else []
    conditions.extend(fixed_condition(reader, condition) for condition in part.filters)
    return select(*selected).select_from(reader.from_clause()).where(and_(true(), *conditions))
