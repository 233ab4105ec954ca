"""count review and recall returns: a stocktake remembers its submission for review; a transfer
line remembers the stock status its goods travel in (recalled goods go back nonconforming)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stocktakes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("submitted_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("submitted_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_stocktakes_submitted_by_users"), "users", ["submitted_by"], ["id"]
        )
    with op.batch_alter_table("transfer_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "awaiting_inspection", "available", "nonconforming", "in_transit",
                    name="stockstatus", native_enum=False, length=24,
                ),
                server_default="available",
                nullable=False,
            )
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("transfer_lines", schema=None) as batch_op:
        batch_op.drop_column("status")
    with op.batch_alter_table("stocktakes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_stocktakes_submitted_by_users"), type_="foreignkey")
        batch_op.drop_column("submitted_by")
        batch_op.drop_column("submitted_at")
