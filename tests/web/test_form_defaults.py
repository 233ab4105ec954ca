"""A value a field's ``default_expr`` gave follows its inputs until the user types one: a sales
line priced at retail before the customer was chosen takes the hospital's agreed price (协议价)
when the hospital is chosen, and the date's when the sale is backdated; a price typed stays.
The page marks the inputs holding defaults (``data-default``) and names them in ``_defaults``
with each recompute and save, and the save computes them again: the order is never saved at a
default computed for another customer. An API client's prices stay as sent."""

from __future__ import annotations

import re

import pytest

from app.db import clock_at
from tests.application.clock import SUITE_STARTED
from tests.application.purchasing_fixtures import bed_fixture, day, url  # noqa: F401  (bed)

RETAIL, WHOLESALE, AGREED = "25.00", "18.00", "16.50"


@pytest.fixture(autouse=True)
def one_business_moment():
    """The clock held where ``day()`` counts from."""
    with clock_at(SUITE_STARTED):
        yield


@pytest.fixture
def hospital(bed):
    """瑞金医院, agreeing 16.50 for the strips (GLC: retail 25.00, wholesale 18.00) from ten days
    ago; the strips' card and the hospital's, qualified."""
    bed.glc = bed.item("GLC", "0690123456011", wholesale_price=WHOLESALE)["data"]["item"]
    return bed.qualify("customer", {
        "code": "H-9", "name": "瑞金医院", "kind": "hospital", "licence_number": "沪械2020009",
        "licence_expiry": day(300),
        "prices": [{"item": bed.glc, "price": AGREED, "contract": "ZB-2026-031",
                    "valid_from": day(-10)}],
    })["id"]  # fmt: skip


def box(html: str, name: str) -> tuple[str | None, bool]:
    """(value, marked as holding its default) of the input ``name`` of a page or a recompute's
    answer; (None, False) when the answer leaves the input as it is."""
    wrapper = "in-" + name.replace("[", "-").replace("]", "").replace(".", "-")
    found = re.search(
        rf'<div class="field-input" id="{re.escape(wrapper)}"([^>]*)>\s*<input[^>]*value="([^"]*)"',
        html,
    )
    return (found.group(2), "data-default" in found.group(1)) if found else (None, False)


def sale(bed, customer="", sale_date=None, lines=(), defaults="") -> dict:
    """The sales order page's form data: ``lines`` of (item, quantity, unit price)."""
    data = {"location": str(bed.loc("SH01")), "customer": str(customer),
            "sale_date": sale_date or day(0), "_defaults": defaults}  # fmt: skip
    for index, (item, quantity, price) in enumerate(lines):
        data |= {f"lines[{index}].item": str(item), f"lines[{index}].quantity": quantity,
                 f"lines[{index}].unit_price": price, f"lines[{index}].discount": "0"}  # fmt: skip
    return data


def recompute(bed, data: dict) -> str:
    response = bed.api("clerk").form("/forms/sales_order/evaluate", data)
    assert response.status_code == 200
    return response.text


def saved(bed, response) -> dict:
    assert response.status_code == 302, response.text
    record_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    return bed.api("clerk").get(url("sales_order", record_id)).json


def prices(record: dict) -> list[str]:
    return [line["unit_price"] for line in record["data"]["lines"]]


def test_a_line_priced_before_the_customer_takes_the_hospitals_agreed_price(bed, hospital):
    # the clerk adds a line first: the retail price, marked as the default
    answer = recompute(bed, sale(bed, lines=[(bed.glc, "2", "")]))
    assert box(answer, "lines[0].unit_price") == (RETAIL, True)
    # then chooses the hospital: the line takes the price agreed with it, still a default
    chosen = sale(bed, hospital, lines=[(bed.glc, "2", RETAIL)], defaults="lines[0].unit_price")
    assert box(recompute(bed, chosen), "lines[0].unit_price") == (AGREED, True)
    # a sale dated before the agreement: the card's wholesale price
    backdated = {**chosen, "sale_date": day(-11), "lines[0].unit_price": AGREED}
    assert box(recompute(bed, backdated), "lines[0].unit_price") == (WHOLESALE, True)
    # a price the clerk typed stays when the customer changes (nothing sent back for it)
    typed = sale(bed, hospital, lines=[(bed.glc, "2", "20.00")])
    assert box(recompute(bed, typed), "lines[0].unit_price") == (None, False)
    # the item cleared: its default price goes with it
    cleared = sale(bed, hospital, lines=[("", "2", AGREED)], defaults="lines[0].unit_price")
    assert box(recompute(bed, cleared), "lines[0].unit_price") == ("", False)


def test_a_save_computes_the_marked_defaults_again(bed, hospital):
    """Saved before the recompute of the customer's change was back: the line still shows the
    retail price, marked; the order is saved at the agreed price, the typed one as typed."""
    data = sale(bed, hospital, lines=[(bed.glc, "2", RETAIL), (bed.glc, "1", "20.00")],
                defaults="lines[0].unit_price,sale_date")  # fmt: skip
    order = saved(bed, bed.api("clerk").form("/forms/sales_order/new", data))
    assert prices(order) == [AGREED, "20.00"]
    assert order["data"]["sale_date"] == day(0)


def test_a_reopened_draft_marks_the_prices_that_are_their_defaults(bed, hospital):
    """A draft keeps no word of which prices were typed: one that is its line's default for the
    draft's values is taken for the default, and follows the customer chosen on the edit page."""
    clerk = bed.api("clerk")
    draft = saved(bed, clerk.form("/forms/sales_order/new", sale(
        bed, lines=[(bed.glc, "2", ""), (bed.glc, "1", "20.00")])))  # fmt: skip
    assert prices(draft) == [RETAIL, "20.00"]
    page = clerk.get(f"/forms/sales_order/{draft['id']}/edit").text
    assert box(page, "lines[0].unit_price") == (RETAIL, True)
    assert box(page, "lines[1].unit_price") == ("20.00", False)
    assert box(page, "sale_date") == (day(0), True)
    edited = sale(bed, hospital, lines=[(bed.glc, "2", RETAIL), (bed.glc, "1", "20.00")],
                  defaults="lines[0].unit_price")  # fmt: skip
    edited |= {"version": str(draft["version"])}
    order = saved(bed, clerk.form(f"/forms/sales_order/{draft['id']}/edit", edited))
    assert prices(order) == [AGREED, "20.00"]


def test_an_api_client_keeps_the_prices_it_sends(bed, hospital):
    """A PUT that changes the customer and sends the lines' prices keeps them; lines sent
    without a price take the default, and so do those the client names in ``_defaults``."""
    clerk = bed.api("clerk")
    draft = bed.create("clerk", "sales_order", {
        "location": bed.loc("SH01"), "lines": [{"item": bed.glc, "quantity": "2"}],
    })  # fmt: skip
    assert prices(draft) == [RETAIL]
    at = url("sales_order", draft["id"])
    sent = {"customer": hospital, "lines": [{"item": bed.glc, "quantity": "2",
                                             "unit_price": RETAIL}]}  # fmt: skip
    kept = clerk.put(at, json={**sent, "version": draft["version"]}).json
    assert prices(kept) == [RETAIL]
    named = {**sent, "_defaults": ["lines[0].unit_price"], "version": kept["version"]}
    following = clerk.put(at, json=named).json
    assert prices(following) == [AGREED]
    # a list of the defaults that is not one is refused on it, and nothing is written
    refused = clerk.put(at, json={**sent, "_defaults": 7, "version": following["version"]})
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["_defaults"]
    assert clerk.get(at).json["version"] == following["version"]


def test_a_second_scan_replaces_what_the_first_one_filled(bed):
    """A clerk scans the wrong box, then the right one: the lot and expiry the first scan filled
    (marked, as defaults are) take the second scan's; ones the clerk typed are kept, and a scan
    contradicting them is refused naming the field to clear."""
    from tests.application.purchasing_fixtures import gtin

    bed.item("GLC", "0690123456011")
    code = gtin("0690123456011")
    first, second = f"(01){code}(17)270131(10)WRONG", f"(01){code}(17)280229(10)RIGHT"
    keeper = bed.api("keeper")

    def receipt(scan, lot="", expiry="", defaults=""):
        return keeper.form("/forms/purchase_receipt/evaluate", {
            "location": str(bed.loc("WH-SH")), "supplier": "", "_defaults": defaults,
            "lines[0].scan": scan, "lines[0].item": "", "lines[0].lot": lot,
            "lines[0].expiry_date": expiry, "lines[0].quantity": "1",
        }).text  # fmt: skip

    answer = receipt(first)
    assert box(answer, "lines[0].lot") == ("WRONG", True)
    assert box(answer, "lines[0].expiry_date") == ("2027-01-31", True)
    marked = "lines[0].item,lines[0].lot,lines[0].expiry_date"
    answer = receipt(second, "WRONG", "2027-01-31", defaults=marked)
    assert box(answer, "lines[0].lot") == ("RIGHT", True)
    assert box(answer, "lines[0].expiry_date") == ("2028-02-29", True)
    typed = receipt(second, "WRONG", "2027-01-31")  # typed by the clerk: not overwritten
    assert "not what is entered" in typed and box(typed, "lines[0].lot") == (None, False)
