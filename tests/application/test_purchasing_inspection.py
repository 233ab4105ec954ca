"""The inspection sorts what was received, through the API: the inspector records accepted and
rejected quantities on the lines, but a line edited during inspection (another quantity, another
lot, a line added or removed) is refused naming the line, and nothing moves."""

from __future__ import annotations

from sqlalchemy import select

from app.kernel.items import business_timezone
from app.workflow.models import Signature
from tests.application.purchasing_fixtures import (
    USERS,
    VERIFY,
    Decimal,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    make_bed,
    url,
)
from tests.conftest import without_csrf_token


def _received(bed, supplier: int, item: int, lot: str, quantity: str) -> dict:
    record = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"item": item, "lot": lot, "expiry_date": day(300), "quantity": quantity,
                   "unit_cost": "3.00"}],
    })  # fmt: skip
    response = bed.fire("keeper", "purchase_receipt", record["id"], "receive")
    assert response.status_code == 200, response.json
    return response.json


def _record_results(bed, record: dict, **line) -> dict:
    stored = record["data"]["lines"][0]
    response = bed.api("qa").put(url("purchase_receipt", record["id"]), json={
        "version": record["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": [{**stored, "conclusion": "accepted", **line}],
    })  # fmt: skip
    assert response.status_code == 200, response.json
    return response.json


def test_an_inspector_who_edits_the_received_lines_is_refused_naming_the_line(bed):
    supplier = bed.supplier()["id"]
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    first = _received(bed, supplier, item, "QAP1", "10")
    second = _received(bed, supplier, item, "QAP2", "5")
    before = bed.balances()
    assert before == {
        ("WH-SH", item, "QAP1", "awaiting_inspection"): Decimal(10),
        ("WH-SH", item, "QAP2", "awaiting_inspection"): Decimal(5),
    }
    # 10 received, the inspector writes 8 and accepts 8: 2 would stay awaiting inspection
    edited = _record_results(bed, first, quantity="8", accepted_quantity="8", rejected_quantity="0")
    response = bed.fire("qa", "purchase_receipt", first["id"], "inspect", **VERIFY)
    assert response.status_code == 409
    assert response.json["error"] == (
        "第 1 行收货时为 GAUZE / QAP1 / 10；验收时不能更改已收货的内容。"
    )
    # the other receipt's lot: it would move the first receipt's stock
    moved = _record_results(
        bed, second, lot="QAP1", quantity="2", accepted_quantity="2", rejected_quantity="0"
    )
    response = bed.fire("qa", "purchase_receipt", second["id"], "inspect", **VERIFY)
    assert response.status_code == 409
    assert response.json["error"] == (
        "第 1 行收货时为 GAUZE / QAP2 / 5；验收时不能更改已收货的内容。"
    )
    # a line added during inspection
    extra = {"item": item, "lot": "QAP1", "expiry_date": day(300), "quantity": "1",
             "accepted_quantity": "1", "rejected_quantity": "0"}  # fmt: skip
    response = bed.api("qa").put(url("purchase_receipt", second["id"]), json={
        "version": moved["version"],
        "lines": [{**second["data"]["lines"][0], "accepted_quantity": "5",
                   "rejected_quantity": "0"}, extra],
    })  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "purchase_receipt", second["id"], "inspect", **VERIFY)
    assert response.status_code == 409
    assert response.json["error"] == "第 2 行未收货；验收时不能增加或删除明细行。"
    assert bed.balances() == before
    # what was received, sorted in full: inspected
    _record_results(
        bed, {**first, "version": edited["version"]},
        quantity="10", accepted_quantity="8", rejected_quantity="2", reject_reason="破损",
        conclusion="partly_rejected",
    )  # fmt: skip
    response = bed.fire("qa", "purchase_receipt", first["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert bed.balances() == {
        ("WH-SH", item, "QAP1", "available"): Decimal(8),
        ("WH-SH", item, "QAP1", "nonconforming"): Decimal(2),
        ("WH-SH", item, "QAP2", "awaiting_inspection"): Decimal(5),
    }
    # the receiving record prints the conclusion in words, in the reader's language
    html = bed.api("qa").get(f"/forms/purchase_receipt/{first['id']}/print").text
    assert "部分不合格 (破损)" in html and "partly_rejected" not in html


def test_the_unit_cost_cannot_change_at_inspection(app, db):
    """What is owed the supplier (the receipt's total) and what the stock is worth (the cost the
    receive posting wrote to the ledger) must agree: the inspector's changed unit cost is refused
    naming the line and the field, as a changed item, lot or quantity is, and nothing moves."""
    bed = make_bed(app, db, {**USERS, "inspector": ("warehouse_supervisor", "WH-SH", "en")})
    supplier = bed.supplier()["id"]
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    received = _received(bed, supplier, item, "QAC1", "4")
    before = bed.balances()
    stored = received["data"]["lines"][0]
    response = bed.api("inspector").put(url("purchase_receipt", received["id"]), json={
        "version": received["version"], "inspector": bed.users["inspector"],
        "inspected_at": day(0), "lines": [{**stored, "accepted_quantity": "3",
        "rejected_quantity": "1", "reject_reason": "破损", "unit_cost": "100"}],
    })  # fmt: skip
    assert response.status_code == 200, response.json
    assert Decimal(str(response.json["data"]["total"])) == Decimal("300.00")
    response = bed.fire("inspector", "purchase_receipt", received["id"], "inspect", **VERIFY)
    assert response.status_code == 409, response.json
    assert response.json["message"] == (
        "Line 1: Unit cost was 3.00 when the goods were received; it cannot be changed during "
        "inspection."
    )
    assert response.json["field"] == "lines[0].unit_cost"
    assert bed.balances() == before
    # the cost as received: inspected, owed and valued at the same 3.00
    edited = response = bed.api("inspector").get(url("purchase_receipt", received["id"])).json
    lines = [{**edited["data"]["lines"][0], "unit_cost": "3.00"}]
    response = bed.api("inspector").put(
        url("purchase_receipt", received["id"]), json={"version": edited["version"], "lines": lines}
    )
    assert response.status_code == 200, response.json
    response = bed.fire("inspector", "purchase_receipt", received["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert Decimal(str(response.json["data"]["total"])) == Decimal("9.00")


def test_the_signed_inspection_shows_when_on_the_business_wall_clock(bed, db):
    """The signature line is what a regulator reads of who signed when: the moment is shown on
    the business clock with its zone named (it once printed UTC with the clock of Shanghai
    everywhere else on the page), on the record page and on its print."""
    supplier = bed.supplier()["id"]
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    record = _record_results(bed, _received(bed, supplier, item, "SIG1", "3"),
                             accepted_quantity="3", rejected_quantity="0")  # fmt: skip
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    with db.session() as session:
        signed_at = session.scalar(select(Signature.signed_at))
    local = signed_at.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M:%S")
    for page in ("", "/print"):
        text = bed.api("qa").get(f"/forms/purchase_receipt/{record['id']}{page}").text
        assert f"{local} ({business_timezone().key})" in text, page
        assert "UTC" not in without_csrf_token(text)


def test_the_inspector_on_record_is_whoever_signed_the_inspection(bed, db):
    """QA found the receiving record naming the receiving clerk as inspector while the warehouse
    supervisor signed: the inspector is stamped with the signer when the inspection is fired."""
    supplier = bed.supplier()["id"]
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    record = _record_results(bed, _received(bed, supplier, item, "INS1", "2"),
                             accepted_quantity="2", rejected_quantity="0")  # fmt: skip
    named = bed.api("qa").put(url("purchase_receipt", record["id"]), json={
        "version": record["version"], "inspector": bed.users["keeper"]})  # fmt: skip
    assert named.status_code == 200, named.json
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert response.json["data"]["inspector"] == bed.users["qa"]
    with db.session() as session:
        assert session.scalar(select(Signature.user_id)) == bed.users["qa"]


def test_the_supplier_review_sums_what_each_supplier_delivered_and_what_failed(bed):
    """GSP's periodic supplier review: receipts, lines and quantities per supplier, and the share
    rejected at inspection, worst first; a receipt not inspected yet does not count."""
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    good, poor = bed.supplier()["id"], bed.supplier("SUP-HB", "华北器械")["id"]
    for supplier, lot, rejected in ((good, "G1", 0), (poor, "P1", 2), (poor, "P2", 0)):
        sorted_out = {"accepted_quantity": str(10 - rejected), "rejected_quantity": str(rejected)}
        if rejected:
            sorted_out |= {"conclusion": "partly_rejected", "reject_reason": "外箱破损"}
        record = _record_results(bed, _received(bed, supplier, item, lot, "10"), **sorted_out)
        assert (
            bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY).status_code == 200
        )
    _received(bed, poor, item, "P3", "10")  # awaiting inspection
    report = bed.api("qa").get("/api/v1/reports/supplier_quality").json
    rows = [(row["values"]["supplier"], row["values"]["receipts"], row["values"]["lines"],
             Decimal(row["values"]["quantity"]), Decimal(row["values"]["rejected"]),
             Decimal(str(row["values"]["rejected_share"]))) for row in report["rows"]]  # fmt: skip
    assert rows == [("华北器械", 2, 2, 20, 2, 10), ("华东医疗", 1, 1, 10, 0, 0)]
