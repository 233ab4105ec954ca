"""Returns and red-letter invoices (红字发票) through the API: a supplier's credit for goods sent
back lowers what it may invoice for the receipt, and once the receipt was invoiced the report
shows the red-letter invoice due; the red-letter invoice, made from the invoice it reverses,
takes negative amounts off the receipts and its total off that invoice — never below zero, never
beyond the invoice. The same for a hospital's return of an invoiced sale."""

from __future__ import annotations

import pytest

from app.meta.models import Record
from tests.application import purchasing_fixtures as purchasing
from tests.application import sales_fixtures
from tests.application.purchasing_fixtures import day
from tests.application.sales_fixtures import CR
from tests.application.test_accounts import delivered, finance_user, report, totals
from tests.application.test_invoices import (
    INVOICES,
    accepted_receipt,
    awaiting,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    billed,
    invoice,
    number,
)
from tests.application.test_purchasing import inspected
from tests.application.test_sales import SIGNED, strip_scan
from tests.races import race_behind_a_lock

shop = sales_fixtures.shop  # the fixture, used by name


def partly_rejected_receipt(bed, supplier: dict) -> dict:
    """10 of lot L1 at 12.00 received at WH-SH, 8 accepted (96.00), 2 rejected (nonconforming)."""
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": bed.glc, "lot": "L1", "expiry_date": day(400), "quantity": "10",
                   "unit_cost": "12.00"}],
    })  # fmt: skip
    received = bed.fire("keeper", "purchase_receipt", receipt["id"], "receive").json
    response = bed.api("qa").put(purchasing.url("purchase_receipt", receipt["id"]), json={
        "version": received["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": inspected(receipt["data"]["lines"], [
            {"accepted_quantity": "8", "rejected_quantity": "2", "conclusion": "partly_rejected",
             "reject_reason": "外包装破损"}]),
    })  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "purchase_receipt", receipt["id"], "inspect", **purchasing.VERIFY)
    assert response.status_code == 200, response.json
    return response.json


def returned(bed, supplier: dict, receipt: dict, credit: str):
    """Two units shipped back (not as rejected at inspection: those carry no credit) with the
    supplier's credit."""
    sent_back = bed.create("supervisor", "supplier_return", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "purchase_receipt": receipt["id"], "reason": "other", "credit_amount": credit,
        "lines": [{"item": bed.glc, "lot": "L1", "quantity": "2"}],
    })  # fmt: skip
    return bed.review_and_return("qa", sent_back["id"])


def receipt_data(bed, receipt: dict) -> dict:
    return bed.api("cashier").get(purchasing.url("purchase_receipt", receipt["id"])).json["data"]


def confirmed(bed, record: dict) -> dict:
    response = bed.fire("cashier", INVOICES, record["id"], "confirm")
    assert response.status_code == 200, response.json
    return response.json


def red_letter(bed, original: dict, serial: int, amounts: list[str]) -> dict:
    """The red-letter invoice made from ``original``, its lines cut to ``amounts``."""
    cashier = bed.api("cashier")
    made = cashier.get(f"{purchasing.url(INVOICES, original['id'])}/make/{INVOICES}")
    assert made.status_code == 200, made.json
    draft = made.json["data"]
    assert (draft["invoice_colour"], draft["original_invoice"]) == ("red", original["id"])
    lines = [{**ln, "amount": amount} for ln, amount in zip(draft["lines"], amounts, strict=True)]
    response = cashier.post(purchasing.url(INVOICES), json={
        **draft, "invoice_number": number(serial), "invoice_date": day(0), "lines": lines,
    })  # fmt: skip
    assert response.status_code == 201, response.json
    return response.json


def test_goods_returned_after_invoicing_call_for_a_red_letter_invoice(bed):
    supplier = bed.supplier()
    receipt = partly_rejected_receipt(bed, supplier)
    blue = confirmed(bed, invoice(bed, supplier, 1, [(receipt, "96.00")]))
    assert billed(bed, receipt) == ("96.00", "0.00")
    cashier = bed.api("cashier")
    assert awaiting(cashier, "uninvoiced_receipts") == []

    # the supplier credits the rejected units: it may invoice 72.00 now, and has invoiced 96.00
    response = returned(bed, supplier, receipt, "24.00")
    assert response.status_code == 200, response.json
    data = receipt_data(bed, receipt)
    assert (data["returned"], data["invoiceable"], data["uninvoiced"]) == (
        "24.00", "72.00", "-24.00"
    )  # fmt: skip
    [row] = awaiting(cashier, "uninvoiced_receipts")
    assert (row["receipt"], row["returned"], row["uninvoiced"]) == (
        receipt["number"], "24.00", "-24.00"
    )  # fmt: skip
    # nothing is left to invoice on it: no invoice is made from it, and one for more is refused
    made = cashier.get(f"{purchasing.url('purchase_receipt', receipt['id'])}/make/{INVOICES}")
    assert made.status_code == 409
    assert "Register invoice" not in cashier.get(f"/forms/purchase_receipt/{receipt['id']}").text
    assert "Reverse (red-letter)" in cashier.get(f"/forms/{INVOICES}/{blue['id']}").text
    refused = bed.fire("cashier", INVOICES, invoice(bed, supplier, 9, [(receipt, "1.00")])["id"],
                       "confirm")  # fmt: skip
    assert refused.status_code == 409 and refused.json["field"] == "lines[0].amount"
    assert "72.00" in refused.json["error"] and "96.00" in refused.json["error"]

    # the red-letter invoice made from the blue one, cut to the credit, settles it
    red = red_letter(bed, blue, 2, ["-24.00"])
    assert (red["data"]["reverses"], red["data"]["total"]) == ("24.00", "-24.00")
    assert red["data"]["lines"][0]["tax"] == "-2.76"  # 24 × 13 / 113, negative
    edit = f"/forms/{INVOICES}/{red['id']}/edit"
    assert edit in cashier.get(f"/forms/{INVOICES}/{red['id']}").text  # a draft may be edited
    confirmed(bed, red)
    page = cashier.get(f"/forms/{INVOICES}/{red['id']}").text
    assert edit not in page and "/delete" not in page  # a confirmed one is not
    assert billed(bed, receipt) == ("72.00", "0.00")
    assert cashier.get(purchasing.url(INVOICES, blue["id"])).json["data"]["reversed"] == "24.00"
    assert awaiting(cashier, "uninvoiced_receipts") == []
    register = report(cashier, "invoice_register")
    assert [(row["invoice_number"], row["invoice_colour"], row["amount"]) for row in register] == [
        (number(1), "blue", "96.00"), (number(2), "red", "-24.00"),
    ]  # fmt: skip
    assert totals(cashier, "invoice_register")["amount"] == "72.00"

    # a reversed invoice is not voided (its red-letter invoice first); a second red-letter
    # invoice cannot take off more than the receipt has invoiced
    refused = bed.fire("cashier", INVOICES, blue["id"], "void", comment="录错")
    assert refused.status_code == 409 and "red-letter" in refused.json["error"]
    too_much = red_letter(bed, blue, 3, ["-80.00"])
    refused = bed.fire("cashier", INVOICES, too_much["id"], "confirm")
    assert refused.status_code == 409 and refused.json["field"] == "lines[0].amount"
    assert refused.json["error"] == (
        f"Line 1: Invoiced on {receipt['number']} is 72.00; 80.00 cannot be taken off it."
    )
    assert billed(bed, receipt) == ("72.00", "0.00")  # nothing half-written

    # voiding the red-letter invoice puts both back; then the blue one may be voided
    response = bed.fire("cashier", INVOICES, red["id"], "void", comment="红冲有误")
    assert response.status_code == 200, response.json
    assert billed(bed, receipt) == ("96.00", "-24.00")
    assert cashier.get(purchasing.url(INVOICES, blue["id"])).json["data"]["reversed"] == "0.00"
    response = bed.fire("cashier", INVOICES, blue["id"], "void", comment="发票退回")
    assert response.status_code == 200, response.json
    assert billed(bed, receipt) == ("0.00", "72.00")


def test_a_credit_before_the_invoice_lowers_what_is_invoiced(bed):
    supplier = bed.supplier()
    receipt = partly_rejected_receipt(bed, supplier)
    # a credit beyond what the receipt accepted is refused on the return, naming the field, and
    # the goods stay
    before = bed.balances()
    refused = returned(bed, supplier, receipt, "96.01")
    assert refused.status_code == 409 and refused.json["field"] == "credit_amount"
    assert bed.balances() == before
    assert returned(bed, supplier, receipt, "24.00").status_code == 200
    made = bed.api("cashier").get(
        f"{purchasing.url('purchase_receipt', receipt['id'])}/make/{INVOICES}"
    )  # fmt: skip
    assert made.json["data"]["lines"] == [{"purchase_receipt": receipt["id"], "amount": "72.00"}]
    page = bed.api("cashier").get(f"/forms/purchase_receipt/{receipt['id']}").text
    assert "Register invoice" in page
    refused = bed.fire("cashier", INVOICES, invoice(bed, supplier, 1, [(receipt, "96.00")])["id"],
                       "confirm")  # fmt: skip
    assert refused.status_code == 409
    assert refused.json["error"] == (
        f"Line 1: {receipt['number']} allows 72.00, of which 0.00 is Invoiced already; "
        "this adds 96.00."
    )
    assert receipt_data(bed, receipt)["returned"] == "24.00"


def test_a_red_letter_invoice_stays_within_the_invoice_it_reverses(bed):
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "5", "10.00")  # 50.00
    small = confirmed(bed, invoice(bed, supplier, 1, [(receipt, "20.00")]))
    confirmed(bed, invoice(bed, supplier, 2, [(receipt, "30.00")]))
    red = red_letter(bed, small, 3, ["-25.00"])  # the receipt has 50.00 invoiced, the invoice 20
    refused = bed.fire("cashier", INVOICES, red["id"], "confirm")
    assert refused.status_code == 409 and refused.json["field"] == "reverses"
    assert refused.json["error"] == (
        f"{small['number']} allows 20.00, of which 0.00 is Reversed already; this adds 25.00."
    )
    assert billed(bed, receipt) == ("50.00", "0.00")


def test_what_a_red_letter_invoice_may_not_be(bed):
    supplier = bed.supplier()
    other = bed.supplier("SUP-HN", "华南医疗")
    receipt = accepted_receipt(bed, supplier, "5", "10.00")
    unbilled = accepted_receipt(bed, supplier, "3", "10.00")  # on no invoice
    theirs = accepted_receipt(bed, other, "4", "10.00")
    blue = confirmed(bed, invoice(bed, supplier, 1, [(receipt, "50.00")]))
    foreign = confirmed(bed, invoice(bed, other, 2, [(theirs, "40.00")]))
    cashier = bed.api("cashier")
    body = {"location": bed.loc("HQ"), "supplier": supplier["id"], "invoice_number": number(3),
            "invoice_date": day(0), "invoice_colour": "red", "original_invoice": blue["id"],
            "lines": [{"purchase_receipt": receipt["id"], "amount": "-10.00"}]}  # fmt: skip
    line = "lines[0].purchase_receipt"
    cases = [  # (what changes, the fields refused)
        ({"lines": [{"purchase_receipt": receipt["id"], "amount": "10.00"}]}, {"lines[0].amount"}),
        ({"original_invoice": None}, {"original_invoice"}),
        # another supplier's invoice, whose receipts are not this one's either
        ({"original_invoice": foreign["id"]}, {"original_invoice", line}),
        ({"invoice_colour": "blue"}, {"lines[0].amount"}),  # a regular invoice is positive
        # only what the invoice reversed billed
        ({"lines": [{"purchase_receipt": unbilled["id"], "amount": "-10.00"}]}, {line}),
    ]
    for change, fields in cases:
        response = cashier.post(purchasing.url(INVOICES), json={**body, **change})
        assert response.status_code == 422, change
        assert set(response.json["errors"]) == fields, response.json
    red = cashier.post(purchasing.url(INVOICES), json=body).json
    confirmed(bed, red)
    # a red-letter invoice is not itself reversed, nor named as the invoice reversed
    made = cashier.get(f"{purchasing.url(INVOICES, red['id'])}/make/{INVOICES}")
    assert made.status_code == 409
    response = cashier.post(purchasing.url(INVOICES), json={
        **body, "invoice_number": number(4), "original_invoice": red["id"],
    })  # fmt: skip
    assert response.status_code == 422 and "cannot be chosen here" in str(response.json["errors"])


def test_a_hospital_return_after_invoicing_is_reversed_in_red(shop, db):
    licence = {"licence_number": "沪械经营2020009", "licence_expiry": str(day(300))}
    hospital = sales_fixtures.approved_customer(shop, "H-9", name="瑞金医院", kind="hospital",
                                                **licence)  # fmt: skip
    order = delivered(shop, "A", hospital)  # 3 × 20 = 60.00
    finance_user(db, shop["HQ"])
    cashier, clerk, manager = shop.api("cashier"), shop.api("clerk"), shop.api("manager")
    url = "/api/v1/forms/sales_invoice/records"
    blue = cashier.post(url, json={
        "location": shop["HQ"], "customer": hospital, "invoice_number": number(11),
        "invoice_date": day(0), "lines": [{"sales_order": order["id"], "amount": "60.00"}],
    }).json  # fmt: skip
    assert sales_fixtures.fire(cashier, url, blue, "confirm").status_code == 200
    # one strip comes back and is credited once inspected
    back = clerk.post(CR, json={
        "location": shop["S1"], "sales_order": order["id"], "reason": "包装破损",
        "credit_amount": "20.00", "lines": [strip_scan("A", 1)],
    }).json  # fmt: skip
    assert sales_fixtures.fire(clerk, CR, back, "receive").status_code == 200
    current = clerk.get(f"{CR}/{back['id']}").json
    lines = [current["data"]["lines"][0] | {"accepted_quantity": "1"}]
    manager.put(f"{CR}/{back['id']}", json={"lines": lines, "version": current["version"]})
    assert sales_fixtures.fire(manager, CR, back, "inspect", **SIGNED).status_code == 200
    data = cashier.get(f"{sales_fixtures.SO}/{order['id']}").json["data"]
    assert (data["returned"], data["invoiced"], data["uninvoiced"]) == ("20.00", "60.00", "-20.00")
    assert [row["uninvoiced"] for row in awaiting(cashier, "uninvoiced_sales")] == ["-20.00"]
    # the red-letter invoice made from the blue one, cut to the credit
    draft = cashier.get(f"{url}/{blue['id']}/make/sales_invoice").json["data"]
    assert draft["lines"] == [{"sales_order": order["id"], "amount": "-60.00", "tax_rate": "13"}]
    red = cashier.post(url, json={
        **draft, "invoice_number": number(12), "invoice_date": day(0),
        "lines": [{**draft["lines"][0], "amount": "-20.00"}],
    })  # fmt: skip
    assert red.status_code == 201, red.json
    assert sales_fixtures.fire(cashier, url, red.json, "confirm").status_code == 200
    data = cashier.get(f"{sales_fixtures.SO}/{order['id']}").json["data"]
    assert (data["invoiced"], data["uninvoiced"]) == ("40.00", "0.00")
    assert awaiting(cashier, "uninvoiced_sales") == []
    assert cashier.get(f"{url}/{blue['id']}").json["data"]["reversed"] == "20.00"


@pytest.mark.postgres_only
def test_a_red_letter_invoice_and_the_void_of_its_original_at_once(bed, db):
    """Confirming a red-letter invoice and voiding the invoice it reverses at the same moment:
    one waits for the other and then meets what it did — never both (which would take the
    receipt's amounts off twice)."""
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "5", "10.00")  # 50.00
    blue = confirmed(bed, invoice(bed, supplier, 1, [(receipt, "50.00")]))
    red = red_letter(bed, blue, 2, ["-20.00"])
    results: dict[str, int] = {}

    def fire(name: str, record: dict, transition: str, **body):
        api = purchasing.ApiClient(bed.app.test_client()).login("cashier", purchasing.PASSWORD)
        response = api.post(purchasing.url(INVOICES, record["id"], transition), json=body)
        results[name] = response.status_code

    # another transaction holds the blue invoice: both reach it and wait
    race_behind_a_lock(db, blue["id"], [
        (fire, ("red", red, "confirm"), {}), (fire, ("void", blue, "void"), {"comment": "退票"}),
    ])  # fmt: skip
    assert sorted(results.values()) == [200, 409], results
    cashier = bed.api("cashier")
    original = cashier.get(purchasing.url(INVOICES, blue["id"])).json
    if results["red"] == 200:  # reversed: the original stays, the receipt keeps 30.00
        assert (original["state"], original["data"]["reversed"]) == ("confirmed", "20.00")
        assert billed(bed, receipt) == ("30.00", "20.00")
    else:  # voided first: nothing left to reverse
        assert original["state"] == "voided"
        assert cashier.get(purchasing.url(INVOICES, red["id"])).json["state"] == "draft"
        assert billed(bed, receipt) == ("0.00", "50.00")


def test_a_receipt_saved_before_its_invoiceable_formula_is_counted_by_the_current_rules(bed, db):
    """A receipt stored before ``invoiceable`` existed (no value for it) is invoiced within its
    total, not refused against an empty limit; its formulas are stored anew."""
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "5", "10.00")  # 50.00
    with db.transaction() as session:
        record = session.get(Record, receipt["id"])
        stored = record.data
        record.data = {k: v for k, v in stored.items() if k not in ("invoiceable", "uninvoiced")}
    confirmed(bed, invoice(bed, supplier, 1, [(receipt, "50.00")]))
    data = receipt_data(bed, receipt)
    assert (data["invoiceable"], data["invoiced"], data["uninvoiced"]) == ("50.00", "50.00", "0.00")
