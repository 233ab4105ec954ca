"""stocktakes

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-25 10:23:10.906396
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stocktakes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "counting", "posted", "aborted", name="stocktakestate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("all_items", sa.Boolean(), nullable=False),
        sa.Column("opened_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_stocktakes_closed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stocktakes_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["users.id"], name=op.f("fk_stocktakes_opened_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktakes")),
        sa.UniqueConstraint("document", name=op.f("uq_stocktakes_document")),
    )
    with op.batch_alter_table("stocktakes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stocktakes_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "stocktake_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_stocktake_items_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["stocktake_id"],
            ["stocktakes.id"],
            name=op.f("fk_stocktake_items_stocktake_id_stocktakes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_items")),
        sa.UniqueConstraint(
            "stocktake_id", "item_id", name=op.f("uq_stocktake_items_stocktake_id_item_id")
        ),
    )
    op.create_table(
        "stocktake_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("lot_key", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_stocktake_snapshots_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_stocktake_snapshots_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["stocktake_id"],
            ["stocktakes.id"],
            name=op.f("fk_stocktake_snapshots_stocktake_id_stocktakes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_snapshots")),
        sa.UniqueConstraint(
            "stocktake_id",
            "item_id",
            "lot_key",
            "status",
            name=op.f("uq_stocktake_snapshots_stocktake_id_item_id_lot_key_status"),
        ),
    )
    op.create_table(
        "stocktake_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("counted_by", sa.Integer(), nullable=True),
        sa.Column("counted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counted_by"], ["users.id"], name=op.f("fk_stocktake_counts_counted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_stocktake_counts_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_stocktake_counts_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["stocktake_id"],
            ["stocktakes.id"],
            name=op.f("fk_stocktake_counts_stocktake_id_stocktakes"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_stocktake_counts_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_counts")),
    )
    with op.batch_alter_table("stocktake_counts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stocktake_counts_stocktake_id"), ["stocktake_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stocktake_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stocktake_counts_stocktake_id"))

    op.drop_table("stocktake_counts")
    op.drop_table("stocktake_snapshots")
    op.drop_table("stocktake_items")
    with op.batch_alter_table("stocktakes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stocktakes_location_id"))

    op.drop_table("stocktakes")
