"""The workflow designer's changes to a form's flow: states, transitions and approval levels set
in a form, not typed.

An admin reshapes an approval flow — who may submit, which states a transition leaves and
reaches, whether it needs approval, each approval level's approvers (roles, the location's
manager, named people), 或签 / 会签, signature and time limit — and adds, orders and removes
states, transitions and levels. Each change is made to the text being edited (``yaml_edit``), so
the flow drawing, the checks (no record may be stranded in a removed state, no approval lose its
transition) and the version diff work as for a typed change. Each state's field rights (which
fields may be changed there and by whom, which are shown) are ticked in a grid; actions are
``app.workflow.action_design``'s.

Transitions are addressed by position (``"1"``), approval levels by transition and position
(``"1.0"``); states by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _
from app.meta import yaml_edit
from app.meta.yaml_edit import DesignRefused

COMMENTS = ("none", "optional", "required")
MODES = ("any", "all")
STATE_KEYS = ("label", "editable", "final", "fields", "submit_rules")
RIGHTS_KEYS = ("editable", "visible", "roles")
TRANSITION_KEYS = ("name", "from", "to", "label", "roles", "condition", "condition_message",
                   "skip_submit_rules", "comment", "signature", "allow_creator")  # fmt: skip
LEVEL_KEYS = ("name", "label", "approvers", "mode", "when", "reject_to", "signature",
              "allow_creator", "time_limit_hours")  # fmt: skip
APPROVAL_KEYS = ("pending", "reject_to", "cc", "withdraw", "levels", "on_pending", "on_reject")


@dataclass
class StateView:
    name: str
    label_zh: str
    label_en: str
    editable: bool
    final: bool
    other_keys: list[str]
    #: what must hold before a record leaves the state: (condition, field named, message zh, en)
    rules: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: the state's field rights: the fields that may be changed here (when the state is not
    #: editable as a whole), the only ones shown (None: all), the roles that may change them
    editable_fields: list[str] = field(default_factory=list)
    visible_fields: list[str] | None = None
    rights_roles: list[str] = field(default_factory=list)


#: A level's ``manager`` as the designer offers it: its form value → its YAML value.
MANAGERS = {"location": True, "region": "region"}


@dataclass
class Approvers:
    roles: list[str]
    #: "location", "region" (``MANAGERS``) or "" for none
    manager: str
    users: str
    #: whoever an expression over the record names (user ids)
    expr: str = ""


@dataclass
class LevelView:
    path: str
    name: str
    label_zh: str
    label_en: str
    roles: list[str]
    manager: str
    users: str
    mode: str
    when: str
    #: where a rejection at this level sends the record: a state or an earlier level ("" for
    #: the approval's own)
    reject_to: str
    #: or whoever an expression over the record names (user ids: a field holding a user)
    expr: str
    signature: bool
    #: whoever created the record may approve it at this level
    allow_creator: bool
    time_limit_hours: str
    other_keys: list[str]


@dataclass
class TransitionView:
    path: str
    name: str
    label_zh: str
    label_en: str
    sources: list[str]
    to: str
    roles: list[str]
    condition: str
    #: what the reader is told when the condition does not hold (Chinese, English)
    condition_zh: str
    condition_en: str
    #: fired without the entry rules of the state it leaves (cancelling an empty draft)
    skip_submit_rules: bool
    comment: str
    signature: bool
    #: whoever created the record may fire it past its first state (else segregation of duties)
    allow_creator: bool
    actions: list[str]
    #: the actions it runs, drawn for the designer by ``app.workflow.action_design``, and those
    #: its approval runs as the record starts waiting and when it is rejected (by hook)
    steps: list = field(default_factory=list)
    hooks: dict = field(default_factory=dict)
    pending: str = ""
    reject_to: str = ""
    #: who is copied once it is approved (抄送): roles, the location's manager, named people
    cc: Approvers | None = None
    #: whoever submitted it may take it back while it waits (撤回)
    withdraw: bool = True
    levels: list[LevelView] | None = None
    other_keys: list[str] = field(default_factory=list)


@dataclass
class FlowView:
    label_zh: str
    label_en: str
    initial: str
    states: list[StateView]
    transitions: list[TransitionView]


def parse(text: str) -> CommentedMap:
    document = yaml_edit.parse(
        text, _("The YAML is not a workflow: it must map states and transitions.")
    )
    if not isinstance(document.get("states"), CommentedMap):
        document["states"] = CommentedMap()
    if not isinstance(document.get("transitions"), CommentedSeq):
        document["transitions"] = CommentedSeq()
    return document


def view(text: str) -> FlowView:
    return view_of(parse(text))


def view_of(document: CommentedMap) -> FlowView:
    """The flow as the designer draws it, from a document ``parse`` read."""
    states = [
        StateView(name, *yaml_edit.label_of(raw), raw.get("editable") is True,
                  raw.get("final") is True, _state_others(raw), _rules_of(raw) or [],
                  *_rights_of(raw))
        for name, raw in document["states"].items()
        if isinstance(raw, dict)
    ]  # fmt: skip
    transitions = [
        _transition_view(str(index), raw)
        for index, raw in enumerate(document["transitions"])
        if isinstance(raw, dict)
    ]
    return FlowView(*yaml_edit.label_of(document), str(document.get("initial", "")), states,
                    transitions)  # fmt: skip


def places(flow: FlowView) -> set[str]:
    """Every state name, transition path and level path the designer draws a form for."""
    found = {state.name for state in flow.states}
    for transition in flow.transitions:
        found.add(transition.path)
        found.update(level.path for level in transition.levels or [])
        found.update(step.path for step in transition.steps)
        for hook, steps in transition.hooks.items():
            found.add(f"{transition.path}/{hook}")
            found.update(step.path for step in steps)
    return found


def _transition_view(path: str, raw) -> TransitionView:
    approval = raw.get("approval") if isinstance(raw.get("approval"), dict) else None
    sources, label = raw.get("from"), yaml_edit.label_of(raw)
    refusal = yaml_edit.label_of({"label": raw.get("condition_message")})
    shown = TransitionView(
        path=path, name=str(raw.get("name", "")), label_zh=label[0], label_en=label[1],
        sources=[str(s) for s in sources] if isinstance(sources, list) else [str(sources or "")],
        to=str(raw.get("to", "")), roles=yaml_edit.names_of(raw, "roles"),
        condition=yaml_edit.text_of(raw.get("condition")),
        condition_zh=refusal[0], condition_en=refusal[1],
        skip_submit_rules=raw.get("skip_submit_rules") is True,
        comment=str(raw.get("comment") or "none"),
        signature=raw.get("signature") is True, allow_creator=raw.get("allow_creator") is True,
        actions=[str(a.get("action")) for a in raw.get("actions") or [] if isinstance(a, dict)],
        other_keys=[key for key in raw if key not in (*TRANSITION_KEYS, "approval", "actions")],
    )  # fmt: skip
    if approval is not None:
        shown.pending = str(approval.get("pending", ""))
        shown.reject_to = str(approval.get("reject_to") or "")
        shown.cc = _approvers_view(approval.get("cc"))
        shown.withdraw = approval.get("withdraw") is not False
        shown.levels = [
            _level_view(f"{path}.{index}", level)
            for index, level in enumerate(approval.get("levels") or [])
            if isinstance(level, dict)
        ]
        shown.other_keys += [key for key in approval if key not in APPROVAL_KEYS]
    return shown


def _approvers_view(raw) -> Approvers:
    raw = raw if isinstance(raw, dict) else {}
    return Approvers(
        yaml_edit.names_of(raw, "roles"), _manager_view(raw.get("manager")),
        ", ".join(str(user) for user in raw.get("users") or []),
        yaml_edit.text_of(raw.get("expr")),
    )  # fmt: skip


def _manager_view(value) -> str:
    if value is True:
        return "location"
    return "region" if value == "region" else ""


def _level_view(path: str, raw) -> LevelView:
    approvers = yaml_edit.mapping_of(raw, "approvers")
    label, who = yaml_edit.label_of(raw), _approvers_view(approvers)
    return LevelView(
        path=path, name=str(raw.get("name", "")), label_zh=label[0], label_en=label[1],
        roles=who.roles, manager=who.manager, users=who.users,
        mode=str(raw.get("mode") or ""), when=yaml_edit.text_of(raw.get("when")),
        reject_to=str(raw.get("reject_to") or ""),
        signature=raw.get("signature") is True, allow_creator=raw.get("allow_creator") is True,
        time_limit_hours=yaml_edit.text_of(raw.get("time_limit_hours")),
        expr=who.expr, other_keys=[key for key in raw if key not in LEVEL_KEYS],
    )  # fmt: skip


# --- states ------------------------------------------------------------------------------------


def update_state(text: str, name: str, values: Mapping[str, str]) -> str:
    document = parse(text)
    raw = _state(document, name)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, STATE_KEYS)  # fmt: skip
    for switch in ("editable", "final"):
        yaml_edit.set_or_drop(raw, switch, True if values.get(switch) else None, STATE_KEYS)
    if "rule_expr" in values and _rules_of(raw) is not None:  # rows sent, none the YAML's alone
        _set_rules(raw, values)
    return yaml_edit.dump(document, text)


def _state_others(raw) -> list[str]:
    """What else a state carries that the designer does not edit."""
    others = [key for key in raw if key not in STATE_KEYS]
    if "submit_rules" in raw and _rules_of(raw) is None:
        others.append("submit_rules")
    return others


def _rules_of(raw) -> list[tuple[str, str, str, str]] | None:
    """A state's entry rules; None when one says more than the designer edits (``each``)."""
    return yaml_edit.checks_of(raw, "submit_rules")


def _set_rules(raw: CommentedMap, values) -> None:
    """The state's entry rules from the designer's rows (a row whose condition is cleared goes)."""
    unsaid = _("Say what is wrong when the rule fails, in Chinese or English.")
    yaml_edit.set_checks(raw, "submit_rules", values, STATE_KEYS, unsaid)


def _rights_of(raw) -> tuple[list[str], list[str] | None, list[str]]:
    rights = yaml_edit.mapping_of(raw, "fields")
    visible = rights.get("visible")
    return (
        yaml_edit.names_of(rights, "editable"),
        None if visible is None else [str(name) for name in visible],
        yaml_edit.names_of(rights, "roles"),
    )


def update_state_rights(text: str, name: str, values, fields: list[str], roles: list[str]) -> str:
    """Set which of the form's ``fields`` may be changed in the state and by which ``roles``,
    and whether only some are shown (``values`` a request's form: ``getlist`` for the ticks)."""
    document = parse(text)
    raw = _state(document, name)
    rights = raw.get("fields")
    if not isinstance(rights, CommentedMap):
        rights = _flow_map()
    editable = yaml_edit.ticked(rights.get("editable"), values.getlist("editable_fields"), fields)
    visible = None
    if values.get("limit_visible"):  # turned on, it starts from every field shown
        shown = values.getlist("visible_fields") if "visible" in rights else fields
        visible = yaml_edit.ticked(rights.get("visible"), shown, fields)
        if visible is None:
            raise DesignRefused(_("Tick the fields to show here, or show them all."),
                                "visible_fields")  # fmt: skip
    yaml_edit.set_or_drop(rights, "editable", editable, RIGHTS_KEYS)
    yaml_edit.set_or_drop(rights, "visible", visible, RIGHTS_KEYS)
    changers = yaml_edit.ticked(rights.get("roles"), values.getlist("roles"), roles)
    yaml_edit.set_or_drop(rights, "roles", changers, RIGHTS_KEYS)
    yaml_edit.set_or_drop(raw, "fields", rights or None, STATE_KEYS)
    return yaml_edit.dump(document, text)


def update_flow(text: str, values: Mapping[str, str]) -> str:
    """The flow's own label and the state a new record starts in."""
    document = parse(text)
    name = values.get("initial", "")
    _state(document, name)
    yaml_edit.set_or_drop(document, "initial", name)
    yaml_edit.set_label(document, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        str(document.get("form", "")), ("form", "label", "initial"))  # fmt: skip
    return yaml_edit.dump(document, text)


def add_state(text: str, values: Mapping[str, str]) -> str:
    document = parse(text)
    name = yaml_edit.new_name(values.get("name", ""), document["states"])
    state = _flow_map()
    yaml_edit.set_label(
        state, "label", values.get("label_zh", ""), values.get("label_en", ""), name
    )
    if values.get("final"):
        state["final"] = True
    document["states"][name] = state
    return yaml_edit.dump(document, text)


def remove_state(text: str, name: str) -> str:
    """Remove a state no transition or approval refers to (the publish refuses it while records
    are in it)."""
    document = parse(text)
    _state(document, name)
    if document.get("initial") == name:
        raise DesignRefused(_("The flow starts in %(state)s: choose another first state first.",
                              state=name))  # fmt: skip
    users = [t.name for t in view(text).transitions if name in _states_named(t)]
    if users:
        raise DesignRefused(_("Transitions %(names)s still use the state %(state)s.",
                              names=", ".join(users), state=name))  # fmt: skip
    yaml_edit.drop(document["states"], name)
    return yaml_edit.dump(document, text)


def _states_named(transition: TransitionView) -> set[str]:
    return {*transition.sources, transition.to, transition.pending, transition.reject_to}


# --- transitions -------------------------------------------------------------------------------


def update_transition(text: str, path: str, values, roles: list[str]) -> str:
    """Set a transition's label, states, roles, condition, comment and signature, and turn its
    approval on or off (``values`` a request's form: ``getlist`` for the ticked lists)."""
    document = parse(text)
    raw = transition_at(document, path)
    states = set(document["states"])
    sources = [state for state in document["states"] if state in values.getlist("from")]
    if not sources:
        raise DesignRefused(_("Tick at least one state the transition leaves."), "from")
    target = values.get("to", "")
    if target not in states:
        raise DesignRefused(_("Choose the state the transition reaches."), "to")
    _put(raw, "label", None, TRANSITION_KEYS, values)
    _put(
        raw,
        "from",
        sources[0] if len(sources) == 1 else yaml_edit.flow_seq(sources),
        TRANSITION_KEYS,
    )
    _put(raw, "to", target, TRANSITION_KEYS)
    firing = yaml_edit.ticked(raw.get("roles"), values.getlist("roles"), roles)
    _put(raw, "roles", firing, TRANSITION_KEYS)
    _put(raw, "condition", values.get("condition", "").strip() or None, TRANSITION_KEYS)
    yaml_edit.set_label(raw, "condition_message", values.get("condition_zh", ""),
                        values.get("condition_en", ""), None, TRANSITION_KEYS)  # fmt: skip
    _put(raw, "skip_submit_rules", True if values.get("skip_submit_rules") else None,
         TRANSITION_KEYS)  # fmt: skip
    comment = values.get("comment", "none")
    _put(raw, "comment", comment if comment in ("optional", "required") else None, TRANSITION_KEYS)
    _put(raw, "signature", True if values.get("signature") else None, TRANSITION_KEYS)
    _put(raw, "allow_creator", True if values.get("allow_creator") else None, TRANSITION_KEYS)
    _update_approval(document, raw, values, sources[0], roles)
    return yaml_edit.dump(document, text)


#: The state a transition's new approval waits in, made when the flow has none of that name.
WAITING = "in_approval"


def _update_approval(document, raw: CommentedMap, values, source: str, roles: list[str]) -> None:
    """Turn the transition's approval on or off and set its states. Ticking "needs approval"
    on a transition that had none starts it ready to use: one level (the location's manager),
    waiting in ``in_approval`` (made if the flow has no such state), a rejection going back to
    the state the transition leaves — the chooser of the waiting state only shows once it is
    on, so a refusal for want of one would leave the admin no way to turn it on."""
    if not values.get("approval"):
        yaml_edit.drop(raw, "approval")
        return
    states = document["states"]
    approval = raw.get("approval")
    started = not isinstance(approval, CommentedMap)
    if started:
        pending = values.get("pending") or WAITING
        if pending == WAITING and WAITING not in states:
            states[WAITING] = _flow_map()
            yaml_edit.set_label(states[WAITING], "label", "审批中", "In approval", WAITING)
        approval = CommentedMap(pending=pending, levels=CommentedSeq())
        approval["levels"].append(_new_level("manager", "审批", "Approval"))
        approval["reject_to"] = values.get("reject_to") or source
        raw["approval"] = approval
    pending = values.get("pending", "") or approval.get("pending", "")
    if pending not in states:
        raise DesignRefused(_("Choose the state the record waits in for its approvers."),
                            "pending")  # fmt: skip
    _put(approval, "pending", pending, APPROVAL_KEYS)
    reject_to = values.get("reject_to", approval.get("reject_to", ""))
    _put(approval, "reject_to", reject_to if reject_to in states else None, APPROVAL_KEYS)
    cc = approval.get("cc")
    if not isinstance(cc, CommentedMap):
        cc = _flow_map()
    _set_approvers(cc, values, roles, "cc_")
    _put(approval, "cc", cc or None, APPROVAL_KEYS)
    if not started:  # (a new approval's form had no such box: it may be withdrawn)
        _put(approval, "withdraw", None if values.get("withdraw") else False, APPROVAL_KEYS)


def add_transition(text: str, values) -> str:
    document = parse(text)
    name = yaml_edit.new_name(values.get("name", ""), yaml_edit.names_in(document["transitions"]))
    source, target = values.get("from", ""), values.get("to", "")
    if source not in document["states"]:
        raise DesignRefused(_("Choose the state the transition leaves."), "from")
    if target not in document["states"]:
        raise DesignRefused(_("Choose the state the transition reaches."), "to")
    raw = CommentedMap(name=name)
    raw["from"], raw["to"] = source, target
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""), name)
    document["transitions"].append(raw)
    return yaml_edit.dump(document, text)


def move_transition(text: str, path: str, step: int) -> str:
    document = parse(text)
    transitions = document["transitions"]
    return yaml_edit.moved(document, transitions, yaml_edit.at(transitions, path, stale()), step,
                           text)  # fmt: skip


def remove_transition(text: str, path: str) -> str:
    """Remove a transition (the publish refuses it while an approval of it is under way)."""
    document = parse(text)
    transition_at(document, path)
    del document["transitions"][int(path)]
    return yaml_edit.dump(document, text)


# --- approval levels ---------------------------------------------------------------------------


def update_level(text: str, path: str, values, roles: list[str]) -> str:
    """Set an approval level's label, approvers (roles, the location's manager, named users,
    whoever an expression names), 或签 / 会签, condition, signature and time limit."""
    document = parse(text)
    raw = _level(document, path)
    _put(raw, "label", None, LEVEL_KEYS, values)
    approvers = raw.get("approvers")
    if not isinstance(approvers, CommentedMap):
        approvers = raw["approvers"] = _flow_map()
    _set_approvers(approvers, values, roles)
    if not approvers:
        raise DesignRefused(_("Say who approves: a role, the location's manager or a person."),
                            "roles")  # fmt: skip
    mode = values.get("mode", "")
    _put(raw, "mode", mode if mode in MODES else None, LEVEL_KEYS)
    _put(raw, "when", values.get("when", "").strip() or None, LEVEL_KEYS)
    levels, index = _levels(document, path)
    back = values.get("reject_to", "")
    earlier = set(document["states"]) | yaml_edit.names_in(levels[:index])
    _put(raw, "reject_to", back if back in earlier else None, LEVEL_KEYS)
    _put(raw, "signature", True if values.get("signature") else None, LEVEL_KEYS)
    _put(raw, "allow_creator", True if values.get("allow_creator") else None, LEVEL_KEYS)
    _put(raw, "time_limit_hours", _hours(values.get("time_limit_hours", "")), LEVEL_KEYS)
    return yaml_edit.dump(document, text)


def add_level(text: str, path: str, values) -> str:
    document = parse(text)
    approval = transition_at(document, path).get("approval")
    if not isinstance(approval, CommentedMap):
        raise DesignRefused(_("Turn the transition's approval on first."))
    levels = approval.setdefault("levels", CommentedSeq())
    name = yaml_edit.new_name(values.get("name", ""), yaml_edit.names_in(levels))
    levels.append(_new_level(name, values.get("label_zh", ""), values.get("label_en", "")))
    return yaml_edit.dump(document, text)


def move_level(text: str, path: str, step: int) -> str:
    document = parse(text)
    return yaml_edit.moved(document, *_levels(document, path), step, text)


def remove_level(text: str, path: str) -> str:
    document = parse(text)
    last = _("An approval keeps at least one level; turn the approval off instead.")
    return yaml_edit.removed(document, *_levels(document, path), text, last)


# --- helpers -----------------------------------------------------------------------------------


def _put(raw: CommentedMap, key: str, value, order, values=None) -> None:
    """``set_or_drop`` in ``order``; ``key == "label"`` takes both languages from ``values``."""
    if key == "label":
        zh, en = values.get("label_zh", ""), values.get("label_en", "")
        yaml_edit.set_label(raw, "label", zh, en, str(raw.get("name", "")), order)
    else:
        yaml_edit.set_or_drop(raw, key, value, order)


def _set_approvers(approvers: CommentedMap, values, roles: list[str], prefix: str = "") -> None:
    """Who approves (or, with ``prefix`` "cc_", is copied): the roles ticked, the manager of the
    record's location or of its region, named people (comma-separated user names), the people an
    expression over the record names (user ids)."""
    ticked = yaml_edit.ticked(approvers.get("roles"), values.getlist(f"{prefix}roles"), roles)
    users = [user.strip() for user in values.get(f"{prefix}users", "").split(",") if user.strip()]
    yaml_edit.set_or_drop(approvers, "roles", ticked)
    yaml_edit.set_or_drop(approvers, "manager", MANAGERS.get(values.get(f"{prefix}manager", "")))
    yaml_edit.set_or_drop(approvers, "users", yaml_edit.flow_seq(users) if users else None)
    yaml_edit.set_or_drop(approvers, "expr", values.get(f"{prefix}expr", "").strip() or None)


def _new_level(name: str, zh: str, en: str) -> CommentedMap:
    level = CommentedMap(name=name)
    yaml_edit.set_label(level, "label", zh, en, name)
    level["approvers"] = _flow_map(manager=True)
    return level


def _hours(value: str):
    refusal = _("Enter the hours as a number above 0, such as 24 or 0.5.")
    hours = yaml_edit.number(value, refusal, "time_limit_hours")
    if hours is not None and float(hours) <= 0:
        raise DesignRefused(refusal, "time_limit_hours")
    return hours


def _state(document: CommentedMap, name: str) -> CommentedMap:
    raw = document["states"].get(name)
    if not isinstance(raw, CommentedMap):
        raise DesignRefused(_("There is no state called %(name)s in the YAML.", name=name))
    return raw


def transition_at(document: CommentedMap, path: str) -> CommentedMap:
    transitions = document["transitions"]
    return transitions[yaml_edit.at(transitions, path, stale())]


def _level(document: CommentedMap, path: str) -> CommentedMap:
    levels, index = _levels(document, path)
    return levels[index]


def _levels(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    """The approval levels of the transition ``path`` names and the index of its level."""
    transition, _dot, index = path.partition(".")
    approval = transition_at(document, transition).get("approval") or {}
    levels = approval.get("levels") or CommentedSeq()
    return levels, yaml_edit.at(levels, index, stale())


def stale() -> str:
    return _("That part of the flow is no longer where the designer saw it; look again and repeat.")


def _flow_map(**items) -> CommentedMap:
    return yaml_edit.flow(CommentedMap(items))
