"""Report pages, the report API and exports: thin wrappers around ``app.meta.reports``."""

from __future__ import annotations

import datetime as dt
import io
import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user, login_required
from sqlalchemy import select

from app.i18n import _, localized
from app.kernel import jobs
from app.kernel.locations import Location
from app.meta import access
from app.meta.reports import (
    ParamError,
    drill_rows,
    exportable,
    get_report,
    parse_page,
    refuse_unknown,
    result_json,
    run_report,
    runnable,
)
from app.meta.reports.export import write_csv, write_xlsx
from app.web.forms_common import registry
from app.web.session import db_session

bp = Blueprint("reports", __name__)

#: Up to this many rows an export is written straight into the response; beyond, it is a job.
DIRECT_EXPORT_ROWS = 5_000
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",  # Flask adds "; charset=utf-8" to text types
}


def _param_error(error: ParamError):
    """A bad report parameter: 400, in the shape of every API error, naming the parameter."""
    return jsonify(error="invalid", message=str(error), errors={error.param: [str(error)]}), 400


def _metadata():
    """The live metadata: published report edits included, reloaded when another worker
    published one."""
    return registry().metadata


def _runnable_report(name: str):
    """The report ``name`` if the user may run it; None otherwise (shown as not found)."""
    report = get_report(_metadata(), name)
    if report is None or not runnable(db_session(), report, current_user):
        return None
    return report


def _report_or_404(name: str):
    report = _runnable_report(name)
    if report is None:
        abort(404)
    return report


def _language() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def _run(report, limit=None, paged=False):
    """Run ``report`` with the request's parameters; ``drill=dim:value,...`` gives the source
    rows behind one aggregate cell instead. ``paged``: the request's ``page`` of detail rows
    (``page``, ``per_page``), else every row up to ``limit`` (exports, print)."""
    settings = current_app.config["LIANKU"]
    page = parse_page(request.args) if paged else None
    drill = request.args.get("drill")
    if drill and report.grouped:
        return drill_rows(
            db_session(),
            report,
            request.args,
            current_user,
            drill,
            timezone=settings.timezone,
            limit=limit,
            page=page,
        )
    return run_report(
        db_session(),
        report,
        request.args,
        current_user,
        timezone=settings.timezone,
        limit=limit,
        page=page,
    )


@bp.get("/reports/")
@login_required
def index():
    reports = [_runnable_report(name) for name in sorted(_metadata().reports)]
    return render_template("reports/index.html", reports=[r for r in reports if r])


@bp.get("/reports/<report>")
@login_required
def view(report: str):
    report = _report_or_404(report)
    printing = bool(request.args.get("print"))
    try:
        result = _run(report, paged=not printing)
    except ParamError as error:
        asking = not request.args  # opened from the menu: ask for what it needs, do not scold
        page = render_template(
            "reports/view.html", report=report, result=None, error=None if asking else error,
            asking=asking, inputs=_inputs(report, {}),
        )  # fmt: skip
        return page, 200 if asking else 400
    data = result_json(result)
    template = "reports/print.html" if printing else "reports/view.html"
    return render_template(
        template,
        report=report,
        result=data,
        error=None,
        chart_json=json.dumps(data, ensure_ascii=False),
        inputs=_inputs(report, result.params),
        counted_blind=_counted_blind(report),
        exportable=exportable(report, current_user),
    )


def _counted_blind(report) -> list[str]:
    """The user's locations whose stock figures a blind count hides from this report now: said
    above it, so that a clerk reads why their store's stock is missing, not "no rows"."""
    if not report.source.book_figures:
        return []
    session = db_session()
    hidden = access.hidden_books(session, current_user)
    if not hidden:
        return []
    mine = access.visible_location_ids(session, current_user)
    shown = sorted(hidden if mine is None else hidden & mine)
    return list(session.scalars(select(Location.name).where(Location.id.in_(shown))))


def _inputs(report, values: dict) -> dict[str, str]:
    """What the filter boxes show: what was typed, else the value the report ran with — a
    report opened from the menu shows its default period, not empty boxes that filter all the
    same. (A location is left as typed: its box explains ``mine``.)"""
    shown = {}
    for param in report.params:
        value = values.get(param.name)
        if param.type == "date_range":
            for name, day in zip(("_from", "_to"), value or (None, None), strict=True):
                key = param.name + name
                shown[key] = request.args.get(key) or (day.isoformat() if day else "")
        elif param.type == "location" or value is None:
            shown[param.name] = request.args.get(param.name, "")
        else:
            shown[param.name] = request.args.get(param.name) or (
                value.isoformat() if isinstance(value, dt.date) else str(value)
            )
    return shown


@bp.get("/api/v1/reports/<report>")
@login_required
def api(report: str):
    found = _runnable_report(report)
    if found is None:  # (one the user may not run is not found either: its name stays private)
        return jsonify(error="not_found", message=_("No such report.")), 404
    try:
        refuse_unknown(found, request.args)
        result = _run(found, paged=True)
    except ParamError as error:
        return _param_error(error)
    return jsonify(result_json(result))


@bp.get("/reports/<report>/export.<fmt>")
@login_required
def export(report: str, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    report = _report_or_404(report)
    if not exportable(report, current_user):
        abort(403)
    try:
        result = _run(report, limit=DIRECT_EXPORT_ROWS + 1)
    except ParamError as error:
        return _param_error(error)
    if len(result.rows) > DIRECT_EXPORT_ROWS:
        return _export_as_job(report, fmt)
    return _export_file(report, result, fmt)


@bp.get("/api/v1/reports/<report>/export.<fmt>")
@login_required
def api_export(report: str, fmt: str):
    """The export for an integration (an API token reaches /api/ only): the file itself; one
    too large for a request is refused, to be narrowed by the parameters."""
    found = _runnable_report(report)
    if fmt not in FORMATS or found is None:
        return jsonify(error="not_found", message=_("No such report.")), 404
    if not exportable(found, current_user):
        message = _("Your role may read this report but not export it.")
        return jsonify(error="forbidden", message=message), 403
    try:
        refuse_unknown(found, request.args)
        result = _run(found, limit=DIRECT_EXPORT_ROWS + 1)
    except ParamError as error:
        return _param_error(error)
    if len(result.rows) > DIRECT_EXPORT_ROWS:
        message = _("More than %(rows)s rows: narrow the report's parameters to export it here.",
                    rows=DIRECT_EXPORT_ROWS)  # fmt: skip
        return jsonify(error="too_large", message=message), 422
    return _export_file(found, result, fmt)


def _export_file(report, result, fmt: str):
    settings = current_app.config["LIANKU"]
    filename = f"{report.name}.{fmt}"
    if fmt == "xlsx":
        buffer = io.BytesIO()
        write_xlsx(result, buffer, _language(), settings.timezone)
        buffer.seek(0)
        return send_file(buffer, mimetype=FORMATS[fmt], as_attachment=True, download_name=filename)
    text = io.StringIO()
    write_csv(result, text, _language(), settings.timezone)
    return Response(
        text.getvalue(),
        mimetype=FORMATS[fmt],
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def _export_as_job(report, fmt: str):
    session = db_session()
    params = {
        "report": report.name,
        "params": request.args.to_dict(),
        "format": fmt,
        "user_id": current_user.id,
        "language": _language(),
    }
    jobs.enqueue(session, "report_export", params, user_id=current_user.id)
    session.commit()
    return redirect(url_for("jobs.index"))


@bp.app_template_global()
def report_label(report) -> str:
    return localized(report.label)
