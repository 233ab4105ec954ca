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

from flask_babel import force_locale
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from app.config import load_settings
from app.i18n import _, _l, localized
from app.kernel import jobs
from app.meta import access
from app.meta.reports.model import ReportColumn
from app.meta.reports.run import ReportResult, exportable, shown, stream_report

#: Formats Excel does not give a value of its own: money with two decimals and thousands. Dates
#: and timestamps get openpyxl's date formats, other numbers Excel's general format.
NUMBER_FORMATS = {"money": "#,##0.00", "datetime": "yyyy-mm-dd hh:mm"}
BOLD = Font(bold=True)
#: A background export reports its progress about this many times (each is a short transaction).
PROGRESS_STEPS = 50


def _cell_value(value, timezone: str):
    """Excel has no time zones: show a timestamp in the business time zone."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)
    return value


def _visible(result: ReportResult) -> list[ReportColumn]:
    return [column for column in result.columns if not column.hidden]


def write_xlsx(result: ReportResult, target, language: str, timezone: str) -> int:
    """Write ``result`` to ``target`` (a path or binary stream); returns the rows written.

    openpyxl's write-only mode writes each row as it comes (``result.rows`` may be a stream);
    a plain value costs openpyxl far less than a styled cell, so only money, timestamps and the
    bold subtotal and total rows are styled cells."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=localized(result.report.label, language)[:31])
    sheet.freeze_panes = "A2"
    columns = _visible(result)
    sheet.append([_styled(sheet, localized(c.label, language), None, True) for c in columns])
    names = [column.name for column in columns]
    formats = [NUMBER_FORMATS.get(column.type) for column in columns]
    styled = any(formats)
    zoned = [index for index, column in enumerate(columns) if column.type == "datetime"]
    words = _words(language)
    if result.opening:
        opening = _opening_row(result, columns, words)
        sheet.append([_styled(sheet, v, f, False) for v, f in zip(opening, formats, strict=True)])
    count = 0
    for row in result.rows:
        values = [shown(column, row.get(column.name), language) for column in columns]
        for index in zoned:
            values[index] = _cell_value(values[index], timezone)
        bold = row.get("_level", 0) > 0
        if bold:
            values = _labelled(values, columns, words["subtotal"])
        if styled or bold:
            values = [_styled(sheet, v, f, bold) for v, f in zip(values, formats, strict=True)]
        sheet.append(values)
        count += 1
    if result.totals:
        values = [_cell_value(result.totals.get(name), timezone) for name in names]
        values = _labelled(values, columns, words["total"])
        sheet.append([_styled(sheet, v, f, True) for v, f in zip(values, formats, strict=True)])
    workbook.save(target)
    return count


def _words(language: str) -> dict[str, str]:
    """What the page writes in the rows that are not detail rows — 期初余额, 小计, 合计 — in the
    export's ``language`` (a background job runs outside the request that asked for it)."""
    with force_locale(language):
        return {
            "opening": str(_("Opening balance")),
            "subtotal": str(_("Subtotal")),
            "total": str(_("Total")),
        }


def _opening_row(result: ReportResult, columns: list[ReportColumn], words: dict) -> list:
    """The opening balances (期初余额) as the first row: its label, then the running columns'
    figures."""
    values = [result.opening.get(column.name) for column in columns]
    return [words["opening"], *values[1:]]


def _labelled(values: list, columns: list[ReportColumn], label: str) -> list:
    """A totals or subtotal row's ``values`` with ``label`` (合计, 小计) in its first empty
    dimension cell — the totals row's first cell, as the page has it; a subtotal's next to the
    group it adds up — so that a file read without the page's bold does not pass it off as one
    more row to add up. A row without one (a report of figures alone) is left as it is."""
    for index, column in enumerate(columns):
        if column.kind == "dimension" and values[index] is None:
            return [*values[:index], label, *values[index + 1 :]]
    return values


def _styled(sheet, value, number_format: str | None, bold: bool):
    """``value`` as a cell with its number format and font, or as itself when it needs none."""
    if value is None or (number_format is None and not bold):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if number_format is not None:
        cell.number_format = number_format
    if bold:
        cell.font = BOLD
    return cell


def write_csv(result: ReportResult, stream: IO[str], language: str, timezone: str) -> int:
    """CSV with a UTF-8 byte-order mark, so Excel opens the Chinese headers correctly."""
    stream.write("\ufeff")
    writer = csv.writer(stream)
    columns = _visible(result)
    words = _words(language)
    writer.writerow([localized(column.label, language) for column in columns])
    if result.opening:
        writer.writerow([_csv_value(value) for value in _opening_row(result, columns, words)])
    count = 0
    for row in result.rows:
        values = [_cell_value(shown(c, row.get(c.name), language), timezone) for c in columns]
        if row.get("_level", 0) > 0:
            values = _labelled(values, columns, words["subtotal"])
        writer.writerow([_csv_value(value) for value in values])
        count += 1
    if result.totals:
        values = [_cell_value(result.totals.get(c.name), timezone) for c in columns]
        writer.writerow([_csv_value(value) for value in _labelled(values, columns, words["total"])])
    return count


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
            raise jobs.JobFailed(
                _("The report %(report)s no longer exists.", report=params["report"])
            )
        run.progress(10)
        try:
            user = access.job_starter(session, params["user_id"])
        except access.StarterGone as gone:
            raise jobs.JobFailed(str(gone)) from None
        if user is None or not exportable(report, user):
            raise jobs.JobFailed(_("Your role may read this report but not export it."))
        # the rows stream from the database into the file while the session is open
        result = stream_report(
            session, report, params.get("params", {}), user, timezone=settings.timezone,
            counted=True,
        )  # fmt: skip
        result.rows = _reporting(result.rows, result.row_count, run)
        language = params.get("language", "zh_CN")
        name = f"{report.name}.{params['format']}"
        path, relative = run.result_file(name)
        if params["format"] == "xlsx":
            rows = write_xlsx(result, path, language, settings.timezone)
        else:
            with path.open("w", encoding="utf-8", newline="") as stream:
                rows = write_csv(result, stream, language, settings.timezone)
    return {"file": relative, "filename": name, "rows": rows}


def _reporting(rows, total: int, run: jobs.JobRun):
    """``rows`` as they are, telling the jobs page how far the export is (10 % to 95 %: the
    query before, saving the file after)."""
    every = max(1, total // PROGRESS_STEPS)
    for written, row in enumerate(rows, 1):
        yield row
        if written % every == 0 or written == total:
            run.progress(10 + 85 * min(written, total) // max(total, 1), f"{written:,} / {total:,}")
