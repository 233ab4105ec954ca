"""What a payment or a customer receipt naming a document may pay for it, and what a credit
sale's return credits, through the API (defects a finance QA found on the demo):

- a supplier payment naming a purchase receipt counts on the receipt (its ``paid``), never
  beyond what is still to pay for it — its total less the credited returns and the payments
  before, as its account counts it: refused as it is saved, and again with the figures when it
  is confirmed; a voided payment gives the amount back; a payment on account names no receipt
  and is free. The same for a customer receipt naming a sales order;
- a hospital's return credits the value of the goods coming back unless told otherwise, and its
  credit may not be left empty.
"""

from __future__ import annotations

from tests.application import purchasing_fixtures as purchasing
from tests.application import sales_fixtures
from tests.application.purchasing_fixtures import day
from tests.application.sales_fixtures import CR, SO, approved_customer, fire, strip_scan
from tests.application.test_accounts import PAYMENTS, RECEIPTS, delivered, finance_user, report
from tests.application.test_finance_limits import (
    LICENCE,
    credited,
    hospital_sale,
    inspect,
    received,
)
from tests.application.test_invoices import (
    accepted_receipt,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
)

shop = sales_fixtures.shop  # the fixture, used by name


def settled(api, url: str) -> tuple[str | None, str | None]:
    """What the document at ``url`` shows as paid and as still to pay."""
    data = api.get(url).json["data"]
    return data.get("paid"), data.get("unpaid")


# --- supplier payments --------------------------------------------------------------------------


def test_a_payment_for_a_receipt_pays_at_most_what_is_still_to_pay_for_it(bed):
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "8", "12.00")  # 96.00 accepted
    assert (receipt["data"].get("paid"), receipt["data"]["unpaid"]) == (None, "96.00")
    cashier = bed.api("cashier")
    at = purchasing.url("purchase_receipt", receipt["id"])
    body = {"location": bed.loc("HQ"), "supplier": supplier["id"], "method": "bank_transfer",
            "payment_date": day(0), "purchase_receipt": receipt["id"]}  # fmt: skip

    # the demo's case: far beyond the receipt, refused on the amount as it is saved
    refused = cashier.post(PAYMENTS, json={**body, "amount": "9999999.99"})
    assert refused.status_code == 422, refused.json
    assert list(refused.json["errors"]) == ["amount"]
    assert "still to pay for the purchase receipt" in refused.json["errors"]["amount"][0]

    # two payments that each fitted when saved: the second confirmed no longer fits
    first = cashier.post(PAYMENTS, json={**body, "amount": "60.00"})
    second = cashier.post(PAYMENTS, json={**body, "amount": "40.00"})
    assert first.status_code == 201 and second.status_code == 201, (first.json, second.json)
    assert settled(cashier, at) == (None, "96.00")  # a draft pays nothing
    assert fire(cashier, PAYMENTS, first.json, "confirm").status_code == 200
    assert settled(cashier, at) == ("60.00", "36.00")
    refused = fire(cashier, PAYMENTS, second.json, "confirm")
    assert refused.status_code == 409 and refused.json["field"] == "amount"
    assert refused.json["error"] == (
        f"{receipt['number']} allows 96.00, of which 60.00 is Paid already; this adds 40.00."
    )
    assert settled(cashier, at) == ("60.00", "36.00")  # nothing written
    assert cashier.get(f"{PAYMENTS}/{second.json['id']}").json["state"] == "draft"
    assert [row["balance"] for row in report(cashier, "payables")] == ["36.00"]

    # a voided payment gives its amount back: the second fits now
    voided = fire(cashier, PAYMENTS, first.json, "void", comment="重复付款")
    assert voided.status_code == 200, voided.json
    assert settled(cashier, at) == ("0.00", "96.00")
    assert fire(cashier, PAYMENTS, second.json, "confirm").status_code == 200
    assert settled(cashier, at) == ("40.00", "56.00")

    # a payment on account (预付) names no receipt: nothing limits it, no receipt counts it
    ahead = cashier.post(PAYMENTS, json={**body, "purchase_receipt": None, "amount": "9999999.99"})
    assert ahead.status_code == 201, ahead.json
    assert fire(cashier, PAYMENTS, ahead.json, "confirm").status_code == 200
    assert settled(cashier, at) == ("40.00", "56.00")

    # the receipt's page shows both figures
    page = cashier.get(f"/forms/purchase_receipt/{receipt['id']}").text
    assert "Paid" in page and "Still to pay" in page and "56.00" in page


# --- customer receipts --------------------------------------------------------------------------


def test_a_customer_receipt_for_an_order_receives_at_most_what_is_still_to_pay(shop, db):
    hospital = approved_customer(shop, "H-1", name="仁济医院", kind="hospital", **LICENCE)
    order = delivered(shop, "A", hospital)  # 3 × 20 = 60.00
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    at = f"{SO}/{order['id']}"
    assert settled(cashier, at) == (None, "60.00")
    # one strip back, credited 20.00: 40.00 is still to pay, as the account counts it
    assert inspect(shop, received(shop, order, "20.00")).status_code == 200
    assert settled(cashier, at) == (None, "40.00")
    body = {"location": shop["HQ"], "customer": hospital, "method": "bank_transfer",
            "receipt_date": day(0), "sales_order": order["id"]}  # fmt: skip

    for amount in ("50000.00", "40.01"):  # the demo's case; a fen beyond what the return left
        refused = cashier.post(RECEIPTS, json={**body, "amount": amount})
        assert refused.status_code == 422, refused.json
        assert list(refused.json["errors"]) == ["amount"]
        assert "still to pay for the sales order" in refused.json["errors"]["amount"][0]

    first = cashier.post(RECEIPTS, json={**body, "amount": "30.00"})
    second = cashier.post(RECEIPTS, json={**body, "amount": "10.01"})
    assert first.status_code == 201 and second.status_code == 201, (first.json, second.json)
    assert fire(cashier, RECEIPTS, first.json, "confirm").status_code == 200
    assert settled(cashier, at) == ("30.00", "10.00")
    refused = fire(cashier, RECEIPTS, second.json, "confirm")
    assert refused.status_code == 409 and refused.json["field"] == "amount"
    assert refused.json["error"] == (
        f"{order['number']} allows 40.00, of which 30.00 is Paid already; this adds 10.01."
    )
    assert settled(cashier, at) == ("30.00", "10.00")  # nothing written
    assert report(cashier, "receivables")[0]["balance"] == "10.00"

    voided = fire(cashier, RECEIPTS, first.json, "void", comment="重复录入")
    assert voided.status_code == 200, voided.json
    assert settled(cashier, at) == ("0.00", "40.00")
    assert fire(cashier, RECEIPTS, second.json, "confirm").status_code == 200
    assert settled(cashier, at) == ("10.01", "29.99")

    # a receipt on account (预收) names no order: free
    ahead = cashier.post(RECEIPTS, json={**body, "sales_order": None, "amount": "50000.00"})
    assert ahead.status_code == 201, ahead.json
    assert fire(cashier, RECEIPTS, ahead.json, "confirm").status_code == 200
    assert settled(cashier, at) == ("10.01", "29.99")
    page = cashier.get(f"/forms/sales_order/{order['id']}").text
    assert "Paid" in page and "Still to pay" in page and "29.99" in page


# --- a credit sale's return ---------------------------------------------------------------------


def draft_return(shop, order: dict, quantity: int = 1, **extra) -> dict:
    return {"location": shop["S1"], "sales_order": order["id"], "reason": "包装破损",
            "lines": [strip_scan("A", quantity)], **extra}  # fmt: skip


def test_a_hospital_return_credits_the_goods_value_unless_told_otherwise(shop):
    order = hospital_sale(shop, "12.345", "3")  # 3 × 12.345 at 3 % off = 35.92
    clerk = shop.api("clerk")
    # no credit given: it is what the strip cost the hospital, 35.92 / 3
    preview = clerk.post("/api/v1/forms/customer_return/evaluate", json=draft_return(shop, order))
    assert preview.status_code == 200, preview.json
    assert preview.json["errors"] == {}
    assert preview.json["values"]["credit_amount"] == "11.97"
    back = clerk.post(CR, json=draft_return(shop, order))
    assert back.status_code == 201, back.json
    assert back.json["data"]["credit_amount"] == "11.97"
    # it may be lowered (to 0 for goods exchanged), never left empty
    url = f"{CR}/{back.json['id']}"
    cleared = clerk.put(url, json={"credit_amount": None, "version": back.json["version"]})
    assert cleared.status_code == 422, cleared.json
    assert cleared.json["errors"] == {"credit_amount": ["This field is required."]}
    assert fire(clerk, CR, back.json, "receive").status_code == 200
    assert inspect(shop, back.json).status_code == 200
    assert credited(shop, order) == "11.97"
    exchanged = clerk.post(CR, json=draft_return(shop, order, credit_amount="0"))
    assert exchanged.status_code == 201, exchanged.json
    assert exchanged.json["data"]["credit_amount"] == "0"  # as typed, not the default


def test_the_credit_given_by_default_stays_within_what_the_order_has_left(shop):
    order = hospital_sale(shop, "3.337")  # 3 × 3.337 = 10.01; a strip is worth 3.34
    for _ in range(2):
        assert inspect(shop, received(shop, order, "3.34")).status_code == 200
    back = shop.api("clerk").post(CR, json=draft_return(shop, order))
    assert back.status_code == 201, back.json
    assert back.json["data"]["credit_amount"] == "3.33"  # what the order had left to credit


def test_a_retail_return_is_refunded_at_the_counter_and_credits_nothing(shop):
    sale = delivered(shop, "A")  # a walk-in customer's
    clerk = shop.api("clerk")
    preview = clerk.post("/api/v1/forms/customer_return/evaluate", json=draft_return(shop, sale))
    assert preview.status_code == 200 and preview.json["errors"] == {}, preview.json
    assert preview.json["values"].get("credit_amount") is None
    # a walk-in sale shows nothing paid or still to pay: it was paid at the counter
    assert preview.json["values"]["returned_value"] == "20.00"
    page = clerk.get(f"/forms/sales_order/{sale['id']}")
    assert page.status_code == 200 and "Still to pay" not in page.text
