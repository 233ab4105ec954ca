"""Alembic is the single way the schema is made: the models and the migrations must agree."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.migrate import current_revision, head_revision
from app.models import metadata


def test_database_is_at_the_migration_head(db):
    assert current_revision(db.engine) == head_revision(db.engine)


def test_models_and_migrations_agree(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], f"models and migrations disagree: {differences}"
