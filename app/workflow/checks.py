"""Load-time checks of workflows that need the workflow engine: actions and reachability."""

from __future__ import annotations

from app.i18n import _
from app.meta.checks import SYSTEM_NAMES, unknown_roles
from app.meta.expressions import ExpressionError, compile_expression
from app.meta.loader import Metadata, cross_check, describe_error
from app.meta.yamlsource import MetadataIssue
from app.workflow.actions import installed_actions


def _steps(transition: dict):
    """(path inside the transition, step) of every action it runs, its approval's hooks too."""
    approval = transition.get("approval") or {}
    for where, steps in (
        (("actions",), transition.get("actions", [])),
        (("approval", "on_pending"), approval.get("on_pending", [])),
        (("approval", "on_reject"), approval.get("on_reject", [])),
    ):
        for index, step in enumerate(steps):
            yield (*where, index), step


@cross_check
def check_actions(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """Every action named exists, and its parameters match the action's own JSON Schema; a
    ``fired_by`` parameter (whoever last fired that transition) names one of the workflow's."""
    registry = installed_actions()
    for document in metadata.workflows.values():
        transitions = {t["name"] for t in document.data["transitions"]}
        for t_index, transition in enumerate(document.data["transitions"]):
            for where, step in _steps(transition):
                path = ("transitions", t_index, *where)
                name = step["action"]
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
                for error in registry.params_errors(name, step.get("params", {})):
                    issues.extend(describe_error(document, error, (*path, "params")))
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
            expressions += [((*at, "when"), step.get("when")) for at, step in _steps(transition)]
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
