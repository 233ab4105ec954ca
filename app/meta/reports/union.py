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
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import and_, literal, select, true, union_all

from app.i18n import _
from app.meta.reports.query import fixed_condition
from app.meta.sources import Reader, Source, SourceColumn, col, resolve_source

#: The union's own columns: each row's location (data scope), and its record's form and id.
LOCATION, FORM, RECORD_ID = "_location", "_form", "_record_id"


@dataclass(frozen=True)
class Part:
    source: Source
    #: the union's column name → this part's reference, where they differ
    renamed: dict[str, str]
    filters: list[dict]

    def ref(self, name: str) -> str:
        return self.renamed.get(name, name)


@dataclass(frozen=True)
class UnionSource(Source):
    parts: tuple[Part, ...] = ()
    #: the union's column names, in the order the parts' rows give them
    names: tuple[str, ...] = ()

    def narrowed(self, names: set[str]) -> UnionSource:
        """The same union reading only ``names`` (the columns a report uses): each part selects
        and joins no more than those need."""
        kept = tuple(name for name in self.names if name in names)
        return replace(
            self,
            names=kept,
            columns={name: self.columns[name] for name in kept}
            | _own_columns(self.location_column, self.record),
            table=lambda: _rows(self.parts, kept, self.location_column, self.record),
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
        if (part := _part(raw, ("source", "union", index), metadata, problems)) is not None
    ]
    if problems:
        return None, problems
    columns = _common_columns(parts, problems)
    located = {part.source.location_column is not None for part in parts}
    if len(located) > 1:
        problems.append(
            (("source", "union"), _("either every part of a union is read per location, or none"))
        )
    permissions = {part.source.permission for part in parts} - {None}
    if len(permissions) > 1:
        problems.append((("source", "union"), _("the parts of a union need different permissions")))
    if problems:
        return None, problems
    names = tuple(columns)
    location = LOCATION if located == {True} else None
    record = (None, RECORD_ID) if all(part.source.record for part in parts) else None
    return UnionSource(
        name=describe(spec),
        label=parts[0].source.label,
        table=lambda: _rows(parts, names, location, record),
        columns=columns | _own_columns(location, record),
        location_column=location,
        record=record,
        record_form_column=FORM if record else None,
        permission=next(iter(permissions), None),
        book_figures=any(part.source.book_figures for part in parts),
        parts=tuple(parts),
        names=names,
    ), problems


def _part(raw: dict, path: tuple, metadata, problems) -> Part | None:
    source, refused = resolve(raw["source"], metadata)
    if source is None:
        problems.extend(((*path, *where), message) for where, message in refused)
        return None
    if source.user_column:
        problems.append(((*path, "source"), _("a source read per user cannot be part of a union")))
    part = Part(source, dict(raw.get("columns") or {}), list(raw.get("filters") or []))
    for name, ref in part.renamed.items():
        if source.column(ref) is None:
            problems.append(((*path, "columns", name), _unknown(ref, source)))
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


def _common_columns(parts: list[Part], problems) -> dict[str, SourceColumn]:
    """Every name each part gives, of the same type in all. A name one part renames is meant for
    the union: a part without it, or giving another type, is a problem; a name the parts merely
    happen to share is simply not offered when they disagree."""
    renamed = [name for part in parts for name in part.renamed]
    offered = dict.fromkeys([*renamed, *parts[0].source.references()])
    columns = {}
    for name in offered:
        found = [part.source.column(part.ref(name)) for part in parts]
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


def _rows(parts, names: tuple[str, ...], location: str | None, record):
    """Each part's rows with ``names`` (and the union's own columns), one after the other."""
    return union_all(*[_part_rows(part, names, location, record) for part in parts]).subquery(
        "union_rows"
    )


def _part_rows(part: Part, names: tuple[str, ...], location: str | None, record):
    reader = Reader(part.source)
    selected = [reader.ref(part.ref(name)).label(name) for name in names]
    if location:
        selected.append(reader.ref(part.source.location_column).label(LOCATION))
    if record:
        form, id_column = part.source.record
        selected.append(reader.ref(id_column).label(RECORD_ID))
        selected.append(literal(form).label(FORM))
    conditions = [part.source.where(reader.base)] if part.source.where is not None else []
    conditions.extend(fixed_condition(reader, condition) for condition in part.filters)
    return select(*selected).select_from(reader.from_clause()).where(and_(true(), *conditions))
