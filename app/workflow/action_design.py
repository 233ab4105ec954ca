"""The workflow designer's actions: what a transition does, each action's parameters drawn as
inputs from the action's own JSON Schema.

An integrator's plugin declares its parameters once, as JSON Schema (``Action.params_schema``).
The designer turns each into the input it calls for — a field of the form to name, one of the
values an ``enum`` allows, a switch, a number, a list of names, a line of text — so a business
admin adds ``notify`` or ``post_stock`` to a transition, orders and removes them, says when each
runs and fills in its parameters without YAML, for built-in actions and installed plugins alike.
A parameter of a shape the designer does not draw (an object of objects) is one line of YAML in
its box. A text a recipient reads in their language (a label: one text, or ``{zh_CN, en}``, as
``notify``'s ``message``) is two boxes, 中文 and English; the Chinese alone is read in both.
Parameters shared with another step (a YAML anchor, ``<<:`` merged) stay the YAML's.

Like every designer, each change is made to the text being edited (``yaml_edit``): what an action
refuses (a value its schema does not take) is refused on its input before it reaches the text;
what is merely missing (a required parameter not filled in yet) is left to the preview's checks,
so that an admin can fill a step in any order. Steps are addressed by transition and position
(``"1/0"``), an approval's hooks' steps by transition, hook and position (``"1/on_reject/0"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import LOCALES, _, _l
from app.meta import flow_design, yaml_edit
from app.meta.flow_design import FlowView
from app.meta.forms import label_text
from app.meta.records import locale
from app.meta.yaml_edit import DesignRefused
from app.workflow.actions import PARAM_WORDS, Action, ActionRegistry, installed_actions

#: The JSON Schema pattern of a parameter that names one of the form's fields.
FIELD_PATTERN = "^[a-z][a-z0-9_]*$"
STEP_KEYS = ("action", "when", "params")
#: Where a transition's ``actions`` go when a first one is added: before its approval.
TRANSITION_ORDER = (*flow_design.TRANSITION_KEYS, "actions", "approval")
#: An approval's own steps: run as the record starts waiting, and as a rejection sends it back.
HOOKS = ("on_pending", "on_reject")
#: How a schema's bound reads in a refusal.
BOUNDS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
#: What a JSON Schema type is called in a refusal.
TYPE_WORDS = {"string": _l("text"), "number": _l("a number"), "integer": _l("a whole number"),
              "boolean": _l("yes or no"), "array": _l("a list"), "object": _l("a mapping"),
              "null": _l("empty")}  # fmt: skip


@dataclass
class ParamView:
    name: str
    label: str
    #: the input it is drawn as: field, choice, switch, number, names, text, label or yaml
    kind: str
    #: what the input shows (a label's Chinese, or its one text)
    value: str
    required: bool
    choices: list[str]
    #: what the action takes when the parameter is left out (its schema's ``default``)
    default: str = ""
    #: a label's English box ("" when its one text is read in both languages)
    value_en: str = ""


@dataclass
class StepView:
    path: str
    action: str
    #: what the action does, in the reader's language ("" when it is not installed)
    label: str
    installed: bool
    when: str
    params: list[ParamView]
    #: the parameters are shared with another step (an anchor, a merge): edited in the YAML
    shared: bool
    other_keys: list[str]


def view(text: str, registry: ActionRegistry | None = None) -> FlowView:
    """The flow as ``flow_design`` draws it, each transition with its action steps and, when it
    needs approval, the steps of its approval's hooks."""
    registry = registry or installed_actions()
    document = flow_design.parse(text)
    flow = flow_design.view_of(document)
    for transition in flow.transitions:
        raw = document["transitions"][int(transition.path)]
        transition.steps = _steps_view(transition.path, raw.get("actions"), registry)
        approval = raw.get("approval")
        if isinstance(approval, dict):
            transition.hooks = {
                hook: _steps_view(f"{transition.path}/{hook}", approval.get(hook), registry)
                for hook in HOOKS
            }
    return flow


def _steps_view(where: str, steps, registry: ActionRegistry) -> list[StepView]:
    return [
        _step_view(f"{where}/{index}", step, registry)
        for index, step in enumerate(steps or [])
        if isinstance(step, dict)
    ]


def _step_view(path: str, raw, registry: ActionRegistry) -> StepView:
    name = str(raw.get("action", ""))
    params = yaml_edit.mapping_of(raw, "params")
    action = registry.get(name) if name in registry else None
    return StepView(
        path=path, action=name,
        label=label_text(action.label, locale()) if action else "",
        installed=action is not None, when=yaml_edit.text_of(raw.get("when")),
        params=_params_view(action, params) if action else _unknown_params(params),
        shared=_shared(params), other_keys=[key for key in raw if key not in STEP_KEYS],
    )  # fmt: skip


def _params_view(action: Action, params) -> list[ParamView]:
    """The action's parameters, the required ones first, each as the input its schema asks."""
    schema = action.params_schema
    required = schema.get("required", [])
    names = sorted(schema.get("properties", {}), key=lambda name: name not in required)
    shown = []
    for name in names:
        spec = schema["properties"][name]
        kind, choices = _kind(spec)
        label = action.param_labels.get(name) or PARAM_WORDS.get(name)
        value = params.get(name)
        shown.append(ParamView(
            name=name, label=label_text(label, locale()) if label else str(spec.get("title", name)),
            kind=kind, value=_shown(kind, value), required=name in required,
            choices=choices, default=_shown(kind, spec.get("default")),
            value_en=str(value.get("en") or "") if kind == "label" and _is_label(value) else "",
        ))  # fmt: skip
    return shown


def _unknown_params(params) -> list[ParamView]:
    """The parameters of an action that is not installed, as written (the designer cannot know
    what they should be)."""
    return [ParamView(str(name), str(name), "yaml", _shown("yaml", value), False, [])
            for name, value in params.items()]  # fmt: skip


def _kind(schema: Mapping) -> tuple[str, list[str]]:
    if _takes_label(schema):
        return "label", []
    if "enum" in schema:
        return "choice", [str(value) for value in schema["enum"]]
    kind = schema.get("type")
    if kind == "boolean":
        return "switch", []
    if kind in ("integer", "number"):
        return "number", []
    if kind == "string":
        return ("field" if schema.get("pattern") == FIELD_PATTERN else "text"), []
    if kind == "array" and (schema.get("items") or {}).get("type") == "string":
        return "names", []
    return "yaml", []


def _takes_label(schema: Mapping) -> bool:
    """Whether the schema takes one text or a text per language (``{zh_CN, en}``) and nothing
    else: drawn as a box per language."""
    kinds = {
        "string" if one.get("type") == "string" else tuple(sorted(one.get("properties") or ()))
        for one in schema.get("oneOf") or schema.get("anyOf") or ()
    }
    return kinds == {"string", tuple(sorted(LOCALES))}


def _is_label(value) -> bool:
    return isinstance(value, dict) and set(value) <= set(LOCALES)


def _shown(kind: str, value) -> str:
    if value is None:
        return ""
    if kind == "label" and _is_label(value):
        return str(value.get("zh_CN") or "")
    if kind == "switch":
        return "1" if value is True else ""
    if kind == "names" and isinstance(value, list):
        return ", ".join(str(name) for name in value)
    if kind == "yaml" or isinstance(value, dict | list):
        return yaml_edit.one_line(value)
    return str(value)


def _shared(params) -> bool:
    anchor = getattr(params, "anchor", None)
    return bool(getattr(params, "merge", None)) or bool(anchor and anchor.value)


# --- changes -----------------------------------------------------------------------------------


def update_step(text: str, path: str, values, registry: ActionRegistry | None = None) -> str:
    """Set when a step runs and its parameters from the designer's inputs (``when``,
    ``param.<name>``); a value the action's schema does not take is refused on its input."""
    registry = registry or installed_actions()
    document = flow_design.parse(text)
    steps, index = _steps(document, path)
    raw = steps[index]
    yaml_edit.set_or_drop(raw, "when", values.get("when", "").strip() or None, STEP_KEYS)
    name = str(raw.get("action", ""))
    params = raw.get("params") if isinstance(raw.get("params"), dict) else None
    if name in registry and not _shared(params):
        _set_params(raw, registry, name, values)
    return _dumped(document, steps, text)


def _set_params(raw: CommentedMap, registry: ActionRegistry, name: str, values) -> None:
    action = registry.get(name)
    params = raw.get("params")
    if not isinstance(params, CommentedMap):
        params = yaml_edit.flow(CommentedMap())
    order = tuple(action.params_schema.get("properties", {}))
    for shown in _params_view(action, params):
        if shown.kind == "label":
            value = _label_value(shown, values, params.get(shown.name))
            yaml_edit.set_or_drop(params, shown.name, value, order)
            continue
        posted = values.get(f"param.{shown.name}", "")
        yaml_edit.set_or_drop(params, shown.name, _value(shown, posted, params.get(shown.name)),
                              order)  # fmt: skip
    _refuse_what_the_schema_refuses(registry, name, params)
    yaml_edit.set_or_drop(raw, "params", params or None, STEP_KEYS)


def _value(param: ParamView, posted: str, current):
    """What the input ``posted`` says for ``param``: its typed value, ``current`` itself when it
    says the same (so that the text stays as written), None to drop the parameter."""
    posted = posted.strip()
    if param.kind == "switch":
        return True if posted else (False if current is False else None)
    if not posted:
        return None
    if posted == _shown(param.kind, current):
        return current
    field = f"param.{param.name}"
    if param.kind == "choice":
        if posted not in param.choices:
            raise DesignRefused(_("%(param)s: choose one of %(choices)s.", param=param.label,
                                  choices=", ".join(param.choices)), field)  # fmt: skip
        return posted
    if param.kind == "number":
        refusal = _("%(param)s: enter a number, such as 8 or 2.5.", param=param.label)
        return yaml_edit.number(posted, refusal, field)
    if param.kind == "names":
        names = [name.strip() for name in re.split(r"[,，]", posted) if name.strip()]
        return yaml_edit.flow_seq(names)
    if param.kind == "yaml":
        unread = _("%(param)s does not read as YAML; write it on one line, such as {a: b} or "
                   "[a, b].", param=param.label)  # fmt: skip
        return yaml_edit.one_line_value(posted, unread, field)
    return posted


def _label_value(param: ParamView, values, current):
    """What a label's boxes say: nothing, one text (read in both languages: the Chinese alone, or
    the English alone) or ``{zh_CN, en}``; ``current`` itself when they say what it does."""
    zh, en = (values.get(f"param.{param.name}.{language}", "").strip() for language in LOCALES)
    if (zh, en) == (param.value, param.value_en):
        return current
    if zh and en:
        return yaml_edit.flow(CommentedMap(zh_CN=zh, en=en))
    return zh or en or None


def _refuse_what_the_schema_refuses(registry: ActionRegistry, name: str, params) -> None:
    """The first value the action's schema does not take, refused on its input; what concerns
    the parameters as a whole (one still missing, one of two to give) is not refused here: the
    preview's checks say so until it is set, and the admin fills a step in in any order."""
    for error in registry.params_errors(name, yaml_edit.plain(params)):
        if not error.absolute_path:
            continue
        error = _deciding(error)
        where, *inside = error.absolute_path
        field = f"param.{where}" + (f".{inside[0]}" if inside and inside[0] in LOCALES else "")
        raise DesignRefused(_schema_problem(error, str(where)), field)


def _deciding(error):
    """What says what is wrong with a value one of several schemas should take (a label's one
    text or its texts per language): the error of the schema whose type the value has."""
    if error.validator in ("oneOf", "anyOf"):
        fitting = [inner for inner in error.context if inner.validator != "type"]
        if fitting:
            return _deciding(fitting[0])
    return error


def _schema_problem(error, param: str) -> str:
    """What ``error`` (jsonschema's, in English) says, in the admin's language for the keywords
    an action's schema uses; jsonschema's own words only for the rarest."""
    keyword, bound = error.validator, error.validator_value
    if keyword == "pattern" and bound == FIELD_PATTERN:
        return _("%(param)s names a field: a letter, then letters, digits and _.", param=param)
    if keyword == "minLength" and bound == 1:
        return _("%(param)s cannot be empty.", param=param)
    if keyword == "minLength":
        return _("%(param)s takes at least %(count)s characters.", param=param, count=bound)
    if keyword == "maxLength":
        return _("%(param)s takes at most %(count)s characters.", param=param, count=bound)
    if keyword in BOUNDS:
        return _("%(param)s must be %(bound)s %(limit)s.", param=param, bound=BOUNDS[keyword],
                 limit=bound)  # fmt: skip
    if keyword == "minItems":
        return _("%(param)s names at least %(count)s.", param=param, count=bound)
    if keyword == "maxItems":
        return _("%(param)s names at most %(count)s.", param=param, count=bound)
    if keyword == "uniqueItems":
        return _("%(param)s names each one only once.", param=param)
    if keyword in ("enum", "const"):
        choices = bound if keyword == "enum" else [bound]
        return _("%(param)s: choose one of %(choices)s.", param=param,
                 choices=", ".join(str(choice) for choice in choices))  # fmt: skip
    if keyword == "type":
        kinds = [bound] if isinstance(bound, str) else list(bound)
        either = _(" or ").join(str(TYPE_WORDS.get(kind, kind)) for kind in kinds)
        return _("%(param)s must be %(kind)s.", param=param, kind=either)
    return _("%(param)s is not what the action takes: %(detail)s", param=param,
             detail=error.message)  # fmt: skip


def add_step(text: str, where: str, values, fields: set[str],
             registry: ActionRegistry | None = None) -> str:  # fmt: skip
    """Add the action ``values["action"]`` at the end of the steps ``where`` names (``"1"`` a
    transition's actions, ``"1/on_pending"`` an approval's hook); its required parameters that
    name a field are filled in with the form's field of that name, if any."""
    registry = registry or installed_actions()
    document = flow_design.parse(text)
    name = values.get("action", "")
    if name not in registry:
        raise DesignRefused(_("Choose one of the installed actions."), "action")
    step = CommentedMap(action=name)
    schema = registry.get(name).params_schema
    guessed = yaml_edit.flow(CommentedMap(
        (param, param) for param in schema.get("required", [])
        if param in fields and _kind(schema["properties"].get(param, {}))[0] == "field"
    ))  # fmt: skip
    if guessed:
        step["params"] = guessed
    holder, key = _holder(document, where)
    steps = holder.get(key)
    if not isinstance(steps, CommentedSeq):
        steps = CommentedSeq()
        order = TRANSITION_ORDER if key == "actions" else flow_design.APPROVAL_KEYS
        yaml_edit.set_or_drop(holder, key, steps, order)
    steps.append(step)
    return _dumped(document, steps, text)


def move_step(text: str, path: str, step: int) -> str:
    document = flow_design.parse(text)
    steps, index = _steps(document, path)
    if not 0 <= index + step < len(steps):
        return text
    steps.insert(index + step, steps.pop(index))
    return _dumped(document, steps, text)


def remove_step(text: str, path: str) -> str:
    """Remove a step; the last one takes its list's key along (``actions``, a hook)."""
    document = flow_design.parse(text)
    steps, index = _steps(document, path)
    del steps[index]
    if not steps:
        yaml_edit.drop(*_holder(document, path.rpartition("/")[0]))
    return _dumped(document, steps, text)


def _dumped(document: CommentedMap, steps: CommentedSeq, text: str) -> str:
    """The changed text; a list of steps written on one line (``[{action: a}]``) that changed
    opens up, one step a line, since ruamel writes such a list back as ``[action: a, …]``."""
    changed = yaml_edit.dump(document, text)
    if changed == text or not steps.fa.flow_style():
        return changed
    steps.fa.set_block_style()
    return yaml_edit.dump(document, text)


def _holder(document: CommentedMap, where: str) -> tuple[CommentedMap, str]:
    """The mapping that holds the steps ``where`` names, and their key there."""
    transition, _slash, hook = where.partition("/")
    raw = flow_design.transition_at(document, transition)
    if not hook:
        return raw, "actions"
    approval = raw.get("approval")
    if hook not in HOOKS or not isinstance(approval, CommentedMap):
        raise DesignRefused(flow_design.stale())
    return approval, hook


def _steps(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    """The steps the step ``path`` is one of, and its index there."""
    where, _slash, index = path.rpartition("/")
    holder, key = _holder(document, where)
    steps = holder.get(key)
    if not isinstance(steps, CommentedSeq):
        raise DesignRefused(flow_design.stale())
    return steps, yaml_edit.at(steps, index, flow_design.stale())
