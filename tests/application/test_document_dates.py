"""The day a document says something happened — a sale, an order, an arrival, a receipt, a
return, a complaint received — cannot be after today: a sale dated ahead takes prices not in force
yet, and a record of what happened must not predate the truth. Each refusal names its field."""

from __future__ import annotations

import pytest

from tests.application.purchasing_fixtures import day, make_bed

#: (form, date field, what the refusal says)
DATED = [
    ("sales_order", "sale_date", "The sale date cannot be after today"),
    ("customer_return", "return_date", "The return date cannot be after today"),
    ("supplier_return", "return_date", "The return date cannot be after today"),
    ("purchase_order", "order_date", "The order date cannot be after today"),
    ("purchase_receipt", "arrival_date", "The arrival date cannot be after today"),
    ("transfer_in", "received_date", "The date received cannot be after today"),
    ("quality_complaint", "received_on", "The date received cannot be after today"),
]


@pytest.fixture
def admin(app, db):
    return make_bed(app, db, {"admin": ("admin", "HQ", "en")}).api("admin")


@pytest.mark.parametrize(("form", "field", "refusal"), DATED)
def test_a_document_dated_after_today_is_refused_on_its_date(admin, form, field, refusal):
    tomorrow = admin.post(f"/api/v1/forms/{form}/evaluate", json={field: day(1)})
    assert tomorrow.status_code == 200, tomorrow.json
    assert tomorrow.json["errors"][field] == [refusal]
    today = admin.post(f"/api/v1/forms/{form}/evaluate", json={field: day(0)})
    assert field not in today.json["errors"]
