"""Idempotent POSTs: the first response to a key is stored and replayed for repeats.

A client that retries a POST after a timeout sends the same ``Idempotency-Key``; the repeat
returns the first response and writes nothing. The stored response is written in the same
transaction as the business change, so the two commit together or not at all; two concurrent
first attempts collide on the (user, key) unique constraint and the loser replays the winner.
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


def remember(
    session: Session, user_id: int, key: str, method: str, path: str, status: int, body: str
) -> None:
    """Store the response inside the caller's transaction."""
    session.add(
        IdempotencyKey(
            user_id=user_id, key=key, method=method, path=path[:512], status=status, body=body
        )
    )
    session.flush()
