"""stock_policies: the stock policy records as a typed kernel table, for the replenishment plan;
the ledger's sales in (location, item) order with their quantity (the plan's velocity); on
PostgreSQL, the number of (location, item) pairs of the ledger and the balances as statistics

Back-filled from the ``stock_policy`` records (one per location and item, which the form's unique
``policy_key`` guarantees); from then on kept in step by the record service (``app.meta.mirrors``).

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

QUANTITY = sa.Numeric(18, 4, asdecimal=True)


def upgrade() -> None:
    op.create_table(
        "stock_policies",
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("safety_stock", QUANTITY, nullable=False),
        sa.Column("reorder_point", QUANTITY, nullable=False),
        sa.Column("max_stock", QUANTITY, nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("location_id", "item_id"),
        sa.UniqueConstraint("record_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        integer = "CAST(data ->> '{0}' AS integer)"
        decimal = "CAST(NULLIF(data ->> '{0}', '') AS numeric)"
    else:
        integer = "CAST(json_extract(data, '$.{0}') AS integer)"
        decimal = "CAST(NULLIF(json_extract(data, '$.{0}'), '') AS NUMERIC)"
    location, item = integer.format("location"), integer.format("item")
    op.execute(
        "INSERT INTO stock_policies (location_id, item_id, safety_stock, reorder_point,"
        " max_stock, record_id)"
        f" SELECT {location}, {item}, COALESCE({decimal.format('safety_stock')}, 0),"
        f" COALESCE({decimal.format('reorder_point')}, 0), {decimal.format('max_stock')}, id"
        " FROM records WHERE id IN ("
        # one per pair (the form's unique key says so; should two have slipped in, the latest)
        f"  SELECT max(id) FROM records WHERE form = 'stock_policy' GROUP BY {location}, {item})"
        f" AND {location} IN (SELECT id FROM locations) AND {item} IN (SELECT id FROM items)"
    )

    op.create_index(
        "ix_stock_ledger_sales",
        "stock_ledger",
        ["reason", "location_id", "item_id", "at"],
        postgresql_include=["quantity"],
    )

    if op.get_bind().dialect.name == "postgresql":
        # how many (location, item) pairs the ledger and the balances hold: without it the
        # planner guesses a tenth of the millions of groups the plan sums, and sorts or hashes
        # them the wrong way (bench/README.md, "replenishment.py")
        for table in ("stock_ledger", "stock_balances"):
            op.execute(
                f"CREATE STATISTICS IF NOT EXISTS st_{table}_position (ndistinct)"
                f" ON location_id, item_id FROM {table}"
            )
            op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("stock_ledger", "stock_balances"):
            op.execute(f"DROP STATISTICS IF EXISTS st_{table}_position")
    op.drop_index("ix_stock_ledger_sales", table_name="stock_ledger")
    op.drop_table("stock_policies")
