"""Admins edit forms live: drafts, published versions, diffs, rollbacks, exports.

Shipped files are version 1 of their form. A publish stores the new YAML as the next version in
``form_versions``, bumps ``metadata_state.generation`` (so every worker reloads at its next
request) and leaves an audit entry — all in the caller's transaction. A rollback publishes an old
text again as a new version, so history only grows. An edit is checked exactly like files are
(every message names file, line and path) and refused when it would lose data: a field with
stored values cannot change type. A removed field is only hidden: records keep its values.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.i18n import _
from app.kernel.users import User
from app.meta import registry as meta_registry
from app.meta.forms import FormDef
from app.meta.models import FormVersion, MetadataState, Record
from app.meta.records import audit_as
from app.meta.yamlsource import MetadataInvalid, MetadataIssue


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


def file_name(form: str) -> str:
    return f"forms/{form}.yaml"


def check_text(session: Session, registry, form: str, text: str):
    """``(issues, FormDef or None)`` for ``text`` as the new definition of ``form``."""
    try:
        candidate = meta_registry.build(
            registry.metadata_dir, registry.workflows_dir, session, extra={form: text}
        )
    except MetadataInvalid as exc:
        return exc.issues, None
    definition = candidate.forms.get(form)
    if definition is None:
        return [MetadataIssue(file_name(form), 1, "name", _("the form must be named '%(name)s'",
                                                          name=form))], None  # fmt: skip
    return [], definition


def _published_versions(session: Session, form: str) -> list[FormVersion]:
    return list(
        session.scalars(
            select(FormVersion)
            .where(FormVersion.form == form, FormVersion.status == "published")
            .order_by(FormVersion.version)
        )
    )


def current_version(session: Session, registry, form: str) -> int:
    latest = session.scalar(
        select(func.max(FormVersion.version)).where(
            FormVersion.form == form, FormVersion.status == "published"
        )
    )
    if latest:
        return latest
    return meta_registry.SHIPPED_VERSION if form in registry.shipped else 0


def history(session: Session, registry, form: str) -> list[VersionInfo]:
    """Every version of ``form``, newest first; the shipped file is version 1."""
    rows = _published_versions(session, form)
    live = current_version(session, registry, form)
    authors = {u.id: u.full_name for u in session.scalars(select(User))} if rows else {}
    items = [
        VersionInfo(
            r.version, r.status, authors.get(r.author_id), r.published_at, r.note, r.version == live
        )  # fmt: skip
        for r in rows
    ]
    if form in registry.shipped and all(r.version != 1 for r in rows):
        items.append(VersionInfo(1, "published", None, None, _("shipped file"), live == 1))
    draft = draft_of(session, form)
    if draft is not None:
        items.append(
            VersionInfo(0, "draft", authors.get(draft.author_id), draft.created_at, None, False)
        )
    return sorted(items, key=lambda item: -item.version if item.version else 1)


def text_of(session: Session, registry, form: str, version: int) -> str | None:
    """The YAML of ``form`` at ``version`` (1 = the shipped file unless stored)."""
    row = session.scalar(
        select(FormVersion).where(
            FormVersion.form == form,
            FormVersion.version == version,
            FormVersion.status == "published",
        )
    )
    if row is not None:
        return row.yaml_text
    if version == meta_registry.SHIPPED_VERSION and form in registry.shipped:
        return (registry.metadata_dir / file_name(form)).read_text(encoding="utf-8")
    return None


def draft_of(session: Session, form: str) -> FormVersion | None:
    return session.scalar(
        select(FormVersion).where(FormVersion.form == form, FormVersion.status == "draft")
    )


def save_draft(session: Session, user, form: str, text: str) -> FormVersion:
    """Keep the admin's work in progress (one draft per form); nothing goes live."""
    draft = draft_of(session, form)
    if draft is None:
        draft = FormVersion(form=form, version=0, status="draft", yaml_text=text)
        session.add(draft)
    draft.yaml_text, draft.author_id, draft.created_at = text, getattr(user, "id", None), utcnow()
    session.flush()
    return draft


def _values_in_use(session: Session, form: str) -> tuple[set[str], dict[str, set[str]]]:
    """Top-level fields and table line fields that hold a value in some record of ``form``."""
    top: set[str] = set()
    lines: dict[str, set[str]] = {}
    for data in session.scalars(select(Record.data).where(Record.form == form)).yield_per(500):
        for key, value in (data or {}).items():
            if value in (None, "", []):
                continue
            top.add(key)
            if isinstance(value, list):
                for line in value:
                    if isinstance(line, dict):
                        lines.setdefault(key, set()).update(
                            k for k, v in line.items() if v not in (None, "")
                        )
    return top, lines


def data_loss(session: Session, old: FormDef | None, new: FormDef) -> list[str]:
    """Why publishing ``new`` over ``old`` would lose stored values (empty: it would not)."""
    if old is None:
        return []
    used, used_lines = _values_in_use(session, old.name)
    problems = []
    for field in old.fields:
        replacement = new.field(field.name)
        if replacement is None:
            continue  # removed fields are hidden; their values stay in the records
        if replacement.type != field.type and field.name in used:
            problems.append(
                _(
                    "field '%(name)s' holds values as %(old)s; it cannot become %(new)s",
                    name=field.name,
                    old=field.type,
                    new=replacement.type,
                )
            )
        if field.type == "table" and replacement.type == "table":
            for child in field.fields:
                other = replacement.child(child.name)
                if (
                    other
                    and other.type != child.type
                    and child.name in used_lines.get(field.name, set())
                ):
                    problems.append(
                        _(
                            "field '%(name)s' holds values as %(old)s; it cannot become %(new)s",
                            name=f"{field.name}.{child.name}",
                            old=child.type,
                            new=other.type,
                        )
                    )
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


def publish(session: Session, registry, user, form: str, text: str, note: str | None = None):
    """Check ``text``, refuse data loss, store it as the next live version of ``form``."""
    issues, definition = check_text(session, registry, form, text)
    if issues:
        raise MetadataInvalid(issues)
    problems = data_loss(session, registry.form(form), definition)
    if problems:
        raise ChangeRefused("; ".join(problems))
    old = current_version(session, registry, form)
    row = FormVersion(
        form=form,
        version=old + 1,
        yaml_text=text,
        status="published",
        author_id=getattr(user, "id", None),
        note=note,
        published_at=utcnow(),
    )
    session.add(row)
    draft = draft_of(session, form)
    if draft is not None:
        session.delete(draft)
    _bump_generation(session)
    session.flush()
    audit_as(
        session,
        user,
        "publish",
        "form",
        form,
        changes={"version": [old or None, row.version]},
        reason=note,
    )
    return row


def rollback(session: Session, registry, user, form: str, version: int) -> FormVersion:
    """Make ``version``'s text live again, as a new version (history only grows)."""
    text = text_of(session, registry, form, version)
    if text is None:
        raise ChangeRefused(_("There is no version %(version)s of %(form)s.", version=version,
                              form=form))  # fmt: skip
    return publish(
        session, registry, user, form, text, note=_("rollback to version %(v)s", v=version)
    )


def diff(session: Session, registry, form: str, old: int, new: int) -> str:
    """A unified diff between two versions of ``form``."""
    before = text_of(session, registry, form, old) or ""
    after = text_of(session, registry, form, new) or ""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{form} v{old}",
            tofile=f"{form} v{new}",
        )
    )
