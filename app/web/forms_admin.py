"""Admin pages to edit forms live (see metadata_admin); the preview renders the form, and a
helper under the editor writes a new field's YAML line from a name, a type and two labels — so an
admin who has never written YAML adds a field, and sees the line it makes."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from markupsafe import Markup

from app.i18n import _, _l
from app.meta.forms import label_text
from app.meta.loader import MASTER_ENTITIES
from app.meta.records import locale
from app.meta.registry import FORMS
from app.web.forms_common import registry
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
    aside=lambda: Markup(render_template("admin_forms/add_field.html", **field_helper())),
)
install(EDITOR)

#: The field types the helper offers: those that a name and labels define, with a shared option
#: list (a choice) or a link target; a table, a formula or a scan field is written in the YAML.
SIMPLE_TYPES = {
    "text": _l("Text"),
    "long_text": _l("Long text"),
    "integer": _l("Whole number"),
    "decimal": _l("Decimal number"),
    "money": _l("Amount of money"),
    "percent": _l("Percentage"),
    "date": _l("Date"),
    "datetime": _l("Date and time"),
    "boolean": _l("Yes or no"),
    "select": _l("One choice of a list"),
    "multiselect": _l("Several choices of a list"),
    "link": _l("Link to a record"),
    "lot": _l("Lot number"),
    "serial": _l("Serial number"),
    "expiry_date": _l("Expiry date"),
    "barcode": _l("Barcode"),
    "attachment": _l("Attachment"),
    "current_user": _l("Who entered it"),
    "current_time": _l("When it was entered"),
}


def field_helper() -> dict:
    """What the add-a-field helper offers: the types, the shared option lists, link targets."""
    reg, here = registry(), locale()
    lists = reg.metadata.option_lists
    return {
        "types": SIMPLE_TYPES,
        "option_lists": [(n, label_text(lists[n].data["label"], here)) for n in sorted(lists)],
        "targets": [*MASTER_ENTITIES, *sorted(reg.forms)],
    }


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
