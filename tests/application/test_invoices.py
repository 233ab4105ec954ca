"""Invoices (发票) through the API: finance registers a supplier's invoice against the receipts it
bills and an invoice to a hospital against its delivered orders; confirming counts each line on
its document (never beyond the document's total, never another party's), voiding takes it off
again; the "awaiting invoice" reports and the invoice register follow. On PostgreSQL, two
invoices of one receipt confirmed at once cannot both fit in what it had left."""

from __future__ import annotations

import pytest

from app.meta import records
from app.meta.models import Record
from app.meta.records import ValidationFailed
from tests.application import purchasing_fixtures as purchasing
from tests.application import sales_fixtures
from tests.application.purchasing_fixtures import day
from tests.application.sales_fixtures import ITEM_CARDS, strip_card_data
from tests.application.test_accounts import delivered, finance_user, report, totals
from tests.application.test_purchasing import inspected
from tests.races import race_behind_a_lock

shop = sales_fixtures.shop  # the fixture, used by name
INVOICES = "purchase_invoice"
STAFF = {**purchasing.USERS, "cashier": ("finance", "HQ", "en")}


def number(serial: int) -> str:
    """A 20-digit invoice number (数电发票)."""
    return f"2631200000{serial:010d}"


@pytest.fixture(name="bed")
def bed_fixture(app, db):
    """The purchasing bed with a cashier (finance, HQ) and one qualified item, ``bed.glc``."""
    bed = purchasing.make_bed(app, db, STAFF)
    bed.glc = bed.item("GLC", "0690123456011")["data"]["item"]
    return bed


def accepted_receipt(bed, supplier: dict, quantity: str, unit_cost: str) -> dict:
    """A receipt at WH-SH, received and inspected with every unit accepted."""
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": bed.glc, "lot": f"L{quantity}", "expiry_date": day(400),
                   "quantity": quantity, "unit_cost": unit_cost}],
    })  # fmt: skip
    response = bed.fire("keeper", "purchase_receipt", receipt["id"], "receive")
    assert response.status_code == 200, response.json
    response = bed.api("qa").put(purchasing.url("purchase_receipt", receipt["id"]), json={
        "version": response.json["version"], "inspector": bed.users["qa"],
        "inspected_at": day(0),
        "lines": inspected(receipt["data"]["lines"], [
            {"accepted_quantity": quantity, "rejected_quantity": "0", "conclusion": "accepted"}]),
    })  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "purchase_receipt", receipt["id"], "inspect", **purchasing.VERIFY)
    assert response.status_code == 200, response.json
    return response.json


def invoice(bed, supplier: dict, serial: int, lines: list[tuple[dict, str]], **extra) -> dict:
    """A draft invoice of ``supplier`` billing (receipt, amount) lines at 13 %."""
    response = bed.api("cashier").post(purchasing.url(INVOICES), json={
        "location": bed.loc("HQ"), "supplier": supplier["id"], "invoice_number": number(serial),
        "invoice_date": day(0),
        "lines": [{"purchase_receipt": receipt["id"], "amount": amount, "tax_rate": "13"}
                  for receipt, amount in lines],
        **extra,
    })  # fmt: skip
    assert response.status_code == 201, response.json
    return response.json


def awaiting(api, name: str) -> list[dict]:
    """The rows of an "awaiting invoice" report, without the per-party subtotals."""
    response = api.get(f"/api/v1/reports/{name}")
    assert response.status_code == 200, response.json
    return [row["values"] for row in response.json["rows"] if row["level"] == 0]


def billed(bed, receipt: dict) -> tuple[str | None, str | None]:
    data = bed.api("cashier").get(purchasing.url("purchase_receipt", receipt["id"])).json["data"]
    return data.get("invoiced"), data.get("uninvoiced")


def test_an_invoice_bills_its_receipts_up_to_what_they_accepted(bed):
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "8", "12.00")  # 96.00 accepted
    assert receipt["data"]["uninvoiced"] == "96.00"  # nothing invoiced yet
    cashier = bed.api("cashier")
    waiting = awaiting(cashier, "uninvoiced_receipts")
    assert [(row["receipt"], row["uninvoiced"]) for row in waiting] == [
        (receipt["number"], "96.00")
    ]
    first = invoice(bed, supplier, 1, [(receipt, "60.00")])
    # tax worked out of the amount including it: 60 × 13 / 113 = 6.90, and the rest
    assert [(line["tax"], line["net_amount"]) for line in first["data"]["lines"]] == [
        ("6.90", "53.10")
    ]
    assert billed(bed, receipt) == (None, "96.00")  # a draft bills nothing
    response = bed.fire("cashier", INVOICES, first["id"], "confirm")
    assert response.status_code == 200, response.json
    assert billed(bed, receipt) == ("60.00", "36.00")
    assert awaiting(cashier, "uninvoiced_receipts")[0]["uninvoiced"] == "36.00"
    # the page and the workbook: the receipt's row opens the receipt, whose figures they are
    page = cashier.get("/reports/uninvoiced_receipts").text
    assert f"/forms/purchase_receipt/{receipt['id']}" in page and "36.00" in page
    workbook = cashier.get("/reports/uninvoiced_receipts/export.xlsx")
    assert workbook.status_code == 200 and workbook.data[:2] == b"PK"

    # a second invoice for more than is left is refused, naming the line and the figures
    second = invoice(bed, supplier, 2, [(receipt, "40.00")])
    refused = bed.fire("cashier", INVOICES, second["id"], "confirm")
    assert refused.status_code == 409
    assert refused.json["field"] == "lines[0].amount"
    assert "96.00" in refused.json["error"] and "60.00" in refused.json["error"]
    assert "40.00" in refused.json["error"]
    assert billed(bed, receipt) == ("60.00", "36.00")  # nothing written
    assert cashier.get(purchasing.url(INVOICES, second["id"])).json["state"] == "draft"
    # the rest of it fits
    rest = invoice(bed, supplier, 3, [(receipt, "36.00")])
    assert bed.fire("cashier", INVOICES, rest["id"], "confirm").status_code == 200
    assert billed(bed, receipt) == ("96.00", "0.00")
    assert awaiting(cashier, "uninvoiced_receipts") == []

    # the pages: the receipt shows what is invoiced, the invoice its lines' tax
    page = cashier.get(f"/forms/purchase_receipt/{receipt['id']}").text
    assert "Invoiced" in page and "96.00" in page and "Not yet invoiced" in page
    page = cashier.get(f"/forms/{INVOICES}/{first['id']}").text
    assert number(1) in page and "6.90" in page and "53.10" in page
    assert "Invoice number" in cashier.get(f"/forms/{INVOICES}/new").text

    # the register lists the confirmed invoices' lines with their tax, the totals add up
    register = report(cashier, "invoice_register")
    assert [(row["invoice_number"], row["amount"], row["tax"]) for row in register] == [
        (number(1), "60.00", "6.90"), (number(3), "36.00", "4.14"),
    ]  # fmt: skip
    assert totals(cashier, "invoice_register")["amount"] == "96.00"

    # a voided invoice (with a reason) gives its amount back to the receipt
    refused = bed.fire("cashier", INVOICES, first["id"], "void")
    assert refused.status_code == 422 and "comment" in refused.json["errors"]
    response = bed.fire("cashier", INVOICES, first["id"], "void", comment="发票号码录错")
    assert response.status_code == 200, response.json
    assert billed(bed, receipt) == ("36.00", "60.00")
    assert [row["uninvoiced"] for row in awaiting(cashier, "uninvoiced_receipts")] == ["60.00"]
    assert [row["invoice_number"] for row in report(cashier, "invoice_register")] == [number(3)]

    # the voided invoice keeps its history but not its number: the right one may carry it, while
    # a live invoice's number stays taken
    again = invoice(bed, supplier, 1, [(receipt, "60.00")])
    assert bed.fire("cashier", INVOICES, again["id"], "confirm").status_code == 200
    assert cashier.get(purchasing.url(INVOICES, first["id"])).json["data"]["invoice_number"] == (
        number(1)
    )
    taken = cashier.post(purchasing.url(INVOICES), json={
        "location": bed.loc("HQ"), "supplier": supplier["id"], "invoice_number": number(1),
        "invoice_date": day(0), "lines": [],
    })  # fmt: skip
    assert taken.status_code == 422 and "invoice_number" in taken.json["errors"]
    # a draft cancelled gives its number up too
    draft = invoice(bed, supplier, 4, [(receipt, "1.00")])
    assert bed.fire("cashier", INVOICES, draft["id"], "cancel").status_code == 200
    assert invoice(bed, supplier, 4, [(receipt, "1.00")])["data"]["invoice_number"] == number(4)
    # brought back out of a void state, a record takes its number again only if still free
    form = bed.app.extensions["lianku.registry"].form(INVOICES)
    with pytest.raises(ValidationFailed) as refused, bed.db.transaction() as session:
        records.hold_unique_values(session, form, session.get(Record, first["id"]), holds=True)
    assert list(refused.value.errors) == ["invoice_number"]


def test_one_invoice_may_bill_several_receipts_and_one_receipt_on_several_lines(bed):
    supplier = bed.supplier()
    small = accepted_receipt(bed, supplier, "2", "10.00")  # 20.00
    large = accepted_receipt(bed, supplier, "5", "10.00")  # 50.00
    both = invoice(bed, supplier, 1, [(large, "30.00"), (small, "20.00"), (large, "25.00")])
    refused = bed.fire("cashier", INVOICES, both["id"], "confirm")
    assert refused.status_code == 409  # 30 + 25 of a 50.00 receipt, on the third line
    assert refused.json["field"] == "lines[2].amount"
    assert billed(bed, large) == (None, "50.00") and billed(bed, small) == (None, "20.00")
    fixed = bed.api("cashier").put(purchasing.url(INVOICES, both["id"]), json={
        "version": both["version"],
        "lines": [{"purchase_receipt": large["id"], "amount": "30.00", "tax_rate": "13"},
                  {"purchase_receipt": small["id"], "amount": "20.00", "tax_rate": "13"},
                  {"purchase_receipt": large["id"], "amount": "20.00", "tax_rate": "13"}],
    })  # fmt: skip
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["data"]["total"] == "70.00"
    assert bed.fire("cashier", INVOICES, both["id"], "confirm").status_code == 200
    assert billed(bed, large) == ("50.00", "0.00") and billed(bed, small) == ("20.00", "0.00")


def test_what_an_invoice_may_not_bill(bed):
    supplier = bed.supplier()
    other = bed.supplier(code="SUP-HB", name="华北医疗")
    theirs = accepted_receipt(bed, other, "3", "10.00")
    # another supplier's receipt cannot be chosen: the picker offers the invoice's supplier's
    # inspected receipts only, and a save naming another is refused on the line
    cashier = bed.api("cashier")
    mine = accepted_receipt(bed, supplier, "2", "10.00")
    lookup = "/api/v1/lookup/purchase_receipt?form=purchase_invoice&field=lines.purchase_receipt"
    offered = cashier.get(f"{lookup}&this.supplier={supplier['id']}").json["results"]
    assert [choice["value"] for choice in offered] == [mine["id"]]
    assert cashier.get(lookup).json["results"] == []  # no supplier chosen yet: nothing to offer
    response = cashier.post(purchasing.url(INVOICES), json={
        "location": bed.loc("HQ"), "supplier": supplier["id"], "invoice_number": number(1),
        "invoice_date": day(0), "lines": [{"purchase_receipt": theirs["id"], "amount": "30.00"}],
    })  # fmt: skip
    assert response.status_code == 422 and "lines[0].purchase_receipt" in response.json["errors"]
    wrong = invoice(bed, other, 1, [(theirs, "30.00")])
    # the lines stay another supplier's: refused when the header changes under them
    moved = {"version": wrong["version"], "supplier": supplier["id"]}
    changed = cashier.put(purchasing.url(INVOICES, wrong["id"]), json=moved)
    assert changed.status_code == 422 and "lines[0].purchase_receipt" in changed.json["errors"]
    assert billed(bed, theirs) == (None, "30.00")
    # a receipt not inspected yet cannot be chosen at all
    pending = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": bed.glc, "lot": "P1",
                   "expiry_date": day(400), "quantity": "1", "unit_cost": "10.00"}],
    })  # fmt: skip
    body = {
        "location": bed.loc("HQ"),
        "supplier": supplier["id"],
        "invoice_number": number(2),
        "invoice_date": day(0),
        "lines": [{"purchase_receipt": pending["id"], "amount": "10.00"}],
    }
    response = cashier.post(purchasing.url(INVOICES), json=body)
    assert response.status_code == 422
    assert "lines[0].purchase_receipt" in response.json["errors"]
    # the invoice number is 18 or 20 digits, used once; the date is not in the future
    bad = cashier.post(purchasing.url(INVOICES), json={
        **body, "invoice_number": "12345", "invoice_date": day(1),
        "lines": [{"purchase_receipt": theirs["id"], "amount": "0"}],
    })  # fmt: skip
    assert bad.status_code == 422
    assert {"invoice_number", "invoice_date", "lines[0].amount"} <= set(bad.json["errors"])
    # a VAT rate in force, in per cent: 0.13 meant for 13 %, or a rate that does not exist
    for rate in ("0.13", "12.5", "17"):
        line = {"purchase_receipt": mine["id"], "amount": "10.00", "tax_rate": rate}
        wrong_rate = cashier.post(purchasing.url(INVOICES), json={
            **body, "invoice_number": number(5), "lines": [line]})  # fmt: skip
        assert wrong_rate.status_code == 422, rate
        assert list(wrong_rate.json["errors"]) == ["lines[0].tax_rate"], wrong_rate.json
        assert "13, not 0.13" in wrong_rate.json["errors"]["lines[0].tax_rate"][0]  # (cashier: en)
    again = cashier.post(purchasing.url(INVOICES), json={
        **body, "invoice_number": number(1), "lines": [],
    })  # fmt: skip
    assert again.status_code == 422 and "invoice_number" in again.json["errors"]
    empty = cashier.post(purchasing.url(INVOICES), json={**body, "invoice_number": number(3),
                                                         "lines": []})  # fmt: skip
    assert empty.status_code == 201
    refused = bed.fire("cashier", INVOICES, empty.json["id"], "confirm")
    assert refused.status_code == 422 and "lines" in refused.json["errors"]
    # only finance (or HQ) confirms an invoice
    assert bed.fire("qa", INVOICES, wrong["id"], "confirm").status_code == 403


def test_a_hospital_invoice_bills_its_delivered_orders(shop, db):
    licence = {"licence_number": "沪械经营2020002", "licence_expiry": str(day(300))}
    hospital = sales_fixtures.approved_customer(shop, "H-2", name="华山医院", kind="hospital",
                                                **licence)  # fmt: skip
    order = delivered(shop, "A", hospital)  # 3 × 20 = 60.00
    walk_in = delivered(shop, "A2")  # a retail sale: never awaits an invoice
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    # nor is one offered for it: there is no customer to bill
    assert "Issue invoice" in cashier.get(f"/forms/sales_order/{order['id']}").text
    walk_in_page = cashier.get(f"/forms/sales_order/{walk_in['id']}").text
    assert "Issue invoice" not in walk_in_page
    # nor what is invoiced of it: a walk-in sale's amounts to invoice are not shown
    assert "To be invoiced" in cashier.get(f"/forms/sales_order/{order['id']}").text
    assert "To be invoiced" not in walk_in_page and "Not yet invoiced" not in walk_in_page
    assert [(row["order"], row["uninvoiced"]) for row in awaiting(cashier, "uninvoiced_sales")] == [
        (order["number"], "60.00")
    ]
    # the invoice is made from the delivered order: its customer and what is left to invoice
    made = cashier.get(f"{sales_fixtures.SO}/{order['id']}/make/sales_invoice").json["data"]
    assert made == {"location": shop["S1"], "customer": hospital,
                    "lines": [{"sales_order": order["id"], "amount": "60.00"}]}  # fmt: skip
    response = cashier.post("/api/v1/forms/sales_invoice/records", json={
        **made, "location": shop["HQ"], "invoice_number": number(7), "invoice_date": day(0),
    })  # fmt: skip
    assert response.status_code == 201, response.json
    # billed at the rate the order's lines were sold at (the shop's strips have no card: 13)
    assert response.json["data"]["lines"][0]["tax_rate"] == "13"
    url = "/api/v1/forms/sales_invoice/records"
    assert sales_fixtures.fire(cashier, url, response.json, "confirm").status_code == 200
    assert awaiting(cashier, "uninvoiced_sales") == []
    billed_order = cashier.get(f"{sales_fixtures.SO}/{order['id']}").json["data"]
    assert (billed_order["invoiced"], billed_order["uninvoiced"]) == ("60.00", "0.00")
    # the register of the invoices issued lists its line, with its tax
    assert [(row["invoice_number"], row["customer"], row["order"], row["net_amount"], row["tax"])
            for row in report(cashier, "sales_invoice_register")] == [
        (number(7), "华山医院", order["number"], "53.10", "6.90")]  # fmt: skip
    # its output tax is payable (增值税计算表): 60 × 13 / 113 = 6.90
    vat = totals(cashier, "vat_summary")
    assert (vat["sales_net"], vat["output_tax"], vat["input_tax"], vat["payable"]) == (
        "53.10", "6.90", None, "6.90")  # fmt: skip
    # billing it again is refused, and the receivable is unchanged by invoicing
    again = cashier.post(url, json={
        "location": shop["HQ"], "customer": hospital, "invoice_number": number(8),
        "invoice_date": day(0), "lines": [{"sales_order": order["id"], "amount": "0.01"}],
    })  # fmt: skip
    refused = sales_fixtures.fire(cashier, url, again.json, "confirm")
    assert refused.status_code == 409 and refused.json["field"] == "lines[0].amount"
    assert report(cashier, "receivables")[0]["balance"] == "60.00"


def test_an_order_sold_at_one_rate_is_invoiced_at_it(shop, db):
    assert shop.api("buyer").post(ITEM_CARDS, json=strip_card_data("9")).status_code == 201
    licence = {"licence_number": "沪械经营2020003", "licence_expiry": str(day(300))}
    hospital = sales_fixtures.approved_customer(shop, "H-3", name="瑞金医院", kind="hospital",
                                                **licence)  # fmt: skip
    order = delivered(shop, "A", hospital)  # 3 × 20 = 60.00, its line at the card's 9 %
    assert order["data"]["lines"][0]["tax_rate"] == "9"
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    made = cashier.get(f"{sales_fixtures.SO}/{order['id']}/make/sales_invoice").json["data"]
    response = cashier.post("/api/v1/forms/sales_invoice/records", json={
        **made, "location": shop["HQ"], "invoice_number": number(9), "invoice_date": day(0),
    })  # fmt: skip
    [line] = response.json["data"]["lines"]
    assert (line["tax_rate"], line["tax"], line["net_amount"]) == ("9", "4.95", "55.05")
    url = "/api/v1/forms/sales_invoice/records"
    assert sales_fixtures.fire(cashier, url, response.json, "confirm").status_code == 200
    [row] = [row for row in report(cashier, "vat_summary") if row["tax_rate"] is not None]
    assert (row["tax_rate"], row["output_tax"], row["payable"]) == ("9", "4.95", "4.95")


@pytest.mark.postgres_only
def test_two_invoices_of_one_receipt_confirmed_at_once_cannot_both_fit(bed, db):
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "8", "12.00")  # 96.00
    invoices = [invoice(bed, supplier, serial, [(receipt, "60.00")]) for serial in (1, 2)]
    results: list[tuple[int, dict]] = []

    def confirm(record):
        # each thread signs in on its own client: a test client is not shared between threads
        api = purchasing.ApiClient(bed.app.test_client()).login("cashier", purchasing.PASSWORD)
        response = api.post(purchasing.url(INVOICES, record["id"], "confirm"), json={})
        results.append((response.status_code, response.json))

    # a third transaction holds the receipt: both confirmations reach its lock and wait there
    race_behind_a_lock(db, receipt["id"], [(confirm, (record,), {}) for record in invoices])
    assert sorted(status for status, _body in results) == [200, 409]
    # the second waited for the first's lock and then saw its amount (not a stale-record clash)
    refusal = next(body for status, body in results if status == 409)
    assert refusal["field"] == "lines[0].amount" and "96.00" in refusal["error"]
    assert billed(bed, receipt) == ("60.00", "36.00")


def test_what_an_invoice_counts_on_its_receipt_is_in_the_receipts_history(bed, db):
    """Confirming an invoice writes ``invoiced`` onto the receipt it bills: the receipt's own
    audit trail says so (by whom, through which transition), and its updated time moves."""
    from sqlalchemy import select

    from app.kernel.audit import AuditEntry
    from app.meta.models import Record

    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "8", "12.00")
    bill = invoice(bed, supplier, 1, [(receipt, "60.00")])
    assert bed.fire("cashier", INVOICES, bill["id"], "confirm").status_code == 200
    with db.session() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "record", AuditEntry.entity_id == str(receipt["id"]))
            .order_by(AuditEntry.id)
        ).all()
    last = entries[-1]
    assert (last.action, last.username) == ("update", "cashier")
    assert last.changes["invoiced"] == [None, "60.00"]
    assert INVOICES in last.reason  # made by the invoice's confirm
    with db.session() as session:  # the receipt was last changed by the cashier's confirm
        assert session.get(Record, receipt["id"]).updated_by == bed.users["cashier"]
