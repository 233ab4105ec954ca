"""The audit trail: append-only, hash-chained entries for every change a regulator may ask about.

Each entry stores the SHA-256 of its canonical content plus the previous entry's hash, so an
entry altered or removed behind the application's back breaks the chain at exactly that entry.

Entries are kept in several chains (``chain``: ``main`` for most things, ``location:<id>`` for
stock postings) so that writers at different locations do not queue behind one global lock: the
head row of a chain is locked (``FOR UPDATE``) only by writers appending to that chain.

Appending is on the path of every stock posting, so ``record`` writes with pre-built Core
statements (lock the head; insert the entry and move the head) instead of ORM objects and a flush,
and hashes the canonical JSON it built itself. ``AuditEntry.canonical`` produces the same text from
a stored row, which is what ``verify`` recomputes. On PostgreSQL a posting goes further: it locks
its heads in its balance lock statement, and writes its entries (``next_entry``,
``append_statement``) in the same statement as its ledger rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    column,
    func,
    insert,
    select,
    update,
    values,
)
from sqlalchemy.orm import Mapped, Session, make_transient_to_detached, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.db import Base, UTCDateTime, utcnow
from app.kernel import direct

GENESIS = "0" * 64

#: The columns an entry's hash covers (all but ``id`` and ``hash`` itself).
HASHED_FIELDS = (
    "chain", "seq", "at", "user_id", "username", "action", "entity", "entity_id", "changes",
    "reason", "request_id", "client_addr", "prev_hash",
)  # fmt: skip


def canonical(content: dict) -> str:
    """The hashed content of an entry as one deterministic JSON text (``at`` to the microsecond)."""
    content = {**content, "at": content["at"].astimezone(dt.UTC).isoformat(timespec="microseconds")}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def hash_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_log_entity", "entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(64), default="main")
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def canonical(self) -> str:
        """The content the hash covers, as one deterministic JSON text."""
        return canonical({name: getattr(self, name) for name in HASHED_FIELDS})

    def compute_hash(self) -> str:
        return hash_of(self.canonical())


class AuditChainHead(Base):
    """The last entry of each chain; locking this row serialises appends to that chain only."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and from where; filled in by the layer that knows (web request, CLI, job)."""

    user_id: int | None = None
    username: str | None = None
    request_id: str | None = None
    client_addr: str | None = None


def acting(user) -> AuditContext | None:
    """The entry's actor when a kernel call names the user (None: the ``context_provider``'s)."""
    return AuditContext(user_id=user.id, username=user.username) if user is not None else None


#: Returns the current actor; the web layer replaces it with one that reads the request.
context_provider: Callable[[], AuditContext] = AuditContext


_JSON_SCALARS = frozenset({str, int, bool, float})


def jsonable(value):
    """Make ``value`` JSON-safe without losing exactness: Decimals and dates become strings."""
    if value is None or type(value) in _JSON_SCALARS:  # most values: nothing to do, decided fast
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


_entries, _heads = AuditEntry.__table__, AuditChainHead.__table__

_LOCK_HEAD = (
    select(_heads.c.seq, _heads.c.hash)
    .where(_heads.c.chain == bindparam("chain"))
    .with_for_update()
)
_MOVE_HEAD = (
    update(_heads)
    .where(_heads.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
#: The entry's parameters are prefixed so that none is taken for a column of the head.
_INSERT_ENTRY = (
    insert(_entries)
    .values(
        {column.name: bindparam(f"e_{column.name}") for column in _entries.c if column.name != "id"}
    )
    .returning(_entries.c.id)
)
#: PostgreSQL moves the head in the same statement (a data-modifying WITH): one round trip less
#: on every append. SQLite has no such WITH and runs the two statements one after the other.
_APPEND_AND_MOVE_HEAD = _INSERT_ENTRY.add_cte(_MOVE_HEAD.cte("moved_head"))


def record(
    session: Session,
    action: str,
    entity: str,
    entity_id: object = None,
    *,
    changes: dict | None = None,
    reason: str | None = None,
    chain: str = "main",
    context: AuditContext | None = None,
) -> AuditEntry:
    """Append one entry to ``chain`` inside the caller's transaction.

    ``changes`` maps each changed field to ``[old, new]`` (or to the value, for a creation).
    The caller's pending ORM changes are flushed first, so they are in the database with it.
    """
    content = append(
        session, action, entity, entity_id,
        changes=changes, reason=reason, chain=chain, context=context,
    )  # fmt: skip
    return attach(session, AuditEntry(**content))


def append(
    session: Session,
    action: str,
    entity: str,
    entity_id: object = None,
    *,
    changes: dict | None = None,
    reason: str | None = None,
    chain: str = "main",
    context: AuditContext | None = None,
) -> dict:
    """``record`` without building the ORM object (what every stock posting needs): returns the
    entry's column values, id included."""
    session.flush()
    connection = session.connection()
    head = next(iter(direct.execute(connection, _LOCK_HEAD, {"chain": chain})), None)
    if head is None:
        connection.execute(insert(_heads).values(chain=chain, seq=0, hash=GENESIS))
        head = (0, GENESIS)
    content = next_entry(
        chain, head, action, entity, entity_id, changes=changes, reason=reason, context=context
    )
    parameters = {f"e_{name}": value for name, value in content.items()}
    parameters |= {"head_chain": chain, "head_seq": content["seq"], "head_hash": content["hash"]}
    if direct.is_postgresql(connection):
        parameters["e_changes"] = direct.json(connection, content["changes"])
        (entry_id,) = direct.execute(connection, _APPEND_AND_MOVE_HEAD, parameters)[0]
    else:
        entry_id = connection.execute(_INSERT_ENTRY, parameters).scalar_one()
        connection.execute(_MOVE_HEAD, parameters)
    refresh_loaded_head(session, chain, content["seq"], content["hash"])
    return {"id": entry_id, **content}


def next_entry(
    chain: str,
    head: tuple[int, str],
    action: str,
    entity: str,
    entity_id: object = None,
    *,
    changes: dict | None = None,
    reason: str | None = None,
    context: AuditContext | None = None,
) -> dict:
    """The column values (but the id) of the entry that follows ``head`` — the (seq, hash) of the
    chain's last entry, locked by the caller — its hash included."""
    context = context or context_provider()
    content = {
        "chain": chain,
        "seq": head[0] + 1,
        "at": utcnow(),
        "user_id": context.user_id,
        "username": context.username,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "changes": jsonable(changes) if changes is not None else None,
        "reason": reason,
        "request_id": context.request_id,
        "client_addr": context.client_addr,
        "prev_hash": head[1],
    }
    content["hash"] = hash_of(canonical(content))
    return content


@functools.lru_cache(maxsize=64)
def append_statement(count: int):
    """PostgreSQL: insert ``count`` entries (``next_entry`` values, parameters from
    ``append_parameters``) and move their chains' heads, locked by the caller, in one statement.
    Postings add their balances and ledger rows to it as more data-modifying WITHs."""
    new_heads = values(
        column("chain", String), column("seq", Integer), column("hash", String), name="new_heads"
    ).data(
        [
            tuple(bindparam(f"h_{n}_{name}", type_=_heads.c[name].type) for name in _HEAD_FIELDS)
            for n in range(count)
        ]
    )
    moved = (
        update(_heads)
        .where(_heads.c.chain == new_heads.c.chain)
        .values(seq=new_heads.c.seq, hash=new_heads.c.hash)
        .cte("moved_heads")
    )
    rows = [
        {name: bindparam(f"e_{n}_{name}", type_=_entries.c[name].type) for name in _ENTRY_FIELDS}
        for n in range(count)
    ]
    return insert(_entries).values(rows).add_cte(moved)


_HEAD_FIELDS = ("chain", "seq", "hash")
_ENTRY_FIELDS = (*HASHED_FIELDS, "hash")


def append_parameters(connection, entries: list[dict]) -> dict:
    """The parameters of ``append_statement`` for ``entries`` (``next_entry`` values)."""
    parameters = {}
    for n, entry in enumerate(entries):
        parameters |= {f"e_{n}_{name}": entry[name] for name in _ENTRY_FIELDS}
        parameters[f"e_{n}_changes"] = direct.json(connection, entry["changes"])
        parameters |= {f"h_{n}_{name}": entry[name] for name in _HEAD_FIELDS}
    return parameters


def refresh_loaded_head(session: Session, chain: str, seq: int, hash: str) -> None:
    """Keep a head this session already loaded as an ORM object in step with the database."""
    if not session.identity_map:
        return
    head = session.identity_map.get(identity_key(AuditChainHead, chain))
    if head is not None:
        set_committed_value(head, "seq", seq)
        set_committed_value(head, "hash", hash)


def attach(session: Session, row: Base):
    """Make ``row`` — built from values just written with Core — a persistent, clean ORM object."""
    make_transient_to_detached(row)
    session.add(row)
    return row


@dataclass(frozen=True)
class ChainBreak:
    """The first entry of a chain that does not match, and why."""

    chain: str
    seq: int
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        return f"chain {self.chain}, entry #{self.entry_id} (seq {self.seq}): {self.reason}"


def verify(session: Session) -> list[ChainBreak]:
    """Walk every chain in order; return the first break of each broken chain (empty: all good)."""
    breaks = []
    query = select(AuditChainHead).execution_options(populate_existing=True)
    heads = {head.chain: head for head in session.scalars(query)}
    chains = set(heads) | set(session.scalars(select(AuditEntry.chain).distinct()))
    for chain in sorted(chains):
        found = _verify_chain(session, chain, heads.get(chain))
        if found:
            breaks.append(found)
    return breaks


def _verify_chain(session: Session, chain: str, head: AuditChainHead | None) -> ChainBreak | None:
    previous_hash, expected_seq = GENESIS, 1
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
    ).yield_per(1000)
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainBreak(chain, expected_seq, entry.id, f"entry seq {expected_seq} is missing")
        if entry.prev_hash != previous_hash:
            return ChainBreak(chain, entry.seq, entry.id, "previous hash does not match")
        if entry.compute_hash() != entry.hash:
            return ChainBreak(chain, entry.seq, entry.id, "content does not match its hash")
        previous_hash, expected_seq = entry.hash, expected_seq + 1
    if head is not None and (head.seq != expected_seq - 1 or head.hash != previous_hash):
        return ChainBreak(chain, expected_seq, None, "entries after the last one were removed")
    return None


def history(session: Session, entity: str, entity_id: object) -> list[AuditEntry]:
    """Every entry about one record, oldest first: who did what to it, when, and what it was."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    )


def search(
    *,
    username: str | None = None,
    entity: str | None = None,
    entity_id: object = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select:
    """A query for the entries matching every given filter, newest first (``until`` exclusive)."""
    query = select(AuditEntry)
    if username:
        query = query.where(AuditEntry.username == username)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id not in (None, ""):
        query = query.where(AuditEntry.entity_id == str(entity_id))
    if action:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def count(session: Session, query: Select) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def chain_summary(session: Session) -> tuple[int, int]:
    """(number of entries, number of chains) — what ``lianku audit verify`` reports."""
    entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    chains = session.scalar(select(func.count(func.distinct(AuditEntry.chain)))) or 0
    return entries, chains
