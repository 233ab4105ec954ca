"""Alembic is the single way the schema is made: the models and the migrations must agree."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from app.db import make_engine
from app.migrate import current_revision, head_revision, upgrade
from app.models import metadata


def test_database_is_at_the_migration_head(db):
    assert current_revision(db.engine) == head_revision(db.engine)


def test_models_and_migrations_agree(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


@pytest.mark.parametrize(
    ("form", "revision"),
    [("transfer_out", "0028"), ("supplier_return", "0029"), ("transfer_out", "0031")],
)
def test_forms_that_gained_a_formula_get_their_formulas_filled(tmp_path, form, revision):
    """The shipped transfer out (0028) and supplier return (0029) gained ``needs_review``, the
    transfer out's lines ``tracking`` (0031): the upgrade queues the formula backfill of the
    records saved before (the worker fills them), and of none on a new database."""
    before = f"{int(revision) - 1:04}"
    for saved, queued in ((True, 1), (False, 0)):
        engine = create_engine(f"sqlite:///{tmp_path / f'{saved}.db'}")
        upgrade(engine, before)
        with engine.begin() as connection:
            if saved:
                connection.execute(text(
                    "INSERT INTO records (form, state, created_at, updated_at, version,"
                    " meta_version, data) VALUES (:form, 'draft', '2026-12-01 08:00:00',"
                    " '2026-12-01 08:00:00', 1, 1, '{}')"
                ), {"form": form})  # fmt: skip
        upgrade(engine, revision)
        with engine.connect() as connection:
            jobs = connection.execute(text("SELECT kind, params, status FROM jobs")).all()
        assert len(jobs) == queued
        if queued:
            assert jobs[0][0] == "formula_backfill" and jobs[0][2] == "queued"
            assert f'"form": "{form}"' in jobs[0][1]
        engine.dispose()


def test_link_fields_indexed_since_0036_get_keys_for_the_records_saved_before(tmp_path):
    """0036 writes the keys of the link fields the shipped forms index since then (a return's
    sales order …) for the records saved before, once: the sales order lists its old returns."""
    engine = create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    upgrade(engine, "0035")
    insert = text(
        "INSERT INTO records (id, form, state, created_at, updated_at, version, meta_version, data)"
        " VALUES (:id, :form, 'draft', '2026-12-01 08:00:00', '2026-12-01 08:00:00', 1, 1, :data)"
    )
    with engine.begin() as connection:
        for id_, form, data in [
            (1, "sales_order", "{}"),
            (2, "customer_return", '{"sales_order": 1}'),
            (3, "customer_return", '{"sales_order": null}'),  # (names none: no key)
            (4, "quality_complaint", '{"adverse_event": 5}'),
            (5, "adverse_event", "{}"),
        ]:
            connection.execute(insert, {"id": id_, "form": form, "data": data})
    upgrade(engine, "0036")
    with engine.connect() as connection:
        keys = connection.execute(
            text("SELECT record_id, form, field, value, is_unique FROM record_keys ORDER BY 1")
        ).all()
    assert [tuple(key) for key in keys] == [
        (2, "customer_return", "sales_order", "1", False),
        (4, "quality_complaint", "adverse_event", "5", False),
    ]
    engine.dispose()


def test_confirmed_payments_before_0037_are_counted_as_paid_on_their_documents(tmp_path):
    """0037 counts the confirmed payments (customer receipts) naming a receipt (a sales order)
    into its ``paid``, as confirming them counts from now on; voided and draft ones do not
    count, and documents nobody paid are left as they were."""
    engine = create_engine(f"sqlite:///{tmp_path / 'paid.db'}")
    upgrade(engine, "0036")
    insert = text(
        "INSERT INTO records (id, form, state, created_at, updated_at, version, meta_version, data)"
        " VALUES (:id, :form, :state, '2026-12-01 08:00:00', '2026-12-01 08:00:00', 1, 1, :data)"
    )
    with engine.begin() as connection:
        for id_, form, state, data in [
            (1, "purchase_receipt", "done", '{"total": "96.00"}'),
            (2, "supplier_payment", "confirmed", '{"purchase_receipt": 1, "amount": "30"}'),
            (3, "supplier_payment", "confirmed", '{"purchase_receipt": 1, "amount": "20.50"}'),
            (4, "supplier_payment", "voided", '{"purchase_receipt": 1, "amount": "100"}'),
            (5, "supplier_payment", "draft", '{"purchase_receipt": 1, "amount": "7"}'),
            (6, "supplier_payment", "confirmed", '{"purchase_receipt": null, "amount": "9"}'),
            (7, "sales_order", "delivered", '{"total": "50.00"}'),
            (8, "customer_receipt", "confirmed", '{"sales_order": 7, "amount": "12.345"}'),
            (9, "purchase_receipt", "done", '{"total": "10.00"}'),
        ]:
            connection.execute(insert, {"id": id_, "form": form, "state": state, "data": data})
    upgrade(engine, "0037")
    with engine.connect() as connection:
        paid = dict(connection.execute(text(
            "SELECT id, json_extract(data, '$.paid') FROM records WHERE id IN (1, 7, 9)"
        )).all())  # fmt: skip
    assert paid == {1: "50.50", 7: "12.35", 9: None}
    engine.dispose()


def test_items_on_record_before_0038_are_counted_in_whole_units(tmp_path):
    """0038 adds ``items.whole_units`` to a database whose items lots already point at — with
    SQLite's foreign keys enforced, as the application connects (a table rebuild would fail)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'units.db'}")
    upgrade(engine, "0037")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO items (id, code, name, unit_of_measure, device_class, tracking,"
            " expiry_required, storage_condition, near_expiry_days, active, created_at)"
            " VALUES (1, 'STRIP', '血糖试纸', '盒', 'II', 'lot', 1, 'normal', 90, 1,"
            " '2026-12-01 08:00:00')"
        ))  # fmt: skip
        connection.execute(text(
            "INSERT INTO lots (id, item_id, lot_number, status, created_at)"
            " VALUES (1, 1, 'L1', 'released', '2026-12-01 08:00:00')"
        ))  # fmt: skip
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT whole_units FROM items")).scalar_one() == 1
        assert connection.execute(text("SELECT item_id FROM lots")).scalar_one() == 1
    engine.dispose()
