"""What a stock posting is checked against, read fresh inside the posting's own transaction.

``post_movements`` validates every movement against the CURRENT state of its locations (open,
stock-holding, not being counted), lots (status, expiry) and serial units (where they are). This
read is on the path of every posting, so it is written for speed:

* pre-built Core statements (one per number of ids), on PostgreSQL run straight on psycopg
  (``direct``), which prepares each on the server after a few runs;
* plain result rows instead of ORM objects: loading ORM objects into the session costs several
  times the query itself. The ORM objects a rejection names are loaded only when there is one.

The locations are share-locked (``FOR KEY SHARE``) so a count cannot start under a posting in
flight, and the units are locked (``FOR UPDATE``) so two sales of one serial number queue and the
second one sees the unit gone. Lots are read without a lock, so a recall committed a moment ago is
seen. SQLite ignores the lock clauses: its write transaction already holds the database lock.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, Row, select
from sqlalchemy.orm import Session

from app.kernel import direct
from app.kernel.items import Lot, LotStatus, Unit
from app.kernel.locations import Location
from app.kernel.stock_locks import StockLock, pass_count_gate
from app.kernel.users import User

_locations, _lots, _units = Location.__table__, Lot.__table__, Unit.__table__
_stock_locks, _users = StockLock.__table__, User.__table__


@functools.lru_cache(maxsize=256)
def _locations_and_lots(dialect: str, locations: int, lots: int):
    """The locations (share-locked) with any count open on them and, in the same round trip, the
    lots: each location row is joined to every lot asked for, which for the few locations of a
    posting costs less than a second query. One statement per number of locations and lots.
    On PostgreSQL each location also passes its count gate (see ``stock_locks``)."""
    columns = [
        _locations.c.id,
        _locations.c.type,
        _locations.c.active,
        _stock_locks.c.id.label("stock_lock_id"),
        _stock_locks.c.opened_at.label("locked_since"),
        _users.c.full_name.label("locked_by"),
        _lots.c.id.label("lot_id"),
        _lots.c.item_id.label("lot_item_id"),
        _lots.c.lot_number,
        _lots.c.expiry_date,
        _lots.c.status.label("lot_status"),
    ]
    if dialect == "postgresql":
        columns.append(pass_count_gate(_locations.c.id).label("gate"))
    return (
        select(*columns)
        .select_from(
            _locations.outerjoin(_stock_locks, _stock_locks.c.location_id == _locations.c.id)
            .outerjoin(_users, _users.c.id == _stock_locks.c.opened_by)
            .outerjoin(_lots, direct.one_of(_lots.c.id, "lot_ids", lots))
        )
        .where(direct.one_of(_locations.c.id, "ids", locations))
        .order_by(_locations.c.id, _lots.c.id)
        .with_for_update(read=True, key_share=True, of=_locations)
    )


@functools.lru_cache(maxsize=256)
def _units_statement(count: int):
    return (
        select(
            _units.c.id,
            _units.c.item_id,
            _units.c.serial,
            _units.c.lot_id,
            _units.c.location_id,
            _units.c.status,
            _units.c.recalled,
        )
        .where(direct.one_of(_units.c.id, "ids", count))
        .order_by(_units.c.id)
        .with_for_update()
    )


@functools.lru_cache(maxsize=256)
def _lots_statement(count: int):
    return select(
        _lots.c.id,
        _lots.c.item_id,
        _lots.c.lot_number,
        _lots.c.expiry_date,
        _lots.c.status,
    ).where(direct.one_of(_lots.c.id, "ids", count))


class LotRow(NamedTuple):
    """What the rules need of a lot."""

    id: int
    item_id: int
    lot_number: str
    expiry_date: dt.date | None
    status: LotStatus


@dataclass
class PostingFacts:
    """The rows one posting was checked against, by id; ORM objects only for error messages."""

    session: Session
    connection: Connection
    locations: dict[int, Row] = field(default_factory=dict)
    lots: dict[int, Row | LotRow] = field(default_factory=dict)
    units: dict[int, Row] = field(default_factory=dict)

    def location(self, row: Row | None) -> Location | None:
        """The ORM object of a location row, for an error that names it."""
        return _entity(self.session, Location, row)

    def lot(self, row: Row | None) -> Lot | None:
        return _entity(self.session, Lot, row)

    def unit(self, row: Row | None) -> Unit | None:
        return _entity(self.session, Unit, row)


def _entity(session: Session, model, row: Row | None):
    if row is None:
        return None
    return session.get(model, row.id, populate_existing=True)


def read_facts(
    session: Session, location_ids: set[int], lot_ids: set[int], unit_ids: set[int]
) -> PostingFacts:
    """Read (and lock, see above) the locations, lots and units of one posting.

    A unit carries the lot it belongs to: a movement that names only the unit is checked
    against, and posted to, the unit's lot, read after the unit when it was not asked for.
    """
    connection = session.connection()
    facts = PostingFacts(session, connection)
    if location_ids:
        dialect = connection.dialect.name
        statement = _locations_and_lots(dialect, len(location_ids), len(lot_ids))
        parameters = direct.parameters("ids", sorted(location_ids))
        parameters |= direct.parameters("lot_ids", sorted(lot_ids))
        for row in direct.execute(connection, statement, parameters):
            facts.locations.setdefault(row.id, row)
            if row.lot_id is not None:
                facts.lots[row.lot_id] = LotRow(
                    row.lot_id, row.lot_item_id, row.lot_number, row.expiry_date, row.lot_status
                )
    if unit_ids:
        parameters = direct.parameters("ids", sorted(unit_ids))
        rows = direct.execute(connection, _units_statement(len(unit_ids)), parameters)
        facts.units = {row.id: row for row in rows}
    missing = {unit.lot_id for unit in facts.units.values() if unit.lot_id} - set(facts.lots)
    if missing:
        parameters = direct.parameters("ids", sorted(missing))
        rows = direct.execute(connection, _lots_statement(len(missing)), parameters)
        facts.lots |= {row.id: row for row in rows}
    return facts
