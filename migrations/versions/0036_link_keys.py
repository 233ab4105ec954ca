"""record_keys for the shipped link fields now ``indexed`` (a complaint's adverse event, a return's
sales order, a receipt's purchase order …): the records saved before get their keys, so the record
they link to lists them too (``records.referring``), as it lists the ones saved from now on

Revision ID: 0036
Revises: 0035
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

#: (form, link field) pairs the shipped metadata marks ``indexed`` since this revision
LINKS = [
    ("quality_complaint", "adverse_event"),
    ("customer_return", "sales_order"),
    ("customer_receipt", "sales_order"),
    ("purchase_receipt", "purchase_order"),
    ("supplier_return", "purchase_receipt"),
    ("supplier_payment", "purchase_receipt"),
    ("purchase_invoice", "original_invoice"),
    ("sales_invoice", "original_invoice"),
    ("stocktake_count", "stocktake"),
    ("transfer_out", "recall"),
]


def upgrade() -> None:
    bind = op.get_bind()
    for form, field in LINKS:  # (names of this file, written into the statement as they are)
        if bind.dialect.name == "postgresql":
            value = f"(r.data ->> '{field}')"
        else:
            value = f"CAST(json_extract(r.data, '$.{field}') AS TEXT)"
        bind.execute(
            sa.text(
                "INSERT INTO record_keys (record_id, form, field, value, is_unique)"
                f" SELECT r.id, r.form, '{field}', {value}, :no FROM records r"
                f" WHERE r.form = :form AND {value} IS NOT NULL AND {value} <> ''"
                " AND NOT EXISTS (SELECT 1 FROM record_keys k"
                f"                 WHERE k.record_id = r.id AND k.field = '{field}')"
            ),
            {"form": form, "no": False},
        )


def downgrade() -> None:
    delete = sa.text("DELETE FROM record_keys WHERE form = :form AND field = :field")
    for form, field in LINKS:
        op.get_bind().execute(delete, {"form": form, "field": field})
