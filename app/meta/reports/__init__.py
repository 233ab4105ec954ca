"""Reports as metadata: a YAML definition compiles to ONE SQL statement over a source.

A report has dimensions (source columns, optionally bucketed by day/week/month/quarter/year),
measures (sum, count, count_distinct, min, max, avg), formulas (simpleeval over each result row),
parameters the user sets, fixed filters, sort, limit, totals and subtotals, and an optional pivot.
Filtering, grouping and aggregation run in the database; every value is a bound parameter. Totals,
subtotals and pivot margins are extra ``GROUP BY`` branches of the same statement (``UNION ALL``),
so they are exact for every aggregate, averages and distinct counts included. Python only lays out
the aggregated rows (the pivot) and evaluates row formulas and highlights.

Every run goes through ``app.meta.access``: the ``report:<name>`` permission and the user's data
scope on the source's location column.
"""

from app.meta.reports.definition import check_reports, compile_report, get_report
from app.meta.reports.model import Page, ParamError, Report, ReportColumn, ReportParam
from app.meta.reports.params import parse_page, parse_params, refuse_unknown
from app.meta.reports.query import build_statement
from app.meta.reports.run import (
    ReportResult,
    drill_rows,
    exportable,
    result_json,
    run_report,
    runnable,
    stream_report,
)

__all__ = [
    "Page",
    "ParamError",
    "Report",
    "ReportColumn",
    "ReportParam",
    "ReportResult",
    "build_statement",
    "check_reports",
    "compile_report",
    "drill_rows",
    "exportable",
    "get_report",
    "parse_page",
    "refuse_unknown",
    "parse_params",
    "result_json",
    "run_report",
    "runnable",
    "stream_report",
]

from app.meta.reports import export as _export  # noqa: E402,F401  (registers the export job)
