"""Admin pages to edit forms live (see metadata_admin); the preview renders the form, and the
visual designer (设计) beside the YAML lets an admin who has never written YAML name, label, switch,
order, add and remove fields: each change is made to the YAML text (``app.meta.form_design``),
which the preview then checks as if it had been typed."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from app.i18n import _, _l
from app.meta import (
    account_design,
    allocation_design,
    form_design,
    list_design,
    make_design,
    reminder_design,
    section_design,
    versions,
)
from app.meta.forms import UNFLOWED_STATE, label_text
from app.meta.loader import MASTER_ENTITIES
from app.meta.records import locale
from app.meta.registry import FORMS
from app.web.forms_common import registry
from app.web.forms_pages import Display
from app.web.metadata_admin import Editor, install
from app.web.session import db_session

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
    designer="design",
)
install(EDITOR)

#: The field types the designer offers: those that a name and labels define, with a shared
#: option list (a choice), a link target, a formula or what a scan fills, and tables.
DESIGNED_TYPES = {
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
    "udi": _l("Scan (GS1 / UDI barcode)"),
    "formula": _l("Worked out (formula)"),
    "table": _l("Table of lines"),
    "current_user": _l("Who entered it"),
    "current_time": _l("When it was entered"),
}


def field_choices() -> dict:
    """What the designer offers: the types, the shared option lists, link targets."""
    reg, here = registry(), locale()
    lists = reg.metadata.option_lists
    return {
        "types": DESIGNED_TYPES,
        "option_lists": [(n, label_text(lists[n].data["label"], here)) for n in sorted(lists)],
        "targets": [*MASTER_ENTITIES, *sorted(reg.forms)],
        "scan_parts": {
            "item": _("Item"), "gtin": _("GTIN"), "lot": _("Lot"), "expiry_date": _("Expiry date"),
            "serial": _("Serial number"), "production_date": _("Production date"),
        },
    }  # fmt: skip


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


def _made() -> dict:
    """What a record may make (参照生单): each form, with its label in both languages, the
    fields a new record may be given (not tables, not computed) and its tables with theirs, each
    field as (name, label in the reader's language)."""
    here = locale()

    def given(fields):
        return [(f.name, f.label(here)) for f in fields if f.type != "table" and not f.computed]

    return {
        name: ((form.label("zh_CN"), form.label("en")), given(form.fields),
               {t.name: given(t.fields) for t in form.fields if t.type == "table"})
        for name, form in sorted(registry().forms.items())
    }  # fmt: skip


def _add_make(text: str, form) -> str:
    """A new 参照生单 entry making the form chosen."""
    made = _made()
    fields_of = {name: _names(given) for name, (_labels, given, _tables) in made.items()}
    labels = {name: labels for name, (labels, _given, _tables) in made.items()}
    return make_design.add_make(text, form, fields_of, labels)


def _update_make(text: str, form) -> str:
    """One 参照生单 entry, with the form it makes as the registry has it."""
    entries = make_design.view_of(form_design.parse(text)) or []
    entry = next((e for e in entries if e.path == form.get("path")), None)
    _labels, given, tables = _made().get(entry.form if entry else "", ((), [], {}))
    return make_design.update_make(
        text, form.get("path", ""), form, _names(_states(request.view_args["form"])),
        {table: _names(fields) for table, fields in tables.items()}, _names(given),
    )  # fmt: skip


def _states(name: str) -> list[tuple[str, str]]:
    """The states a record of the form may be in, each with its label in the reader's language:
    its published workflow's, or, for a form without one (a new form among them), the one state
    its records are in."""
    source = registry().form(name)
    here = locale()
    if source is None or not source.workflow:
        return [("draft", label_text(UNFLOWED_STATE, here))]
    return [(state, source.state_label(state, here)) for state in source.workflow["states"]]


def _roles() -> list[tuple[str, str]]:
    """The roles there are, each with its label in the reader's language."""
    here = locale()
    roles = registry().metadata.roles
    return [(name, label_text(role.get("label"), here) or name) for name, role in roles.items()]


def _names(pairs) -> list[str]:
    """The names of (name, label) pairs: what a designer's change checks a choice against."""
    return [name for name, _label in pairs]


def _held():
    """How many records of the form being designed hold a value at a field path."""
    form = request.view_args["form"]
    return lambda path: versions.records_with_values(db_session(), form, path)


#: The designer's changes: what each ``op`` does to the text, given the request's form.
CHANGES = {
    "form": lambda text, form: form_design.update_form(text, form, [name for name, _ in _menus()]),
    "update": lambda text, form: form_design.update_field(text, form["path"], form, _held()),
    "add": lambda text, form: form_design.add_field(text, form.get("path", ""), form),
    "up": lambda text, form: form_design.move_field(text, form["path"], -1),
    "down": lambda text, form: form_design.move_field(text, form["path"], 1),
    "remove": lambda text, form: form_design.remove_field(text, form["path"]),
    "list": list_design.update_list,
    "make_add": _add_make,
    "make": _update_make,
    "make_up": lambda text, form: make_design.move_make(text, form["path"], -1),
    "make_down": lambda text, form: make_design.move_make(text, form["path"], 1),
    "make_remove": lambda text, form: make_design.remove_make(text, form["path"]),
    "allocation": lambda text, form: allocation_design.update_set(text, form.get("path", ""), form),
    "duty": lambda text, form: reminder_design.update_duty(
        text, form, _names(_states(request.view_args["form"])), _names(_roles())
    ),
    "deadline": lambda text, form: reminder_design.update_deadline(
        text, form, _names(_states(request.view_args["form"])), _names(_roles())
    ),
    "account": lambda text, form: account_design.update_account(
        text, form, _names(_states(request.view_args["form"]))
    ),
    "section_add": section_design.add_section,
    "section_update": lambda text, form: section_design.update_section(text, form["path"], form),
    "section_up": lambda text, form: section_design.move_section(text, form["path"], -1),
    "section_down": lambda text, form: section_design.move_section(text, form["path"], 1),
    "section_remove": lambda text, form: section_design.remove_section(text, form["path"]),
}


def _drawn(text: str):
    """The form's settings, its fields, its sections, its record list and what its records make,
    for the designer: one reading."""
    document = form_design.parse(text)
    kinds = allocation_design.kinds_of(document, {
        name: option_list.data["options"]
        for name, option_list in registry().metadata.option_lists.items()
    })  # fmt: skip
    return (*form_design.view_of(document), section_design.view_of(document),
            list_design.view_of(document), make_design.view_of(document),
            allocation_design.view_of(document, list(kinds)), kinds,
            reminder_design.view_of(document), reminder_design.deadline_of(document),
            account_design.view_of(document))  # fmt: skip


@bp.post("/<form>/design")
@login_required
def design(form):
    """htmx: the designer drawn from the YAML being edited, after the change ``op`` asks for; a
    refused one leaves the text alone and says why, on the input it concerns."""
    found = EDITOR.designed(form, CHANGES, _drawn)
    drawn = found.pop("drawn") or (None,) * 10
    form_settings, fields, sections, listing, makes, allocation, kinds, duty, deadline, account = (
        drawn
    )
    return render_template(
        "admin_forms/designer.html", fields=fields, form_settings=form_settings, form_name=form,
        sections=sections, listing=listing, makes=makes, made=_made(), allocation=allocation,
        kinds=kinds, duty=duty, deadline=deadline, account=account, roles=_roles(),
        menus=_menus(),
        states=_states(form),
        locale=locale(), **found, **field_choices(),
        record_columns={"number": _("Number"), "state": _("State"), "created_at": _("Created at"),
                        "updated_at": _("Changed at"), "created_by": _("Created by")},
    )  # fmt: skip


def _menus() -> list[tuple[str, str]]:
    """The navigation menus the settings declare: (name, label in the reader's language)."""
    here = locale()
    menus = registry().metadata.settings.get("menus", [])
    return [(menu["name"], label_text(menu["label"], here)) for menu in menus]
