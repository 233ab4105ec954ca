"""Admin pages to edit the shared option lists live (数据字典, see metadata_admin): choices
several forms and reports offer alike — transport modes, invoice kinds. The preview shows the
choices in both languages and every form field and report parameter that offers them, so the
admin sees what one edit changes. The designer beside the YAML (设计) edits the choices as a
table (``app.meta.option_design``)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from app.i18n import _
from app.meta import option_design
from app.meta.forms import label_text
from app.meta.records import locale
from app.meta.registry import OPTION_LISTS
from app.web.forms_common import registry
from app.web.metadata_admin import Editor, install

bp = Blueprint("options_admin", __name__, url_prefix="/admin/options")

NEW_LIST_TEMPLATE = """name: {name}
label: {{zh_CN: 新选项列表, en: New option list}}
options:
  - {{value: first, label: {{zh_CN: 选项一, en: First}}}}
  - {{value: second, label: {{zh_CN: 选项二, en: Second}}}}
"""

EDITOR = Editor(
    blueprint=bp,
    kind=OPTION_LISTS,
    param="option_list",
    new_yaml=NEW_LIST_TEMPLATE,
    find=lambda reg, name: reg.metadata.option_lists.get(name),
    live_text=lambda reg, name: reg.metadata.option_lists[name].text,
    listing=lambda reg: [
        (name, label_text(document.data["label"], locale()))
        for name, document in sorted(reg.metadata.option_lists.items())
    ],
    words={
        "title": lambda: _("Option lists"),
        "new": lambda: _("New option list"),
        "edit": lambda: _("Edit option list"),
        "name_label": lambda: _("Option list name"),
        "column": lambda: _("Option list"),
        "bad_name": lambda: _("An option list name is lower_snake_case: letters, digits and _."),
        "name_in_use": lambda name: _("The option list '%(name)s' already exists.", name=name),
    },
    preview="check",
    designer="design",
)
install(EDITOR)

#: The designer's changes: what each ``op`` does to the text, given the request's form.
CHANGES = {
    "list": lambda text, form: option_design.update_list(text, form),
    "update": lambda text, form: option_design.update_choice(text, form["path"], form),
    "add": lambda text, form: option_design.add_choice(text, form),
    "up": lambda text, form: option_design.move_choice(text, form["path"], -1),
    "down": lambda text, form: option_design.move_choice(text, form["path"], 1),
    "remove": lambda text, form: option_design.remove_choice(text, form["path"]),
}


@bp.post("/<option_list>/design")
@login_required
def design(option_list):
    """htmx: the choices as a table, drawn from the YAML being edited after the change ``op``
    asks for (see ``Editor.designed``)."""
    found = EDITOR.designed(option_list, CHANGES, option_design.view)
    return render_template("admin_options/designer.html", listing=found.pop("drawn"), **found)


@bp.post("/<option_list>/check")
@login_required
def check(option_list):
    """htmx: check the YAML being typed; show its choices and where they are offered."""
    issues, document = EDITOR.checked(option_list)
    return render_template(
        "admin_options/check.html",
        issues=issues,
        document=document,
        users=_offered_by(option_list) if document else [],
    )


def _offered_by(name: str) -> list[tuple[str, str]]:
    """(form or report label, field) of everything that offers the live list ``name``."""
    reg, here = registry(), locale()
    found = []
    for kind, owner, path in reg.metadata.option_users.get(name, ()):
        if kind == "form":
            found.append((reg.form(owner).label(here), path))
        else:
            found.append((label_text(reg.report(owner).label, here), path))
    return found
