"""Report sources: what a report may read, as typed columns and declared links.

A source is a base table (a kernel read model such as balances or the ledger, the audit trail,
or the records of a form) with named, typed columns, an optional location column through which
data scope applies, and links to other tables (a balance's item → the item's fields, a location →
its region) that a report reaches as ``link.column``; a link is joined only when a report uses it.
Sources are registered by name; form sources (``form:<name>``) are built from the form definition.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, FromClause

#: The column types a report knows; they decide aggregates, parameters, JSON and Excel formats.
TYPES = ("text", "integer", "decimal", "money", "date", "datetime", "boolean")
NUMERIC_TYPES = ("integer", "decimal", "money")


@dataclass(frozen=True)
class SourceColumn:
    type: str
    label: object
    #: Builds the column from the (aliased) table it belongs to; for a column read ``via`` a link,
    #: from the base table and the link's joined target.
    expr: Callable[..., ColumnElement]
    #: A link (of the same source) this column reads through, joined on first use: figures that
    #: come from other rows (what is in transit to a balance, its last cost) are joined set-based
    #: rather than computed by a subquery per row.
    via: str | None = None
    #: Stored value → its label ``{zh_CN, en}``, for codes a person reads by name (a select
    #: field's options, a stock status): reports show the label, filters use the value.
    options: dict | None = None
    #: The column holds a form's name: the source, resolved against the metadata, gives it the
    #: forms' labels as ``options`` (a report reads 销售单, not ``sales_order``).
    names_form: bool = False
    #: The column is a quantity of its row at a price read ``via`` a link (a movement's value at
    #: its lot's cost): summed, it may be priced after the rows are grouped by the link's keys.
    priced: Priced | None = None


@dataclass(frozen=True)
class Priced:
    """A figure that is ``quantity`` (over the source's table) times ``price`` (over the link's
    target). One price per link key, so Σ quantity × price = price × Σ quantity over the rows of
    one key: a report summing it over millions of movements sums the quantities by key first and
    meets the prices once per key, not once per movement."""

    quantity: Callable[[FromClause], ColumnElement]
    price: Callable[[FromClause], ColumnElement]


@dataclass(frozen=True)
class Link:
    """A declared join: ``target()`` gives a fresh alias, ``on(base, target)`` the condition."""

    target: Callable[[], FromClause]
    on: Callable[[FromClause, FromClause], ColumnElement]
    columns: dict[str, SourceColumn]
    #: The target is costly to work out (grouped over the whole ledger): joined as a CTE, so a
    #: statement reading it in several branches (the rows and the totals) works it out once.
    read_once: bool = False


@dataclass(frozen=True)
class Source:
    name: str
    label: object
    table: Callable[[], FromClause]
    columns: dict[str, SourceColumn]
    links: dict[str, Link] = field(default_factory=dict)
    #: The column holding the location a row belongs to; ``None``: the source is not per location
    #: and only users who see every location may read it (but see ``chain_wide_form``).
    location_column: str | None = None
    #: The form whose records the rows are when they belong to no location (a form without a
    #: location field: cards, recalls, price changes): whoever may read that form's list may read
    #: them, whatever their scope, as on the list.
    chain_wide_form: str | None = None
    #: Always-applied condition (e.g. a form source reads only its form's records).
    where: Callable[[FromClause], ColumnElement] | None = None
    #: (form, id column) when each row is a record a report row can link to.
    record: tuple[str | None, str] | None = None
    #: The column naming each row's form, when the rows are records of several forms (a union of
    #: form sources): then ``record`` gives the id column only.
    record_form_column: str | None = None
    #: A permission (beyond ``report:<name>``) needed to read this source at all, e.g. ``audit``.
    permission: str | None = None
    #: The column naming the user a row is for (an approval task's approver): everyone reads
    #: only their own rows, whatever their scope.
    user_column: str | None = None
    #: Its rows show what a location holds (quantities on the books): hidden from counters while
    #: a blind count runs there (``access.hidden_books``).
    book_figures: bool = False
    #: Its rows are costly to work out (a window over the whole history): a report reading them
    #: twice in one statement (its detail rows and its totals) works them out once, as a CTE.
    read_once: bool = False
    #: The column its rows are dated by, when they can be read as of a past day: the source keeps
    #: the rows dated up to the day a statement is built for (``current_today``) and works out
    #: what follows from them (what is open, how old, how long overdue) as of that day. A date
    #: parameter with ``op: as_of`` sets that day.
    as_of: str | None = None

    def column(self, ref: str) -> SourceColumn | None:
        """The column ``ref`` names (``name`` or ``link.name``), or None if there is none."""
        if ref in self.columns:  # (a union's columns are named like its parts' refs: item.name)
            return self.columns[ref]
        if "." in ref:
            link_name, column_name = ref.split(".", 1)
            link = self.links.get(link_name)
            return link.columns.get(column_name) if link else None
        return self.columns.get(ref)

    def references(self) -> list[str]:
        names = list(self.columns)
        for link_name, link in self.links.items():
            names.extend(f"{link_name}.{column}" for column in link.columns)
        return names


class Reader:
    """Column references of one source resolved against one alias of its table, each declared
    link joined once, on first use, however many columns read it."""

    def __init__(self, source: Source, base=None):
        self.source = source
        self.base = source.table() if base is None else base
        self.joins: dict[str, FromClause] = {}

    def ref(self, name: str) -> ColumnElement:
        column = self.source.columns.get(name)
        if column is not None:
            if column.via is None:
                return column.expr(self.base)
            return column.expr(self.base, self.joined(column.via))
        link_name, column_name = name.split(".", 1)
        return self.source.links[link_name].columns[column_name].expr(self.joined(link_name))

    def joined(self, link_name: str) -> FromClause:
        if link_name not in self.joins:
            link = self.source.links[link_name]
            target = link.target()
            self.joins[link_name] = target.element.cte() if link.read_once else target
        return self.joins[link_name]

    def from_clause(self):
        clause = self.base
        for link_name, target in self.joins.items():
            clause = clause.outerjoin(target, self.source.links[link_name].on(self.base, target))
        return clause


SOURCES: dict[str, Source] = {}
#: Builders of sources computed from metadata (``form:<name>``), by prefix.
SOURCE_BUILDERS: dict[str, Callable[[str, object], Source | None]] = {}


def register_source(source: Source) -> Source:
    SOURCES[source.name] = source
    return source


def resolve_source(name: str, metadata) -> Source | None:
    """The source called ``name``, built from ``metadata`` for computed kinds."""
    if name in SOURCES:
        return _forms_labelled(SOURCES[name], metadata)
    prefix, _sep, rest = name.partition(":")
    builder = SOURCE_BUILDERS.get(prefix)
    return builder(rest, metadata) if builder and rest else None


def _forms_labelled(source: Source, metadata) -> Source:
    """``source`` with its form-name columns labelled by ``metadata``'s forms."""
    named = [name for name, column in source.columns.items() if column.names_form]
    if not named or metadata is None:
        return source
    labels = {name: form.data.get("label") or name for name, form in metadata.forms.items()}
    columns = {name: replace(source.columns[name], options=labels) for name in named}
    return replace(source, columns={**source.columns, **columns})


def col(name: str) -> Callable[[FromClause], ColumnElement]:
    """A column getter by attribute name, for the common case."""
    return lambda table: table.c[name]


#: The database dialect and business day a statement is being built for: sources whose SQL differs
#: by dialect (JSON lines) or depends on the day (days to expiry) read them while building.
_BUILDING: contextvars.ContextVar[tuple[str, dt.date]] = contextvars.ContextVar("report_building")


@contextlib.contextmanager
def building(dialect: str, today: dt.date) -> Iterator[None]:
    """Mark the statement being built as for ``dialect`` on business day ``today``."""
    token = _BUILDING.set((dialect, today))
    try:
        yield
    finally:
        _BUILDING.reset(token)


def current_dialect() -> str:
    return _building()[0]


def current_today() -> dt.date:
    return _building()[1]


def _building() -> tuple[str, dt.date]:
    found = _BUILDING.get(None)
    if found is None:  # only a statement being built may ask
        raise RuntimeError("report source used outside build_statement")
    return found
