"""Counterparty accounts (往来账) through the API: a hospital's delivered order is owed until
finance confirms its receipt; a supplier is owed what inspection accepted until finance pays it;
a voided receipt counts no more; the statements list the documents. Retail sales are paid at the
counter."""

from __future__ import annotations

import pytest

from app.meta import identity
from tests.application import purchasing_fixtures as purchasing
from tests.application import sales_fixtures
from tests.application.sales_fixtures import (
    CR,
    PASSWORD,
    SO,
    approved_customer,
    day,
    fire,
    review_goods,
    scan_goods,
)
from tests.application.test_purchasing import inspected
from tests.application.test_sales import SIGNED, new_order, strip_scan
from tests.races import race_behind_a_lock

shop = sales_fixtures.shop  # the fixture, used by name
RECEIPTS = "/api/v1/forms/customer_receipt/records"
PAYMENTS = "/api/v1/forms/supplier_payment/records"


def finance_user(db, location_id: int, username="cashier") -> None:
    with db.transaction() as session:
        identity.create_user(session, username, "财务", PASSWORD, roles=["finance"],
                             location_ids=[location_id], locale="en")  # fmt: skip


def report(api, name: str, **params) -> list[dict]:
    response = api.get(f"/api/v1/reports/{name}", query_string=params)
    assert response.status_code == 200, response.json
    return [row["values"] for row in response.json["rows"]]


def totals(api, name: str, **params) -> dict:
    response = api.get(f"/api/v1/reports/{name}", query_string=params)
    assert response.status_code == 200, response.json
    return response.json["totals"]["values"]


def delivered(bed, lot: str, customer=None) -> dict:
    """3 strips at 20 of ``lot`` (the next one FEFO allocates), delivered: by the clerk to a
    walk-in customer, to a hospital or clinic after the manager's review (出库复核)."""
    clerk = bed.api("clerk")
    line = {"item": bed["STRIP"], "quantity": "3", "unit_price": "20", "discount": "0"}
    order = new_order(clerk, bed, [line], customer)
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [strip_scan(lot, 3)])
    if order["data"]["sale_kind"] == "retail":
        assert fire(clerk, SO, order, "deliver").status_code == 200
        return order
    manager = bed.api("manager")
    review_goods(manager, order["id"], [strip_scan(lot, 3)])
    response = fire(manager, SO, order, "review_deliver")
    assert response.status_code == 200, response.json
    return order


def test_a_hospital_owes_its_delivered_order_until_finance_confirms_the_receipt(shop, db):
    licence = {"licence_number": "沪械经营2020001", "licence_expiry": str(day(300))}
    hospital = approved_customer(shop, "H-1", name="仁济医院", kind="hospital", **licence)
    order = delivered(shop, "A", hospital)  # 3 × 20
    delivered(shop, "A2")  # a retail sale, paid at the counter: on no account
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    assert report(cashier, "receivables") == [
        {"customer": "仁济医院", "code": "H-1", "debit": "60.00", "credit": "0.00",
         "balance": "60.00"}
    ]  # fmt: skip
    receipt = cashier.post(RECEIPTS, json={
        "location": shop["HQ"], "customer": hospital, "amount": "45.00",
        "method": "bank_transfer", "reference": "BANK-001", "sales_order": order["id"],
    })  # fmt: skip
    assert receipt.status_code == 201, receipt.json
    assert report(cashier, "receivables")[0]["balance"] == "60.00"  # a draft counts for nothing
    assert fire(cashier, RECEIPTS, receipt.json, "confirm").status_code == 200
    assert report(cashier, "receivables")[0]["balance"] == "15.00"
    statement = report(cashier, "customer_statement", customer="H-1")
    assert sorted(
        (row["form"], row["number"], row["debit"], row["credit"]) for row in statement
    ) == [
        ("customer_receipt", receipt.json["number"], "0.00", "45.00"),
        ("sales_order", order["number"], "60.00", "0.00"),
    ]
    # the balance after each document, in the order they were made; the totals row closes
    assert [(row["number"], row["running_balance"]) for row in statement] == [
        (order["number"], "60.00"), (receipt.json["number"], "15.00"),
    ]  # fmt: skip
    page = cashier.get("/reports/customer_statement", query_string={"customer": "H-1"})
    assert "Sales order" in page.text and "Customer receipt" in page.text  # the forms' labels
    assert ">Balance<" in page.text.replace(" ", "").replace("\n", "")  # the running column
    assert 'title="Rows behind this figure">-45.00</a>' in page.text  # the net, not the balance
    closing = totals(cashier, "customer_statement", customer="H-1")
    assert (closing["balance"], closing["running_balance"]) == ("15.00", "15.00")
    # a statement from the next day on opens with the 15.00 still owed, and lists nothing
    tomorrow = cashier.get(
        "/api/v1/reports/customer_statement",
        query_string={"customer": "H-1", "period": f"{day(1)}..{day(30)}"},
    )
    assert tomorrow.json["rows"] == []
    assert tomorrow.json["totals"]["values"]["running_balance"] == "15.00"
    assert tomorrow.json["opening"]["values"]["running_balance"] == "15.00"  # 期初余额
    page = cashier.get("/reports/customer_statement",
                       query_string={"customer": "H-1", "period_from": str(day(1))})  # fmt: skip
    assert 'class="fst-italic report-opening"' in page.text and "Opening balance" in page.text
    since_tomorrow = {"customer": "H-1", "period_from": str(day(1))}
    exported = cashier.get("/reports/customer_statement/export.csv", query_string=since_tomorrow)
    lines = exported.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[1].startswith("Opening balance,") and lines[1].endswith(",15.00")
    # a mistaken receipt is voided with a reason, never deleted: the debt is back
    refused = fire(cashier, RECEIPTS, receipt.json, "void")
    assert refused.status_code == 422 and "comment" in refused.json["errors"]
    assert fire(cashier, RECEIPTS, receipt.json, "void", comment="重复录入").status_code == 200
    assert report(cashier, "receivables")[0]["balance"] == "60.00"
    # a receipt must name its customer and a positive amount
    bad = cashier.post(RECEIPTS, json={"location": shop["HQ"], "amount": "-5"})
    assert bad.status_code == 422
    assert {"customer", "amount"} <= set(bad.json["errors"])


def test_a_sale_falls_due_by_the_customers_terms_and_ages_from_then(shop, db):
    """A hospital with 45 days' terms (账期): its sale falls due 45 days after the sale date,
    and the ageing shows it not yet due; a due date before the sale, or terms below zero, are
    refused by name."""
    licence = {"licence_number": "沪械经营2020002", "licence_expiry": str(day(300))}
    hospital = approved_customer(shop, "H-45", kind="hospital", payment_days=45, **licence)
    order = delivered(shop, "A", hospital)  # 3 × 20
    assert order["data"]["due_date"] == str(day(45))
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    [row] = report(cashier, "receivables_ageing")
    assert (row["open"], row["not_due"], row["overdue"], row["most_overdue"]) == (
        "60.00",
        "60.00",
        "0.00",
        0,
    )
    clerk = shop.api("clerk")
    line = {"item": shop["STRIP"], "quantity": "1", "unit_price": "20"}
    early = clerk.post(SO, json={"location": shop["S1"], "customer": hospital, "lines": [line],
                                 "due_date": str(day(-1))})  # fmt: skip
    assert early.status_code == 422 and "due_date" in early.json["errors"], early.json
    card = shop.api("buyer").post(
        "/api/v1/forms/customer/records",
        json={"code": "H-NEG", "name": "H-NEG", "kind": "hospital", "payment_days": -1, **licence},
    )
    assert card.status_code == 422 and "payment_days" in card.json["errors"], card.json


def test_a_sale_past_the_customers_credit_limit_is_refused_until_it_pays(shop, db):
    """A hospital with a credit limit of 100 owes 60 (a delivered order); a confirmed order of
    20 waits for its goods; an order of 40 would make 120: refused on the customer field, nothing
    reserved. Once it pays the 60, the same order goes through."""
    licence = {"licence_number": "沪械经营2020003", "licence_expiry": str(day(300))}
    hospital = approved_customer(shop, "H-CL", name="长海医院", kind="hospital",
                                 credit_limit="100", **licence)  # fmt: skip
    delivered(shop, "A", hospital)  # 3 × 20, on the account
    clerk = shop.api("clerk")
    line = {"item": shop["STRIP"], "quantity": "1", "unit_price": "20", "discount": "0"}
    waiting = new_order(clerk, shop, [line], hospital)
    assert fire(clerk, SO, waiting, "confirm").status_code == 200  # 60 + 20 <= 100
    larger = new_order(clerk, shop, [{**line, "quantity": "2"}], hospital)
    refused = fire(clerk, SO, larger, "confirm")
    assert refused.status_code == 409 and refused.json["field"] == "customer", refused.json
    assert "100.00" in refused.json["error"] and "60.00" in refused.json["error"]
    assert clerk.get(f"{SO}/{larger['id']}").json["state"] == "draft"
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    receipt = cashier.post(RECEIPTS, json={
        "location": shop["HQ"], "customer": hospital, "amount": "60.00",
        "method": "bank_transfer", "reference": "BANK-CL",
    })  # fmt: skip
    assert fire(cashier, RECEIPTS, receipt.json, "confirm").status_code == 200
    assert fire(clerk, SO, larger, "confirm").status_code == 200  # 0 + 20 + 40


@pytest.mark.postgres_only
def test_two_orders_confirmed_at_once_are_counted_one_after_the_other(shop, db):
    """Owing 60 of a limit of 100, two orders of 40 confirmed at the same moment: each alone
    fits, both do not. The customer's card is locked by the check, so the second counts the
    first as an open order and is refused (real threads on PostgreSQL, held at the card's lock
    until both wait there)."""
    licence = {"licence_number": "沪械经营2020004", "licence_expiry": str(day(300))}
    hospital = approved_customer(shop, "H-CC", kind="hospital", credit_limit="100", **licence)
    delivered(shop, "A", hospital)  # 60 owed
    line = {"item": shop["STRIP"], "quantity": "2", "unit_price": "20", "discount": "0"}
    apis = {"clerk": shop.api("clerk"), "manager": shop.api("manager")}
    orders = {name: new_order(api, shop, [line], hospital) for name, api in apis.items()}
    results: dict[str, int] = {}

    def confirm(name):
        results[name] = fire(apis[name], SO, orders[name], "confirm").status_code

    race_behind_a_lock(db, hospital, [(confirm, (name,), {}) for name in apis])
    assert sorted(results.values()) == [200, 409], results  # (none hung: both answered)


def test_what_a_hospital_sends_back_is_credited_once_inspected(shop, db):
    licence = {"licence_number": "沪械经营2020003", "licence_expiry": str(day(300))}
    hospital = approved_customer(shop, "H-2", name="华山医院", kind="hospital", **licence)
    order = delivered(shop, "A", hospital)  # 3 × 20 owed
    retail = delivered(shop, "A2")  # refunded at the counter: never on an account
    clerk, manager = shop.api("clerk"), shop.api("manager")
    returns = []
    for sale, lot in ((order, "A"), (retail, "A2")):
        response = clerk.post(CR, json={
            "location": shop["S1"], "sales_order": sale["id"], "reason": "包装破损",
            "credit_amount": "20.00", "lines": [strip_scan(lot, 1)],
        })  # fmt: skip
        assert response.status_code == 201, response.json
        returns.append(response.json)
        assert fire(clerk, CR, response.json, "receive").status_code == 200
    assert returns[0]["data"]["customer"] == hospital  # the order's customer, by default
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    assert report(cashier, "receivables")[0]["balance"] == "60.00"  # not inspected yet
    for back in returns:
        current = clerk.get(f"{CR}/{back['id']}").json
        lines = [current["data"]["lines"][0] | {"accepted_quantity": "1"}]
        manager.put(f"{CR}/{back['id']}", json={"lines": lines, "version": current["version"]})
        assert fire(manager, CR, back, "inspect", **SIGNED).status_code == 200
    [row] = report(cashier, "receivables")
    assert (row["customer"], row["credit"], row["balance"]) == ("华山医院", "20.00", "40.00")


def test_a_store_drafts_the_money_it_collects_and_only_finance_confirms_it(shop, db):
    licence = {"licence_number": "沪械经营2020002", "licence_expiry": str(day(300))}
    clinic = approved_customer(shop, "C-1", name="社区诊所", kind="clinic", **licence)
    clerk = shop.api("clerk")
    draft = clerk.post(RECEIPTS, json={"location": shop["S1"], "customer": clinic,
                                       "amount": "30.00", "method": "cash"})  # fmt: skip
    assert draft.status_code == 201, draft.json
    assert fire(clerk, RECEIPTS, draft.json, "confirm").status_code == 403
    assert clerk.get("/api/v1/reports/receivables").status_code == 404  # finance's, not a store's
    finance_user(db, shop["HQ"])
    assert fire(shop.api("cashier"), RECEIPTS, draft.json, "confirm").status_code == 200
    [row] = report(shop.api("cashier"), "receivables")
    assert (row["customer"], row["balance"]) == ("社区诊所", "-30.00")  # paid in advance


def test_a_supplier_is_owed_what_inspection_accepted_until_it_is_paid(app, db):
    bed = purchasing.make_bed(app, db, {**purchasing.USERS, "cashier": ("finance", "HQ", "en")})
    supplier = bed.supplier()
    item = bed.item("GLC", "0690123456011")["data"]["item"]
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": item, "lot": "L1", "expiry_date": purchasing.day(400),
                   "quantity": "10", "unit_cost": "12.00"}],
    })  # fmt: skip
    response = bed.fire("keeper", "purchase_receipt", receipt["id"], "receive")
    assert response.status_code == 200, response.json
    cashier = bed.api("cashier")
    assert report(cashier, "payables") == []  # awaiting inspection: nothing is owed yet
    response = bed.api("qa").put(purchasing.url("purchase_receipt", receipt["id"]), json={
        "version": response.json["version"], "inspector": bed.users["qa"],
        "inspected_at": purchasing.day(0),
        "lines": inspected(receipt["data"]["lines"], [
            {"accepted_quantity": "8", "rejected_quantity": "2", "conclusion": "partly_rejected",
             "reject_reason": "外包装破损"}]),
    })  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["data"]["total"] == "96.00"  # the 8 accepted, not the 10 received
    response = bed.fire("qa", "purchase_receipt", receipt["id"], "inspect", **purchasing.VERIFY)
    assert response.status_code == 200, response.json
    assert [row["balance"] for row in report(cashier, "payables")] == ["96.00"]
    payment = cashier.post(PAYMENTS, json={
        "location": bed.loc("HQ"), "supplier": supplier["id"], "amount": "96.00",
        "method": "bank_transfer", "purchase_receipt": receipt["id"],
    })  # fmt: skip
    assert payment.status_code == 201, payment.json
    assert fire(cashier, PAYMENTS, payment.json, "confirm").status_code == 200
    [row] = report(cashier, "payables")
    assert (row["debit"], row["credit"], row["balance"]) == ("96.00", "96.00", "0.00")
    sent_back = bed.create("supervisor", "supplier_return", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "purchase_receipt": receipt["id"], "reason": "other", "credit_amount": "24.00",
        "lines": [{"item": item, "lot": "L1", "quantity": "2"}],
    })  # fmt: skip
    response = bed.review_and_return("qa", sent_back["id"])
    assert response.status_code == 200, response.json
    [row] = report(cashier, "payables")
    assert row["balance"] == "-24.00"  # the supplier owes the chain its credit now
    statement = report(cashier, "supplier_statement", supplier=supplier["data"]["code"])
    numbers = [payment.json["number"], receipt["number"], sent_back["number"]]
    assert sorted(row["number"] for row in statement) == sorted(numbers)
