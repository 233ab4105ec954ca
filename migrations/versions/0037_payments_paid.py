"""``paid`` on the purchase receipts and sales orders that confirmed payments and customer
receipts name: since this revision a payment naming a document counts its amount there when
confirmed (and takes it off when voided, never below zero), so what was confirmed before is
counted now — else voiding it would be refused, and the document would look unpaid

Revision ID: 0037
Revises: 0036
"""

import json
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

#: (paying form, its field naming the document, the document's form)
PAYMENTS = [
    ("supplier_payment", "purchase_receipt", "purchase_receipt"),
    ("customer_receipt", "sales_order", "sales_order"),
]
CENT = Decimal("0.01")


def _data(value) -> dict:
    return value if isinstance(value, dict) else json.loads(value or "{}")


def upgrade() -> None:
    bind = op.get_bind()
    confirmed = sa.text("SELECT data FROM records WHERE form = :form AND state = 'confirmed'")
    document = sa.text("SELECT data FROM records WHERE id = :id AND form = :form")
    write = sa.text("UPDATE records SET data = :data WHERE id = :id")
    if bind.dialect.name == "postgresql":
        write = write.bindparams(sa.bindparam("data", type_=sa.JSON))
    for form, field, target in PAYMENTS:
        paid: dict[int, Decimal] = {}
        for (data,) in bind.execute(confirmed, {"form": form}):
            data = _data(data)
            named, amount = data.get(field), data.get("amount")
            if named in (None, "") or amount in (None, ""):
                continue
            paid[int(named)] = paid.get(int(named), Decimal(0)) + Decimal(str(amount))
        for record_id, amount in sorted(paid.items()):
            found = bind.execute(document, {"id": record_id, "form": target}).scalar()
            if found is None:
                continue
            data = _data(found)
            data["paid"] = str(amount.quantize(CENT, ROUND_HALF_UP))
            value = data if bind.dialect.name == "postgresql" else json.dumps(data)
            bind.execute(write, {"data": value, "id": record_id})


def downgrade() -> None:
    """Nothing to undo: the figure is part of the documents' data, read by the forms only."""
