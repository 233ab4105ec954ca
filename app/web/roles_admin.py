"""The admin page to edit the roles live (``metadata/roles.yaml``, see metadata_admin): who may
read, create, change, delete, export and fire which transitions on each form, see which reports,
and over which locations. The preview draws the permission matrix the text gives — every form
against every role — so the admin checks who may do what before it goes live. A role that people
hold cannot be removed, and someone active must stay an administrator (``versions``). The
designer beside the YAML (设计) ticks the same rights in a grid, role by role
(``app.meta.role_design``)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from app.i18n import _
from app.meta import role_design
from app.meta.access import role_allows
from app.meta.forms import label_text
from app.meta.records import locale
from app.meta.registry import ROLES
from app.meta.role_design import FormInfo
from app.web.forms_common import registry
from app.web.metadata_admin import install, single_file

bp = Blueprint("roles_admin", __name__, url_prefix="/admin/roles")

EDITOR = single_file(
    bp,
    ROLES,
    lambda reg: reg.metadata.roles_document,
    lambda: _("Roles and rights"),
    lambda: _("Edit roles and rights"),
    designer="design",
)
install(EDITOR)

#: The form actions, as the matrix abbreviates them (the legend spells them out).
ACTIONS = (("read", "R"), ("create", "C"), ("update", "U"), ("delete", "D"), ("export", "E"))


@bp.post("/<roles>/check")
@login_required
def check(roles):
    """htmx: check the YAML being typed and draw its permission matrix."""
    EDITOR.known(roles)
    issues, document = EDITOR.checked(roles)
    return render_template("admin_roles/check.html", issues=issues,
                           matrix=matrix(document.data["roles"]) if document else None)  # fmt: skip


def matrix(roles: dict) -> dict:
    """Every role (label, scope, flags, reports) and, per form, what each role may do there."""
    reg, here = registry(), locale()
    columns = [
        {
            "name": name,
            "label": label_text(role.get("label"), here) or name,
            "scope": role.get("scope"),
            "flags": [flag for flag in role_design.FLAGS if role.get(flag)],
            "reports": role.get("reports", []),
        }
        for name, role in roles.items()
    ]
    rows = []
    for name, form in sorted(reg.forms.items()):
        transitions = [t["name"] for t in (form.workflow or {}).get("transitions", [])]
        cells = []
        for role in roles.values():
            letters = "".join(mark for action, mark in ACTIONS if role_allows(role, action, name))
            fired = sum(role_allows(role, f"transition:{t}", name) for t in transitions)
            cells.append(letters + (f" T{fired}/{len(transitions)}" if fired else ""))
        rows.append({"name": name, "label": form.label(here), "cells": cells})
    return {"columns": columns, "rows": rows}


def live_choices() -> tuple[dict[str, FormInfo], dict[str, str]]:
    """The live forms (label, transitions) and reports (label) the grid lists, by name."""
    reg, here = registry(), locale()
    forms = {
        name: FormInfo(
            form.label(here),
            tuple(
                (t["name"], label_text(t.get("label"), here) or t["name"])
                for t in (form.workflow or {}).get("transitions", [])
            ),
        )
        for name, form in sorted(reg.forms.items())
    }
    reports = {}
    for name in sorted(reg.metadata.reports):
        report = reg.report(name)
        reports[name] = label_text(report.label, here) if report else name
    return forms, reports


def _grid(text: str) -> tuple[list[tuple[str, str]], role_design.RoleView | None]:
    """Every role's name and label, and the grid of the role asked for (the one just added, or
    the first when it is not there)."""
    form = request.form
    role = form.get("name", "").strip() if form.get("op") == "add" else form.get("role", "")
    return role_design.grid(text, role, *live_choices())


CHANGES = {
    "update": lambda text, form: role_design.update_role(
        text, form.get("role", ""), form, *live_choices()
    ),
    "add": lambda text, form: role_design.add_role(text, form),
    "remove": lambda text, form: role_design.remove_role(text, form.get("role", "")),
}


@bp.post("/<roles>/design")
@login_required
def design(roles):
    """htmx: the rights grid of one role, drawn from the YAML being edited after the change
    ``op`` asks for (see ``Editor.designed``)."""
    EDITOR.known(roles)
    found = EDITOR.designed(roles, CHANGES, _grid)
    names, view = found.pop("drawn") or ([], None)
    return render_template(
        "admin_roles/designer.html", names=names, view=view, **found, actions=ACTIONS
    )
