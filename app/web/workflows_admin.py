"""Admin pages to edit workflows live (see metadata_admin): a form's states, transitions and
approval levels. The preview draws the flow being typed as the people in it will meet it — each
state, and for each transition who fires it, under which condition, who approves and what it
does — so the admin reads the process, not only the YAML."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template
from flask_login import login_required
from markupsafe import Markup

from app.i18n import _
from app.meta.forms import FormDef, label_text
from app.meta.records import locale
from app.meta.registry import WORKFLOWS
from app.web.forms_common import registry
from app.web.metadata_admin import Editor, install
from app.web.session import db_session
from app.workflow import editing
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
        if spec.get("manager"):
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
            "actions": [action["action"] for action in spec.get("actions", ())],
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


#: The diagram's measures, in SVG units: a state's box, the gaps between columns and rows, the
#: room each arc going back takes.
BOX_W, BOX_H, COLUMN, ROW, MARGIN, LANE = 132, 36, 236, 64, 16, 22


@dataclass
class Arrow:
    source: str
    target: str
    label: str
    dashed: bool = False
    path: str = ""
    anchor: str = "middle"
    label_x: float = 0
    label_y: float = 0


def _arrows(workflow: dict, label) -> list[Arrow]:
    """Every way a record moves: a transition's sources to its target, or — with an approval —
    to the waiting state, on to the target once approved, back where a rejection sends it."""
    arrows = []
    for t in workflow.get("transitions", ()):
        sources = t["from"] if isinstance(t["from"], list) else [t["from"]]
        approval = t.get("approval")
        first = approval["pending"] if approval else t["to"]
        arrows += [Arrow(source, first, label(t)) for source in sources]
        if approval:
            arrows.append(Arrow(first, t["to"], _("approved")))
            back = approval.get("reject_to")
            if back in workflow["states"]:
                arrows.append(Arrow(first, back, _("rejected"), dashed=True))
    return arrows


def _columns(workflow: dict, arrows: list[Arrow]) -> dict[str, int]:
    """Each state's column: how many moves it is from the initial state (unreached ones last)."""
    column = {workflow["initial"]: 0}
    frontier = [workflow["initial"]]
    while frontier:
        following = []
        for arrow in arrows:
            if arrow.source in frontier and arrow.target not in column and not arrow.dashed:
                column[arrow.target] = column[arrow.source] + 1
                following.append(arrow.target)
        frontier = following
    last = max(column.values()) + 1
    return {name: column.get(name, last) for name in workflow["states"]}


def _arc(arrow: Arrow, a: dict, b: dict, lane: float) -> None:
    """A move back drawn as an arc from the bottom (or, with ``lane`` above the boxes, the top)
    of ``a`` to that of ``b``, through the horizontal line ``lane``."""
    x1, x2 = a["x"] + BOX_W / 2 + 8, b["x"] + BOX_W / 2 - 8
    over = lane < a["y"]
    y1, y2 = (a["y"], b["y"] - 2) if over else (a["y"] + BOX_H, b["y"] + BOX_H + 2)
    arrow.path = f"M{x1},{y1} C{x1},{lane} {x2},{lane} {x2},{y2}"
    middle = 0.75 * lane + 0.125 * (y1 + y2)
    arrow.label_x, arrow.label_y = (x1 + x2) / 2, middle - 5 if over else middle + 13


def diagram(form: FormDef) -> dict:
    """The flow as boxes and arrows for an SVG: states in columns left to right by their distance
    from the initial state; moves forward as straight arrows, moves back as arcs — over the top
    row between two of its boxes, else under every box."""
    here, workflow = locale(), form.workflow
    arrows = _arrows(workflow, lambda t: label_text(t.get("label"), here) or t["name"])
    column = _columns(workflow, arrows)
    place, rows = {}, {}
    for name in workflow["states"]:
        place[name] = (column[name], rows.setdefault(column[name], 0))
        rows[column[name]] += 1
    back = [
        a for a in arrows
        if place[a.target][0] < place[a.source][0] or place[a.target] == place[a.source]
    ]  # fmt: skip
    over = [a for a in back if place[a.source][1] == place[a.target][1] == 0]
    under = [a for a in back if all(a is not o for o in over)]
    top = MARGIN + (LANE * len(over) + 14 if over else 0)
    boxes = {
        name: {
            "name": name,
            "label": label_text(spec.get("label"), here) or name,
            "x": MARGIN + place[name][0] * COLUMN,
            "y": top + place[name][1] * ROW,
            "initial": name == workflow["initial"],
            "final": spec.get("final", False),
        }
        for name, spec in workflow["states"].items()
    }
    bottom = max(box["y"] for box in boxes.values()) + BOX_H
    for arrow in arrows:
        a, b = boxes[arrow.source], boxes[arrow.target]
        if b["x"] > a["x"]:  # forward: right edge to left edge
            x1, y1, x2, y2 = a["x"] + BOX_W, a["y"] + BOX_H / 2, b["x"], b["y"] + BOX_H / 2
            arrow.path = f"M{x1},{y1} L{x2 - 2},{y2}"
            arrow.label_x, arrow.label_y = (x1 + x2) / 2, (y1 + y2) / 2 - 5
        elif b["x"] == a["x"] and b["y"] != a["y"]:  # within a column: straight up or down
            x = a["x"] + BOX_W / 2
            down = b["y"] > a["y"]
            y1, y2 = (a["y"] + BOX_H, b["y"] - 2) if down else (a["y"], b["y"] + BOX_H + 2)
            arrow.path = f"M{x},{y1} L{x},{y2}"
            arrow.label_x, arrow.label_y = x + 6, (y1 + y2) / 2 + 4
            arrow.anchor = "start"
    for lane, arrow in enumerate(over):
        _arc(arrow, boxes[arrow.source], boxes[arrow.target], top - 14 - LANE * lane)
    for lane, arrow in enumerate(under, 1):
        _arc(arrow, boxes[arrow.source], boxes[arrow.target], bottom + 14 + LANE * lane)
    return {
        "boxes": list(boxes.values()),
        "arrows": arrows,
        "width": MARGIN * 2 + (max(column.values()) + 1) * COLUMN - (COLUMN - BOX_W),
        "height": bottom + MARGIN + (LANE * len(under) + 20 if under else 0),
        "box_w": BOX_W,
        "box_h": BOX_H,
    }
