"""Period close for records (the shipped forms): what dates a document, which documents keep a
month open — drafts, those waiting for approval, those still on their way to the month's
accounts — and a record dated by its creation in a closed month refused as a whole."""

from __future__ import annotations

import datetime as dt

import pytest

from app.db import clock_at, utcnow
from app.kernel import periods as kernel_periods
from app.kernel.items import business_timezone
from app.meta import identity, records
from app.meta.models import Record
from app.meta.periods import document_day, unfinished

#: The moment these tests run at (held below): a run crossing a month's end keeps its months.
MOMENT = utcnow()
TODAY = MOMENT.astimezone(business_timezone()).date()
LAST_MONTH_END = TODAY.replace(day=1) - dt.timedelta(days=1)
IN_LAST_MONTH = dt.datetime.combine(
    LAST_MONTH_END.replace(day=15), dt.time(10), business_timezone()
).astimezone(dt.UTC)


@pytest.fixture(autouse=True)
def one_business_moment():
    with clock_at(MOMENT):
        yield


@pytest.fixture
def registry(app):
    return app.extensions["lianku.registry"]


def add(db, form: str, state: str, data: dict | None = None, created_at=None) -> int:
    with db.transaction() as session:
        record = Record(form=form, state=state, data=data or {}, number=f"{form}-{state}",
                        created_at=created_at or utcnow())  # fmt: skip
        session.add(record)
        session.flush()
        return record.id


def test_a_document_is_dated_by_its_period_date_else_by_its_creation(registry):
    payment, adjustment = registry.form("supplier_payment"), registry.form("stock_adjustment")
    day = dt.date(2026, 10, 31)
    assert document_day(payment, {"payment_date": "2026-10-31"}) == (day, "payment_date")
    record = Record(created_at=IN_LAST_MONTH)
    # no date written (an old record): the day it was created
    assert document_day(payment, {}, record) == (LAST_MONTH_END.replace(day=15), None)
    assert document_day(adjustment, {}, record) == (LAST_MONTH_END.replace(day=15), None)
    assert document_day(adjustment, {}) == (None, None)  # created now: never closed
    assert document_day(registry.form("customer"), {}, record) == (None, None)  # master data
    assert document_day(registry.form("quality_complaint"), {}, record) == (None, None)


def test_drafts_and_waiting_documents_of_the_month_keep_it_open(db, registry):
    last, this = LAST_MONTH_END.isoformat(), TODAY.isoformat()
    listed = [
        add(db, "supplier_payment", "draft", {"payment_date": last}),
        add(db, "stock_adjustment", "in_approval", created_at=IN_LAST_MONTH),
        # on their way to the month's accounts: not yet inspected, a hospital's not delivered
        add(db, "purchase_receipt", "awaiting_inspection", {"arrival_date": last}),
        add(db, "sales_order", "confirmed", {"sale_date": last, "sale_kind": "hospital"}),
    ]
    add(db, "purchase_receipt", "done", {"arrival_date": last})  # counted already
    add(db, "sales_order", "picked", {"sale_date": last, "sale_kind": "retail"})  # on no account
    add(db, "supplier_payment", "draft", {"payment_date": this})  # the month after
    add(db, "supplier_payment", "confirmed", {"payment_date": last})  # finished
    add(db, "stock_adjustment", "draft")  # created now
    add(db, "quality_complaint", "draft", created_at=IN_LAST_MONTH)  # not the books
    add(db, "customer", "draft", created_at=IN_LAST_MONTH)  # master data
    with db.session() as session:
        assert sorted(r.id for r in unfinished(session, registry, LAST_MONTH_END)) == listed
        earlier = LAST_MONTH_END.replace(day=1) - dt.timedelta(days=1)
        assert unfinished(session, registry, earlier) == []


def test_a_record_dated_by_its_creation_in_a_closed_month_is_refused_whole(db, registry):
    with db.transaction() as session:
        admin = identity.create_user(session, "boss", "老板", "pw-123456789", roles=["admin"])
    with clock_at(IN_LAST_MONTH):
        record_id = add(db, "stock_adjustment", "draft", {"explanation": "旧草稿"})
    with db.transaction() as session:  # closed past its draft (the engine would have refused)
        kernel_periods.close(session, LAST_MONTH_END, None)
    with db.transaction() as session:
        with pytest.raises(records.InClosedPeriod, match="closed through"):
            records.update(session, registry, admin, "stock_adjustment", record_id,
                           {"explanation": "改"}, version=1)  # fmt: skip
        with pytest.raises(records.InClosedPeriod):
            records.delete(session, registry, admin, "stock_adjustment", record_id, version=1)
