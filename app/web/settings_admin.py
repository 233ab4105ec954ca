"""The admin page to edit the application's settings live (``metadata/settings.yaml``, see
metadata_admin): the navigation bar's menus in their order, and the knobs of the replenishment
plan (how many days of sales make a velocity, how many days of cover, of transit). The preview
shows the menus as the bar will and every other section's values."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from app.i18n import _
from app.meta import settings_design
from app.meta.forms import label_text
from app.meta.records import locale
from app.meta.registry import SETTINGS
from app.web.metadata_admin import install, single_file

bp = Blueprint("settings_admin", __name__, url_prefix="/admin/settings")

EDITOR = single_file(
    bp,
    SETTINGS,
    lambda reg: reg.metadata.settings_document,
    lambda: _("Settings"),
    lambda: _("Edit the settings"),
    designer="design",
)
install(EDITOR)

#: The designer's changes: what each ``op`` does to the text, given the request's form.
CHANGES = {
    "knobs": lambda text, form: settings_design.update_knobs(text, form),
    "update": lambda text, form: settings_design.update_menu(text, form["path"], form),
    "add": lambda text, form: settings_design.add_menu(text, form),
    "up": lambda text, form: settings_design.move_menu(text, form["path"], -1),
    "down": lambda text, form: settings_design.move_menu(text, form["path"], 1),
    "remove": lambda text, form: settings_design.remove_menu(text, form["path"]),
}


@bp.post("/<settings>/design")
@login_required
def design(settings):
    """htmx: the menus as a table and the plan's knobs, drawn from the YAML being edited after
    the change ``op`` asks for (see ``Editor.designed``)."""
    EDITOR.known(settings)
    found = EDITOR.designed(settings, CHANGES, settings_design.view)
    return render_template("admin_settings/designer.html", drawn=found.pop("drawn"), **found)


@bp.post("/<settings>/check")
@login_required
def check(settings):
    """htmx: check the YAML being typed; show the menus in order and the other sections."""
    EDITOR.known(settings)
    issues, document = EDITOR.checked(settings)
    data = document.data if document else {}
    menus = [label_text(menu["label"], locale()) for menu in data.get("menus", [])]
    sections = {key: value for key, value in data.items() if key != "menus"}
    return render_template("admin_settings/check.html", issues=issues, menus=menus,
                           sections=sections)  # fmt: skip
