"""The admin page to edit the application's settings live (``metadata/settings.yaml``, see
metadata_admin): the navigation bar's menus in their order, and the knobs of the replenishment
plan (how many days of sales make a velocity, how many days of cover, of transit). The preview
shows the menus as the bar will and every other section's values."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from app.i18n import _
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
)
install(EDITOR)


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
