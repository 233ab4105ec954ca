"""Admin pages to edit reports live, the way forms are edited: YAML editor with checks as you type
and a preview of the draft run on live data (under the admin's own scope, nothing published),
drafts, publish, version history with diffs, rollback, export, and brand-new reports."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.i18n import _
from app.meta import access, versions
from app.meta.access import PermissionDenied
from app.meta.registry import REPORTS
from app.meta.reports import ParamError, result_json, run_report
from app.meta.versions import ChangeRefused
from app.meta.yamlsource import MetadataInvalid
from app.web.forms_admin import IDENTIFIER
from app.web.forms_common import registry
from app.web.session import db_session

bp = Blueprint("reports_admin", __name__, url_prefix="/admin/reports")

#: A preview shows the first rows only: enough to see the draft is right, cheap to run.
PREVIEW_ROWS = 50

NEW_REPORT_TEMPLATE = """name: {name}
label: {{zh_CN: 新报表, en: New report}}
source: balances
params:
  - name: location
    type: location
    label: {{zh_CN: 地点, en: Location}}
    default: mine
columns:
  - {{name: location, column: location.name, label: {{zh_CN: 地点, en: Location}}}}
  - {{name: on_hand, column: on_hand, aggregate: sum, label: {{zh_CN: 现存量, en: On hand}}}}
totals: true
"""


def _guard() -> None:
    try:
        access.require(current_user, "admin")
    except PermissionDenied:
        abort(403)


def _known(report: str) -> None:
    if registry().report(report) is None:
        abort(404)


@bp.get("/")
@login_required
def index():
    _guard()
    reg = registry()
    session = db_session()
    reports = [
        (reg.report(name), versions.current_version(session, reg, name, REPORTS))
        for name in sorted(reg.metadata.reports)
    ]
    return render_template("admin_reports/index.html", reports=reports)


def _editor(report: str, text: str, issues=(), status=200, new=False):
    return render_template(
        "admin_reports/edit.html",
        name=report,
        text=text,
        issues=issues,
        new=new,
        history=[] if new else versions.history(db_session(), registry(), report, REPORTS),
    ), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    _guard()
    name = (request.values.get("name") or "").strip()
    if request.method == "GET":
        name = name or "new_report"
        return _editor(name, NEW_REPORT_TEMPLATE.format(name=name), new=True)
    text = request.form.get("yaml", "")
    if not IDENTIFIER.match(name):
        flash(_("A report name is lower_snake_case: letters, digits and _."), "error")
        return _editor(name, text, status=422, new=True)
    if registry().report(name) is not None:
        flash(_("The report '%(name)s' already exists.", name=name), "error")
        return _editor(name, text, status=422, new=True)
    return _publish(name, text, new=True)


@bp.get("/<report>/edit")
@login_required
def edit(report):
    _guard()
    _known(report)
    draft = versions.draft_of(db_session(), report, REPORTS)
    return _editor(report, draft.yaml_text if draft else _live_text(report))


def _live_text(report: str) -> str:
    return registry().metadata.reports[report].text


@bp.post("/<report>/preview")
@login_required
def preview(report):
    """htmx: check the YAML being typed and run it on live data, as the admin, unpublished.

    ``params`` is a query string (``location=S1&month_from=2026-01-01``) for the draft's
    parameters; the draft's defaults apply to the rest."""
    _guard()
    if not IDENTIFIER.match(report):
        abort(404)
    session = db_session()
    issues, definition = versions.check_text(
        session, registry(), report, request.form.get("yaml", ""), REPORTS
    )
    result, error = None, None
    if definition is not None:
        try:
            ran = run_report(
                session,
                definition,
                dict(parse_qsl(request.form.get("params", ""))),
                current_user,
                timezone=current_app.config["LIANKU"].timezone,
                limit=PREVIEW_ROWS,
            )
            result = {**result_json(ran), "drill": []}  # drill links would open the live report
        except (ParamError, PermissionDenied) as exc:
            error = exc
    session.rollback()
    return render_template(
        "admin_reports/preview.html", issues=issues, report=definition, result=result, error=error
    )


@bp.post("/<report>/draft")
@login_required
def draft(report):
    _guard()
    _known(report)
    session = db_session()
    versions.save_draft(session, current_user, report, request.form.get("yaml", ""), REPORTS)
    session.commit()
    flash(_("Draft saved; it is not live until you publish it."), "info")
    return redirect(url_for("reports_admin.edit", report=report))


def _publish(report: str, text: str, new: bool = False, note: str | None = None):
    session = db_session()
    try:
        row = versions.publish(session, registry(), current_user, report, text, note, REPORTS)
        session.commit()
    except MetadataInvalid as exc:
        session.rollback()
        return _editor(report, text, exc.issues, 422, new)
    flash(_("Version %(v)s of %(form)s is live.", v=row.version, form=report), "info")
    return redirect(url_for("reports_admin.versions_view", report=report))


@bp.post("/<report>/publish")
@login_required
def publish(report):
    _guard()
    _known(report)
    return _publish(report, request.form.get("yaml", ""), note=request.form.get("note") or None)


@bp.get("/<report>/versions")
@login_required
def versions_view(report):
    _guard()
    _known(report)
    return render_template(
        "admin_reports/versions.html",
        name=report,
        history=versions.history(db_session(), registry(), report, REPORTS),
    )


@bp.get("/<report>/versions/<int:version>")
@login_required
def version_view(report, version):
    _guard()
    session = db_session()
    text = versions.text_of(session, registry(), report, version, REPORTS)
    if text is None:
        abort(404)
    against = request.args.get("against", type=int)
    diff = (
        versions.diff(session, registry(), report, against, version, REPORTS) if against else None
    )
    return render_template(
        "admin_reports/version.html",
        name=report,
        version=version,
        text=text,
        diff=diff,
        against=against,
    )


@bp.post("/<report>/versions/<int:version>/rollback")
@login_required
def rollback(report, version):
    _guard()
    _known(report)
    session = db_session()
    try:
        row = versions.rollback(session, registry(), current_user, report, version, REPORTS)
        session.commit()
    except (ChangeRefused, MetadataInvalid) as exc:
        session.rollback()
        flash(_("Not rolled back: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("reports_admin.versions_view", report=report))
    flash(_("Version %(v)s of %(form)s is live.", v=row.version, form=report), "info")
    return redirect(url_for("reports_admin.versions_view", report=report))


@bp.get("/<report>/export")
@login_required
def export(report):
    """Download the live YAML, to commit it back to ``metadata/reports/``."""
    _guard()
    _known(report)
    return Response(
        _live_text(report),
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f"attachment; filename={report}.yaml"},
    )
