"""the shipped supplier return gained the formula field needs_review (出库复核 of what a
warehouse sends back to a supplier): queue the formula backfill of the supplier returns saved
before, so that a warehouse's draft saved before the upgrade is reviewed too

As 0028 does for transfer outs: the backfill job fills only what a record lacks and audits each
record it fills; nothing is queued on a database without supplier returns.

Revision ID: 0029
Revises: 0028
"""

from app.migrate import queue_formula_backfill

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    queue_formula_backfill("supplier_return")


def downgrade() -> None:
    """Nothing to undo: a filled value is what the form computes."""
