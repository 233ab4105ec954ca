"""the on-hand index also carries each balance's status and lot: the replenishment plan sums the
sellable stock of every position, and its free lots, from the index alone

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

INDEX, TABLE = "ix_stock_balances_on_hand", "stock_balances"


def _create(include: list[str]) -> None:
    op.create_index(
        INDEX,
        TABLE,
        ["location_id", "item_id"],
        postgresql_include=include,
        postgresql_where=sa.text("on_hand > 0"),
        sqlite_where=sa.text("on_hand > 0"),
    )


def upgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    _create(["on_hand", "reserved", "status", "lot_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    _create(["on_hand", "reserved"])
