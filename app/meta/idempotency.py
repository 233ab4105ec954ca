"""Idempotent POSTs: the first response to a key is stored and replayed for repeats.

A client that retries a POST after a timeout sends the same ``Idempotency-Key``; the repeat
returns the first response and writes nothing. The key is claimed first and the response stored
in the same transaction as the business change, so they commit together or not at all; concurrent
attempts with one key queue on the (user, key) unique index and the later ones replay the first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.meta.models import IdempotencyKey

MAX_KEY_LENGTH = 200


def replay(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    """The stored first response for ``key`` of this user, if any."""
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )


def claim(session: Session, user_id: int, key: str, method: str, path: str) -> IdempotencyKey:
    """Take ``key`` before doing the work: a concurrent request with the same key waits on the
    unique index until this transaction ends, then fails with ``IntegrityError`` and replays.
    If the work fails, the rollback releases the key, so a corrected retry may use it."""
    row = IdempotencyKey(user_id=user_id, key=key, method=method, path=path[:512], status=0,
                         body="")  # fmt: skip
    session.add(row)
    session.flush()
    return row


def complete(session: Session, row: IdempotencyKey, status: int, body: str) -> None:
    """Store the response with the change it describes (same transaction)."""
    row.status, row.body = status, body
    session.flush()
