"""The month-end close (期间结账) through the API and the page, as finance uses it: a month with
a draft still in it does not close and says which; once closed, its documents cannot be created,
moved into it, voided or deleted — refused on the field that dates them — while the month after
goes on; the closing stock is kept for the report; only finance (and admins) close and reopen,
with a reason, and the audit trail says who."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.db import clock_at
from app.kernel import periods
from app.kernel.audit import AuditEntry
from app.kernel.items import business_timezone
from tests.application import purchasing_fixtures as purchasing
from tests.application.clock import TODAY
from tests.application.test_invoices import (
    accepted_receipt,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
)
from tests.application.test_purchasing import inspected
from tests.conftest import csrf_token

PAYMENTS = "supplier_payment"
LAST_MONTH_END = TODAY.replace(day=1) - dt.timedelta(days=1)
LAST_MONTH = LAST_MONTH_END.strftime("%Y-%m")


def in_last_month():
    """The clock held at noon on last month's 20th."""
    noon = dt.datetime.combine(LAST_MONTH_END.replace(day=20), dt.time(12), business_timezone())
    return clock_at(noon)


def payment(bed, supplier: dict, on: str, amount: str = "100.00"):
    return bed.api("cashier").post(purchasing.url(PAYMENTS), json={
        "location": bed.loc("HQ"), "supplier": supplier["id"], "method": "bank_transfer",
        "payment_date": on, "amount": amount,
    })  # fmt: skip


def close(bed, month=LAST_MONTH, username="cashier"):
    return bed.api(username).post("/api/v1/periods", json={"month": month})


def test_a_month_closes_once_its_drafts_are_finished_and_then_holds(bed):
    supplier = bed.supplier()
    cashier = bed.api("cashier")
    draft = payment(bed, supplier, LAST_MONTH_END.isoformat())
    assert draft.status_code == 201, draft.json

    refused = close(bed)
    assert refused.status_code == 409, refused.json
    assert refused.json["field"] == "month"
    assert "are not finished (drafts, waiting for approval" in refused.json["error"]
    assert [(doc["number"], doc["state"]) for doc in refused.json["unfinished"]] == [
        (draft.json["number"], "Draft")
    ]
    assert refused.json["unfinished"][0]["url"].endswith(f"/{PAYMENTS}/{draft.json['id']}")
    assert cashier.get("/api/v1/periods").json["closed_through"] is None  # nothing written

    confirmed = bed.fire("cashier", PAYMENTS, draft.json["id"], "confirm")
    assert confirmed.status_code == 200, confirmed.json
    closed = close(bed)
    assert closed.status_code == 201, closed.json
    assert (closed.json["month"], closed.json["closed_by"]) == (LAST_MONTH, "Cashier 用户")
    listed = cashier.get("/api/v1/periods").json
    assert listed["closed_through"] == LAST_MONTH_END.isoformat()
    assert [period["month"] for period in listed["periods"]] == [LAST_MONTH]

    # a document dated in it: refused on the date, nothing saved
    late = payment(bed, supplier, LAST_MONTH_END.isoformat(), "5.00")
    assert late.status_code == 422, late.json
    assert list(late.json["errors"]) == ["payment_date"]
    assert "closed through" in late.json["errors"]["payment_date"][0]
    # today's is fine; moving it into the closed month is not
    today = payment(bed, supplier, TODAY.isoformat(), "5.00")
    assert today.status_code == 201, today.json
    moved = cashier.put(purchasing.url(PAYMENTS, today.json["id"]), json={
        "version": today.json["version"], "payment_date": LAST_MONTH_END.isoformat(),
    })  # fmt: skip
    assert moved.status_code == 422 and list(moved.json["errors"]) == ["payment_date"]

    # voiding the closed month's payment would change its figures: refused, the state kept
    voided = bed.fire("cashier", PAYMENTS, draft.json["id"], "void", comment="重复付款")
    assert voided.status_code == 409, voided.json
    assert voided.json["field"] == "payment_date"
    assert cashier.get(purchasing.url(PAYMENTS, draft.json["id"])).json["state"] == "confirmed"

    # reopened with a reason, it can be voided
    for body in ({}, {"reason": " "}):
        no_reason = cashier.post("/api/v1/periods/reopen", json=body)
        assert no_reason.status_code == 409 and no_reason.json["field"] == "reason"
    reopened = cashier.post("/api/v1/periods/reopen", json={"reason": "付款重复，需作废"})
    assert reopened.status_code == 200, reopened.json
    assert reopened.json["reopen_reason"] == "付款重复，需作废"
    voided = bed.fire("cashier", PAYMENTS, draft.json["id"], "void", comment="重复付款")
    assert voided.status_code == 200, voided.json
    with bed.db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "period").order_by(AuditEntry.id)
        ).all()
        assert [(entry.action, entry.user_id) for entry in entries] == [
            ("close", bed.users["cashier"]),
            ("reopen", bed.users["cashier"]),
        ]


def test_goods_of_the_month_not_yet_inspected_keep_it_open_and_never_count_into_it_late(bed):
    """Goods that arrived last month count on its payables once inspected: awaiting inspection,
    they keep the month open; in a month closed all the same (before this rule), inspecting them
    would change its payables and is refused, while QA's inspection results may still be
    written."""
    supplier = bed.supplier()
    with in_last_month():
        receipt = bed.create("keeper", "purchase_receipt", {
            "location": bed.loc("WH-SH"), "supplier": supplier["id"],
            "lines": [{"item": bed.glc, "lot": "LATE", "expiry_date": purchasing.day(400),
                       "quantity": "4", "unit_cost": "10.00"}],
        })  # fmt: skip
        received = bed.fire("keeper", "purchase_receipt", receipt["id"], "receive").json
    refused = close(bed)
    assert refused.status_code == 409, refused.json
    assert [doc["number"] for doc in refused.json["unfinished"]] == [receipt["number"]]

    with bed.db.transaction() as session:  # closed regardless, as a month closed before was
        periods.close(session, LAST_MONTH_END)
    qa = bed.api("qa")
    written = qa.put(purchasing.url("purchase_receipt", receipt["id"]), json={
        "version": received["version"], "inspector": bed.users["qa"],
        "inspected_at": TODAY.isoformat(),
        "lines": inspected(received["data"]["lines"], [
            {"accepted_quantity": "4", "rejected_quantity": "0", "conclusion": "accepted"}]),
    })  # fmt: skip
    assert written.status_code == 200, written.json  # the step's own fields: today's work
    done = bed.fire("qa", "purchase_receipt", receipt["id"], "inspect", **purchasing.VERIFY)
    assert done.status_code == 409 and done.json["field"] == "arrival_date", done.json
    assert qa.get(purchasing.url("purchase_receipt", receipt["id"])).json["state"] == (
        "awaiting_inspection"
    )


def test_months_close_in_order_and_only_ended_ones(bed):
    this_month = close(bed, TODAY.strftime("%Y-%m"))
    assert this_month.status_code == 409 and "has not ended yet" in this_month.json["error"]
    two_back = (LAST_MONTH_END.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    assert close(bed, two_back).status_code == 201
    assert close(bed, two_back).json["error"].endswith("is closed already.")
    bad = close(bed, "last month")
    assert bad.status_code == 409 and bad.json["field"] == "month"
    assert close(bed).status_code == 201  # the next in order


def test_only_who_closes_months_may(bed):
    keeper = bed.api("keeper")
    assert close(bed, username="keeper").status_code == 403
    assert keeper.post("/api/v1/periods/reopen", json={"reason": "x"}).status_code == 403
    assert keeper.get("/api/v1/periods").status_code == 403


def test_the_closing_stock_is_kept_for_the_report(bed):
    supplier = bed.supplier()
    with in_last_month():
        accepted_receipt(bed, supplier, "8", "12.00")
    accepted_receipt(bed, supplier, "3", "15.00")  # this month: not in last month's stock
    assert close(bed).status_code == 201
    report = bed.api("cashier").get(
        "/api/v1/reports/closing_stock", query_string={"month_end": LAST_MONTH_END.isoformat()}
    )
    assert report.status_code == 200, report.json
    rows = [
        tuple(row["values"][name] for name in ("location", "lot", "status", "quantity", "value"))
        for row in report.json["rows"]
    ]
    assert rows == [("上海中心仓", "L8", "available", "8", "96.00")]


def test_the_page_closes_and_lists_what_keeps_a_month_open(bed, app):
    supplier = bed.supplier()
    draft = payment(bed, supplier, LAST_MONTH_END.isoformat())
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"username": "cashier", "password": purchasing.PASSWORD,
                                "csrf_token": csrf_token(page.text)})  # fmt: skip
    page = client.get("/periods")
    assert page.status_code == 200
    assert f'value="{LAST_MONTH}"' in page.text  # the month next to close, proposed
    refused = client.post(
        "/periods/close", data={"month": LAST_MONTH, "csrf_token": csrf_token(page.text)}
    )
    assert refused.status_code == 409
    assert "data-unfinished" in refused.text and draft.json["number"] in refused.text
    bed.fire("cashier", PAYMENTS, draft.json["id"], "confirm")
    record_page = f"/forms/{PAYMENTS}/{draft.json['id']}"
    assert 'data-transition="void"' in client.get(record_page).text
    closed = client.post(
        "/periods/close", data={"month": LAST_MONTH, "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )  # fmt: skip
    assert closed.status_code == 200
    assert f'data-period="{LAST_MONTH}"' in closed.text
    assert LAST_MONTH_END.isoformat() in closed.text  # "closed through …"
    assert 'data-transition="void"' not in client.get(record_page).text  # not offered now
    reopened = client.post(
        "/periods/reopen", data={"reason": "补录发票", "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )  # fmt: skip
    assert reopened.status_code == 200 and "补录发票" in reopened.text


def test_the_answers_are_what_the_api_document_says(bed):
    """An integrator reads the periods' answers from the OpenAPI document: the list, a close,
    a refusal with the documents that keep the month open."""
    from tests.web.test_openapi import SPEC, schema_validator

    supplier = bed.supplier()
    cashier = bed.api("cashier")
    document = cashier.get(SPEC).json
    draft = payment(bed, supplier, LAST_MONTH_END.isoformat())
    refused = close(bed)
    schema_validator(document, "PeriodRefused").validate(refused.json)
    assert refused.json["unfinished"]
    bed.fire("cashier", PAYMENTS, draft.json["id"], "confirm")
    schema_validator(document, "Period").validate(close(bed).json)
    schema_validator(document, "Periods").validate(cashier.get("/api/v1/periods").json)
    reopened = cashier.post("/api/v1/periods/reopen", json={"reason": "补录"}).json
    schema_validator(document, "Period").validate(reopened)
