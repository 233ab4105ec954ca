"""A workflow drawn for the admin editing it: the states as boxes in columns, left to right by
how many moves each is from the initial state; moves forward as straight arrows, moves within a
column straight up or down, moves back as arcs (over the top row between two of its boxes, else
under every box). Laid out here, drawn as SVG by ``admin_workflows/check.html``."""

from __future__ import annotations

from dataclasses import dataclass

from app.i18n import _
from app.meta.forms import FormDef, label_text
from app.meta.records import locale

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
        "label": label_text(workflow.get("label"), here) or form.name,
        "boxes": list(boxes.values()),
        "arrows": arrows,
        "width": MARGIN * 2 + (max(column.values()) + 1) * COLUMN - (COLUMN - BOX_W),
        "height": bottom + MARGIN + (LANE * len(under) + 20 if under else 0),
        "box_w": BOX_W,
        "box_h": BOX_H,
    }
