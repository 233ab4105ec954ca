"""What a transition's actions change on other records is audited on those records.

An action may change records besides the one whose transition runs it: a recall's refresh
rewrites each location's task, issuing a recall notes a shortfall on the orders it releases.
Each such record gets an ``update`` entry of its own — by whoever fired the transition, the
transition named as the reason — and its "updated" time, as an edit through its form would: its
history shows every change, whoever or whatever made it. (The fired record's own changes are in
its transition's entry; records an action creates have their ``create`` entry.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.db import utcnow
from app.meta import records
from app.meta.models import Record

#: ``session.info`` key: while actions run, each changed record's data and state before them.
_BEFORE = "lianku.records_before_actions"


@contextmanager
def audited(session: Session, user, fired: Record, reason: str) -> Iterator[None]:
    """Audit, once the block has run, every record other than ``fired`` it changed."""
    if _BEFORE in session.info:  # actions run inside actions (an approval's own): the outer audits
        yield
        return
    session.info[_BEFORE] = {}
    try:
        yield
        session.flush()
        before = dict(session.info[_BEFORE])
    finally:
        session.info.pop(_BEFORE, None)
    for record_id, (data, state) in sorted(before.items()):
        if record_id != fired.id:
            _audit_change(session, user, session.get(Record, record_id), data, state, reason)


def _audit_change(session: Session, user, record: Record, data, state, reason: str) -> None:
    new = record.data or {}
    old = data if isinstance(data, dict) else {}
    changes = {
        key: [old.get(key), new.get(key)]
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    }
    if state != record.state:
        changes["state"] = [state, record.state]
    if not changes:
        return
    record.updated_at, record.updated_by = utcnow(), getattr(user, "id", None)
    records.audit_as(session, user, "update", "record", record.id, changes=changes, reason=reason)


@event.listens_for(Session, "before_flush")
def _remember_before(session: Session, _flush_context, _instances) -> None:
    """Keep a changed record's data and state as they were before the actions first changed it
    (a flush forgets them)."""
    before = session.info.get(_BEFORE)
    if before is None:
        return
    for changed in session.dirty:
        if not isinstance(changed, Record) or changed.id in before:
            continue
        attrs = inspect(changed).attrs
        data, state = attrs["data"].history, attrs["state"].history
        if data.has_changes() or state.has_changes():
            before[changed.id] = (
                data.deleted[0] if data.deleted else None,
                state.deleted[0] if state.deleted else changed.state,
            )
