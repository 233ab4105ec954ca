"""a document is opened by its number alone (``/forms/by-number/<number>``: the stock card, the
ledger's reports and the GSP books link each row's document so): an index on records.number

Revision ID: 0030
Revises: 0029
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_records_number", "records", ["number"])


def downgrade() -> None:
    op.drop_index("ix_records_number", table_name="records")
