"""The hash-chained audit trail: append, verify, and find the exact entry tampered with.

On PostgreSQL a trigger refuses UPDATE and DELETE on audit_log, so tampering there means
disabling the trigger first, as someone with the table owner's rights could: the chain must
still name the altered entry.
"""

import datetime as dt
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from app.kernel import audit
from app.kernel.audit import AuditContext, AuditEntry


@contextmanager
def behind_the_trigger(db):
    """A transaction that may rewrite audit_log (the append-only trigger off while it runs)."""
    with db.transaction() as session:
        if db.dialect == "postgresql":
            session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        yield session
        if db.dialect == "postgresql":
            session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def _fill(db, count=5, chain="main"):
    with db.transaction() as session:
        for number in range(count):
            audit.record(
                session, "update", "item", number,
                changes={"price": [Decimal("1.10"), Decimal("1.20")]},
                chain=chain, context=AuditContext(username="qa"),
            )  # fmt: skip


def test_entries_chain_and_verify(db):
    _fill(db)
    _fill(db, 3, chain="location:7")
    with db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.chain == "main").order_by(AuditEntry.seq)
        ).all()
        assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
        assert entries[0].changes == {"price": ["1.10", "1.20"]}
        assert entries[0].username == "qa"
        assert audit.verify(session) == []


def test_an_altered_entry_is_named(db):
    _fill(db)
    with behind_the_trigger(db) as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == "main", AuditEntry.seq == 3)
            .values(reason="rewritten")
        )
    with db.session() as session:
        breaks = audit.verify(session)
    assert len(breaks) == 1
    assert breaks[0].seq == 3
    assert "content does not match its hash" in str(breaks[0])


def test_a_removed_entry_is_found(db):
    _fill(db)
    with behind_the_trigger(db) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    with db.session() as session:
        [found] = audit.verify(session)
    assert found.seq == 2
    assert "missing" in found.reason


def test_removing_the_last_entries_is_found(db):
    _fill(db)
    with behind_the_trigger(db) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
    with db.session() as session:
        [found] = audit.verify(session)
    assert found.seq == 4
    assert "removed" in found.reason


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEntry).where(AuditEntry.seq == 2).values(reason="rewritten"),
        delete(AuditEntry).where(AuditEntry.seq == 2),
    ],
    ids=["update", "delete"],
)
def test_the_trigger_refuses_raw_updates_and_deletes(db, statement):
    _fill(db)
    with pytest.raises(DBAPIError, match="append-only") as refused, db.transaction() as session:
        session.execute(statement)
    assert refused.value.orig.sqlstate == "42501"  # insufficient_privilege
    with db.session() as session:
        assert audit.verify(session) == []
        assert session.scalar(select(AuditEntry.reason).where(AuditEntry.seq == 2)) is None


@pytest.mark.postgres_only
def test_the_trigger_is_back_after_a_tamper_test(db):
    _fill(db, 2)
    with behind_the_trigger(db) as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(reason="x"))
    with pytest.raises(DBAPIError, match="append-only"), db.transaction() as session:
        session.execute(delete(AuditEntry))


def test_history_is_one_records_entries_oldest_first(db):
    with db.transaction() as session:
        audit.record(session, "create", "supplier", 7, changes={"name": "A"})
        audit.record(session, "create", "supplier", 8, changes={"name": "B"})
        audit.record(session, "update", "supplier", 7, changes={"name": ["A", "AA"]})
    with db.session() as session:
        entries = audit.history(session, "supplier", 7)
        assert [(e.action, e.changes) for e in entries] == [
            ("create", {"name": "A"}),
            ("update", {"name": ["A", "AA"]}),
        ]
        assert audit.history(session, "supplier", 9) == []


def test_search_filters_combine(db):
    _fill(db, 3)
    with db.transaction() as session:
        audit.record(session, "login", "user", 1, context=AuditContext(username="clerk"))
    with db.session() as session:
        assert audit.count(session, audit.search()) == 4
        assert audit.count(session, audit.search(username="clerk")) == 1
        assert audit.count(session, audit.search(entity="item", entity_id=1)) == 1
        assert audit.count(session, audit.search(action="update", username="qa")) == 3
        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        assert audit.count(session, audit.search(since=tomorrow)) == 0
        assert audit.count(session, audit.search(until=tomorrow)) == 4
        newest = session.scalars(audit.search()).first()
        assert newest.action == "login"
