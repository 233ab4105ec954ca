"""Shared fixtures: every test gets a migrated, empty database on the backend under test.

The backend is chosen by ``LIANKU_TEST_DB``: ``sqlite`` (default) or ``postgres``, the latter using
``LIANKU_TEST_POSTGRES_URL`` as the server to create a fresh database on (one per test process,
dropped at the end), so runs never see each other's rows.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import flask
import psycopg
import pytest
from sqlalchemy import make_url, text
from werkzeug.routing import Rule

from app import create_app
from app.db import Database
from app.migrate import upgrade
from app.models import metadata

#: Fixtures of the generated forms (the ``field_lab`` test form, an org, a signed-in API client).
pytest_plugins = ["tests.forms_fixtures"]

BACKEND = os.environ.get("LIANKU_TEST_DB", "sqlite")
POSTGRES_URL = os.environ.get("LIANKU_TEST_POSTGRES_URL", "")


class _Rule(Rule):
    """werkzeug's URL rule, its URL builders compiled once per test process. Every test builds
    an application of some 150 routes, and compiling their builders (Python code generated per
    route) was a third of that; a builder reads the rule only through its argument, so one
    compiled for the same route serves every application."""

    _builders: dict = {}

    def _compile_builder(self, append_unknown: bool = True):
        key = (self.rule, self.subdomain, self.host, tuple(self._trace),
               repr(sorted((self.defaults or {}).items())), append_unknown)  # fmt: skip
        if key not in self._builders:
            self._builders[key] = super()._compile_builder(append_unknown)
        return self._builders[key]


flask.Flask.url_rule_class = _Rule


def pytest_report_header(config):
    return f"lianku database backend: {BACKEND}"


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (LIANKU_TEST_DB=postgres)")
    for item in items:
        if "postgres_only" in item.keywords and BACKEND != "postgres":
            item.add_marker(skip_pg)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2 with minimal cost in tests: real hashing, without 0.2 s per password."""
    from argon2 import PasswordHasher

    from app.kernel import users

    real, users.password_hasher = (
        users.password_hasher,
        PasswordHasher(time_cost=1, memory_cost=256, parallelism=1),
    )
    yield
    users.password_hasher = real


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    if BACKEND != "postgres" or not POSTGRES_URL:
        pytest.exit("LIANKU_TEST_DB=postgres needs LIANKU_TEST_POSTGRES_URL", returncode=2)
    name = f"lianku_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = make_url(POSTGRES_URL).set(drivername="postgresql")
    admin_dsn = server.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        # a test's commit need not wait for the disk: a crash loses only a throw-away database
        connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    yield server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_database(database_url) -> Database:
    database = Database(database_url)
    upgrade(database.engine)
    if database.dialect == "postgresql":
        _keep_rows_in_insertion_order(database)
    yield database
    database.dispose()


def _keep_rows_in_insertion_order(database: Database) -> None:
    """No autovacuum on the test tables: the space ``clean`` frees is never handed out again, so
    a table's rows are read back in the order they were written, as after the TRUNCATE this
    replaced (a test's rows are few, and the database is dropped at the end)."""
    with database.engine.begin() as connection:
        for table in metadata.sorted_tables:
            connection.execute(text(f'ALTER TABLE "{table.name}" SET (autovacuum_enabled = false)'))


def clean(database: Database) -> None:
    """Empty every table, keeping the schema, and start the ids at 1 again.

    On PostgreSQL only the tables that hold rows are emptied, by DELETE with the session in
    replica mode, so that neither the append-only triggers nor the foreign keys (triggers too)
    fire; their sequences are set back. TRUNCATE of those tables made a new file for each table
    and index, about 0.35 s a test: a quarter of the PostgreSQL run.
    """
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.dialect != "postgresql":
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))
            return
        probe = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables
        )
        filled = [row[0] for row in connection.execute(text(probe))]
        if not filled:
            return
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for name in filled:
            connection.execute(text(f'DELETE FROM "{name}"'))
        for sequence in _sequences(connection, filled):
            connection.execute(text("SELECT setval(:sequence, 1, false)"), {"sequence": sequence})


def _sequences(connection, tables: list[str]) -> list[str]:
    """The sequences owned by columns of ``tables`` (their ids), by qualified name."""
    return list(
        connection.execute(
            text(
                "SELECT quote_ident(s.relname) FROM pg_class s"
                " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass"
                " JOIN pg_class t ON t.oid = d.refobjid"
                " WHERE s.relkind = 'S' AND t.relname = ANY(:tables)"
            ),
            {"tables": tables},
        ).scalars()
    )


@pytest.fixture
def db(migrated_database) -> Database:
    """The migrated test database, emptied after the test."""
    yield migrated_database
    clean(migrated_database)


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    return {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def app(db, app_config):
    application = create_app(app_config)
    application.config["TESTING"] = True
    yield application
    application.extensions["lianku.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def without_csrf_token(page: str) -> str:
    """The page without its random CSRF token, which may happen to contain a short string a test
    expects to be absent ("S2", "UTC")."""
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    return page.replace(meta.group(1), "") if meta else page


@pytest.fixture
def login(client):
    """Sign ``client`` in through the real login form, CSRF token included."""

    def _login(username: str, password: str):
        page = client.get("/login")
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        )

    return _login


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def eventually(check, seconds: float = 10):
    """The first truthy value of ``check()`` within ``seconds`` (polled), else its last value.

    For what the server does asynchronously: it frees a dead client's locks once it notices
    the closed connection, a few milliseconds after the client's process is gone."""
    import time

    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value
