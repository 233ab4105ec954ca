"""Admin pages to edit forms live (see metadata_admin); the preview renders the form."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from app.i18n import _
from app.meta.records import locale
from app.meta.registry import FORMS
from app.web.forms_pages import Display
from app.web.metadata_admin import Editor, install

bp = Blueprint("forms_admin", __name__, url_prefix="/admin/forms")

NEW_FORM_TEMPLATE = """name: {name}
label: {{zh_CN: 新表单, en: New form}}
kind: document
fields:
  - name: note
    type: text
    label: {{zh_CN: 备注, en: Note}}
"""

EDITOR = Editor(
    blueprint=bp,
    kind=FORMS,
    param="form",
    new_yaml=NEW_FORM_TEMPLATE,
    find=lambda reg, name: reg.form(name),
    live_text=lambda reg, name: reg.form(name).yaml_text,
    listing=lambda reg: [(name, reg.forms[name].label(locale())) for name in sorted(reg.forms)],
    words={
        "title": lambda: _("Forms"),
        "new": lambda: _("New form"),
        "edit": lambda: _("Edit form"),
        "name_label": lambda: _("Form name"),
        "column": lambda: _("Form"),
        "bad_name": lambda: _("A form name is lower_snake_case: letters, digits and _."),
        "name_in_use": lambda name: _("The form '%(name)s' already exists.", name=name),
    },
    preview="check",
    rights_per_name=True,
)
install(EDITOR)


@bp.post("/<form>/check")
@login_required
def check(form):
    """htmx: check the YAML being typed and preview the resulting form."""
    issues, definition = EDITOR.checked(form)
    return render_template(
        "admin_forms/check.html",
        issues=issues,
        form=definition,
        values={},
        errors={},
        visible={},
        locale=locale(),
        display=Display(definition) if definition else None,
    )
