"""Printable documents: the transfer note, delivery note and receiving record carry their
regulatory columns, the document number as Code 128 and each line's UDI as GS1-128 (inline SVG
drawn on the server); any other form prints generically; A4 and 80 mm; scope as the record page."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.kernel.items import Item
from app.kernel.udi import parse_udi
from app.meta.models import Record
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import GTIN, records_of, review_and_ship

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses


def _barcodes(html: str) -> list[tuple[str, str]]:
    """(kind, encoded value) of every inline barcode SVG on the page."""
    pattern = r'<svg class="barcode" role="img" data-barcode="([^"]+)" data-value="([^"]+)"'
    return re.findall(pattern, html)


def _describe_strip(db):
    with db.transaction() as session:
        item = session.scalar(select(Item).where(Item.code == "STRIP"))
        item.specification, item.manufacturer = "50 strips/box", "三诺生物传感股份有限公司"
        item.registration_cert = "湘械注准20172400035"


def transfer_out(db, as_user, chain) -> Record:
    clerk = as_user("clerk1")
    asked = clerk.post(
        "/api/v1/forms/transfer_request/records",
        json={
            "to_location": chain["S1"],
            "from_location": chain["WH1"],
            "lines": [{"item": chain["strip"], "quantity": "4", "unit_price": "10"}],
        },
    ).json
    clerk.post(f"/api/v1/forms/transfer_request/records/{asked['id']}/transitions/submit", json={})
    fixtures.approve(db, as_user("manager1"), chain["manager1"], asked["id"])
    [out] = records_of(db, "transfer_out")
    warehouse = as_user("whclerk")
    current = warehouse.get(f"/api/v1/forms/transfer_out/records/{out.id}").json
    warehouse.put(f"/api/v1/forms/transfer_out/records/{out.id}", json={
        "version": current["version"],
        "lines": [{"item": chain["strip"], "lot": "L1", "expiry_date": "2031-06-30",
                   "quantity": "4"}]})  # fmt: skip
    return records_of(db, "transfer_out")[0]


def test_the_transfer_note_prints_barcodes_and_regulatory_columns(db, as_user, chain):
    _describe_strip(db)
    out = transfer_out(db, as_user, chain)
    page = as_user("whclerk").get(f"/forms/transfer_out/{out.id}/print")
    assert page.status_code == 200
    html = page.text
    codes = _barcodes(html)
    assert ("code128", out.number) in codes
    [(kind, udi)] = [code for code in codes if code[0] == "gs1-128"]
    assert udi == f"(01){GTIN}(17)310630(10)L1"
    assert parse_udi(udi).lot == "L1"  # what is printed scans back to the same UDI
    for column in (
        "Device name",
        "Model / specification",
        "Registration certificate",
        "Manufacturer",
        "Lot / serial number",
        "Expiry date",
        "Storage condition",
    ):
        assert column in html, column
    for value in ("血糖试纸", "50 strips/box", "湘械注准20172400035", "三诺生物", "2031-06-30",
                  "上海仓", "一号店", "Transfer note"):  # fmt: skip
        assert value in html, value
    assert 'href="/static/print.css"' in html or "print.css" in html
    assert "size: 80mm" not in html


def test_the_80mm_receipt_layout(db, as_user, chain):
    out = transfer_out(db, as_user, chain)
    html = as_user("whclerk").get(f"/forms/transfer_out/{out.id}/print?paper=80mm").text
    assert "paper-80mm" in html and "size: 80mm auto" in html
    assert ("code128", out.number) in _barcodes(html)


def test_the_transfer_in_prints_generically_with_its_udi_and_the_source_named(db, as_user, chain):
    out = transfer_out(db, as_user, chain)
    assert review_and_ship(as_user("whsuper"), out.id).status_code == 200
    [incoming] = records_of(db, "transfer_in")
    html = as_user("clerk1").get(f"/forms/transfer_in/{incoming.id}/print").text
    codes = _barcodes(html)
    assert ("code128", incoming.number) in codes
    # the lot's expiry comes from the kernel when the line does not carry it
    assert ("gs1-128", f"(01){GTIN}(17)310630(10)L1") in codes
    assert "上海仓" in html  # a counterpart location is named, not shown as #id
    assert out.number in html
    assert "<th>Shipped</th>" in html and "Cold chain" not in html  # a hidden column is not


def test_the_delivery_note_and_the_receiving_record(db, as_user, chain):
    _describe_strip(db)
    seller = as_user("whclerk")  # a wholesale delivery from the warehouse, to a walk-in buyer
    order = seller.post("/api/v1/forms/sales_order/records", json={
        "location": chain["WH1"], "sale_date": "2026-11-20",
        "lines": [{"item": chain["strip"], "quantity": "2", "unit_price": "25"}]}).json  # fmt: skip
    url = f"/api/v1/forms/sales_order/records/{order['id']}"
    assert seller.post(f"{url}/transitions/confirm", json={}).status_code == 200
    version = seller.get(url).json["version"]
    scanned = {"deliveries": [{"scan": f"(01){GTIN}(17)310630(10)L1", "quantity": "2"}],
               "payment_method": "bank_card", "version": version}  # fmt: skip
    assert (
        seller.client.patch(url, json=scanned, headers={"X-CSRFToken": seller.token}).status_code
        == 200
    )
    assert seller.post(f"{url}/transitions/deliver", json={}).status_code == 200
    html = seller.get(f"/forms/sales_order/{order['id']}/print").text
    assert "Delivery note" in html and "湘械注准20172400035" in html and "Unit price" in html
    # what the customer pays, line by line: 2 × 25.00 = 50.00 adds up to the total printed
    amounts = html[
        html.index('class="amounts"') : html.index("</table>", html.index('class="amounts"'))
    ]
    assert ">50.00<" in amounts and "Total: 50.00" in html
    assert 'name="viewport"' in html  # readable on the phone it is opened on
    assert "Reviewer" not in html  # a walk-in buyer's goods are not reviewed (出库复核)
    assert ("code128", order["number"]) in _barcodes(html)
    assert ("gs1-128", f"(01){GTIN}(17)310630(10)L1") in _barcodes(html)
    supplier = as_user("hq").post("/api/v1/forms/supplier/records", json={
        "code": "SUP1", "name": "三诺", "licence_number": "沪食药监械经营许20150001",
        "licence_expiry": "2030-01-01"}).json  # fmt: skip
    receipt = as_user("whclerk").post("/api/v1/forms/purchase_receipt/records", json={
        "location": chain["WH1"], "supplier": supplier["id"], "arrival_date": "2026-11-20",
        "lines": [{"item": chain["strip"], "lot": "L2", "expiry_date": "2032-01-31",
                   "quantity": "20", "unit_cost": "8",
                   "accepted_quantity": None}]}).json  # fmt: skip
    html = as_user("whclerk").get(f"/forms/purchase_receipt/{receipt['id']}/print").text
    columns = ("Receiving record", "Accepted", "Rejected", "Conclusion", "Inspector",
               "Registration certificate")  # fmt: skip
    for column in columns:
        assert column in html, column
    assert ("gs1-128", f"(01){GTIN}(17)320131(10)L2") in _barcodes(html)
    assert ">None<" not in html  # not inspected yet: the accepted and rejected cells are blank


def test_an_item_without_gtin_prints_without_udi_barcode(db, as_user, chain):
    clerk = as_user("whclerk")
    adjustment = clerk.post("/api/v1/forms/stock_adjustment/records", json={
        "location": chain["WH1"], "reason": "adjustment", "explanation": "x",
        "lines": [{"item": chain["ecg"], "lot": "E1", "serial": "SN1", "quantity": "-1",
                   "unit_cost": "3000"}]}).json  # fmt: skip
    html = clerk.get(f"/forms/stock_adjustment/{adjustment['id']}/print").text
    assert [kind for kind, _value in _barcodes(html)] == ["code128"]
    assert "SN1" in html


def test_print_follows_the_data_scope(db, as_user, chain):
    out = transfer_out(db, as_user, chain)
    assert as_user("clerk2").get(f"/forms/transfer_out/{out.id}/print").status_code == 404
    assert as_user("clerk1").get(f"/forms/transfer_out/{out.id}/print").status_code == 404
    with db.session() as session:
        assert session.get(Record, out.id) is not None


def test_a_field_an_admin_added_prints_after_the_documents_own(app, db, as_user, chain):
    """A chain adds its price notice's number to the price change: the document's own layout
    prints it after the fields it was made for; the shipped fields keep their places."""
    from app.meta.models import FormVersion
    from app.meta.versions import _bump_generation

    text = app.extensions["lianku.registry"].form("price_change").yaml_text
    label = "{zh_CN: 调价文号, en: Notice number}"
    notice = f"fields:\n  - {{name: notice_number, type: text, label: {label}}}\n"
    with db.transaction() as session:
        session.add(FormVersion(form="price_change", version=2, status="published",
                                yaml_text=text.replace("fields:\n", notice, 1)))  # fmt: skip
        _bump_generation(session)
    hq = as_user("hq")
    created = hq.post("/api/v1/forms/price_change/records", json={
        "reason": "季度调价", "notice_number": "沪价〔2026〕12号",
        "lines": [{"item": chain["strip"], "new_retail_price": "22.00"}],
    })  # fmt: skip
    assert created.status_code == 201, created.json
    html = hq.get(f"/forms/price_change/{created.json['id']}/print").text
    added = re.search(r"<tr data-added><th>Notice number</th><td>([^<]*)</td>", html)
    assert added and added.group(1) == "沪价〔2026〕12号"
    assert html.index("季度调价") < html.index("沪价〔2026〕12号")  # after the document's own
    assert html.count("data-added") == 1
