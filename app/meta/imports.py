"""Import records of any form from an Excel sheet (导入): item cards, customers, suppliers, stock
policies — whatever form the admin defined — without writing a line of code.

The sheet's first row names the columns: a field's label in either language, or its name (the
template, ``template()``, gives the labels in the user's language, required ones marked ``*``); a
field of a document's lines is titled with its table's label too (``明细 · 数量``). Every later
row becomes one record, created through the record service with all the form's rules, as the
user who imports, in their data scope. Cells hold what people write: a link field takes an
item's code or GTIN, a location's code, a user's username, a record's number, title or a field
its form is searched by (a supplier's code); a choice takes its label or its value; yes/no takes
是/否, yes/no, true/false, 1/0; a percent field takes the per cent people see (5, "5%", or a cell
formatted as a percentage that Excel keeps as 0.05).

A document with lines (a purchase order and its items) takes several rows, as people lay it out:
its first row fills the document's fields and its first line, each following row that leaves the
document's cells empty adds one more line to it.

All or nothing by default: if any row is refused, nothing is written; or, as the user chooses,
the valid rows are kept and the refused ones reported. Every refusal names its row and column
(``rows[3].gtin``: row 3 of the sheet, as Excel numbers it). One audit entry records the import
itself, beside each record's own. A file of more than ``DIRECT_ROWS`` rows is imported by a job
(``record_import``), which writes the refusals to a sheet to download; it imports as whoever
uploaded the file, a person or an API token.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from app.config import load_settings
from app.i18n import _, _l
from app.kernel import jobs
from app.kernel.items import business_timezone
from app.meta import access, links, records
from app.meta.expressions import this_names
from app.meta.forms import DATE_TYPES, NUMBER_TYPES, FieldDef, FormDef, label_text
from app.meta.records import RecordError, ValidationFailed
from app.meta.registry import Registry

#: Up to this many rows a file is imported within the request; beyond, by a job.
DIRECT_ROWS = 200
#: Rows per file (every one a record with all its rules checked); a bigger file is split.
MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
#: How often a job reports its progress (rows).
PROGRESS_EVERY = 100
#: Field types a cell can give; the others the server fills (formulas, numbers, stamps, files).
IMPORTABLE = frozenset(
    {"text", "long_text", "integer", "decimal", "money", "percent", "date", "datetime",
     "boolean", "select", "multiselect", "link", "lot", "serial", "expiry_date", "udi",
     "barcode"}
)  # fmt: skip
YES = frozenset({"是", "y", "yes", "true", "1", "√", "✓"})
NO = frozenset({"否", "n", "no", "false", "0", "×"})
SEPARATORS = re.compile(r"[,，;；、]")
LINES_HINT = _l(
    "A document with lines takes several rows: its first row fills the document's columns and"
    " its first line; each following row that leaves the document's columns empty adds a line."
)


@dataclass(frozen=True)
class Imported:
    records: list
    #: The refused rows' reasons (only when the valid rows were kept).
    errors: dict[str, list[str]]


@dataclass(frozen=True)
class Column:
    """A column a sheet may have: a field of the document, or of one of its ``table``'s lines."""

    field: FieldDef
    table: FieldDef | None = None

    @property
    def required(self) -> bool:
        return bool(self.field.get("required"))

    def label(self, language: str) -> str:
        label = self.field.label(language)
        return label if self.table is None else f"{self.table.label(language)} · {label}"

    def title(self, language: str) -> str:
        return self.label(language) + (" *" if self.required else "")

    def titles(self) -> list[str]:
        """What a header cell may say for this column: its name or label in either language,
        for a line field behind its table's (``明细 · 数量``, ``lines.quantity``)."""
        if self.table is None:
            return _names(self.field)
        return [f"{table}·{title}" for table in _names(self.table) for title in _names(self.field)]


def _names(field: FieldDef) -> list[str]:
    return [field.name, *(field.spec.get("label") or {}).values()]


def _typed(field: FieldDef) -> bool:
    """What a person types on the form, not what the server computes or a later state fills
    in (read-only)."""
    return field.type in IMPORTABLE and not field.get("read_only")


def importable_columns(form: FormDef) -> list[Column]:
    """The document's fields, then its tables' line fields, that a sheet may fill."""
    columns = [Column(f) for f in form.fields if _typed(f)]
    for table in form.fields:
        if table.type == "table" and not table.get("read_only"):
            columns.extend(Column(f, table) for f in table.fields if _typed(f))
    return columns


def template(form: FormDef, language: str) -> bytes:
    """An empty sheet with the form's columns, text columns formatted as text (a GTIN or code
    keeps its leading zeros), and a second sheet saying what each column takes."""
    book = Workbook()
    sheet = book.active
    sheet.title = _sheet_title(form.label(language))
    columns = importable_columns(form)
    bold = Font(bold=True)
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.title(language))
        cell.font = bold
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(12, len(cell.value) * 2)
        kind = column.field.type
        if kind not in NUMBER_TYPES and kind not in DATE_TYPES | {"boolean"}:
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    guide = book.create_sheet(_sheet_title(_("Columns")))
    guide.append([_("Column"), _("Required"), _("What to write")])
    for cell in guide[1]:
        cell.font = bold
    for column in columns:
        guide.append(
            [
                column.label(language),
                _("Yes") if column.required else "",
                _hint(column.field, language),
            ]
        )
    if any(column.table for column in columns):
        guide.append([])
        guide.append([str(LINES_HINT)])
    guide.column_dimensions["A"].width = 24
    guide.column_dimensions["C"].width = 60
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_title(text: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", text)[:31] or "Sheet"


def _hint(field: FieldDef, language: str) -> str:
    if field.type in ("select", "multiselect"):
        return " / ".join(label_text(o["label"], language) for o in field.options)
    if field.type == "link":
        return _("its code, number or name, as the list shows it")
    if field.type in DATE_TYPES:
        return _("a date, e.g. 2027-06-30")
    if field.type == "boolean":
        return _("是/否 or yes/no")
    if field.type == "percent":
        return _("a number in per cent: 5, or a cell showing 5%")
    if field.type in NUMBER_TYPES:
        return _("a number")
    return ""


def import_records(
    session: Session,
    registry: Registry,
    user,
    form_name: str,
    stream: BinaryIO,
    *,
    keep_valid: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Imported:
    """Create one record per row of the sheet in ``stream`` (the caller commits). All or none:
    any refusal raises ``ValidationFailed`` with every row's reasons (the caller rolls back);
    ``keep_valid``: the valid rows are created and the refusals returned. ``progress(done, total)``
    is told every ``PROGRESS_EVERY`` rows."""
    form = _form_to_fill(registry, user, form_name)
    return _import(session, registry, user, form, read_sheet(stream), keep_valid, progress)


def _import(session, registry, user, form: FormDef, sheet, keep_valid: bool, progress=None):
    """The rows of a sheet already read (``read_sheet``) as records of ``form``."""
    header, rows = sheet
    form_name = form.name
    columns = _columns(form, header)
    reader = _CellReader(session, user, registry)
    created, errors, done = [], {}, 0
    for document in _documents(columns, rows):
        first, line_rows = document[0][0], {}
        try:
            payload, line_rows = reader.document(columns, document)
            with session.begin_nested():
                created.append(
                    records.create(session, registry, user, form_name, payload, from_client=True)
                )
        except ValidationFailed as exc:
            errors |= {
                _row_path(first, line_rows, path): reasons for path, reasons in exc.errors.items()
            }
        except (RecordError, access.PermissionDenied) as exc:
            errors[f"rows[{first}]"] = [str(exc)]
        before, done = done, done + len(document)
        if progress is not None and (done // PROGRESS_EVERY > before // PROGRESS_EVERY
                                     or done == len(rows)):  # fmt: skip
            progress(done, len(rows))
    if errors and not keep_valid:
        raise ValidationFailed(errors)
    if created:
        records.audit_as(session, user, "import", "form", form_name,
                         changes={"records": [record.id for record in created]})  # fmt: skip
    return Imported(created, errors)


def start(
    session: Session,
    registry: Registry,
    user,
    form_name: str,
    data: bytes,
    *,
    keep_valid: bool,
    files_dir: Path,
    language: str,
) -> Imported | jobs.Job:
    """Import ``data`` now when it is small, else keep it and queue a job (the caller commits):
    the page and the API both start an import here."""
    form = _form_to_fill(registry, user, form_name)
    sheet = read_sheet(io.BytesIO(data))  # read once: its rows say now or as a job
    if len(sheet[1]) <= DIRECT_ROWS:
        return _import(session, registry, user, form, sheet, keep_valid)
    params = {"form": form_name, "file": store_upload(files_dir, data), "user_id": user.id,
              "keep_valid": keep_valid, "language": language}  # fmt: skip
    return jobs.enqueue(session, "record_import", params, user_id=user.id)


def _form_to_fill(registry: Registry, user, form_name: str) -> FormDef:
    form = registry.form(form_name)
    if form is None:
        raise records.FormNotFound(form_name)
    access.require(user, "create", form_name)
    return form


def _documents(columns: list[Column | None], rows: list) -> list[list[tuple[int, tuple]]]:
    """The rows grouped by document: a row that fills any of the document's columns starts one,
    a row that fills only line columns adds to the one above. Without line columns, every row
    is a document."""
    own = [i for i, column in enumerate(columns) if column is not None and column.table is None]
    lines = len(own) < sum(column is not None for column in columns)
    documents: list[list[tuple[int, tuple]]] = []
    for number, cells in rows:
        if documents and lines and not any(_filled(cells[i]) for i in own if i < len(cells)):
            documents[-1].append((number, cells))
        else:
            documents.append([(number, cells)])
    return documents


def _filled(cell) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


def _row_path(first: int, line_rows: dict[str, list[int]], path: str) -> str:
    """The record service's ``lines[2].quantity`` as the sheet's ``rows[7].lines.quantity`` (the
    row the line came from); the document's own fields under its first row."""
    if path.startswith("rows["):
        return path
    found = re.fullmatch(r"(\w+)\[(\d+)\](.*)", path)
    if found and found.group(1) in line_rows:
        table, index, rest = found.group(1), int(found.group(2)), found.group(3)
        numbers = line_rows[table]
        if index < len(numbers):
            return f"rows[{numbers[index]}].{table}{rest}"
    return f"rows[{first}].{path}"


def error_lines(form: FormDef, errors: dict[str, list[str]], language: str) -> list[tuple]:
    """The refusals of an import as (row, column, message) for people: ``rows[3].gtin`` is row
    3 under the GTIN column's label, ``columns[C]`` is column C of the header."""
    lines = []
    for key, messages in errors.items():
        found = re.fullmatch(r"rows\[(\d+)\](?:\.(\w+))?(.*)", key)
        if found:
            field = form.field(found.group(2)) if found.group(2) else None
            column = field.label(language) if field else (found.group(2) or "")
            rest = found.group(3)
            child = re.fullmatch(r"\.(\w+)(.*)", rest) if field and field.type == "table" else None
            if child and field.child(child.group(1)):
                column = Column(field.child(child.group(1)), field).label(language)
                rest = child.group(2)
            where = (found.group(1), column + rest)
        else:
            column = re.fullmatch(r"columns\[([A-Z]+)\]", key)
            where = ("1", column.group(1)) if column else ("", "")
        lines.extend((*where, message) for message in messages)
    return lines


def refusals_sheet(form: FormDef, errors: dict[str, list[str]], language: str, target) -> None:
    """The refusals as a sheet (row, column, why) for the person to correct their file from."""
    book = Workbook()
    sheet = book.active
    sheet.title = _sheet_title(_("Refused rows"))
    sheet.append([_("Row"), _("Column"), _("Why")])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row, column, message in error_lines(form, errors, language):
        sheet.append([int(row) if row.isdigit() else row, column, message])
    sheet.column_dimensions["B"].width = 24
    sheet.column_dimensions["C"].width = 80
    book.save(target)


def store_upload(files_dir: Path, data: bytes) -> str:
    """Keep an uploaded sheet for its job; the name to put in the job's parameters."""
    relative = f"imports/{uuid.uuid4().hex}.xlsx"
    path = files_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


@jobs.handler("record_import", label=_l("Import"), time_limit=3600)
def import_job(run: jobs.JobRun) -> dict:
    """Import a kept sheet as whoever uploaded it (a person or an API token); the refusals come
    back as a sheet.

    The rows are written in one transaction, all or none as in a request. Its progress is
    recorded as it goes where the database takes other writes meanwhile (PostgreSQL); SQLite
    has one write lock, which the import holds to its end, so there the jobs page says how many
    rows are being imported and shows the outcome when they are saved.
    """
    from app.meta.registry import build

    settings = load_settings()
    params = run.params
    upload = run.files_dir / params["file"]
    with run.database.session() as session:  # the live definitions, as the uploader saw them
        registry = build(settings.metadata_dir, settings.workflows_dir, session)
    created, errors = 0, {}
    try:
        sheet = _kept_sheet(upload)
        total = len(sheet[1])
        run.progress(0, _("Importing %(total)s rows, saved together at the end.", total=total))
        reporting = run.database.dialect != "sqlite"
        with run.database.transaction() as session:
            user = access.job_starter(session, params["user_id"])
            form = _form_for_job(registry, user, params["form"])
            done = _import(
                session, registry, user, form, sheet, params.get("keep_valid", False),
                progress=_reporter(run) if reporting else None,
            )  # fmt: skip
            created, errors = len(done.records), done.errors
    except ValidationFailed as exc:  # all or none, and some were refused: none
        errors = exc.errors
    except (RecordError, access.PermissionDenied, access.StarterGone) as exc:
        raise jobs.JobFailed(str(exc)) from None
    upload.unlink(missing_ok=True)  # (kept when the job failed: it may be run again)
    result = {"created": created, "refused": len({key.split("]")[0] for key in errors})}
    if errors:
        name = f"{params['form']}-refused.xlsx"
        path, relative = run.result_file(name)
        language = params.get("language", "zh_CN")
        refusals_sheet(registry.form(params["form"]), errors, language, path)
        result |= {"file": relative, "filename": name}
    run.progress(100, _("%(created)s imported, %(refused)s rows refused.", **result))
    return result


def _kept_sheet(upload: Path):
    """The uploaded sheet a job imports, read before its transaction begins (the rows say how
    many there are to report progress on)."""
    if not upload.is_file():  # a failed import run again twice: the other run imported it
        raise jobs.JobFailed(_("The uploaded file is no longer kept: upload it again."))
    with upload.open("rb") as stream:
        return read_sheet(stream)


def _reporter(run: jobs.JobRun) -> Callable[[int, int], None]:
    """Rows done as the jobs page's percentage (to 95 %: the refusals' sheet comes after)."""
    return lambda done, total: run.progress(95 * done // total, f"{done:,} / {total:,}")


def _form_for_job(registry: Registry, user, form_name: str) -> FormDef:
    """``_form_to_fill`` for a job, whose starter's role may have changed since: the refusal is
    worded here, as a worker has no request to look the form's label up in."""
    form = registry.form(form_name)
    if form is not None and not access.can(user, "create", form_name):
        raise jobs.JobFailed(
            _(
                "You are not allowed to %(action)s %(form)s.",
                action=access.ACTION_WORDS["create"](),
                form=form.label(records.locale()),
            )
        )
    return _form_to_fill(registry, user, form_name)


def read_sheet(stream: BinaryIO) -> tuple[list, list[tuple[int, tuple]]]:
    """The first sheet's header and its non-empty rows (with their Excel row numbers)."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationFailed(
            {"file": [_("The file is larger than %(max)s MB.", max=MAX_BYTES // (1024 * 1024))]}
        )
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValidationFailed({"file": [_("This is not an Excel workbook (.xlsx).")]}) from None
    try:
        sheet = book.worksheets[0]
        found = (tuple(_cell_value(cell) for cell in row) for row in sheet.iter_rows())
        header = next(found, None)
        rows = []
        for number, cells in enumerate(found, start=2):
            if any(cell is not None and str(cell).strip() for cell in cells):
                rows.append((number, cells))
                if len(rows) > MAX_ROWS:
                    raise ValidationFailed({"file": [_(
                        "A file takes at most %(max)s rows: split it.", max=MAX_ROWS
                    )]})  # fmt: skip
    finally:
        book.close()
    if not header or not any(header):
        raise ValidationFailed({"file": [_("The first row must name the columns.")]})
    if not rows:
        raise ValidationFailed({"file": [_("The sheet has no rows under its header.")]})
    return list(header), rows


class _ShownAsPercent(float):
    """A number its cell shows as a percentage: 0.05 in a cell formatted ``0%`` reads "5%"."""


def _cell_value(cell):
    """A cell's value, a number marked when its format shows it as a percentage: Excel keeps
    "5%" as 0.05, and only the format says the person sees 5."""
    value, shown = cell.value, getattr(cell, "number_format", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and _shows_percent(shown):
        return _ShownAsPercent(value)
    return value


def _shows_percent(number_format: str | None) -> bool:
    """Does Excel show a number in this format multiplied by 100 (``0%``, ``0.00%``)? A ``%`` in
    quotes or after a backslash is printed as it is, without multiplying."""
    return bool(number_format) and "%" in re.sub(r'"[^"]*"|\\.', "", number_format)


def _columns(form: FormDef, header: list) -> list[Column | None]:
    """The field each column fills, by label (either language) or name — a line field also by
    its own title alone when no other column has it; an unknown or repeated column is refused,
    naming its letter."""
    by_title: dict[str, Column] = {}
    bare: dict[str, list[Column]] = {}
    for column in importable_columns(form):
        for title in column.titles():
            by_title[_normal(title)] = column
        if column.table is not None:
            for title in {_normal(title) for title in _names(column.field)}:
                bare.setdefault(title, []).append(column)
    for title, found in bare.items():
        if title not in by_title and len(found) == 1:
            by_title[title] = found[0]
    columns, seen, errors = [], set(), {}
    for index, title in enumerate(header, start=1):
        if title is None or not str(title).strip():
            columns.append(None)
            continue
        column = by_title.get(_normal(str(title)))
        where = f"columns[{get_column_letter(index)}]"
        if column is None:
            errors[where] = [_("'%(column)s' is not a field this sheet can fill.", column=title)]
        elif column in seen:
            errors[where] = [_("'%(column)s' appears twice.", column=title)]
        else:
            seen.add(column)
        columns.append(column)
    if errors:
        raise ValidationFailed(errors)
    return columns


def _normal(title: str) -> str:
    """A title as compared: no required mark, no case, no spaces around a table's ``·`` or
    ``.`` (``明细 · 数量``, ``明细·数量`` and ``lines.quantity`` alike)."""
    title = title.strip().removesuffix("*").strip()
    return re.sub(r"\s*[·.]\s*", "·", title).casefold()


class _CellReader:
    """A cell as the record service takes it; links looked up once per distinct text."""

    def __init__(self, session: Session, user, registry: Registry):
        self.session, self.user, self.registry = session, user, registry
        self.links: dict[tuple[FieldDef, str], object] = {}

    def document(self, columns: list[Column | None], rows: list[tuple[int, tuple]]):
        """A document's rows as the record service's payload, and the sheet row of each of its
        lines per table; the cells it cannot read are refused together."""
        payload: dict = {}
        line_rows: dict[str, list[int]] = {}
        problems = {}
        for number, cells in rows:
            lines: dict[str, dict] = {}
            for column, value in zip(columns, cells, strict=False):
                if column is None or not _filled(value):
                    continue
                field, table = column.field, column.table
                target = payload if table is None else lines.setdefault(table.name, {})
                try:
                    target[field.name] = self.value(field, value)
                except ValueError as exc:
                    where = field.name if table is None else f"{table.name}.{field.name}"
                    problems[f"rows[{number}].{where}"] = [str(exc)]
            for table, line in lines.items():
                payload.setdefault(table, []).append(line)
                line_rows.setdefault(table, []).append(number)
        if problems:
            raise ValidationFailed(problems)
        return payload, line_rows

    def value(self, field: FieldDef, cell):
        if field.type == "link":
            return self._link(field, _text(cell))
        if field.type == "boolean":
            return _boolean(cell)
        if field.type == "select":
            return self._option(field, cell)
        if field.type == "multiselect":
            return [self._option(field, part) for part in SEPARATORS.split(_text(cell)) if part]
        if field.type == "percent":
            return _percent(cell)
        if field.type in NUMBER_TYPES:
            return _number(cell)
        if field.type in DATE_TYPES and isinstance(cell, dt.datetime | dt.date):
            return (cell.date() if isinstance(cell, dt.datetime) else cell).isoformat()
        if field.type == "datetime" and isinstance(cell, dt.datetime):
            return cell.replace(tzinfo=cell.tzinfo or business_timezone()).isoformat()
        return _text(cell)

    def _option(self, field: FieldDef, cell):
        text = _text(cell)
        for option in field.options:
            names = {str(option["value"]), *(option.get("label") or {}).values()}
            if text.casefold() in {name.casefold() for name in names}:
                return option["value"]
        return text  # the record service names the choices

    def _link(self, field: FieldDef, text: str):
        target = field.get("link")
        key = (field, text)  # a line field may share its name with another
        if key not in self.links:
            form = self.registry.form(target)
            found = links.find(
                self.session, self.user, target, text,
                title_field=form.title_field if form else None,
                search_fields=form.search_fields if form else (),
                condition=_unbound(field.expressions.get("link_filter")),
                everywhere=field.get("link_scope") == "all",
            )  # fmt: skip
            if len(found) > 1:
                self.links[key] = ValueError(
                    _("'%(text)s' matches several: write its code.", text=text)
                )
            elif not found:
                self.links[key] = ValueError(
                    _("Nothing you may use is called '%(text)s'.", text=text)
                )
            else:
                self.links[key] = found[0].value
        value = self.links[key]
        if isinstance(value, ValueError):
            raise value
        return value


def _text(cell) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime | dt.date):
        return cell.isoformat()
    return str(cell).strip()


def _number(cell) -> str:
    if isinstance(cell, bool):
        raise ValueError(_("Not a valid number."))
    if isinstance(cell, int | Decimal):
        return str(cell)
    if isinstance(cell, float):
        return str(Decimal(repr(cell)))  # what Excel shows, not the binary fraction behind it
    return _text(cell)


def _percent(cell) -> str:
    """A percent field's cell as the number the person sees: a ``percent`` field holds per cent
    (a discount of 5 is 5 % off), so a cell formatted as a percentage, which Excel keeps as
    0.05 and shows as "5%", is 5, as is the text "5%".

    Only ``percent`` fields read it so. A decimal, money or integer field holds the cell's own
    number whatever its format: a rate kept as a fraction (0.13) and formatted to show "13%" is
    0.13 to that field, and multiplying it would change the value the sheet holds. The percent
    type is the only one that says its number is a count of hundredths.
    """
    if isinstance(cell, _ShownAsPercent):
        return format(Decimal(repr(float(cell))).scaleb(2), "f")
    if isinstance(cell, str) and cell.strip().endswith(("%", "％")):
        return cell.strip()[:-1].strip()
    return _number(cell)


def _boolean(cell):
    if isinstance(cell, bool):
        return cell
    text = _text(cell).casefold()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(_("Write 是 or 否 (yes or no)."))


def _unbound(condition):
    """A link filter to find a cell's record by: one that reads the referring record (``this``)
    cannot be applied yet — the record service checks it when the row is saved."""
    return None if this_names(condition) else condition
