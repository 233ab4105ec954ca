"""One database session per request, opened lazily and always closed.

Requests that may change data (anything but GET/HEAD/OPTIONS) get a write session, which on
SQLite takes the write lock when its transaction begins.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from app.db import Database

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def database() -> Database:
    return current_app.extensions["lianku.db"]


def db_session() -> Session:
    """The current request's session."""
    if "db_session" not in g:
        g.db_session = database().session(write=request.method not in READ_METHODS)
    return g.db_session


def init_sessions(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
