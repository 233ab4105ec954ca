"""report indexes: the latest unit cost per item and lot, stock on the shelves per location

Revision ID: 0023
Revises: 0021
Create Date: 2026-11-26 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_stock_ledger_last_cost",
        "stock_ledger",
        ["item_id", "lot_id", "id"],
        postgresql_where=sa.text("unit_cost IS NOT NULL"),
        sqlite_where=sa.text("unit_cost IS NOT NULL"),
    )
    op.create_index(
        "ix_stock_balances_on_hand",
        "stock_balances",
        ["location_id", "item_id"],
        postgresql_include=["on_hand", "reserved"],
        postgresql_where=sa.text("on_hand > 0"),
        sqlite_where=sa.text("on_hand > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_stock_balances_on_hand", table_name="stock_balances")
    op.drop_index("ix_stock_ledger_last_cost", table_name="stock_ledger")
