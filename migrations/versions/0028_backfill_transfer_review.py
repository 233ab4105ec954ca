"""the shipped transfer out gained the formula field needs_review (出库复核 of what leaves a
warehouse): queue the formula backfill of the transfer outs saved before, so that a warehouse's
draft saved before the upgrade is reviewed too and shows on the warehouse dashboard

The backfill job (``app.meta.backfill``) fills only what a record lacks, with the form's live
rules, and audits each record it fills; the worker runs it. Nothing is queued on a database
without transfer outs (a new one).

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0028"
down_revision = "0027"
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
    saved = connection.scalar(sa.select(records.c.id).where(records.c.form == "transfer_out"))
    if saved is None:
        return
    connection.execute(
        jobs.insert().values(
            kind="formula_backfill",
            params={"form": "transfer_out", "user_id": None},
            status="queued",
            progress=0,
            created_at=app.db.utcnow(),
        )
    )


def downgrade() -> None:
    """Nothing to undo: a filled value is what the form computes."""
