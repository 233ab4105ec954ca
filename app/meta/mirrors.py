"""Mirrors: a typed kernel table kept in step with the records of one form.

The kernel reads typed tables; the application keeps some of what the kernel needs as records of
metadata-defined forms (the stock policies, say). A mirror copies each record of its form into
its table, one row per record (the table has a ``record_id`` column), whenever a flush writes the
record: created, edited (its fields or its workflow state) or deleted — through the record
service, a workflow action or an import alike, in the same transaction, so the copy is never
behind. ``values`` turns a record into the row's values, or None when the record should have no
row (incomplete, or in a state that does not count).

Registered by the module that needs the copy (``mirror("stock_policy", StockPolicy.__table__,
values)``); a table's primary key is what identifies a row for the kernel. Should two records
claim one key, the first keeps the row: the form's unique key refuses the second save anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain

from sqlalchemy import Table, and_, delete, event, insert, select
from sqlalchemy.orm import Session

from app.meta.models import Record


@dataclass(frozen=True)
class Mirror:
    form: str
    table: Table
    values: Callable[[Record], dict | None]


_MIRRORS: dict[str, Mirror] = {}


def mirror(form: str, table: Table, values: Callable[[Record], dict | None]) -> None:
    """Keep ``table`` in step with the records of ``form`` (once per form; a second call
    replaces the first)."""
    _MIRRORS[form] = Mirror(form, table, values)


def mirrored(form: str) -> Mirror | None:
    return _MIRRORS.get(form)


def refill(session: Session, form: str) -> int:
    """Rebuild a mirror from its records (after rows were written around the record service, e.g.
    bulk SQL); returns how many rows it holds."""
    found = _MIRRORS[form]
    connection = session.connection()
    connection.execute(delete(found.table).where(found.table.c.record_id.isnot(None)))
    records = session.scalars(select(Record).where(Record.form == form).order_by(Record.id))
    return sum(_write(connection, found, record) for record in records)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    if not _MIRRORS:
        return
    deleted = session.deleted
    touched = [
        record
        for record in chain(session.new, session.dirty, deleted)
        if isinstance(record, Record) and record.form in _MIRRORS
    ]
    if not touched:
        return
    connection = session.connection()
    for record in touched:
        found = _MIRRORS[record.form]
        connection.execute(delete(found.table).where(found.table.c.record_id == record.id))
        if record not in deleted:
            _write(connection, found, record)


def _write(connection, found: Mirror, record: Record) -> int:
    values = found.values(record)
    if values is None:
        return 0
    key = [column for column in found.table.primary_key.columns]
    taken = connection.execute(
        select(found.table.c.record_id).where(
            and_(*(column == values[column.name] for column in key))
        )
    ).first()
    if taken is not None:
        return 0
    connection.execute(insert(found.table).values(**values, record_id=record.id))
    return 1
