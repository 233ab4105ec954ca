"""closed_periods and period_balances: the months finance has closed (结账) and the stock each
closed with (期末结存)

Revision ID: 0041
Revises: 0040
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

NUMBER = sa.Numeric(18, 4, asdecimal=True)


def upgrade() -> None:
    op.create_table(
        "closed_periods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reopened_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopened_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reopen_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_closed_periods_through", "closed_periods", ["through"])
    op.create_table(
        "period_balances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "period_id",
            sa.Integer(),
            sa.ForeignKey("closed_periods.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("lots.id"), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("quantity", NUMBER, nullable=False),
        sa.Column("unit_cost", NUMBER, nullable=True),
    )
    op.create_index(
        "ix_period_balances_period", "period_balances", ["period_id", "location_id", "item_id"]
    )


def downgrade() -> None:
    op.drop_table("period_balances")
    op.drop_table("closed_periods")
