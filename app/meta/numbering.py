"""Record numbers from a pattern such as ``PR-{location.code}-{yyyyMM}-{seq:05}``.

Each distinct prefix (form + location + month) has its own counter row in ``number_sequences``;
``UPDATE … SET value = value + 1 … RETURNING`` takes that row's lock until the transaction ends,
so concurrent creators at the same location queue for a moment and never share a number, while
other locations' creators do not wait at all. No global sequence: numbering stays per company.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.meta.models import NumberSequence

TOKEN = re.compile(r"\{([a-zA-Z_.]+)(?::(\d+))?\}")
DATE_TOKENS = {
    "yyyy": "%Y",
    "yy": "%y",
    "MM": "%m",
    "dd": "%d",
    "yyyyMM": "%Y%m",
    "yyyyMMdd": "%Y%m%d",
}


def next_value(session: Session, key: str) -> int:
    """The next number of counter ``key`` (1 for a new key), locked until commit."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(NumberSequence)
        .values(key=key, value=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return session.execute(
        update(NumberSequence)
        .where(NumberSequence.key == key)
        .values(value=NumberSequence.value + 1)
        .returning(NumberSequence.value)
    ).scalar_one()


def render(pattern: str, form: str, location=None, now: dt.datetime | None = None, session=None):
    """The next number for ``pattern``; ``location`` fills ``{location.code}``."""
    now = now or utcnow()

    def fill(match: re.Match) -> str:
        token = match.group(1)
        if token in DATE_TOKENS:
            return now.strftime(DATE_TOKENS[token])
        if token.startswith("location."):
            value = getattr(location, token.split(".", 1)[1], None) if location else None
            return str(value) if value is not None else "X"
        return match.group(0)

    prefix = TOKEN.sub(fill, pattern)
    seq = next_value(session, f"{form}:{prefix}")

    def fill_seq(match: re.Match) -> str:
        if match.group(1) == "seq":
            width = int(match.group(2) or 0)
            return str(seq).zfill(width)
        return match.group(0)

    return TOKEN.sub(fill_seq, prefix)
