"""Documents made from another (参照生单): the receipt of an approved purchase order starts with
its supplier, location and what is still to come of each line; the invoice of an inspected
receipt starts with what is still to be invoiced, its supplier return with the rejected goods; a
customer return starts with what the sale delivered and has not had back. Through the API (the
draft to post), the record page's button and the prefilled new-record page; refused for a source
in the wrong state, a form not made from it, or a user who may not create what would be made."""

from __future__ import annotations

import re

import pytest

from tests.application import purchasing_fixtures as purchasing
from tests.application import sales_fixtures
from tests.application.purchasing_fixtures import day, url
from tests.application.sales_fixtures import CR
from tests.application.test_accounts import delivered
from tests.application.test_invoice_returns import partly_rejected_receipt
from tests.application.test_invoices import STAFF, accepted_receipt
from tests.application.test_purchasing_refusals import _approve

shop = sales_fixtures.shop  # the fixture, used by name


@pytest.fixture(name="bed")
def bed_fixture(app, db):
    bed = purchasing.make_bed(app, db, STAFF)
    bed.glc = bed.item("GLC", "0690123456011")["data"]["item"]
    bed.gauze = bed.item("GAUZE", "0690123456012")["data"]["item"]
    return bed


def approved_order(bed, supplier: dict) -> dict:
    order = bed.create("keeper", "purchase_order", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "expected_date": day(7),
        "lines": [{"item": bed.glc, "quantity": "10", "unit_price": "12.00"},
                  {"item": bed.gauze, "quantity": "5", "unit_price": "3.50"}],
    })  # fmt: skip
    assert bed.fire("keeper", "purchase_order", order["id"], "submit").status_code == 200
    assert _approve(bed, "supervisor", order["id"]).status_code == 200  # (under 10,000: one level)
    return bed.api("keeper").get(url("purchase_order", order["id"])).json


def made(api, form: str, record_id: int, target: str):
    return api.get(f"{url(form, record_id)}/make/{target}")


def test_a_receipt_is_made_from_what_its_order_still_expects(bed):
    supplier = bed.supplier()
    keeper = bed.api("keeper")
    draft_order = bed.create("keeper", "purchase_order", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "expected_date": day(7),
        "lines": [{"item": bed.glc, "quantity": "1", "unit_price": "12.00"}],
    })  # fmt: skip
    refused = made(keeper, "purchase_order", draft_order["id"], "purchase_receipt")
    assert refused.status_code == 409 and "Approved" in refused.json["error"]  # not approved yet

    order = approved_order(bed, supplier)
    response = made(keeper, "purchase_order", order["id"], "purchase_receipt")
    assert response.status_code == 200, response.json
    draft = response.json["data"]
    assert (draft["location"], draft["supplier"], draft["purchase_order"]) == (
        bed.loc("WH-SH"), supplier["id"], order["id"],
    )  # fmt: skip
    assert draft["lines"] == [
        {"item": bed.glc, "quantity": "10", "unit_cost": "12.00"},
        {"item": bed.gauze, "quantity": "5", "unit_cost": "3.50"},
    ]
    # the clerk adds the lots of what came (the glucose strips in full) and receives it
    draft["lines"] = [{**draft["lines"][0], "lot": "G1", "expiry_date": day(400)}]
    receipt = keeper.post(url("purchase_receipt"), json=draft)
    assert receipt.status_code == 201, receipt.json
    assert bed.fire("keeper", "purchase_receipt", receipt.json["id"], "receive").status_code == 200
    # the next receipt of the order starts with what is still to come: the gauze only
    again = made(keeper, "purchase_order", order["id"], "purchase_receipt").json["data"]
    assert again["lines"] == [{"item": bed.gauze, "quantity": "5", "unit_cost": "3.50"}]

    # once all has come, nothing is left to receive: not offered, refused
    rest = keeper.post(url("purchase_receipt"), json={
        **again, "lines": [{**again["lines"][0], "lot": "Z1", "expiry_date": day(400)}],
    })  # fmt: skip
    assert bed.fire("keeper", "purchase_receipt", rest.json["id"], "receive").status_code == 200
    refused = made(keeper, "purchase_order", order["id"], "purchase_receipt")
    assert refused.status_code == 409 and order["number"] in refused.json["error"]
    page = keeper.get(f"/forms/purchase_order/{order['id']}").text
    assert 'data-make="purchase_receipt"' not in page


def test_the_order_page_offers_its_receipt_filled_in(bed):
    order = approved_order(bed, bed.supplier())
    keeper = bed.api("keeper")
    # the order's page offers it; the new receipt's page comes filled in
    page = keeper.get(f"/forms/purchase_order/{order['id']}").text
    link = f"/forms/purchase_receipt/new?from=purchase_order&amp;record={order['id']}"
    assert 'data-make="purchase_receipt"' in page and link in page
    form = keeper.get(f"/forms/purchase_receipt/new?from=purchase_order&record={order['id']}")
    assert form.status_code == 200
    quantity = re.search(r'<input[^>]*name="lines\[0\]\.quantity"[^>]*>', form.text)
    assert quantity and 'value="10"' in quantity.group(0)  # all of the first line to come
    missing = keeper.get("/forms/purchase_receipt/new?from=purchase_order&record=999999")
    assert missing.status_code == 404


def test_an_invoice_is_made_from_an_inspected_receipt_and_what_is_left_to_invoice(bed):
    supplier = bed.supplier()
    receipt = accepted_receipt(bed, supplier, "8", "12.00")  # 96.00
    cashier = bed.api("cashier")
    draft = made(cashier, "purchase_receipt", receipt["id"], "purchase_invoice").json["data"]
    assert draft == {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"purchase_receipt": receipt["id"], "amount": "96.00"}],
    }  # fmt: skip
    draft.update(invoice_number="26312000000000000042", invoice_date=day(0))
    draft["lines"][0]["amount"] = "60.00"
    invoice = cashier.post(url("purchase_invoice"), json=draft)
    assert invoice.status_code == 201, invoice.json
    assert bed.fire("cashier", "purchase_invoice", invoice.json["id"], "confirm").status_code == 200
    draft = made(cashier, "purchase_receipt", receipt["id"], "purchase_invoice").json["data"]
    assert draft["lines"][0]["amount"] == "36.00"  # what is still to be invoiced
    # what is not made from a receipt, and who may not create an invoice
    refused = made(cashier, "purchase_receipt", receipt["id"], "sales_invoice")
    assert refused.status_code == 409 and refused.json["error"]
    qa = bed.api("qa")
    assert made(qa, "purchase_receipt", receipt["id"], "purchase_invoice").status_code == 403
    page = qa.get(f"/forms/purchase_receipt/{receipt['id']}").text
    assert 'data-make="purchase_invoice"' not in page  # not offered to who cannot create it


def test_the_rejected_goods_of_a_receipt_go_back_on_a_return_made_from_it(bed):
    supplier = bed.supplier()
    receipt = partly_rejected_receipt(bed, supplier)  # 2 of lot L1 rejected
    supervisor = bed.api("supervisor")
    response = made(supervisor, "purchase_receipt", receipt["id"], "supplier_return")
    assert response.status_code == 200, response.json
    draft = response.json["data"]
    assert draft == {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "purchase_receipt": receipt["id"],
        "reason": "nonconforming", "lines": [{"item": bed.glc, "lot": "L1", "quantity": "2"}],
    }  # fmt: skip
    saved = supervisor.post(url("supplier_return"), json=draft)
    assert saved.status_code == 201, saved.json
    assert bed.review_and_return("qa", saved.json["id"]).status_code == 200
    # a receipt with every unit accepted has nothing to send back
    accepted = accepted_receipt(bed, supplier, "3", "10.00")
    assert (
        made(supervisor, "purchase_receipt", accepted["id"], "supplier_return").status_code == 409
    )


def test_a_customer_return_is_made_from_what_the_sale_delivered_and_has_not_had_back(shop):
    clerk = shop.api("clerk")
    order = delivered(shop, "A")  # 3 strips of lot A
    response = made(clerk, "sales_order", order["id"], "customer_return")
    assert response.status_code == 200, response.json
    draft = response.json["data"]
    assert (draft["location"], draft["sales_order"]) == (shop["S1"], order["id"])
    [line] = draft["lines"]
    assert (line["item"], line["lot"], line["quantity"]) == (shop["STRIP"], "A", "3")
    # one comes back: the next return made from the sale starts with the two left
    back = clerk.post(
        CR, json={**draft, "reason": "包装破损", "lines": [{**line, "quantity": "1"}]}
    )
    assert back.status_code == 201, back.json
    assert sales_fixtures.fire(clerk, CR, back.json, "receive").status_code == 200
    again = made(clerk, "sales_order", order["id"], "customer_return").json["data"]
    assert [row["quantity"] for row in again["lines"]] == ["2"]
