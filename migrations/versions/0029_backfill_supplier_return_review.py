"""the shipped supplier return gained the formula field needs_review (出库复核 of what a
warehouse sends back to a supplier): queue the formula backfill of the supplier returns saved
before, so that a warehouse's draft saved before the upgrade is reviewed too

As 0028 does for transfer outs: the backfill job fills only what a record lacks and audits each
record it fills; nothing is queued on a database without supplier returns.

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

records = sa.table("records", sa.column("id", sa.Integer), sa.column("form", sa.String))
jobs = sa.table(
    "jobs",
    sa.column("kind", sa.String),
    sa.column("params", sa.JSON),
    sa.column("status", sa.String),
    sa.column("progress", sa.Integer),
    sa.column("created_at", app.db.UTCDateTime),
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.scalar(sa.select(records.c.id).where(records.c.form == "supplier_return")):
        connection.execute(
            jobs.insert().values(
                kind="formula_backfill",
                params={"form": "supplier_return", "user_id": None},
                status="queued",
                progress=0,
                created_at=app.db.utcnow(),
            )
        )


def downgrade() -> None:
    """Nothing to undo: a filled value is what the form computes."""
