"""What a scan says is checked against the record, through the API: a GTIN no item carries and a
lot whose expiry contradicts the lot on record are refused at the scan (in the clerk's language),
and a receipt that still says another expiry than its lot is refused at receipt, naming the line."""

from __future__ import annotations

import datetime as dt

from tests.application.purchasing_fixtures import (
    TODAY,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    gtin,
    url,
)

SCAN_URL = "/api/v1/forms/purchase_receipt/scan"


def _scan(bed, username: str, value: str):
    return bed.api(username).post(SCAN_URL, json={"field": "lines.scan", "value": value})


def test_a_gtin_no_item_carries_is_refused_at_the_scan_in_chinese_and_english(bed):
    unknown = gtin("0690000000001")
    label = f"(01){unknown}(17)291231(10)ABC"
    response = _scan(bed, "supervisor", label)
    assert response.status_code == 422
    assert response.json["errors"] == {"lines.scan": [f"没有商品使用产品标识（GTIN）{unknown}。"]}
    response = _scan(bed, "keeper", label)
    assert response.status_code == 422
    assert response.json["errors"] == {"lines.scan": [f"No item has the GTIN {unknown}."]}


def test_an_expiry_contradicting_the_lot_on_record_is_refused_at_scan_and_at_receipt(bed):
    supplier = bed.supplier()["id"]
    item = bed.item("GLC", "0690123456011")["data"]["item"]
    recorded = TODAY + dt.timedelta(days=400)
    first = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"item": item, "lot": "26080851", "expiry_date": recorded.isoformat(),
                   "quantity": "2"}],
    })  # fmt: skip
    assert bed.fire("keeper", "purchase_receipt", first["id"], "receive").status_code == 200
    wrong = recorded - dt.timedelta(days=34)
    label = f"(01){gtin('0690123456011')}(17){wrong:%y%m%d}(10)26080851"
    response = _scan(bed, "keeper", label)
    assert response.status_code == 422
    assert response.json["errors"] == {"lines.scan": [
        f"Lot 26080851 is on record with the expiry date {recorded}, not {wrong}: "
        "check the label."
    ]}  # fmt: skip
    response = _scan(bed, "supervisor", label)
    assert response.json["errors"] == {"lines.scan": [
        f"批号 26080851 登记的有效期为 {recorded}，而不是 {wrong}：请核对标签。"
    ]}  # fmt: skip
    # the label as the lot says: fine
    right = f"(01){gtin('0690123456011')}(17){recorded:%y%m%d}(10)26080851"
    assert _scan(bed, "keeper", right).status_code == 200
    # saved anyway (typed, or scanned without the scan endpoint): the receipt is refused
    second = bed.create("supervisor", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"scan": right, "quantity": "1"},
                  {"item": item, "lot": "26080851", "expiry_date": wrong.isoformat(),
                   "quantity": "3"}],
    })  # fmt: skip
    before = bed.balances()
    response = bed.fire("supervisor", "purchase_receipt", second["id"], "receive")
    assert response.status_code == 409
    assert response.json["error"] == (
        f"第 2 行：批号 26080851 登记的有效期为 {recorded}，而不是 {wrong}：请核对标签。"
    )
    assert bed.balances() == before
    assert bed.api("keeper").get(url("purchase_receipt", second["id"])).json["state"] == "draft"


def test_a_scan_saved_without_the_scan_endpoint_is_checked_at_save(bed):
    """A scanner typing into the field, or the API: the save checks what the scan endpoint does,
    under the line's scan field — not a bare 'required' on the item it could not fill."""
    supplier = bed.supplier()["id"]
    unknown = gtin("0690000000001")
    response = bed.api("keeper").post(url("purchase_receipt"), json={
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"scan": f"(01){unknown}(17)291231(10)ABC", "quantity": "1"}],
    })  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"]["lines[0].scan"] == [f"No item has the GTIN {unknown}."]
    item = bed.item("GLC", "0690123456011")["data"]["item"]
    picked = bed.create("keeper", "purchase_receipt", {  # the item picked by hand: still refused
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"item": item, "lot": "A", "expiry_date": "2029-12-31", "quantity": "1"}],
    })  # fmt: skip
    response = bed.api("keeper").put(url("purchase_receipt", picked["id"]), json={
        "version": picked["version"],
        "lines": [{"scan": f"(01){unknown}(17)291231(10)ABC", "item": item, "quantity": "1"}],
    })  # fmt: skip
    assert response.status_code == 422
    assert "lines[0].scan" in response.json["errors"]
    known = f"(01){gtin('0690123456011')}(17)291231(10)ABC"
    saved = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"scan": known, "quantity": "1"}],
    })  # fmt: skip
    assert saved["data"]["lines"][0]["item"] == item
    assert saved["data"]["lines"][0]["lot"] == "ABC"


def test_a_scanned_line_is_priced_as_a_chosen_one_and_a_scan_of_other_goods_is_refused(bed):
    """A line filled by its scan reads its item's purchase price like a line whose item was
    chosen; a scan that says another item or another lot than the line is refused on the scan,
    nothing saved: the record must say what is in hand, for the trace a recall reads."""
    supplier = bed.supplier()["id"]
    item = bed.item("GLC", "0690123456011")["data"]["item"]
    other = bed.item("GLD", "0690123456012")["data"]["item"]
    label = f"(01){gtin('0690123456011')}(17)291231(10)ABC"
    scanned = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"scan": label, "quantity": "10"}],
    })  # fmt: skip
    [line] = scanned["data"]["lines"]
    assert (line["item"], line["unit_cost"], line["amount"]) == (item, "12.00", "120.00")
    before = bed.api("keeper").get(url("purchase_receipt")).json["total"]
    for typed, says in (({"item": other}, "Item"), ({"item": item, "lot": "XYZ"}, "Lot")):
        response = bed.api("keeper").post(url("purchase_receipt"), json={
            "location": bed.loc("WH-SH"), "supplier": supplier,
            "lines": [{"scan": label, "quantity": "1", **typed}],
        })  # fmt: skip
        assert response.status_code == 422, typed
        [message] = response.json["errors"]["lines[0].scan"]
        assert message.startswith(f"The scan says {says}") and "not what is entered" in message
    assert bed.api("keeper").get(url("purchase_receipt")).json["total"] == before
    response = bed.api("supervisor").post(url("purchase_receipt"), json={
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"scan": label, "quantity": "1", "item": other}],
    })  # fmt: skip
    assert response.json["errors"]["lines[0].scan"][0].startswith("扫码结果为商品")
