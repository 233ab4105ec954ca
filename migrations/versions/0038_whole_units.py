"""items.whole_units: an item is bought, sold and counted in whole units unless its card says it
is measured (items before this revision were all counted so: they take true)

A plain ADD COLUMN, not a batch rebuild: on SQLite a rebuild drops ``items``, which lots, units,
balances and the ledger point at.

Revision ID: 0038
Revises: 0037
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "items", sa.Column("whole_units", sa.Boolean(), nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("whole_units")
