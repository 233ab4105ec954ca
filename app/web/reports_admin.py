"""Admin pages to edit reports live (see metadata_admin); the preview runs the draft on live
data, under the admin's own scope, nothing published."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from app.i18n import _, localized
from app.meta.access import PermissionDenied
from app.meta.registry import REPORTS
from app.meta.reports import ParamError, result_json, run_report
from app.web.metadata_admin import Editor, install
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

EDITOR = Editor(
    blueprint=bp,
    kind=REPORTS,
    param="report",
    new_yaml=NEW_REPORT_TEMPLATE,
    find=lambda reg, name: reg.report(name),
    live_text=lambda reg, name: reg.metadata.reports[name].text,
    listing=lambda reg: [
        (name, localized(reg.report(name).label)) for name in sorted(reg.metadata.reports)
    ],
    words={
        "title": lambda: _("Report design"),
        "new": lambda: _("New report"),
        "edit": lambda: _("Edit report"),
        "name_label": lambda: _("Report name"),
        "column": lambda: _("Report"),
        "bad_name": lambda: _("A report name is lower_snake_case: letters, digits and _."),
        "name_in_use": lambda name: _("The report '%(name)s' already exists.", name=name),
    },
    preview_params=True,
)
install(EDITOR)


@bp.post("/<report>/preview")
@login_required
def preview(report):
    """htmx: check the YAML being typed and run it on live data, as the admin, unpublished.

    ``params`` is a query string (``location=S1&month_from=2026-01-01``) for the draft's
    parameters; the draft's defaults apply to the rest."""
    issues, definition = EDITOR.checked(report)
    session = db_session()
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
