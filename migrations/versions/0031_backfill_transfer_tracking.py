"""the shipped transfer out's lines gained the formula field tracking (how the line's item is
tracked: by lot, by serial, or not), which the picking rules read — every tracked line names its
lot, every serial device its unit: queue the formula backfill of the transfer outs saved before,
so that a draft saved before the upgrade is held to those rules too

Revision ID: 0031
Revises: 0030
"""

from app.migrate import queue_formula_backfill

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    queue_formula_backfill("transfer_out")


def downgrade() -> None:
    """Nothing to undo: a filled value is what the form computes."""
