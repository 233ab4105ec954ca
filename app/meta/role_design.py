"""The roles designer's changes to ``roles.yaml``: rights ticked in a grid, not typed.

An admin picks a role and ticks, per form, what it may do there — read, create, change, delete,
export, and which workflow transitions it may fire — or leaves a form to the role's default row
(``"*"``); ticks which reports it sees; sets its label, scope and flags. Each change is made to
the text being edited (``yaml_edit``), so the permission-matrix preview, the checks (a role people
hold is not removed, someone active stays an administrator) and the version diff work as for a
typed change.

Rights in roles.yaml are patterns (``"*"``, ``"transition:*"``): the grid shows what each entry
grants (``access.role_allows``' matching), and an entry whose grants the admin did not change is
left as written, patterns and all; one they changed is written out as the list they ticked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _
from app.meta import yaml_edit
from app.meta.yaml_edit import DesignRefused

#: What a role may do on a form's records, in the grid's order.
ACTIONS = ("read", "create", "update", "delete", "export")
#: Every transition of a form, as one pattern.
ALL_TRANSITIONS = "transition:*"
FLAGS = ("admin", "audit", "close_periods", "read_only", "api_only", "manages")
SCOPES = ("own", "region", "all")
#: A role's keys in the order they are written.
ROLE_KEYS = ("label", "scope", *FLAGS, "forms", "reports")
#: The default row: every form without an entry of its own.
EVERY_FORM = "*"


@dataclass(frozen=True)
class FormInfo:
    """What the grid needs of a live form: its label and its transitions (name, label)."""

    label: str
    transitions: tuple[tuple[str, str], ...] = ()


@dataclass
class FormRow:
    """One row of the grid: what the role may do on one form (or, ``form == "*"``, by default)."""

    form: str
    label: str
    #: the form has its own entry (else it follows the default row)
    own: bool
    actions: dict[str, bool]
    all_transitions: bool
    #: (transition name, label, granted)
    transitions: list[tuple[str, str, bool]]


@dataclass
class RoleView:
    name: str
    label_zh: str
    label_en: str
    scope: str
    flags: dict[str, bool]
    rows: list[FormRow]
    all_reports: bool
    #: (report name, label, granted)
    reports: list[tuple[str, str, bool]]
    #: forms the role names that no longer exist (kept as written)
    unknown_forms: list[str] = field(default_factory=list)


def parse(text: str) -> CommentedMap:
    document = yaml_edit.parse(text, _("The YAML is not a roles file: it must map roles:."))
    if not isinstance(document.get("roles"), CommentedMap):
        raise DesignRefused(_("The YAML has no roles: mapping to design."))
    return document


def role_names(text: str) -> list[tuple[str, str]]:
    """Every role as (name, Chinese label), in the file's order."""
    return _names(parse(text))


def grid(
    text: str, role: str, forms: Mapping[str, FormInfo], reports: Mapping[str, str]
) -> tuple[list[tuple[str, str]], RoleView | None]:
    """Every role (as ``role_names``) and the grid of ``role`` — of the first role when there is
    no such role (it was just removed) — from one reading of the text."""
    document = parse(text)
    names = _names(document)
    if not names:
        return names, None
    chosen = role if role in document["roles"] else names[0][0]
    return names, _view(document, chosen, forms, reports)


def view(
    text: str, role: str, forms: Mapping[str, FormInfo], reports: Mapping[str, str]
) -> RoleView:
    """The grid of ``role``: its default row, then every live form, then its reports."""
    return _view(parse(text), role, forms, reports)


def _names(document: CommentedMap) -> list[tuple[str, str]]:
    return [(name, yaml_edit.label_of(raw)[0] or name) for name, raw in document["roles"].items()]


def _view(document: CommentedMap, role: str, forms, reports) -> RoleView:
    raw = _role(document, role)
    entries = raw.get("forms") or {}
    default = list(entries.get(EVERY_FORM) or [])
    rows = [_row(EVERY_FORM, _("Every form (default)"), True, default, ())]
    for name, info in forms.items():
        own = name in entries
        patterns = list(entries[name] or []) if own else default
        rows.append(_row(name, info.label, own, patterns, info.transitions))
    granted = yaml_edit.names_of(raw, "reports")
    label = yaml_edit.label_of(raw)
    return RoleView(
        name=role, label_zh=label[0], label_en=label[1], scope=str(raw.get("scope", "")),
        flags={flag: raw.get(flag) is True for flag in FLAGS}, rows=rows,
        all_reports=EVERY_FORM in granted,
        reports=[(name, label, _grants(granted, name)) for name, label in reports.items()],
        unknown_forms=[name for name in entries if name != EVERY_FORM and name not in forms],
    )  # fmt: skip


def _row(form, label, own, patterns, transitions) -> FormRow:
    return FormRow(
        form=form, label=label, own=own,
        actions={action: _grants(patterns, action) for action in ACTIONS},
        all_transitions=_grants(patterns, ALL_TRANSITIONS),
        transitions=[(name, text, _grants(patterns, f"transition:{name}"))
                     for name, text in transitions],
    )  # fmt: skip


def _grants(patterns, action: str) -> bool:
    return any(fnmatchcase(action, str(pattern)) for pattern in patterns)


# --- changes -----------------------------------------------------------------------------------


def update_role(
    text: str, role: str, values: Mapping[str, str], forms: Mapping[str, FormInfo],
    reports: Mapping[str, str],
) -> str:  # fmt: skip
    """Set ``role``'s label, scope, flags, rights per form and reports from the designer's
    inputs (a ticked box is present, with any value)."""
    document = parse(text)
    raw = _role(document, role)
    zh, en = values.get("label_zh", ""), values.get("label_en", "")
    yaml_edit.set_label(raw, "label", zh, en, role, ROLE_KEYS)
    scope = values.get("scope", "")
    if scope not in SCOPES:
        raise DesignRefused(_("Choose whose records the role sees."), "scope")
    yaml_edit.set_or_drop(raw, "scope", scope, ROLE_KEYS)
    for flag in FLAGS:
        yaml_edit.set_or_drop(raw, flag, True if f"flag:{flag}" in values else None, ROLE_KEYS)
    _update_forms(raw, values, forms)
    _update_reports(raw, values, reports)
    return yaml_edit.dump(document, text, width=100)


def _update_forms(raw: CommentedMap, values: Mapping[str, str], forms) -> None:
    entries = raw.get("forms")
    if not isinstance(entries, CommentedMap):
        entries = yaml_edit.flow(CommentedMap())
        yaml_edit.set_or_drop(raw, "forms", entries, ROLE_KEYS)
    default = list(entries.get(EVERY_FORM) or [])
    _set_entry(entries, EVERY_FORM, default, _ticked(values, EVERY_FORM, ()))
    for name, info in forms.items():
        names = [transition for transition, _label in info.transitions]
        if f"own:{name}" not in values:
            yaml_edit.drop(entries, name)
        elif name not in entries:  # made its own: starts as the default row grants
            entries[name] = yaml_edit.flow(CommentedSeq(default))
        else:
            _set_entry(entries, name, list(entries[name] or []), _ticked(values, name, names))


def _ticked(values: Mapping[str, str], form: str, transitions) -> list[str]:
    """The rights ticked on a form's row, as roles.yaml writes them."""
    ticked = [action for action in ACTIONS if f"right:{form}:{action}" in values]
    if f"right:{form}:{ALL_TRANSITIONS}" in values:
        return [*ticked, ALL_TRANSITIONS]
    return ticked + [
        f"transition:{t}" for t in transitions if f"right:{form}:transition:{t}" in values
    ]


def _set_entry(entries: CommentedMap, form: str, before: list, ticked: list[str]) -> None:
    """Write ``ticked`` for ``form`` unless it grants what ``before`` granted (then ``before``,
    patterns and all, stays as written)."""
    named = [str(right) for right in [*before, *ticked] if str(right).startswith("transition:")]
    universe = [*ACTIONS, ALL_TRANSITIONS, *named]
    if all(_grants(before, action) == _grants(ticked, action) for action in universe):
        return
    entries[form] = yaml_edit.flow(CommentedSeq(ticked))


def _update_reports(raw: CommentedMap, values: Mapping[str, str], reports) -> None:
    before = yaml_edit.names_of(raw, "reports")
    ticked = (
        [EVERY_FORM]
        if "all_reports" in values
        else [name for name in reports if f"report:{name}" in values]
    )
    if all(_grants(before, name) == _grants(ticked, name) for name in [*reports, EVERY_FORM]):
        return
    yaml_edit.set_or_drop(raw, "reports", yaml_edit.flow(CommentedSeq(ticked)), ROLE_KEYS)


def add_role(text: str, values: Mapping[str, str]) -> str:
    """A new role at the end: reads every form by default, sees no report, until ticked."""
    document = parse(text)
    name = yaml_edit.new_name(
        values.get("name", ""), document["roles"],
        _("A role name is lower_snake_case: a letter, then letters, digits and _."),
        lambda taken: _("There is already a role called %(name)s.", name=taken),
    )  # fmt: skip
    scope = values.get("scope", "own")
    if scope not in SCOPES:
        raise DesignRefused(_("Choose whose records the role sees."), "scope")
    role = CommentedMap()
    yaml_edit.set_label(role, "label", values.get("label_zh", ""), values.get("label_en", ""), name)
    role["scope"] = scope
    role["forms"] = yaml_edit.flow(
        CommentedMap({EVERY_FORM: yaml_edit.flow(CommentedSeq(["read"]))})
    )
    role["reports"] = yaml_edit.flow(CommentedSeq())
    document["roles"][name] = role
    return yaml_edit.dump(document, text, width=100)


def remove_role(text: str, role: str) -> str:
    """Remove ``role`` (the publish refuses it while people or tokens hold it)."""
    document = parse(text)
    _role(document, role)
    if len(document["roles"]) == 1:
        raise DesignRefused(_("Keep at least one role."))
    yaml_edit.drop(document["roles"], role)
    return yaml_edit.dump(document, text, width=100)


def _role(document: CommentedMap, role: str) -> CommentedMap:
    raw = document["roles"].get(role)
    if not isinstance(raw, CommentedMap):
        raise DesignRefused(_("There is no role called %(name)s in the YAML.", name=role))
    return raw
