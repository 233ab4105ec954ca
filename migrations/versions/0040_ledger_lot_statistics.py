"""ndistinct statistics of (item_id, lot_id) on the ledger (PostgreSQL): the latest costs are one
row per item and lot, and without them the planner took the few thousand lots for hundreds of
thousands, merge-joined the costs to a report's groups and sorted a million of them on disk
(bench/README.md, "reports.py": the receipts-and-issues summary)

Revision ID: 0040
Revises: 0039
"""

from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE STATISTICS IF NOT EXISTS st_stock_ledger_lot (ndistinct)"
            " ON item_id, lot_id FROM stock_ledger"
        )
        op.execute("ANALYZE stock_ledger")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_stock_ledger_lot")
