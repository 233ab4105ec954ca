"""Alembic driven from code: ``migrations/`` is the single way the schema is created or changed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from app.config import PROJECT_ROOT
from app.db import UTCDateTime, utcnow

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine`` (no ``alembic.ini`` needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def queue_formula_backfill(form: str) -> None:
    """For a migration after a shipped form gained a formula field: queue the formula backfill
    of ``form``'s records saved before (the worker runs it; ``app.meta.backfill`` fills only
    what a record lacks and audits each record it fills). Nothing is queued on a database
    without such records (a new one)."""
    records = sa.table("records", sa.column("id", sa.Integer), sa.column("form", sa.String))
    jobs = sa.table(
        "jobs",
        sa.column("kind", sa.String),
        sa.column("params", sa.JSON),
        sa.column("status", sa.String),
        sa.column("progress", sa.Integer),
        sa.column("created_at", UTCDateTime),
    )
    connection = op.get_bind()
    if connection.scalar(sa.select(records.c.id).where(records.c.form == form).limit(1)):
        connection.execute(
            jobs.insert().values(
                kind="formula_backfill", params={"form": form, "user_id": None},
                status="queued", progress=0, created_at=utcnow(),
            )
        )  # fmt: skip
