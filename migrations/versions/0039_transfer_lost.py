"""transfer_lines.lost: what a transfer lost on the road and wrote off (before this revision a
shortfall could only be sent back to the source: none is lost)

Revision ID: 0039
Revises: 0038
"""

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "transfer_lines", sa.Column("lost", sa.Numeric(18, 4), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("transfer_lines") as batch:
        batch.drop_column("lost")
