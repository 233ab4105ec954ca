"""Idempotent POSTs: the first response to a key is stored and replayed for repeats.

A client that retries a POST after a timeout sends the same ``Idempotency-Key``; the repeat
returns the first response and writes nothing. The key is claimed first and the response stored
in the same transaction as the business change, so they commit together or not at all; concurrent
attempts with one key queue on the (user, key) unique index and the later ones replay the first.

A key names one request: the same method, path and body. Reusing it for another request (another
body, another form, a transition) is refused with ``KeyReused`` rather than answered with the
first request's response, which would silently leave the second one undone (as Stripe does).
The request's fingerprint is kept with its path in the ``path`` column (``<path>#<sha256>``).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.i18n import _
from app.meta.models import IdempotencyKey
from app.meta.records import RecordError

MAX_KEY_LENGTH = 200
_PATH_ROOM = 512 - 1 - 64  # the column's length, less '#' and the hex digest


class KeyReused(RecordError):
    """The key was first used for another request; the client must pick a new key."""

    status = 422
    field = "Idempotency-Key"

    def __init__(self, method: str, path: str):
        super().__init__(
            _(
                "This Idempotency-Key was already used for another request (%(method)s "
                "%(path)s). Use a new key for each new request.",
                method=method,
                path=path,
            )
        )


def request_signature(method: str, path: str, body: bytes) -> str:
    """What identifies a request for its key: its path and a digest of method, path and body."""
    digest = hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()
    return f"{path[:_PATH_ROOM]}#{digest}"


def replay(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    """The stored first response for ``key`` of this user, if any."""
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )


def check_same_request(row: IdempotencyKey, method: str, signature: str) -> None:
    """Raise ``KeyReused`` unless ``row`` was stored for this very request."""
    if row.method != method or row.path != signature:
        raise KeyReused(row.method, row.path.rpartition("#")[0] or row.path)


def claim(session: Session, user_id: int, key: str, method: str, signature: str) -> IdempotencyKey:
    """Take ``key`` before doing the work: a concurrent request with the same key waits on the
    unique index until this transaction ends, then fails with ``IntegrityError`` and replays.
    If the work fails, the rollback releases the key, so a corrected retry may use it."""
    row = IdempotencyKey(user_id=user_id, key=key, method=method, path=signature, status=0,
                         body="")  # fmt: skip
    session.add(row)
    session.flush()
    return row


def complete(session: Session, row: IdempotencyKey, status: int, body: str) -> None:
    """Store the response with the change it describes (same transaction)."""
    row.status, row.body = status, body
    session.flush()
