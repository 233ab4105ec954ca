"""Admins edit the application's metadata live — forms, workflows, reports, dashboards, shared
option lists, roles and settings: drafts, published versions, diffs, rollbacks, exports.

Shipped files are version 1 of their definition. A publish stores the new YAML as the next
version in the kind's table (``form_versions``, ``report_versions``, ``workflow_versions``,
``option_list_versions``, ``dashboard_versions``, ``roles_versions``, ``settings_versions``),
bumps ``metadata_state.generation`` (so every worker reloads at its next request) and leaves an
audit entry — all in the caller's transaction. A rollback publishes an old text again as a new
version, so history only grows. An edit is checked exactly like files are (every message names
file, line and path), then by the kind's refusals (``refuses``): a form edit is refused when it
would lose data — a field with stored values cannot change type; a removed field is only hidden,
records keep its values — an option list's edit when it drops a value records hold, a roles edit
when it takes a role from people or the last admin rights, a workflow edit when it would strand
records under way (see ``app.workflow.editing``). Each function takes the ``kind`` of definition
(``registry.FORMS`` unless told).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.i18n import _
from app.kernel import jobs
from app.kernel.users import User, UserRole
from app.meta import backfill, yaml_edit
from app.meta import registry as meta_registry
from app.meta.forms import FormDef
from app.meta.models import MetadataState, Record
from app.meta.records import audit_as
from app.meta.registry import (
    DASHBOARDS,
    FORMS,
    OPTION_LISTS,
    REPORTS,
    ROLES,
    SETTINGS,
    WORKFLOWS,
    Edited,
)
from app.meta.yamlsource import MetadataInvalid, MetadataIssue, parse_yaml


class ChangeRefused(Exception):
    """A metadata change that would lose data or is otherwise not allowed; says why."""


@dataclass(frozen=True)
class VersionInfo:
    version: int
    status: str
    author: str | None
    at: object
    note: str | None
    live: bool


#: What refuses a checked definition before it goes live, by kind:
#: ``(session, registry, definition) -> [why, …]`` (empty: nothing refuses it).
Refusal = Callable[[Session, object, object], list[str]]
REFUSALS: dict[str, list[Refusal]] = {}


def refuses(kind: Edited):
    """Register a refusal of ``kind``'s publishes (a layer above adds its own: workflows)."""

    def register(func: Refusal) -> Refusal:
        REFUSALS.setdefault(kind.name, []).append(func)
        return func

    return register


#: What a definition of each kind must say its name is, and how a wrong one is refused: a
#: workflow's file is named by its form.
_NAMED_BY = {
    "form": ("name", lambda name: _("the form must be named '%(name)s'", name=name)),
    "report": ("name", lambda name: _("the report must be named '%(name)s'", name=name)),
    "workflow": ("form", lambda name: _("the workflow must be for the form '%(name)s'", name=name)),
    "option_list": ("name", lambda name: _("the option list must be named '%(name)s'", name=name)),
    "dashboard": ("name", lambda name: _("the dashboard must be named '%(name)s'", name=name)),
}


def named(kind: Edited, name: str, text: str) -> str:
    """A new definition's ``text`` with the name it is created under written into it (its
    ``name``, a workflow's ``form``): the name asked for when it is created is the one it gets,
    whatever the starting text said. Left as it is when it does not read (the checks say why)."""
    if kind.only:
        return text
    try:
        document = yaml_edit.parse(text, "")
    except yaml_edit.DesignRefused:
        return text
    key, _message = _NAMED_BY[kind.name]
    if document.get(key) == name:
        return text
    document[key] = name
    return yaml_edit.dump(document, text)


def _misnamed(kind: Edited, name: str, text: str) -> MetadataIssue | None:
    """The text names another definition than the one edited: said at once, on its key (else
    everything that refers to ``name`` would report it missing). A single file (roles.yaml,
    settings.yaml) names nothing."""
    if kind.only:
        return None
    try:
        document = parse_yaml(text, kind.file(name))
    except MetadataInvalid:
        return None  # the build says what is wrong with it
    key, message = _NAMED_BY[kind.name]
    given = document.data.get(key) if isinstance(document.data, dict) else None
    if given is None or given == name:
        return None
    return document.issue((key,), message(name))


def _named(candidate, name: str, kind: Edited):
    """The definition called ``name`` in a freshly built registry: a ``FormDef`` (of the form a
    workflow belongs to, with that workflow), a compiled ``Report``, or the ``SourceDocument``
    of an option list, a dashboard, the roles or the settings; None when absent."""
    if kind is REPORTS:
        return candidate.report(name)
    if kind is OPTION_LISTS:
        return candidate.metadata.option_lists.get(name)
    if kind is DASHBOARDS:
        return candidate.metadata.dashboards.get(name)
    if kind is ROLES:
        return candidate.metadata.roles_document if name == ROLES.only else None
    if kind is SETTINGS:
        return candidate.metadata.settings_document if name == SETTINGS.only else None
    form = candidate.form(name)
    if kind is WORKFLOWS and (form is None or form.workflow is None):
        return None
    return form


def check_texts(session: Session, registry, texts: dict[tuple[Edited, str], str]):
    """``(issues, {(kind, name): definition})`` for new texts of several definitions, checked
    together with every other definition — so a package may bring a new option list and the
    form that names it. A definition is what ``_named`` finds."""
    misnamed = (_misnamed(kind, name, text) for (kind, name), text in texts.items())
    issues = [issue for issue in misnamed if issue is not None]
    if issues:
        return issues, {}
    extra = {kind.file(name): text for (kind, name), text in texts.items()}
    try:
        candidate = meta_registry.build(
            registry.metadata_dir, registry.workflows_dir, session, extra=extra
        )
    except MetadataInvalid as exc:
        return exc.issues, {}
    definitions = {}
    for kind, name in texts:
        definitions[kind, name] = _named(candidate, name, kind)
        if definitions[kind, name] is None:
            key, message = _NAMED_BY[kind.name]
            issues.append(MetadataIssue(kind.file(name), 1, key, message(name)))
    return issues, definitions


def check_text(session: Session, registry, name: str, text: str, kind: Edited = FORMS):
    """``(issues, definition or None)`` for ``text`` as the new definition of ``name``."""
    issues, definitions = check_texts(session, registry, {(kind, name): text})
    return issues, None if issues else definitions[kind, name]


def _published_versions(session: Session, name: str, kind: Edited) -> list:
    model = kind.model
    return list(
        session.scalars(
            select(model)
            .where(kind.key == name, model.status == "published")
            .order_by(model.version)
        )
    )


def _shipped(registry, name: str, kind: Edited) -> bool:
    return name in registry.shipped.get(kind.name, ())


def current_version(session: Session, registry, name: str, kind: Edited = FORMS) -> int:
    latest = session.scalar(
        select(func.max(kind.model.version)).where(
            kind.key == name, kind.model.status == "published"
        )
    )
    if latest:
        return latest
    return meta_registry.SHIPPED_VERSION if _shipped(registry, name, kind) else 0


def history(session: Session, registry, name: str, kind: Edited = FORMS) -> list[VersionInfo]:
    """Every version of ``name``, newest first; the shipped file is version 1."""
    rows = _published_versions(session, name, kind)
    live = current_version(session, registry, name, kind)
    authors = {u.id: u.full_name for u in session.scalars(select(User))} if rows else {}
    items = [
        VersionInfo(
            r.version, r.status, authors.get(r.author_id), r.published_at, r.note, r.version == live
        )  # fmt: skip
        for r in rows
    ]
    if _shipped(registry, name, kind) and all(r.version != 1 for r in rows):
        items.append(VersionInfo(1, "published", None, None, _("shipped file"), live == 1))
    draft = draft_of(session, name, kind)
    if draft is not None:
        items.append(
            VersionInfo(0, "draft", authors.get(draft.author_id), draft.created_at, None, False)
        )
    return sorted(items, key=lambda item: -item.version if item.version else 1)


def text_of(
    session: Session, registry, name: str, version: int, kind: Edited = FORMS
) -> str | None:
    """The YAML of ``name`` at ``version`` (1 = the shipped file unless stored)."""
    model = kind.model
    row = session.scalar(
        select(model).where(kind.key == name, model.version == version, model.status == "published")
    )
    if row is not None:
        return row.yaml_text
    if version == meta_registry.SHIPPED_VERSION and _shipped(registry, name, kind):
        files = kind.shipped_files(registry.metadata_dir, registry.workflows_dir)
        return files[name].read_text(encoding="utf-8")
    return None


def draft_of(session: Session, name: str, kind: Edited = FORMS):
    return session.scalar(select(kind.model).where(kind.key == name, kind.model.status == "draft"))


def save_draft(session: Session, user, name: str, text: str, kind: Edited = FORMS):
    """Keep the admin's work in progress (one draft per definition); nothing goes live."""
    draft = draft_of(session, name, kind)
    if draft is None:
        draft = kind.model(**{kind.name: name}, version=0, status="draft", yaml_text=text)
        session.add(draft)
    draft.yaml_text, draft.author_id, draft.created_at = text, getattr(user, "id", None), utcnow()
    session.flush()
    return draft


def _fields_of(text: str) -> dict[str, tuple[dict, dict | None]]:
    """``{path: (field, its table or None)}`` of one version's text, line fields as
    ``table.field`` ({} when the text does not read)."""
    try:
        data = parse_yaml(text, "form").data
    except MetadataInvalid:
        return {}
    found = {}
    for field in (data or {}).get("fields") or []:
        found[field["name"]] = (field, None)
        for child in field.get("fields") or []:
            found[f"{field['name']}.{child['name']}"] = (child, field)
    return found


def _field_types(text: str) -> dict[str, str]:
    """``{field: type}`` of one version's text, line fields as ``table.field``."""
    return {path: field["type"] for path, (field, _table) in _fields_of(text).items()}


def _paths_with_values(data: dict):
    """The field paths (``lines.quantity`` for line fields) a record holds a value in."""
    for key, value in (data or {}).items():
        if value in (None, "", []):
            continue
        yield key
        if isinstance(value, list):
            for line in value:
                if isinstance(line, dict):
                    yield from (f"{key}.{k}" for k, v in line.items() if v not in (None, ""))


def stored_types(session: Session, registry, name: str) -> dict[str, set[str]]:
    """For each field path some record of ``name`` holds a value in, the types those values
    were saved as: the field's type in the record's version, or, where that version had removed
    the field (its values are kept), in the latest earlier version that had it."""
    latest = current_version(session, registry, name)
    history = {
        version: _field_types(text_of(session, registry, name, version) or "")
        for version in range(1, latest + 1)
    }
    found: dict[tuple[str, int], str | None] = {}

    def type_at(path: str, version: int) -> str | None:
        if (path, version) not in found:
            earlier = (history.get(v, {}).get(path) for v in range(min(version, latest), 0, -1))
            found[path, version] = next((kind for kind in earlier if kind), None)
        return found[path, version]

    stored: dict[str, set[str]] = {}
    rows = session.execute(
        select(Record.meta_version, Record.data).where(Record.form == name)
    ).yield_per(500)
    for version, data in rows:
        for path in set(_paths_with_values(data)):
            kind = type_at(path, version or meta_registry.SHIPPED_VERSION)
            if kind is not None:
                stored.setdefault(path, set()).add(kind)
    return stored


@refuses(FORMS)
def data_loss(session: Session, registry, new: FormDef) -> list[str]:
    """Why publishing ``new`` would lose stored values (empty: it would not): a field whose
    records hold values saved as another type — including under an earlier version, for a
    field removed and then added back with a new type."""
    stored = stored_types(session, registry, new.name)
    problems = []
    for path, kind in sorted(_field_types(new.yaml_text).items()):
        for old in sorted(stored.get(path, set()) - {kind}):
            problems.append(
                _(
                    "field '%(name)s' holds values as %(old)s; it cannot become %(new)s",
                    name=path,
                    old=old,
                    new=kind,
                )
            )
    return problems


def _values_at(data: dict, path: str):
    """The values a record holds at a field path (``lines.transport`` for line fields)."""
    head, _dot, child = path.partition(".")
    holders = [line for line in data.get(head) or [] if isinstance(line, dict)] if child else [data]
    for holder in holders:
        value = holder.get(child or head)
        yield from value if isinstance(value, list) else [value]


def records_with_values(session: Session, form: str, path: str) -> int:
    """How many records of ``form`` hold a value at the field ``path`` (``lines.item`` for a
    line field): a value is anything but nothing, an empty text or an empty list."""
    rows = session.execute(select(Record.data).where(Record.form == form)).yield_per(500)
    return sum(
        any(value not in (None, "") for value in _values_at(data or {}, path)) for (data,) in rows
    )


def _field_labels(text: str) -> dict[str, object]:
    """``{path: label}`` of one version's fields; a line field's ``(table label, label)``."""
    return {
        path: (table.get("label"), field.get("label")) if table else field.get("label")
        for path, (field, table) in _fields_of(text).items()
    }


def retired_values(session: Session, registry, form, record: Record) -> list[tuple[object, list]]:
    """What ``record`` holds in fields its form no longer has — removed by an admin, whose
    values stay on the records — as ``(label, values)``, each labelled as the record's version
    (or the latest earlier one that had it) named it: a value recorded is never hidden from
    whoever reads the record, as a regulator expects of a GSP record. A line field's label is
    ``(table label, field label)``."""
    current = set(_field_types(form.yaml_text))
    held = sorted(set(_paths_with_values(record.data)) - current)
    if not held:
        return []
    labels: dict[str, object] = {}
    for version in range(record.meta_version or meta_registry.SHIPPED_VERSION, 0, -1):
        text = text_of(session, registry, form.name, version) or ""
        for path, label in _field_labels(text).items():
            labels.setdefault(path, label)
    found = []
    for path in held:  # (a field an earlier version declared; a removed table by its fields)
        values = [v for v in _values_at(record.data, path) if v not in (None, "")]
        if path in labels and not any(isinstance(value, dict) for value in values):
            found.append((labels[path], values))
    return found


def removed_with_values(session: Session, registry, name: str, text: str) -> list[tuple[str, int]]:
    """The field paths the form's ``text`` leaves out that the live version has and records hold
    values in, with how many records hold one — told when the edit is published: the values stay
    on the records (``retired_values``), the form no longer asks for them."""
    live = registry.form(name)
    if live is None:
        return []
    removed = sorted(set(_field_types(live.yaml_text)) - set(_field_types(text)))
    counted = [(path, records_with_values(session, name, path)) for path in removed]
    return [(path, count) for path, count in counted if count]


def _records_holding(session: Session, form: str, path: str, values: set) -> Counter:
    """How many records of ``form`` hold each of ``values`` at ``path``."""
    held: Counter = Counter()
    rows = session.execute(select(Record.data).where(Record.form == form)).yield_per(500)
    for (data,) in rows:
        held.update({value for value in _values_at(data or {}, path) if value in values})
    return held


def _choices(form: FormDef) -> dict[str, set]:
    """The option values of each select field of ``form``, by path (``lines.reason``)."""
    found = {}
    for field in form.fields:
        for child, path in [(field, field.name)] + [
            (line, f"{field.name}.{line.name}") for line in field.fields
        ]:
            if child.type in ("select", "multiselect"):
                found[path] = {option["value"] for option in child.options}
    return found


@refuses(FORMS)
def choices_in_use(session: Session, registry, new: FormDef) -> list[str]:
    """An option records hold cannot leave a field's own choices, as it cannot leave a shared
    list (``options_in_use``): they would show a bare code and fail their next save."""
    old = registry.form(new.name)
    if old is None:
        return []
    before, after = _choices(old), _choices(new)
    problems = []
    for path in sorted(set(before) & set(after)):
        removed = before[path] - after[path]
        held = _records_holding(session, new.name, path, removed) if removed else {}
        problems += [
            _(
                "%(count)s records of %(form)s hold '%(value)s' in %(field)s; keep that option",
                count=held[value],
                form=new.name,
                value=value,
                field=path,
            )
            for value in sorted(held, key=str)
        ]
    return problems


@refuses(OPTION_LISTS)
def options_in_use(session: Session, registry, new) -> list[str]:
    """A value records hold cannot leave a shared list: they would show a bare code and fail
    their next save. (A label may change; that is what a shared list is for.)"""
    name = new.data["name"]
    old = registry.metadata.option_lists.get(name)
    if old is None:
        return []
    removed = {o["value"] for o in old.data["options"]} - {o["value"] for o in new.data["options"]}
    problems = []
    for kind, form, path in registry.metadata.option_users.get(name, ()) if removed else ():
        if kind != "form":
            continue  # a report's parameter holds nothing
        held = _records_holding(session, form, path, removed)
        problems += [
            _(
                "%(count)s records of %(form)s hold '%(value)s' in %(field)s; keep that option",
                count=held[value],
                form=form,
                value=value,
                field=path,
            )
            for value in sorted(held, key=str)
        ]
    return problems


@refuses(ROLES)
def roles_in_use(session: Session, registry, new) -> list[str]:
    """A role people (or API tokens) hold cannot go: they would lose what it let them do
    without anyone deciding it; and someone active must stay an administrator, or nobody
    could put it right."""
    roles = new.data["roles"]
    held = Counter(session.scalars(select(UserRole.role).join(User).where(User.active)))
    problems = [
        _(
            "%(count)s users hold the role '%(role)s'; take it from them first",
            count=held[role],
            role=role,
        )  # fmt: skip
        for role in sorted(held)
        if role not in roles
    ]
    if not any(roles.get(role, {}).get("admin") for role in held):
        problems.append(_("no active user would hold a role with admin rights"))
    return problems


def _bump_generation(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(MetadataState)
        .values(id=1, generation=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    session.execute(
        update(MetadataState)
        .where(MetadataState.id == 1)
        .values(generation=MetadataState.generation + 1, updated_at=utcnow())
    )


def publish_all(
    session: Session, registry, user, texts: dict[tuple[Edited, str], str], note=None
) -> list:
    """Check the new ``texts`` together, apply each kind's refusals (data loss, records under
    way) and store each as the next live version of its definition — all or none."""
    issues, definitions = check_texts(session, registry, texts)
    if issues:
        raise MetadataInvalid(issues)
    problems = [
        why
        for (kind, _name), definition in definitions.items()
        for refusal in REFUSALS.get(kind.name, ())
        for why in refusal(session, registry, definition)
    ]
    if problems:
        raise ChangeRefused("; ".join(problems))
    rows = [
        _store(session, registry, user, kind, name, text, definitions[kind, name], note)
        for (kind, name), text in texts.items()
    ]
    _bump_generation(session)
    return rows


def _store(session: Session, registry, user, kind: Edited, name: str, text: str, definition,
           note: str | None):  # fmt: skip
    """One checked text as the next published version: its draft gone, the publish audited, a
    form's new formulas queued to be filled in on the records saved before."""
    new_formulas = set()
    if kind is FORMS and registry.form(name) is not None:
        new_formulas = backfill.formula_paths(definition) - backfill.formula_paths(
            registry.form(name)
        )
    old = current_version(session, registry, name, kind)
    row = kind.model(
        **{kind.name: name},
        version=old + 1,
        yaml_text=text,
        status="published",
        author_id=getattr(user, "id", None),
        note=note,
        published_at=utcnow(),
    )
    session.add(row)
    draft = draft_of(session, name, kind)
    if draft is not None:
        session.delete(draft)
    session.flush()
    audit_as(
        session,
        user,
        "publish",
        kind.name,
        name,
        changes={"version": [old or None, row.version]},
        reason=note,
    )
    if new_formulas:  # the records saved before have no value for them: fill them in
        params = {"form": name, "user_id": getattr(user, "id", None)}
        jobs.enqueue(session, "formula_backfill", params, user_id=params["user_id"])
    return row


def publish(
    session: Session,
    registry,
    user,
    name: str,
    text: str,
    note: str | None = None,
    kind: Edited = FORMS,
    opened: int | None = None,
):
    """Check ``text`` and store it as the next live version of ``name`` (see ``publish_all``).
    ``opened``: the live version the admin's editor opened; when another admin published since,
    the text would undo their change unseen: refused, to be made again on what is live."""
    live = current_version(session, registry, name, kind)
    if opened is not None and opened != live:
        raise ChangeRefused(_(
            "version %(live)s of %(form)s was published after you opened version %(opened)s: "
            "open it again to see that change, then make yours on it",
            live=live, form=name, opened=opened,
        ))  # fmt: skip
    if text.strip() == (text_of(session, registry, name, live, kind) or "").strip():
        raise ChangeRefused(_(
            "nothing changed: version %(live)s of %(form)s is this text already", live=live,
            form=name,
        ))  # fmt: skip
    [row] = publish_all(session, registry, user, {(kind, name): text}, note)
    return row


def rollback(session: Session, registry, user, name: str, version: int, kind: Edited = FORMS):
    """Make ``version``'s text live again, as a new version (history only grows)."""
    text = text_of(session, registry, name, version, kind)
    if text is None:
        raise ChangeRefused(_("There is no version %(version)s of %(form)s.", version=version,
                              form=name))  # fmt: skip
    note = _("rollback to version %(v)s", v=version)
    return publish(session, registry, user, name, text, note=note, kind=kind)


def diff(session: Session, registry, name: str, old: int, new: int, kind: Edited = FORMS) -> str:
    """A unified diff between two versions of ``name``."""
    before = text_of(session, registry, name, old, kind) or ""
    after = text_of(session, registry, name, new, kind) or ""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{name} v{old}",
            tofile=f"{name} v{new}",
        )
    )
