"""Load-time checks of workflows that need the workflow engine: actions and reachability."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from app.i18n import _
from app.kernel.audit import jsonable
from app.meta.checks import SYSTEM_NAMES, unknown_roles
from app.meta.expressions import ExpressionError, compile_expression
from app.meta.forms import COMPUTED_TYPES
from app.meta.loader import Metadata, cross_check, describe_error
from app.meta.yamlsource import MetadataIssue
from app.workflow.actions import Action, PluginProblem, installed_actions
from app.workflow.field_values import ValueRefused, fitted, header_field, links_to_user


def steps_of(transition: dict):
    """(path inside the transition, step) of every action it runs, its approval's hooks too."""
    approval = transition.get("approval") or {}
    for where, steps in (
        (("actions",), transition.get("actions", [])),
        (("approval", "on_pending"), approval.get("on_pending", [])),
        (("approval", "on_reject"), approval.get("on_reject", [])),
    ):
        for index, step in enumerate(steps):
            yield (*where, index), step


@dataclass(frozen=True)
class PluginIssue(MetadataIssue):
    """A broken plugin: in no metadata file, so named by its distribution (``file``) and entry
    point (``path``) instead of a file and line."""

    def __str__(self) -> str:
        return f"{self.file}, {self.path}: {self.message}"


def plugin_issue(problem: PluginProblem) -> PluginIssue:
    """One broken entry point as one problem; listed first (``root``): the workflow steps naming
    its action follow from it."""
    where = (
        _("plugin %(distribution)s", distribution=problem.distribution)
        if problem.distribution
        else _("a plugin")
    )
    path = _("entry point %(name)s = %(target)s", name=problem.entry_point, target=problem.target)
    return PluginIssue(where, 0, path, problem.reason, root=True)


@cross_check
def check_actions(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """Every action named exists, and its parameters match the action's own JSON Schema; a
    ``fired_by`` parameter (whoever last fired that transition) names one of the workflow's; the
    fields an action writes are the form's, with values they can hold. An installed plugin that
    is broken is reported once, not as an unknown action in every step naming it."""
    registry = installed_actions()
    issues.extend(plugin_issue(problem) for problem in registry.problems)
    broken = {problem.entry_point for problem in registry.problems}
    for form_name, document in metadata.workflows.items():
        form = metadata.forms.get(form_name)
        transitions = {t["name"] for t in document.data["transitions"]}
        for t_index, transition in enumerate(document.data["transitions"]):
            for where, step in steps_of(transition):
                path = ("transitions", t_index, *where)
                name = step["action"]
                if name in broken:
                    continue
                if name not in registry:
                    issues.append(
                        document.issue(
                            (*path, "action"),
                            _(
                                "unknown action '%(name)s'; installed actions: %(names)s",
                                name=name,
                                names=", ".join(registry.names()),
                            ),
                        )
                    )
                    continue
                errors = registry.params_errors(name, step.get("params", {}))
                for error in errors:
                    issues.extend(describe_error(document, error, (*path, "params")))
                if not errors and form is not None:
                    action, params = registry.get(name), step.get("params") or {}
                    found = _written_field_issues(form.data, action, params)
                    found += _set_field_issues(form.data, name, params)
                    for key, message in found:
                        issues.append(document.issue((*path, "params", key), message))
                roles = (step.get("params") or {}).get("roles")
                issues.extend(unknown_roles(metadata, document, (*path, "params"), roles))
                fired_by = (step.get("params") or {}).get("fired_by")
                if isinstance(fired_by, str) and fired_by not in transitions:
                    issues.append(
                        document.issue(
                            (*path, "params", "fired_by"),
                            _("unknown transition '%(name)s'; this workflow has: %(names)s",
                              name=fired_by, names=", ".join(sorted(transitions))),
                        )
                    )  # fmt: skip


def _written_field_issues(form: dict, action: Action, params: dict) -> list[tuple[str, str]]:
    """Each parameter the action ``writes`` that names no header field of the form, or a
    computed one, as (parameter, message)."""
    found = []
    for key in getattr(action, "writes", ()):
        name = params.get(key)
        if not isinstance(name, str):
            continue
        field = header_field(form, name)
        if field is None:
            message = _("unknown field '%(name)s' of %(form)s: an action writes only the form's "
                        "own fields", name=name, form=form["name"])  # fmt: skip
            found.append((key, message))
        elif field["type"] in COMPUTED_TYPES:
            message = _("'%(name)s' is computed (%(type)s): an action cannot write it",
                        name=name, type=field["type"])  # fmt: skip
            found.append((key, message))
    return found


def _set_field_issues(form: dict, action: str, params: dict) -> list[tuple[str, str]]:
    """``set_field``'s literal ``value`` must fit its field's type (``fitted``: as a save
    through the form would take it), ``user: true`` needs a link to user and ``today: true``
    a date."""
    field = header_field(form, params.get("field")) if action == "set_field" else None
    if field is None or field["type"] in COMPUTED_TYPES:
        return []  # not set_field, or reported as not writable
    if params.get("user"):
        if links_to_user(field):
            return []
        return [("user", _("'%(name)s' is not a link to user: it cannot hold who fires the step",
                           name=field["name"]))]  # fmt: skip
    if params.get("today"):
        if field["type"] == "date":
            return []
        return [("today", _("'%(name)s' is not a date: it cannot hold the day of the step",
                            name=field["name"]))]  # fmt: skip
    try:
        fitted(field, params["value"])
    except ValueRefused as exc:
        return [("value", _("%(value)s does not fit %(name)s (%(type)s): %(reason)s",
                            value=_quoted(params["value"]), name=field["name"],
                            type=field["type"], reason=exc))]  # fmt: skip
    return []


def _quoted(value) -> str:
    """A literal as a refusal quotes it: text (and a date) in quotes, else as JSON writes it."""
    if isinstance(value, str | dt.date):
        return f"'{value}'"
    return json.dumps(jsonable(value), ensure_ascii=False)


@cross_check
def check_reachability(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """Every state can be reached from the initial state; a dead state is a definition mistake."""
    for document in metadata.workflows.values():
        workflow = document.data
        edges: dict[str, set[str]] = {}
        for transition in workflow["transitions"]:
            sources = transition["from"]
            approval = transition.get("approval")
            for source in [sources] if isinstance(sources, str) else sources:
                edges.setdefault(source, set()).add(
                    approval["pending"] if approval else transition["to"]
                )
            if approval:  # waiting for approvers, then approved or sent back
                edges.setdefault(approval["pending"], set()).add(transition["to"])
                for target in [approval.get("reject_to")] + [
                    level.get("reject_to") for level in approval["levels"]
                ]:
                    if target in workflow["states"]:
                        edges[approval["pending"]].add(target)
        reached, frontier = {workflow["initial"]}, [workflow["initial"]]
        while frontier:
            for target in edges.get(frontier.pop(), ()):
                if target not in reached:
                    reached.add(target)
                    frontier.append(target)
        for state in workflow["states"]:
            if state not in reached:
                issues.append(
                    document.issue(
                        ("states", state),
                        _(
                            "state '%(name)s' cannot be reached from '%(initial)s'",
                            name=state,
                            initial=workflow["initial"],
                        ),
                    )
                )


@cross_check
def check_conditions(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """A transition's ``condition`` and its actions' ``when`` compile over its form's fields: a
    typo fails at load."""
    for form_name, document in metadata.workflows.items():
        form = metadata.forms.get(form_name)
        if form is None:
            continue  # reported by check_workflows
        names = {field["name"] for field in form.data["fields"]} | set(SYSTEM_NAMES)
        for index, transition in enumerate(document.data["transitions"]):
            expressions = [(("condition",), transition.get("condition"))]
            expressions += [((*at, "when"), step.get("when")) for at, step in steps_of(transition)]
            for where, text in expressions:
                if text is None:
                    continue
                try:
                    compile_expression(text, names)
                except ExpressionError as exc:
                    issues.append(document.issue(("transitions", index, *where), str(exc)))


@cross_check
def check_approvals(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """An approval's states and steps exist; its ``when`` and ``expr`` compile."""
    for form_name, document in metadata.workflows.items():
        states = set(document.data["states"])
        form = metadata.forms.get(form_name)
        names = (
            {field["name"] for field in form.data["fields"]} | set(SYSTEM_NAMES) if form else None
        )
        for index, transition in enumerate(document.data["transitions"]):
            approval = transition.get("approval")
            if not approval:
                continue
            path = ("transitions", index, "approval")
            if approval["pending"] not in states:
                issues.append(
                    document.issue(
                        (*path, "pending"), _("unknown state '%(name)s'", name=approval["pending"])
                    )
                )
            steps = [level["name"] for level in approval["levels"]]
            if "reject_to" in approval and approval["reject_to"] not in states | set(steps):
                issues.append(
                    document.issue(
                        (*path, "reject_to"),
                        _("unknown state or step '%(name)s'", name=approval["reject_to"]),
                    )
                )
            for l_index, level in enumerate(approval["levels"]):
                where = (*path, "levels", l_index)
                if level["name"] in steps[:l_index]:  # reject_to and "send back to" name steps
                    first = steps.index(level["name"])
                    issues.append(
                        document.issue(
                            (*where, "name"),
                            _("duplicate step name '%(name)s' (first at line %(line)s)",
                              name=level["name"],
                              line=document.line_of((*path, "levels", first, "name"))),
                        )
                    )  # fmt: skip
                target = level.get("reject_to")
                if target is not None and target not in states | set(steps[:l_index]):
                    issues.append(
                        document.issue(
                            (*where, "reject_to"),
                            _("unknown state or earlier step '%(name)s'", name=target),
                        )
                    )
                roles = level["approvers"].get("roles")
                issues.extend(unknown_roles(metadata, document, (*where, "approvers"), roles))
                sources = [
                    ((*where, "when"), level.get("when")),
                    ((*where, "approvers", "expr"), level["approvers"].get("expr")),
                ]
                for key, text in sources:
                    if text is None or names is None:
                        continue
                    try:
                        compile_expression(text, names)
                    except ExpressionError as exc:
                        issues.append(document.issue(key, str(exc)))


@cross_check
def check_state_rules(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """A state's field rights name fields of the form; its submit rules compile."""
    for form_name, document in metadata.workflows.items():
        form = metadata.forms.get(form_name)
        if form is None:
            continue
        fields = {field["name"] for field in form.data["fields"]}
        names = fields | set(SYSTEM_NAMES)
        for state, definition in document.data["states"].items():
            for key in ("editable", "visible"):
                for index, name in enumerate(definition.get("fields", {}).get(key, [])):
                    if name not in fields:
                        issues.append(
                            document.issue(
                                ("states", state, "fields", key, index),
                                _("unknown field '%(name)s'", name=name),
                            )
                        )
            for index, rule in enumerate(definition.get("submit_rules", [])):
                where = ("states", state, "submit_rules", index)
                for key, message in _submit_rule_issues(form.data, rule, names):
                    issues.append(document.issue((*where, key), message))


def _submit_rule_issues(form: dict, rule: dict, names: set[str]) -> list[tuple[str, str]]:
    """What is wrong with one submit rule, as (key, message): ``each`` must name a table of the
    form, ``field`` a field of that table (or of the form), and ``expr`` read only those."""
    fields = {field["name"]: field for field in form["fields"]}
    table = rule.get("each")
    if table is not None:
        if fields.get(table, {}).get("type") != "table":
            return [("each", _("'%(name)s' is not a table of the form", name=table))]
        fields = {field["name"]: field for field in fields[table]["fields"]}
        names = names | set(fields)
    found = []
    if "field" in rule and rule["field"] not in fields:
        found.append(("field", _("unknown field '%(name)s'", name=rule["field"])))
    try:
        compile_expression(rule["expr"], names)
    except ExpressionError as exc:
        found.append(("expr", str(exc)))
    return found
