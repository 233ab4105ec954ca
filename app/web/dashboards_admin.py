"""Admin pages to edit the role dashboards live (see metadata_admin): which cards a role's home
page shows, from which report, drawn how and how wide. The preview lays the cards out on the
page's twelve-column grid with the report each one runs, so the admin sees the page before it
goes live. The designer beside the YAML (设计) sets the cards, roles and refresh in a form
(``app.meta.dashboard_design``)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from app.i18n import _
from app.meta import dashboard_design
from app.meta.forms import label_text
from app.meta.records import locale
from app.meta.registry import DASHBOARDS
from app.web.forms_common import registry
from app.web.metadata_admin import Editor, install, role_choices

bp = Blueprint("dashboards_admin", __name__, url_prefix="/admin/dashboards")

NEW_DASHBOARD_TEMPLATE = """name: {name}
label: {{zh_CN: 新看板, en: New dashboard}}
roles: [store_manager]
refresh_seconds: 300
cards:
  - report: sales_today
    chart: kpi
    width: 4
    title: {{zh_CN: 今日销售额, en: Sales today}}
"""

EDITOR = Editor(
    blueprint=bp,
    kind=DASHBOARDS,
    param="dashboard",
    new_yaml=NEW_DASHBOARD_TEMPLATE,
    find=lambda reg, name: reg.metadata.dashboards.get(name),
    live_text=lambda reg, name: reg.metadata.dashboards[name].text,
    listing=lambda reg: [
        (name, label_text(document.data["label"], locale()))
        for name, document in sorted(reg.metadata.dashboards.items())
    ],
    words={
        "title": lambda: _("Dashboards"),
        "new": lambda: _("New dashboard"),
        "edit": lambda: _("Edit dashboard"),
        "name_label": lambda: _("Dashboard name"),
        "column": lambda: _("Dashboard"),
        "bad_name": lambda: _("A dashboard name is lower_snake_case: letters, digits and _."),
        "name_in_use": lambda name: _("The dashboard '%(name)s' already exists.", name=name),
    },
    preview="check",
    designer="design",
)
install(EDITOR)


def _reports() -> dict[str, str]:
    """Every live report's label, by name."""
    reg, here = registry(), locale()
    return {name: label_text(reg.report(name).label, here) for name in sorted(reg.metadata.reports)}


def _figures() -> dict[str, dict[str, str]]:
    """Every live report's figures — its columns of numbers — labelled, by report: what a card
    may show as its one figure or chart."""
    reg, here = registry(), locale()
    return {
        name: {column.name: label_text(column.label, here) for column in reg.report(name).figures}
        for name in sorted(reg.metadata.reports)
    }


#: The designer's changes: what each ``op`` does to the text, given the request's form.
CHANGES = {
    "dashboard": lambda text, form: dashboard_design.update_dashboard(
        text, form, [name for name, _label in role_choices()]
    ),
    "update": lambda text, form: dashboard_design.update_card(text, form["path"], form, _figures()),
    "add": lambda text, form: dashboard_design.add_card(text, form, _figures()),
    "up": lambda text, form: dashboard_design.move_card(text, form["path"], -1),
    "down": lambda text, form: dashboard_design.move_card(text, form["path"], 1),
    "remove": lambda text, form: dashboard_design.remove_card(text, form["path"]),
}


@bp.post("/<dashboard>/design")
@login_required
def design(dashboard):
    """htmx: the cards as a table, drawn from the YAML being edited after the change ``op``
    asks for (see ``Editor.designed``)."""
    found = EDITOR.designed(dashboard, CHANGES, dashboard_design.view)
    return render_template(
        "admin_dashboards/designer.html", board=found.pop("drawn"), **found, reports=_reports(),
        figures=_figures(),
        roles=role_choices(), charts=dashboard_design.CHARTS, widths=dashboard_design.WIDTHS,
    )  # fmt: skip


@bp.post("/<dashboard>/check")
@login_required
def check(dashboard):
    """htmx: check the YAML being typed and lay its cards out."""
    issues, document = EDITOR.checked(dashboard)
    return render_template("admin_dashboards/check.html", issues=issues,
                           layout=_layout(document.data) if document else None)  # fmt: skip


def _layout(data: dict) -> dict:
    """The dashboard in the admin's words: its roles by label, each card with its report's."""
    reg, here = registry(), locale()
    roles = reg.metadata.roles
    return {
        "label": label_text(data["label"], here),
        "roles": [label_text(roles.get(r, {}).get("label"), here) or r for r in data["roles"]],
        "cards": [
            {
                "title": label_text(card.get("title"), here),
                "report": label_text(reg.report(card["report"]).label, here),
                "chart": card.get("chart", "table"),
                "width": card.get("width") or 6,
            }
            for card in data["cards"]
        ],
    }
