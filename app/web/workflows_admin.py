"""Admin pages to edit workflows live (see metadata_admin): a form's states, transitions and
approval levels. The preview draws the flow being typed as the people in it will meet it — each
state, and for each transition who fires it, under which condition, who approves and what it
does — so the admin reads the process, not only the YAML. The designer beside the YAML (设计)
changes states, transitions and approval levels in forms (``app.meta.flow_design``) and what each
transition does, its actions and their parameters (``app.workflow.action_design``)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required
from markupsafe import Markup

from app.i18n import _
from app.meta import flow_design
from app.meta.flow_design import places
from app.meta.forms import FormDef, label_text
from app.meta.records import locale
from app.meta.registry import WORKFLOWS
from app.web.flow_diagram import diagram
from app.web.forms_common import registry
from app.web.metadata_admin import Editor, install, role_choices
from app.web.session import db_session
from app.workflow import action_design, editing
from app.workflow.actions import installed_actions

bp = Blueprint("workflows_admin", __name__, url_prefix="/admin/workflows")

NEW_WORKFLOW_TEMPLATE = """form: {name}
label: {{zh_CN: 新流程, en: New flow}}
initial: draft
states:
  draft: {{label: {{zh_CN: 草稿, en: Draft}}, editable: true}}
  in_approval: {{label: {{zh_CN: 审批中, en: In approval}}}}
  approved: {{label: {{zh_CN: 已审批, en: Approved}}, final: true}}
transitions:
  - name: submit
    from: draft
    to: approved
    label: {{zh_CN: 提交审批, en: Submit}}
    approval:
      pending: in_approval
      reject_to: draft
      levels:
        - name: manager
          label: {{zh_CN: 店长审批, en: Manager}}
          approvers: {{manager: true}}
"""


def _listing(reg) -> list[tuple[str, str]]:
    """Every form's workflow, named by its form, labelled by the workflow's own label."""
    workflows = reg.metadata.workflows
    return [
        (name, label_text(workflows[name].data.get("label"), locale()) or name)
        for name in sorted(workflows)
    ]


EDITOR = Editor(
    blueprint=bp,
    kind=WORKFLOWS,
    param="workflow",
    new_yaml=NEW_WORKFLOW_TEMPLATE,
    find=lambda reg, name: reg.metadata.workflows.get(name),
    live_text=lambda reg, name: reg.metadata.workflows[name].text,
    listing=_listing,
    words={
        "title": lambda: _("Workflows"),
        "new": lambda: _("New workflow"),
        "edit": lambda: _("Edit workflow"),
        "name_label": lambda: _("The form it runs"),
        "column": lambda: _("Workflow"),
        "bad_name": lambda: _("A form name is lower_snake_case: letters, digits and _."),
        "name_in_use": lambda name: _("The form '%(name)s' already has a workflow.", name=name),
    },
    preview="check",
    rights_per_name=True,  # whoever may administer a form may change its flow
    aside=lambda: Markup(render_template("admin_workflows/actions.html", actions=palette())),
    designer="design",
)
install(EDITOR)


def palette() -> list[dict]:
    """The actions a transition may run — built-in and installed plugins alike — with what each
    does (its ``label``) and its parameters, required ones first."""
    registry = installed_actions()
    found = []
    for name in registry.names():
        action = registry.get(name)
        schema = action.params_schema
        required = schema.get("required", [])
        params = sorted(schema.get("properties", {}), key=lambda p: (p not in required, p))
        found.append({"name": name, "label": label_text(action.label, locale()), "params": params,
                      "required": set(required)})  # fmt: skip
    return found


@bp.post("/<workflow>/check")
@login_required
def check(workflow):
    """htmx: check the YAML being typed and draw the flow it defines."""
    issues, form = EDITOR.checked(workflow)
    held = editing.records_by_state(db_session(), workflow)
    return render_template(
        "admin_workflows/check.html",
        issues=issues,
        flow=outline(form, held) if form else None,
        diagram=diagram(form) if form else None,
    )


def outline(form: FormDef, held: dict[str, int]) -> dict:
    """The flow of ``form``'s workflow in the reader's words: states (with how many records are
    ``held`` in each now) and transitions with their labels, roles, conditions, approval levels
    and actions."""
    here = locale()
    workflow = form.workflow
    roles = registry().metadata.roles

    def state(name: str) -> str:
        return label_text(workflow["states"].get(name, {}).get("label"), here) or name

    def role_names(names) -> list[str]:
        return [label_text(roles.get(n, {}).get("label"), here) or n for n in names or ()]

    def approvers(spec: dict) -> list[str]:
        who = role_names(spec.get("roles"))
        who += list(spec.get("users") or ())
        if spec.get("manager") == "region":
            who.append(_("the manager of its region (区域经理)"))
        elif spec.get("manager"):
            who.append(_("the manager of the record's location"))
        if spec.get("expr"):
            who.append(spec["expr"])
        return who

    def transition(spec: dict) -> dict:
        sources = spec["from"] if isinstance(spec["from"], list) else [spec["from"]]
        approval = spec.get("approval") or {}
        return {
            "name": spec["name"],
            "label": label_text(spec.get("label"), here) or spec["name"],
            "from": [state(s) for s in sources],
            "to": state(spec["to"]),
            "roles": role_names(spec.get("roles")),
            "condition": spec.get("condition"),
            "comment": spec.get("comment", "none"),
            "signature": spec.get("signature", False),
            "pending": state(approval["pending"]) if approval else None,
            "levels": [
                {
                    "label": label_text(level.get("label"), here) or level["name"],
                    "approvers": approvers(level["approvers"]),
                    "all": level.get("mode") == "all",
                    "when": level.get("when"),
                    "signature": level.get("signature", False),
                    "hours": level.get("time_limit_hours"),
                }
                for level in approval.get("levels", ())
            ],
            "actions": [
                (step["action"], step.get("when"), action_label(step["action"]))
                for step in spec.get("actions", ())
            ],
        }

    return {
        "label": label_text(workflow.get("label"), here) or form.name,
        "form": form.label(here),
        "states": [
            {
                "name": name,
                "label": state(name),
                "initial": name == workflow["initial"],
                "final": spec.get("final", False),
                "editable": spec.get("editable", False)
                or bool((spec.get("fields") or {}).get("editable")),
                "rules": len(spec.get("submit_rules", ())),
                "records": held.get(name, 0),
            }
            for name, spec in workflow["states"].items()
        ],
        "transitions": [transition(spec) for spec in workflow.get("transitions", ())],
    }


def action_label(name: str) -> str:
    """What the installed action ``name`` does, in the reader's language ("" if not installed)."""
    registry = installed_actions()
    return label_text(registry.get(name).label, locale()) if name in registry else ""


def _roles() -> list[str]:
    return _names(role_choices())


def form_fields(workflow: str) -> list[tuple[str, str]]:
    """The fields of the form a workflow runs, each table's fields after it, as (name, label):
    what an action's parameter may name."""
    form, here, found = registry().form(workflow), locale(), {}
    for field in form.fields if form else ():
        found.setdefault(field.name, field.label(here))
        for line_field in field.fields:
            found.setdefault(line_field.name, f"{line_field.label(here)} ({field.label(here)})")
    return list(found.items())


def rights_fields(workflow: str) -> list[tuple[str, str, bool]]:
    """The form's own fields as a state's rights tick them: (name, label, computed — never
    changed by hand, whatever the rights say)."""
    form, here = registry().form(workflow), locale()
    return [
        (field.name, field.label(here), field.computed) for field in (form.fields if form else [])
    ]


def _names(fields: list[tuple[str, str]]) -> list[str]:
    return [name for name, _label in fields]


def _add_step(text: str, form) -> str:
    fields = set(_names(form_fields(request.view_args["workflow"])))
    return action_design.add_step(text, form["path"], form, fields)


def _state_rights(text: str, form) -> str:
    fields = [name for name, _label, _computed in rights_fields(request.view_args["workflow"])]
    return flow_design.update_state_rights(text, form["state"], form, fields, _roles())


#: The designer's changes: what each ``op`` does to the text, given the request's form.
CHANGES = {
    "state": lambda text, form: flow_design.update_state(text, form["state"], form),
    "state_rights": _state_rights,
    "flow": lambda text, form: flow_design.update_flow(text, form),
    "state_add": lambda text, form: flow_design.add_state(text, form),
    "state_remove": lambda text, form: flow_design.remove_state(text, form["state"]),
    "update": lambda text, form: flow_design.update_transition(text, form["path"], form, _roles()),
    "add": lambda text, form: flow_design.add_transition(text, form),
    "up": lambda text, form: flow_design.move_transition(text, form["path"], -1),
    "down": lambda text, form: flow_design.move_transition(text, form["path"], 1),
    "remove": lambda text, form: flow_design.remove_transition(text, form["path"]),
    "level": lambda text, form: flow_design.update_level(text, form["path"], form, _roles()),
    "level_add": lambda text, form: flow_design.add_level(text, form["path"], form),
    "level_up": lambda text, form: flow_design.move_level(text, form["path"], -1),
    "level_down": lambda text, form: flow_design.move_level(text, form["path"], 1),
    "level_remove": lambda text, form: flow_design.remove_level(text, form["path"]),
    "step": lambda text, form: action_design.update_step(text, form["path"], form),
    "step_add": _add_step,
    "step_up": lambda text, form: action_design.move_step(text, form["path"], -1),
    "step_down": lambda text, form: action_design.move_step(text, form["path"], 1),
    "step_remove": lambda text, form: action_design.remove_step(text, form["path"]),
}


@bp.post("/<workflow>/design")
@login_required
def design(workflow):
    """htmx: the flow's states, transitions, approval levels and actions as forms, drawn from the
    YAML being edited after the change ``op`` asks for (see ``Editor.designed``)."""
    found = EDITOR.designed(workflow, CHANGES, action_design.view)
    flow, refused, op = found.pop("drawn"), found["refused"], found["op"]
    path = found["path"] = found["path"] or request.form.get("state")
    adding = op in ("add", "state_add") or (
        op in ("level_add", "step_add") and flow and path in places(flow)
    )
    return render_template(
        "admin_workflows/designer.html", flow=flow, **found,
        placed=refused is not None and flow is not None and (adding or path in places(flow)),
        roles=role_choices(), actions=palette(), fields=form_fields(workflow),
        rights_fields=rights_fields(workflow), locale=locale(),
    )  # fmt: skip
