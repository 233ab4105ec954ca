"""jobs.attempts and jobs.run_after: a job whose handler asked to retry (a webhook whose
endpoint was down) is queued again for later, and counts its attempts

Revision ID: 0034
Revises: 0033
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("run_after", app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("run_after")
        batch.drop_column("attempts")
