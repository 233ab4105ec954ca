"""item_prices: the prices an approved price change (调价单) sets per item, from a date, for the
chain or for one region, store or warehouse; a sale reads the one in force at its location

Revision ID: 0032
Revises: 0031
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(18, 4, asdecimal=True)


def upgrade() -> None:
    op.create_table(
        "item_prices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("retail_price", MONEY, nullable=True),
        sa.Column("wholesale_price", MONEY, nullable=True),
        sa.Column("document", sa.String(64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_item_prices_item_from", "item_prices", ["item_id", "valid_from"])
    op.create_index("ix_item_prices_document", "item_prices", ["document"])


def downgrade() -> None:
    op.drop_table("item_prices")
