"""Report exports: Excel (numbers as numbers, dates as dates, Chinese headers, frozen header row,
totals) and CSV, written row by row so a large export never holds a workbook in memory.

Small exports are written straight into the response; large ones run as a ``report_export`` job.
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from app.config import load_settings
from app.i18n import _l, localized
from app.kernel import jobs
from app.kernel.users import User
from app.meta.reports.model import ReportColumn
from app.meta.reports.run import ReportResult, run_report

NUMBER_FORMATS = {
    "money": "#,##0.00",
    "decimal": "#,##0.####",
    "integer": "0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
BOLD = Font(bold=True)


def _cell_value(value, timezone: str):
    """Excel has no time zones: show a timestamp in the business time zone."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)
    return value


def _visible(result: ReportResult) -> list[ReportColumn]:
    return [column for column in result.columns if not column.hidden]


def write_xlsx(result: ReportResult, target, language: str, timezone: str) -> int:
    """Write ``result`` to ``target`` (a path or binary stream); returns the rows written."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=localized(result.report.label, language)[:31])
    sheet.freeze_panes = "A2"
    columns = _visible(result)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=localized(column.label, language))
        cell.font = BOLD
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in result.rows:
        sheet.append(_cells(sheet, columns, row, timezone, bold=row.get("_level", 0) > 0))
        count += 1
    if result.totals:
        sheet.append(_cells(sheet, columns, result.totals, timezone, bold=True))
    workbook.save(target)
    return count


def _cells(sheet, columns: list[ReportColumn], row: dict, timezone: str, bold: bool) -> list:
    """One row's cells; plain values where no format or font is needed (much faster)."""
    cells = []
    for column in columns:
        value = _cell_value(row.get(column.name), timezone)
        if not bold and (value is None or column.type not in NUMBER_FORMATS):
            cells.append(value)
            continue
        cell = WriteOnlyCell(sheet, value=value)
        if column.type in NUMBER_FORMATS:
            cell.number_format = NUMBER_FORMATS[column.type]
        if bold:
            cell.font = BOLD
        cells.append(cell)
    return cells


def write_csv(result: ReportResult, stream: IO[str], language: str, timezone: str) -> int:
    """CSV with a UTF-8 byte-order mark, so Excel opens the Chinese headers correctly."""
    stream.write("\ufeff")
    writer = csv.writer(stream)
    columns = _visible(result)
    writer.writerow([localized(column.label, language) for column in columns])
    rows = [*result.rows, *([result.totals] if result.totals else [])]
    for row in rows:
        writer.writerow([_csv_value(_cell_value(row.get(c.name), timezone)) for c in columns])
    return len(result.rows)


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


@jobs.handler("report_export", label=_l("Report export"))
def export_job(run: jobs.JobRun) -> dict:
    """Run a report as the user who asked for it and write the file it asked for."""
    from app.meta.registry import build

    settings = load_settings()
    params = run.params
    with run.database.session() as session:
        # the live definitions, published edits included, as the page that queued the job saw
        report = build(settings.metadata_dir, settings.workflows_dir, session).report(
            params["report"]
        )
        if report is None:
            raise jobs.JobFailed(f"unknown report {params['report']}")
        run.progress(10)
        user = session.get(User, params["user_id"])
        result = run_report(
            session,
            report,
            params.get("params", {}),
            user,
            timezone=settings.timezone,
            limit=report.limit,
        )
    run.progress(60)
    language = params.get("language", "zh_CN")
    name = f"{report.name}.{params['format']}"
    path, relative = run.result_file(name)
    if params["format"] == "xlsx":
        rows = write_xlsx(result, path, language, settings.timezone)
    else:
        with path.open("w", encoding="utf-8", newline="") as stream:
            rows = write_csv(result, stream, language, settings.timezone)
    return {"file": relative, "filename": name, "rows": rows}
