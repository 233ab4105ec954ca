"""What a credit, a red-letter invoice, a payment and a customer receipt may count, through the
API (defects a finance QA found on the demo):

- a customer return credits at most what its goods cost the customer — the quantity at the order
  line's net price — and at most what the order has left to credit: refused when saved, checked
  again when the goods are received, and one that no longer fits at inspection is corrected by
  the inspector instead of staying stuck awaiting inspection;
- the return of goods rejected at a receipt's inspection credits nothing: the receipt's total
  (the payable) never counted them;
- a red-letter invoice takes off each document at most what the invoice it reverses billed it
  for, over its own lines and the red-letter invoices before it;
- a supplier payment or customer receipt names only a document of its own party that counts on
  the account, and is not dated after today.
"""

from __future__ import annotations

import datetime as dt

from tests.application import purchasing_fixtures as purchasing
from tests.application import sales_fixtures
from tests.application.purchasing_fixtures import day
from tests.application.sales_fixtures import CR, SO, approved_customer, fire, strip_scan
from tests.application.test_accounts import PAYMENTS, RECEIPTS, delivered, finance_user, report
from tests.application.test_invoice_returns import partly_rejected_receipt, receipt_data
from tests.application.test_invoices import (
    INVOICES,
    accepted_receipt,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    billed,
    invoice,
    number,
)
from tests.application.test_sales import SIGNED, new_order, review_goods, scan_goods

shop = sales_fixtures.shop  # the fixture, used by name
LICENCE = {"licence_number": "沪械经营2020012", "licence_expiry": str(sales_fixtures.day(300))}


# --- customer returns ---------------------------------------------------------------------------


def hospital_sale(shop, unit_price: str, discount: str = "0") -> dict:
    """Three strips of lot A sold to a hospital by the clerk, reviewed and delivered by the
    manager (出库复核); the order as delivered."""
    hospital = approved_customer(shop, "CUS-ZSYY", name="中山医院", kind="hospital", **LICENCE)
    clerk, manager = shop.api("clerk"), shop.api("manager")
    line = {"item": shop["STRIP"], "quantity": "3", "unit_price": unit_price, "discount": discount}
    order = new_order(clerk, shop, [line], hospital)
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [strip_scan("A", 3)])
    review_goods(manager, order["id"], [strip_scan("A", 3)])
    response = fire(manager, SO, order, "review_deliver")
    assert response.status_code == 200, response.json
    return response.json


def customer_return(shop, order: dict, credit: str, quantity: int = 1):
    """The clerk's draft return of ``quantity`` strips of lot A crediting ``credit``."""
    return shop.api("clerk").post(CR, json={
        "location": shop["S1"], "sales_order": order["id"], "reason": "包装破损",
        "credit_amount": credit, "lines": [strip_scan("A", quantity)],
    })  # fmt: skip


def received(shop, order: dict, credit: str) -> dict:
    back = customer_return(shop, order, credit)
    assert back.status_code == 201, back.json
    response = fire(shop.api("clerk"), CR, back.json, "receive")
    assert response.status_code == 200, response.json
    return response.json


def checked(shop, back: dict) -> None:
    """The manager records the check: every returned strip accepted."""
    manager = shop.api("manager")
    current = manager.get(f"{CR}/{back['id']}").json
    lines = [line | {"accepted_quantity": line["quantity"], "rejected_quantity": "0"}
             for line in current["data"]["lines"]]  # fmt: skip
    saved = manager.put(f"{CR}/{back['id']}", json={"lines": lines, "version": current["version"]})
    assert saved.status_code == 200, saved.json


def inspect(shop, back: dict):
    """The manager records the check and signs it."""
    checked(shop, back)
    return fire(shop.api("manager"), CR, back, "inspect", **SIGNED)


def credited(shop, order: dict) -> str | None:
    return shop.api("manager").get(f"{SO}/{order['id']}").json["data"].get("returned")


def test_a_customer_return_credits_at_most_what_its_goods_cost(shop):
    order = hospital_sale(shop, "12.345", "3")  # 3 × 12.345 at 3 % off
    assert order["data"]["total"] == "35.92"
    # one strip of three back, the whole order credited: refused on the field, nothing saved
    for credit in ("35.92", "11.98"):
        refused = customer_return(shop, order, credit)
        assert refused.status_code == 422, refused.json
        assert list(refused.json["errors"]) == ["credit_amount"]
        assert "value of the goods returned" in refused.json["errors"]["credit_amount"][0]
    # what one strip cost the hospital: 35.92 / 3 = 11.97
    back = customer_return(shop, order, "11.97")
    assert back.status_code == 201, back.json
    assert back.json["data"]["returned_value"] == "11.97"
    assert fire(shop.api("clerk"), CR, back.json, "receive").status_code == 200
    response = inspect(shop, back.json)
    assert response.status_code == 200, response.json
    assert credited(shop, order) == "11.97"
    # the rest of the order back (two strips) may credit the rest: 23.95
    assert customer_return(shop, order, "23.96", 2).status_code == 422
    rest = customer_return(shop, order, "23.95", 2)
    assert rest.status_code == 201, rest.json
    assert rest.json["data"]["returned_value"] == "23.95"


def test_a_return_of_an_item_the_order_sold_at_two_prices_is_valued_at_their_average(shop):
    """One strip at 20.00 and two at 10.00 on two lines of one order: a strip back cost the
    hospital 40.00 / 3 = 13.33 on average, not the first line's 20.00."""
    hospital = approved_customer(shop, "CUS-ZSYY", name="中山医院", kind="hospital", **LICENCE)
    clerk, manager = shop.api("clerk"), shop.api("manager")
    lines = [{"item": shop["STRIP"], "quantity": quantity, "unit_price": price}
             for quantity, price in (("1", "20.00"), ("2", "10.00"))]  # fmt: skip
    order = new_order(clerk, shop, lines, hospital)
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [strip_scan("A", 3)])
    review_goods(manager, order["id"], [strip_scan("A", 3)])
    order = fire(manager, SO, order, "review_deliver").json
    assert order["data"]["total"] == "40.00"
    refused = customer_return(shop, order, "20.00")
    assert refused.status_code == 422, refused.json
    assert list(refused.json["errors"]) == ["credit_amount"]
    back = customer_return(shop, order, "13.33")
    assert back.status_code == 201, back.json
    assert back.json["data"]["returned_value"] == "13.33"


def test_a_credit_the_order_has_no_room_for_is_refused_when_saved(shop):
    order = hospital_sale(shop, "12.345", "3")
    back = customer_return(shop, order, "35.92", 3)  # everything back, all credited
    assert back.status_code == 201, back.json
    assert fire(shop.api("clerk"), CR, back.json, "receive").status_code == 200
    assert inspect(shop, back.json).status_code == 200
    assert credited(shop, order) == "35.92"
    # a further credit on the order is refused as it is saved, not at the inspection's signing
    refused = customer_return(shop, order, "1.00")
    assert refused.status_code == 422, refused.json
    assert list(refused.json["errors"]) == ["credit_amount"]
    assert "left to credit" in refused.json["errors"]["credit_amount"][0]


def test_a_credit_that_no_longer_fits_is_refused_at_receipt_while_still_a_draft(shop):
    order = hospital_sale(shop, "3.337")  # 3 × 3.337 = 10.01; a strip is worth 3.34
    first, second = received(shop, order, "3.34"), received(shop, order, "3.34")
    late = customer_return(shop, order, "3.34")  # it fitted when saved
    assert late.status_code == 201, late.json
    assert inspect(shop, first).status_code == 200
    assert inspect(shop, second).status_code == 200
    assert credited(shop, order) == "6.68"
    clerk = shop.api("clerk")
    refused = fire(clerk, CR, late.json, "receive")
    assert refused.status_code == 409 and refused.json["field"] == "credit_amount"
    assert "10.01" in refused.json["error"] and "6.68" in refused.json["error"]
    assert clerk.get(f"{CR}/{late.json['id']}").json["state"] == "draft"  # the goods not taken in
    current = clerk.get(f"{CR}/{late.json['id']}").json
    saved = clerk.put(f"{CR}/{late.json['id']}",
                      json={"credit_amount": "3.33", "version": current["version"]})  # fmt: skip
    assert saved.status_code == 200, saved.json
    assert fire(clerk, CR, late.json, "receive").status_code == 200
    assert inspect(shop, late.json).status_code == 200
    assert credited(shop, order) == "10.01"


def test_the_inspector_corrects_a_credit_that_no_longer_fits_at_inspection(shop):
    order = hospital_sale(shop, "3.337")  # 10.01
    backs = [received(shop, order, "3.34") for _ in range(3)]  # each fits the order when received
    for back in backs:  # the checks recorded, then signed one by one
        checked(shop, back)
    manager = shop.api("manager")
    assert fire(manager, CR, backs[0], "inspect", **SIGNED).status_code == 200
    assert fire(manager, CR, backs[1], "inspect", **SIGNED).status_code == 200
    refused = fire(manager, CR, backs[2], "inspect", **SIGNED)  # 6.68 + 3.34 > 10.01
    assert refused.status_code == 409 and refused.json["field"] == "credit_amount"
    url = f"{CR}/{backs[2]['id']}"
    current = manager.get(url).json
    assert current["state"] == "awaiting_inspection"
    # not stuck: the inspector lowers the credit to what the order has left, and signs
    too_much = manager.put(url, json={"credit_amount": "3.34", "version": current["version"]})
    assert too_much.status_code == 422 and list(too_much.json["errors"]) == ["credit_amount"]
    saved = manager.put(url, json={"credit_amount": "3.33", "version": current["version"]})
    assert saved.status_code == 200, saved.json
    response = fire(manager, CR, backs[2], "inspect", **SIGNED)
    assert response.status_code == 200, response.json
    assert credited(shop, order) == "10.01"


# --- supplier returns ---------------------------------------------------------------------------


def test_the_return_of_goods_rejected_at_inspection_credits_nothing(bed):
    supplier = bed.supplier()
    receipt = partly_rejected_receipt(bed, supplier)  # 8 accepted at 12.00 = 96.00, 2 rejected
    supervisor = bed.api("supervisor")
    made = supervisor.get(
        f"{purchasing.url('purchase_receipt', receipt['id'])}/make/supplier_return"
    )
    assert made.status_code == 200, made.json
    draft = made.json["data"]
    assert draft["reason"] == "nonconforming"
    refused = supervisor.post(purchasing.url("supplier_return"), json={
        **draft, "credit_amount": "24.00",
    })  # fmt: skip
    assert refused.status_code == 422, refused.json
    assert list(refused.json["errors"]) == ["credit_amount"]
    assert "未计入应付" in refused.json["errors"]["credit_amount"][0]  # the supervisor reads 中文
    sent = supervisor.post(purchasing.url("supplier_return"), json={**draft, "credit_amount": "0"})
    assert sent.status_code == 201, sent.json
    response = bed.review_and_return("qa", sent.json["id"])
    assert response.status_code == 200, response.json
    # what is owed is still what was accepted; nothing came off what the supplier may invoice
    data = receipt_data(bed, receipt)
    assert (data.get("returned"), data["invoiceable"], data["uninvoiced"]) == (
        None, "96.00", "96.00"
    )  # fmt: skip
    assert [row["balance"] for row in report(bed.api("cashier"), "payables")] == ["96.00"]
    # goods that had been accepted and go back for another reason may still be credited
    recalled = supervisor.post(purchasing.url("supplier_return"), json={
        **draft, "reason": "recalled", "credit_amount": "24.00",
    })  # fmt: skip
    assert recalled.status_code == 201, recalled.json


# --- red-letter invoices ------------------------------------------------------------------------


def red(bed, original: dict, serial: int, lines: list[tuple[dict, str]]) -> dict:
    """A red-letter draft against ``original`` with (document, negative amount) lines."""
    response = bed.api("cashier").post(purchasing.url(INVOICES), json={
        "location": bed.loc("HQ"), "supplier": original["data"]["supplier"],
        "invoice_colour": "red", "original_invoice": original["id"],
        "invoice_number": number(serial), "invoice_date": day(0),
        "lines": [{"purchase_receipt": document["id"], "amount": amount, "tax_rate": "13"}
                  for document, amount in lines],
    })  # fmt: skip
    assert response.status_code == 201, response.json
    return response.json


def confirm(bed, record: dict):
    return bed.fire("cashier", INVOICES, record["id"], "confirm")


def reversed_lines(bed, record: dict) -> list:
    data = bed.api("cashier").get(purchasing.url(INVOICES, record["id"])).json["data"]
    return [line.get("reversed") for line in data["lines"]]


def test_a_red_letter_invoice_takes_off_a_receipt_only_what_its_original_billed_it(bed):
    supplier = bed.supplier()
    pr4 = accepted_receipt(bed, supplier, "5", "10.00")  # 50.00
    pr3 = accepted_receipt(bed, supplier, "10", "30.00")  # 300.00
    a = invoice(bed, supplier, 1, [(pr4, "50.00"), (pr3, "40.97")])
    assert confirm(bed, a).status_code == 200
    b = invoice(bed, supplier, 2, [(pr3, "200.00")])
    assert confirm(bed, b).status_code == 200
    assert billed(bed, pr3) == ("240.97", "59.03")
    # the demo's case: A's whole total taken off PR-3, which A billed 40.97 only
    c = red(bed, a, 3, [(pr3, "-90.97")])
    refused = confirm(bed, c)
    assert refused.status_code == 409 and refused.json["field"] == "lines[0].amount"
    assert refused.json["error"] == (
        f"Line 1: {a['number']} allows 40.97 for {pr3['number']}, of which 0.00 is Reversed "
        "already; this adds 90.97."
    )
    assert billed(bed, pr3) == ("240.97", "59.03") and billed(bed, pr4) == ("50.00", "0.00")
    assert reversed_lines(bed, a) == [None, None]  # nothing half-written
    # within it: counted on A's line of PR-3
    d = red(bed, a, 4, [(pr3, "-30.00")])
    assert confirm(bed, d).status_code == 200
    assert reversed_lines(bed, a) == [None, "30.00"]
    # a later red-letter invoice meets what the earlier one took off; its own lines add up
    e = red(bed, a, 5, [(pr3, "-6.00"), (pr4, "-5.00"), (pr3, "-5.00")])
    refused = confirm(bed, e)
    assert refused.status_code == 409 and refused.json["field"] == "lines[2].amount"
    assert "of which 30.00 is Reversed already; this adds 11.00." in refused.json["error"]
    f = red(bed, a, 6, [(pr3, "-6.00"), (pr4, "-50.00"), (pr3, "-4.97")])
    assert confirm(bed, f).status_code == 200
    assert reversed_lines(bed, a) == ["50.00", "40.97"]
    assert billed(bed, pr3) == ("200.00", "100.00") and billed(bed, pr4) == ("0.00", "50.00")
    # voiding a red-letter invoice gives its amounts back to the lines it took them off
    assert bed.fire("cashier", INVOICES, d["id"], "void", comment="红冲有误").status_code == 200
    assert reversed_lines(bed, a) == ["50.00", "10.97"]
    assert billed(bed, pr3) == ("230.00", "70.00")


def test_a_red_letter_sales_invoice_takes_off_an_order_only_what_its_original_billed_it(shop, db):
    hospital = approved_customer(shop, "H-8", name="中山医院", kind="hospital", **LICENCE)
    first, second = delivered(shop, "A", hospital), delivered(shop, "A2", hospital)  # 60.00 each
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    url = "/api/v1/forms/sales_invoice/records"

    def issued(serial: int, lines: list[tuple[dict, str]], **extra) -> dict:
        response = cashier.post(url, json={
            "location": shop["HQ"], "customer": hospital, "invoice_number": number(serial),
            "invoice_date": day(0), "lines": [{"sales_order": order["id"], "amount": amount}
                                              for order, amount in lines], **extra,
        })  # fmt: skip
        assert response.status_code == 201, response.json
        return response.json

    a = issued(1, [(first, "60.00"), (second, "10.00")])
    assert fire(cashier, url, a, "confirm").status_code == 200
    assert fire(cashier, url, issued(2, [(second, "50.00")]), "confirm").status_code == 200
    reverse = {"invoice_colour": "red", "original_invoice": a["id"]}
    c = issued(3, [(second, "-40.00")], **reverse)  # A billed the second order 10.00 only
    refused = fire(cashier, url, c, "confirm")
    assert refused.status_code == 409 and refused.json["field"] == "lines[0].amount"
    assert f"allows 10.00 for {second['number']}" in refused.json["error"]
    data = cashier.get(f"{SO}/{second['id']}").json["data"]
    assert (data["invoiced"], data["uninvoiced"]) == ("60.00", "0.00")
    assert (
        fire(cashier, url, issued(4, [(second, "-10.00")], **reverse), "confirm").status_code == 200
    )
    lines = cashier.get(f"{url}/{a['id']}").json["data"]["lines"]
    assert [line.get("reversed") for line in lines] == [None, "10.00"]


# --- payments and customer receipts -------------------------------------------------------------


def test_a_payment_names_an_owed_receipt_of_its_own_supplier_and_no_later_date(bed):
    supplier = bed.supplier()
    other = bed.supplier(code="SUP-SINOPHARM", name="国药器械")
    mine = accepted_receipt(bed, supplier, "2", "10.00")
    theirs = accepted_receipt(bed, other, "3", "10.00")
    pending = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": bed.glc, "lot": "P1", "expiry_date": day(400), "quantity": "1",
                   "unit_cost": "10.00"}],
    })  # fmt: skip
    assert bed.fire("keeper", "purchase_receipt", pending["id"], "receive").status_code == 200
    cashier = bed.api("cashier")
    # the picker offers this supplier's inspected receipts only
    lookup = "/api/v1/lookup/purchase_receipt?form=supplier_payment&field=purchase_receipt"
    offered = cashier.get(f"{lookup}&this.supplier={supplier['id']}").json["results"]
    assert [choice["value"] for choice in offered] == [mine["id"]]
    body = {"location": bed.loc("HQ"), "supplier": supplier["id"], "amount": "20.00",
            "method": "bank_transfer", "payment_date": day(0)}  # fmt: skip
    for receipt in (theirs, pending):  # another supplier's; not inspected, so not owed yet
        response = cashier.post(PAYMENTS, json={**body, "purchase_receipt": receipt["id"]})
        assert response.status_code == 422, response.json
        assert list(response.json["errors"]) == ["purchase_receipt"]
        assert any("inspected purchase receipt of this supplier" in message
                   for message in response.json["errors"]["purchase_receipt"])  # fmt: skip
    future = (dt.date.fromisoformat(day(0)) + dt.timedelta(days=1)).isoformat()
    response = cashier.post(PAYMENTS, json={**body, "payment_date": future})
    assert response.status_code == 422 and response.json["errors"] == {
        "payment_date": ["The payment date cannot be later than today"]
    }
    for amount in ("0.015", "100.005"):  # money is paid in whole fen
        response = cashier.post(PAYMENTS, json={**body, "amount": amount})
        assert response.status_code == 422, response.json
        assert response.json["errors"] == {"amount": ["At most 2 decimal places."]}
    response = cashier.post(PAYMENTS, json={**body, "purchase_receipt": mine["id"]})
    assert response.status_code == 201, response.json


def test_a_customer_receipt_names_an_owed_order_of_its_own_customer_and_no_later_date(shop, db):
    ours = approved_customer(shop, "H-1", name="仁济医院", kind="hospital", **LICENCE)
    theirs = approved_customer(shop, "H-2", name="华山医院", kind="hospital", **LICENCE)
    mine, other = delivered(shop, "A", ours), delivered(shop, "A2", theirs)
    finance_user(db, shop["HQ"])
    cashier = shop.api("cashier")
    lookup = "/api/v1/lookup/sales_order?form=customer_receipt&field=sales_order"
    offered = cashier.get(f"{lookup}&this.customer={ours}").json["results"]
    assert [choice["value"] for choice in offered] == [mine["id"]]
    body = {"location": shop["HQ"], "customer": ours, "amount": "60.00",
            "method": "bank_transfer", "receipt_date": day(0)}  # fmt: skip
    response = cashier.post(RECEIPTS, json={**body, "sales_order": other["id"]})
    assert response.status_code == 422 and list(response.json["errors"]) == ["sales_order"]
    assert any("delivered sales order of this customer" in message
               for message in response.json["errors"]["sales_order"])  # fmt: skip
    future = (dt.date.fromisoformat(day(0)) + dt.timedelta(days=1)).isoformat()
    response = cashier.post(RECEIPTS, json={**body, "receipt_date": future})
    assert response.status_code == 422 and response.json["errors"] == {
        "receipt_date": ["The receipt date cannot be later than today"]
    }
    response = cashier.post(RECEIPTS, json={**body, "sales_order": mine["id"]})
    assert response.status_code == 201, response.json
