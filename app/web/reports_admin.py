"""Admin pages to edit reports live (see metadata_admin); the preview runs the draft on live
data, under the admin's own scope, nothing published. The designer beside the YAML (设计) picks,
labels, sums and orders the columns from the report's source, sets what the reader chooses when
running it, the conditions it always applies and its chart (``app.meta.report_design``)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, current_app, render_template, request
from flask_babel import force_locale
from flask_login import current_user, login_required

from app.i18n import _, localized
from app.meta import report_design
from app.meta.access import PermissionDenied
from app.meta.forms import label_text
from app.meta.records import locale
from app.meta.registry import REPORTS
from app.meta.reports import ParamError, result_json, run_report, union
from app.web.forms_common import registry
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
    designer="design",
)
install(EDITOR)


def source_columns(spec) -> dict[str, tuple[str, str]]:
    """Every column the source ``spec`` (a name, or a union) offers a report (``name`` or
    ``link.name``), with its Chinese and English label; empty for a source that does not exist."""
    source, _problems = union.resolve(spec, registry().metadata)
    if source is None:
        return {}
    return {
        reference: _both(source.column(reference).label)
        for reference in source.references()
        if not reference.startswith("_")  # a union's own: its rows' location and record
    }


def _both(label) -> tuple[str, str]:
    """A source column's label in Chinese and in English (a metadata label or a translated
    string of the code)."""
    if isinstance(label, dict):
        return label_text(label, "zh_CN"), label_text(label, "en")
    with force_locale("zh_CN"):
        zh = str(label)
    with force_locale("en"):
        return zh, str(label)


def report_drills(drawn: report_design.ReportView | None) -> list[tuple[str, str]]:
    """What a click on a column's cell may open, as (choice, what it says) in the reader's
    language: the record of the report's form whose id a column holds ("Sales order (its id in
    Order id)"), the document the cell numbers, then each report with each of its parameters
    ("Report — parameter")."""
    here = locale()
    reports = sorted(registry().metadata.reports.values(),
                     key=lambda document: label_text(document.data["label"], here))  # fmt: skip
    document = [(report_design.DOCUMENT_DRILL, _("The document whose number the cell holds"))]
    return _record_drills(drawn, here) + document + [
        (f"{document.data['name']}:{param['name']}",
         f"{label_text(document.data['label'], here)} — {label_text(param['label'], here)}")
        for document in reports
        for param in document.data.get("params", [])
    ]  # fmt: skip


def _record_drills(drawn: report_design.ReportView | None, here: str) -> list[tuple[str, str]]:
    """The report's form's record, once per column holding its id (a form-sourced report)."""
    source = drawn.source if drawn and not union.is_union(drawn.source) else ""
    form_name = source.removeprefix("form:").partition(".")[0] if source.startswith("form:") else ""
    form = registry().forms.get(form_name)
    if form is None:
        return []
    return [
        (f"{report_design.RECORD_DRILL}{form_name}:{column.name}",
         _("%(form)s (its id in %(column)s)", form=form.label(here),
           column=label_text({"zh_CN": column.label_zh, "en": column.label_en}, here)
           or column.name))
        for column in drawn.columns
        if column.column == "id" and not column.aggregate
    ]  # fmt: skip


def _add_column(text: str, form) -> str:
    return report_design.add_column(text, form, source_columns(report_design.view(text).source))


#: The designer's changes: what each ``op`` does to the text, given the request's form.
CHANGES = {
    "report": lambda text, form: report_design.update_report(text, form),
    "update": lambda text, form: report_design.update_column(text, form["path"], form),
    "add": _add_column,
    "up": lambda text, form: report_design.move_column(text, form["path"], -1),
    "down": lambda text, form: report_design.move_column(text, form["path"], 1),
    "remove": lambda text, form: report_design.remove_column(text, form["path"]),
    "param": lambda text, form: report_design.update_param(text, form["path"], form),
    "param_add": lambda text, form: report_design.add_param(text, form),
    "param_up": lambda text, form: report_design.move_entry(text, "params", form["path"], -1),
    "param_down": lambda text, form: report_design.move_entry(text, "params", form["path"], 1),
    "param_remove": lambda text, form: report_design.remove_entry(text, "params", form["path"]),
    "filter": lambda text, form: report_design.update_filter(text, form["path"], form),
    "filter_add": lambda text, form: report_design.add_filter(text, form),
    "filter_up": lambda text, form: report_design.move_entry(text, "filters", form["path"], -1),
    "filter_down": lambda text, form: report_design.move_entry(text, "filters", form["path"], 1),
    "filter_remove": lambda text, form: report_design.remove_entry(text, "filters", form["path"]),
    "chart": lambda text, form: report_design.update_chart(text, form),
    "highlights": lambda text, form: report_design.update_highlights(text, form),
    "pivot": lambda text, form: report_design.update_pivot(text, form),
}


@bp.post("/<report>/design")
@login_required
def design(report):
    """htmx: the columns, parameters and filters as tables and the chart, drawn from the YAML
    being edited after the change ``op`` asks for (see ``Editor.designed``)."""
    found = EDITOR.designed(report, CHANGES, report_design.view)
    drawn = found.pop("drawn")
    offered = source_columns(drawn.source) if drawn else {}
    return render_template(
        "admin_reports/designer.html", report_view=drawn, offered=offered, **found,
        aggregates=report_design.SUMMED_AS, buckets=report_design.BUCKETS, locale=locale(),
        param_types=report_design.PARAM_TYPES, ops=report_design.OPS,
        param_ops=report_design.PARAM_OPS,
        chart_types=report_design.CHART_TYPES, styles=report_design.HIGHLIGHT_STYLES,
        drills=report_drills(drawn),
    )  # fmt: skip


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
