"""A compiled report: its columns, parameters and shape, checked at metadata load."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.meta.expressions import Expression
from app.meta.sources import NUMERIC_TYPES, Source


class ParamError(ValueError):
    """A parameter value the report cannot use; names the parameter and says why."""

    def __init__(self, param: str, message: str):
        self.param = param
        super().__init__(message)


#: Detail rows per page unless the request asks for another size.
PER_PAGE = 100


@dataclass(frozen=True)
class Page:
    """Which detail rows to show: ``per_page`` of them, from row ``(number - 1) * per_page``."""

    number: int = 1
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


@dataclass
class ReportColumn:
    name: str
    label: dict
    kind: str  # dimension, measure, formula, running
    type: str
    ref: str | None = None
    bucket: str | None = None
    aggregate: str | None = None
    formula: Expression | None = None
    hidden: bool = False
    highlight: list[tuple[Expression, str]] = field(default_factory=list)
    drill: dict | None = None
    #: value → label of a code column (see ``SourceColumn.options``)
    options: dict | None = None
    #: a running column: the column it accumulates, in the report's order, restarting at each
    #: new value of the ``by`` columns
    running: str | None = None
    by: list[str] = field(default_factory=list)
    #: an aggregate over the rows before the report's period (``opening``, 期初) or up to its end
    #: (``closing``, 期末) instead of the rows within it
    balance: str | None = None
    #: an aggregate of only the rows that meet these conditions (``{column, op, value}``): the
    #: goods sold, the goods received, side by side in one row
    filters: list[dict] = field(default_factory=list)


@dataclass
class ReportParam:
    name: str
    type: str
    label: dict
    column: str | None
    op: str
    required: bool
    default: object
    default_expr: Expression | list[Expression] | None
    options: list[dict]


@dataclass
class Report:
    """A checked, compiled report definition, ready to run many times."""

    name: str
    label: dict
    source: Source
    columns: list[ReportColumn]
    params: list[ReportParam]
    filters: list[dict]
    sort: list[str]
    limit: int
    totals: bool
    subtotals: bool
    pivot: dict | None
    chart: dict | None

    @property
    def dimensions(self) -> list[ReportColumn]:
        return [column for column in self.columns if column.kind == "dimension"]

    @property
    def measures(self) -> list[ReportColumn]:
        return [column for column in self.columns if column.kind == "measure"]

    @property
    def running(self) -> list[ReportColumn]:
        return [column for column in self.columns if column.kind == "running"]

    @property
    def figures(self) -> list[ReportColumn]:
        """The columns of numbers its reader sees: what a dashboard card may show of it."""
        return [c for c in self.columns if c.type in NUMERIC_TYPES and not c.hidden]

    def period(self, values: dict) -> ReportParam | None:
        """The date range parameter given a start in ``values``: the rows before that start
        are what a running column opens with (None: nothing comes before)."""
        return next(
            (p for p in self.params if p.type == "date_range" and values.get(p.name, [None])[0]),
            None,
        )

    def column(self, name: str) -> ReportColumn:
        return next(column for column in self.columns if column.name == name)

    @property
    def balances(self) -> list[ReportColumn]:
        """The opening and closing balance columns: with any, the rows before the period are
        read too, and each other aggregate is of the period's rows alone."""
        return [column for column in self.measures if column.balance]

    @property
    def grouped(self) -> bool:
        return bool(self.measures)
