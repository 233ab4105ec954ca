"""replenishment: sales by reason and time, for the plan's velocity

Revision ID: 0020
Revises: 0018
"""

from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_stock_ledger_reason_at", "stock_ledger", ["reason", "at"])


def downgrade() -> None:
    op.drop_index("ix_stock_ledger_reason_at", table_name="stock_ledger")
