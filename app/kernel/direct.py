"""The statements of every stock posting, run on PostgreSQL straight on psycopg's connection.

A posting runs the same few pre-built Core statements every time, and SQLAlchemy's work around
each execution (parameter and result processing, result metadata, the session's connection
bookkeeping) costs about as much CPU as psycopg's own. All the threads of a server share one
interpreter, so that CPU caps the posting rate. On PostgreSQL each statement is therefore compiled
to SQL text once and run on the DBAPI connection under the session's ``Connection``, inside the
same transaction; on SQLite it runs through SQLAlchemy as usual.

The other hot path is the large read (a replenishment plan reads a million rows): ``rows``
gives its rows as plain tuples, a batch at a time.

Callers pass values psycopg adapts to the column as they are (ints, strings and ``StrEnum``
members, ``Decimal``, aware ``datetime``, lists for arrays, ``Json`` for JSON — see ``json``) and
read the rows by column name, as with SQLAlchemy rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from psycopg.rows import namedtuple_row
from psycopg.types.json import Json
from sqlalchemy import Connection, bindparam, false, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable


def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def execute(connection: Connection, statement: Executable, parameters: dict) -> list:
    """Run ``statement`` (one that returns rows) once; return its rows."""
    if not is_postgresql(connection):
        result = connection.execute(statement, parameters)
        return result.all() if result.returns_rows else []
    return execute_sql(connection, compiled(statement, connection.dialect), parameters)


def execute_sql(connection: Connection, sql: str, parameters: dict) -> list:
    """Run PostgreSQL ``sql`` text (``%(name)s`` parameters) once; return its rows, if any."""
    dialect = connection.dialect
    cursor = _cursor(connection)
    try:
        cursor.execute(sql, parameters)
    except dialect.loaded_dbapi.Error as error:
        # the exception SQLAlchemy would raise, so callers catch one kind whichever way it ran
        base = dialect.loaded_dbapi.Error
        raise DBAPIError.instance(sql, parameters, error, base, dialect=dialect) from error
    return cursor.fetchall() if cursor.rownumber is not None else []  # None: no rows to fetch


def rows(connection: Connection, statement: Executable, batch: int = 10_000) -> Iterator[tuple]:
    """The rows of a large read, as plain tuples.

    SQLAlchemy turns each row into a ``Row`` as it is fetched, a few microseconds of Python a
    row, which for the hundreds of thousands of rows a replenishment plan reads is seconds. On
    PostgreSQL the statement is executed by SQLAlchemy as usual (parameters and all) and its rows
    are taken from psycopg's cursor a batch at a time, converted in C. Only for columns whose
    values psycopg returns as the caller wants them (numbers, text, dates), not enums.
    """
    result = connection.execute(statement)
    if not is_postgresql(connection):
        yield from map(tuple, result)
        return
    try:
        while found := result.cursor.fetchmany(batch):
            yield from found
    finally:
        result.close()


def _cursor(connection: Connection):
    """One cursor per DBAPI connection, kept with it in the pool (a connection serves one thread
    at a time, and a new cursor per statement costs as much as binding its parameters)."""
    info = connection.connection.info
    cursor = info.get("lianku_cursor")
    if cursor is None or cursor.closed:
        driver = connection.connection.driver_connection
        cursor = info["lianku_cursor"] = driver.cursor(row_factory=namedtuple_row)
    return cursor


def json(connection: Connection, value):
    """A JSON column's value as ``execute`` wants it (psycopg needs it marked as JSON)."""
    return Json(value) if value is not None and is_postgresql(connection) else value


@functools.lru_cache(maxsize=1024)
def compiled(statement: Executable, dialect) -> str:
    """``statement`` compiled once to the dialect's SQL text."""
    return str(statement.compile(dialect=dialect))


def one_of(column, name: str, count: int):
    """``column IN (:name_0, :name_1, …)`` with ``count`` parameters (``parameters`` fills them).

    One statement per count rather than an expanding or array parameter: SQLAlchemy renders an
    expanding one anew on every execution, and PostgreSQL plans ``= ANY(array)`` and ``unnest``
    joins several times slower than a plain list.
    """
    if count == 0:
        return false()
    return column.in_([bindparam(f"{name}_{n}") for n in range(count)])


def tuples_of(columns, name: str, count: int):
    """``(a, b, …) IN ((:name_0_0, :name_0_1, …), …)`` for ``count`` tuples."""
    rows = [
        tuple_(*(bindparam(f"{name}_{n}_{m}", type_=c.type) for m, c in enumerate(columns)))
        for n in range(count)
    ]
    return tuple_(*columns).in_(rows)


def parameters(name: str, values) -> dict:
    """The parameters of ``one_of`` or ``tuples_of`` for ``values`` (scalars or tuples)."""
    named = {}
    for n, value in enumerate(values):
        if isinstance(value, tuple):
            named |= {f"{name}_{n}_{m}": part for m, part in enumerate(value)}
        else:
            named[f"{name}_{n}"] = value
    return named
