"""增值税计算表 (``vat_summary``) through the API: the confirmed invoices' VAT by month and rate —
input tax off the purchase invoices, output tax off the sales invoices — and what is payable,
output less input; drafts and voided invoices count for nothing. The output side is checked
with the hospital invoice of ``test_invoices``; both sides together with the demo history."""

from __future__ import annotations

from tests.application.purchasing_fixtures import day
from tests.application.test_accounts import report, totals
from tests.application.test_invoices import INVOICES, accepted_receipt, bed_fixture, invoice

bed = bed_fixture  # the fixture, used by name


def test_the_input_tax_of_each_rate_comes_off_what_is_payable(bed):
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "8", "12.00")  # 96.00
    cashier = bed.api("cashier")
    at_13 = invoice(bed, supplier, 1, [(receipt, "60.00")])
    at_3 = invoice(bed, supplier, 2, [(receipt, "36.00")])
    at_3["data"]["lines"][0]["tax_rate"] = "3"  # a small-scale supplier's levy
    changed = cashier.put(f"/api/v1/forms/{INVOICES}/records/{at_3['id']}", json={
        "version": at_3["version"], "lines": at_3["data"]["lines"]})  # fmt: skip
    assert changed.status_code == 200, changed.json
    for made in (at_13, at_3):
        assert bed.fire("cashier", INVOICES, made["id"], "confirm").status_code == 200
    invoice(bed, supplier, 3, [(receipt, "1.00")])  # a draft: nothing yet
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
