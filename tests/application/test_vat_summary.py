"""增值税计算表 (``vat_summary``) through the API: the confirmed invoices' VAT by month and rate —
input tax off the purchase invoices, output tax off the sales invoices — and what is payable,
output less input; drafts and voided invoices count for nothing. The output side is checked
with the hospital invoice of ``test_invoices``; both sides together with the demo history."""

from __future__ import annotations

from tests.application.purchasing_fixtures import day
from tests.application.test_accounts import report, totals
from tests.application.test_invoices import (
    INVOICES,
    accepted_receipt,
    bed_fixture,
    invoice,
    number,
)

bed = bed_fixture  # the fixture, used by name


def test_the_input_tax_of_each_rate_comes_off_what_is_payable(bed):
    general = bed.supplier()
    small = bed.supplier("SUP-XG", "小规模耗材", invoice_tax_rate="3")  # invoices at 3 %
    cashier = bed.api("cashier")
    at_13 = invoice(bed, general, 1, [(accepted_receipt(bed, general, "8", "12.00"), "60.00")])
    receipt = accepted_receipt(bed, small, "3", "12.00")  # 36.00
    made = cashier.post(f"/api/v1/forms/{INVOICES}/records", json={
        "location": bed.loc("HQ"), "supplier": small["id"], "invoice_number": number(2),
        "invoice_date": day(0), "lines": [{"purchase_receipt": receipt["id"], "amount": "36.00"}],
    })  # fmt: skip
    assert made.status_code == 201, made.json
    at_3 = made.json
    assert at_3["data"]["lines"][0]["tax_rate"] == "3"  # the supplier card's rate
    for confirmed in (at_13, at_3):
        assert bed.fire("cashier", INVOICES, confirmed["id"], "confirm").status_code == 200
    invoice(bed, small, 3, [(receipt, "1.00")])  # a draft: nothing yet
    month = day(0)[:7]
    rows = [(row["month"][:7], row["tax_rate"], row["purchases_net"], row["input_tax"],
             row["payable"], row["output_tax"]) for row in report(cashier, "vat_summary")
            if row["tax_rate"] is not None]  # fmt: skip
    # 60 × 13 / 113 = 6.90; 36 × 3 / 103 = 1.05
    assert rows == [(month, "3", "34.95", "1.05", "-1.05", None),
                    (month, "13", "53.10", "6.90", "-6.90", None)]  # fmt: skip
    summed = totals(cashier, "vat_summary")
    assert (summed["input_tax"], summed["payable"]) == ("7.95", "-7.95")
    # voided, an invoice's tax comes off again
    assert bed.fire("cashier", INVOICES, at_3["id"], "void", comment="税率录错").status_code == 200
    assert totals(cashier, "vat_summary")["input_tax"] == "6.90"
    # another month asked for: nothing in it
    assert report(cashier, "vat_summary", period="2020-01-01..2020-01-31") == []


def test_a_supplier_card_takes_only_a_vat_rate_in_force(bed):
    refused = bed.api("hq").post("/api/v1/forms/supplier/records", json={
        "code": "SUP-X", "name": "某供应商", "licence_kind": "permit",
        "licence_number": "沪食药监械经营许SUP-X号", "licence_expiry": day(365),
        "invoice_tax_rate": "0.03",
    })  # fmt: skip
    assert refused.status_code == 422, refused.json
    assert "0.13" in refused.json["errors"]["invoice_tax_rate"][0]
