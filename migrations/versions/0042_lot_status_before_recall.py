"""lots.status_before_recall: what a recalled lot was before its recall (released, or
quarantined), for a recall withdrawn as issued in error

Revision ID: 0042
Revises: 0041
"""

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lots") as batch:
        batch.add_column(sa.Column("status_before_recall", sa.String(24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lots") as batch:
        batch.drop_column("status_before_recall")
