"""The hash-chained audit trail: append, verify, and find the exact entry tampered with."""

from decimal import Decimal

from sqlalchemy import delete, select, update

from app.kernel import audit
from app.kernel.audit import AuditContext, AuditEntry


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
    with db.transaction() as session:
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
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    with db.session() as session:
        [found] = audit.verify(session)
    assert found.seq == 2
    assert "missing" in found.reason


def test_removing_the_last_entries_is_found(db):
    _fill(db)
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
    with db.session() as session:
        [found] = audit.verify(session)
    assert found.seq == 4
    assert "removed" in found.reason
