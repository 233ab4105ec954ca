"""the shipped transfer out gained the formula field needs_review (出库复核 of what leaves a
warehouse): queue the formula backfill of the transfer outs saved before, so that a warehouse's
draft saved before the upgrade is reviewed too and shows on the warehouse dashboard

The backfill job (``app.meta.backfill``) fills only what a record lacks, with the form's live
rules, and audits each record it fills; the worker runs it. Nothing is queued on a database
without transfer outs (a new one).

Revision ID: 0028
Revises: 0027
"""

from app.migrate import queue_formula_backfill

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    queue_formula_backfill("transfer_out")


def downgrade() -> None:
    """Nothing to undo: a filled value is what the form computes."""
