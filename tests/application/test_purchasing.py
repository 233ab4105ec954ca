"""Purchasing as shipped, through the HTTP API: supplier and item cards through QA (首营) → a
purchase order approved by amount → a receipt by GS1 scans → inspection with a line partly
rejected → stock by location/lot/status and the ledger exactly → the supplier return of the
nonconforming goods → the receiving record. Every refusal names its reason and writes nothing."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from openpyxl import Workbook
from sqlalchemy import select

from app.kernel.items import Item
from app.workflow.models import ApprovalTask
from tests.application.purchasing_fixtures import (
    TODAY,
    VERIFY,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    gtin,
    url,
)

D = Decimal


def gs1(gtin_code: str, lot: str, expiry: dt.date) -> str:
    """A carton label as a scanner reads it: GTIN, expiry (YYMMDD) and lot."""
    return f"(01){gtin_code}(17){expiry:%y%m%d}(10){lot}"


def open_task(bed, record_id: int) -> tuple[int, str, int]:
    """(task id, level name, approver id) of the record's one pending approval task."""
    with bed.db.session() as session:
        [task] = session.scalars(
            select(ApprovalTask).where(
                ApprovalTask.record_id == record_id, ApprovalTask.status == "pending"
            )
        ).all()
        return task.id, task.level_name, task.approver_id


def decide(bed, username: str, record_id: int, decision="approve", **body):
    task_id, _level, _approver = open_task(bed, record_id)
    return bed.api(username).post(
        f"/api/v1/approval-tasks/{task_id}/decision", json={"decision": decision, **body}
    )


def inspected(lines: list[dict], results: list[dict]) -> list[dict]:
    """The receipt's lines as entered, with the inspector's results per line."""
    keep = ("scan", "item", "lot", "expiry_date", "serial", "quantity", "unit_cost")
    return [
        {**{key: line[key] for key in keep if line.get(key) is not None}, **result}
        for line, result in zip(lines, results, strict=True)
    ]


def test_supplier_to_supplier_return_through_the_api(bed):
    supplier = bed.supplier()
    strips = bed.item("STRIP-50", "0690123456001")
    lancets = bed.item("LANCET-1", "0690123456002")
    # approval wrote each card to the kernel's items, linked from the card
    with bed.db.session() as session:
        kernel = session.get(Item, strips["data"]["item"])
        assert (kernel.code, kernel.gtin, kernel.registration_cert, str(kernel.tracking)) == (
            "STRIP-50",
            gtin("0690123456001"),
            "国械注准2023STRIP-50",
            "lot",
        )
        assert kernel.registration_expiry == TODAY + dt.timedelta(days=700)
    strips_id, lancets_id = strips["data"]["item"], lancets["data"]["item"]
    warehouse = bed.loc("WH-SH")

    # the purchase order: 12 500.00 needs the warehouse supervisor, then HQ
    order = bed.create("keeper", "purchase_order", {
        "location": warehouse, "supplier": supplier["id"], "expected_date": day(7),
        "lines": [{"item": strips_id, "quantity": "1000", "unit_price": "12.00"},
                  {"item": lancets_id, "quantity": "100", "unit_price": "5.00"}],
    })  # fmt: skip
    assert D(order["data"]["total"]) == D("12500.00")
    response = bed.fire("keeper", "purchase_order", order["id"], "submit")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "in_approval"
    assert open_task(bed, order["id"])[1:] == ("manager", bed.users["supervisor"])
    assert decide(bed, "supervisor", order["id"]).status_code == 200
    assert open_task(bed, order["id"])[1:] == ("hq", bed.users["hq"])
    assert decide(bed, "hq", order["id"]).status_code == 200
    assert bed.api("keeper").get(url("purchase_order", order["id"])).json["state"] == "approved"

    # the goods arrive: each carton label is scanned; the scan fills item, lot and expiry
    expiry_a, expiry_b = TODAY + dt.timedelta(days=400), TODAY + dt.timedelta(days=500)
    label_a = gs1(gtin("0690123456001"), "LOT-A", expiry_a)
    label_b = gs1(gtin("0690123456002"), "LOT-B", expiry_b)
    keeper = bed.api("keeper")
    fills = keeper.post("/api/v1/forms/purchase_receipt/scan",
                        json={"field": "lines.scan", "value": label_a})  # fmt: skip
    assert fills.status_code == 200, fills.json
    assert fills.json["fills"] == {
        "item": strips_id,
        "lot": "LOT-A",
        "expiry_date": expiry_a.isoformat(),
    }
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": warehouse, "supplier": supplier["id"], "purchase_order": order["id"],
        "lines": [{"scan": label_a, "quantity": "10", "unit_cost": "12.00"},
                  {"scan": label_b, "quantity": "5", "unit_cost": "5.00"}],
    })  # fmt: skip
    lines = receipt["data"]["lines"]
    assert [(line["item"], line["lot"], line["expiry_date"]) for line in lines] == [
        (strips_id, "LOT-A", expiry_a.isoformat()),
        (lancets_id, "LOT-B", expiry_b.isoformat()),
    ]
    response = bed.fire("keeper", "purchase_receipt", receipt["id"], "receive")
    assert response.status_code == 200, response.json
    assert bed.balances() == {
        ("WH-SH", strips_id, "LOT-A", "awaiting_inspection"): D(10),
        ("WH-SH", lancets_id, "LOT-B", "awaiting_inspection"): D(5),
    }

    # inspection (进货查验): line 1 accepted, line 2 partly rejected; recorded, then signed
    response = bed.api("qa").put(url("purchase_receipt", receipt["id"]), json={
        "version": response.json["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": inspected(lines, [
            {"accepted_quantity": "10", "conclusion": "accepted"},
            {"accepted_quantity": "3", "rejected_quantity": "2", "conclusion": "partly_rejected",
             "reject_reason": "外包装破损"},
        ]),
    })  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "purchase_receipt", receipt["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "done"
    assert bed.balances() == {
        ("WH-SH", strips_id, "LOT-A", "available"): D(10),
        ("WH-SH", lancets_id, "LOT-B", "available"): D(3),
        ("WH-SH", lancets_id, "LOT-B", "nonconforming"): D(2),
    }
    number = receipt["number"]
    assert sorted(bed.ledger()) == sorted([
        (number, 1, "awaiting_inspection", D(10), "purchase_receipt"),
        (number, 2, "awaiting_inspection", D(5), "purchase_receipt"),
        (number, 1, "awaiting_inspection", D(-10), "inspection"),
        (number, 1, "available", D(10), "inspection"),
        (number, 2, "awaiting_inspection", D(-3), "inspection"),
        (number, 2, "available", D(3), "inspection"),
        (number, 2, "awaiting_inspection", D(-2), "inspection"),
        (number, 2, "nonconforming", D(2), "inspection"),
    ])  # fmt: skip

    # the receiving record (GSP) lists both lines with what the regulator asks for
    report = bed.api("qa").get("/api/v1/reports/receiving_record").json
    rows = [row["values"] for row in report["rows"]]
    assert [(r["item"], r["model"], r["registration_cert"], r["lot"], r["expiry_date"],
             D(r["quantity"]), D(r["accepted_quantity"]), r["conclusion"], r["inspector"],
             r["supplier"], r["arrival_date"]) for r in rows] == [
        ("血糖试纸 STRIP-50", "50 条/盒", "国械注准2023STRIP-50", "LOT-A", expiry_a.isoformat(),
         D(10), D(10), "accepted", "Qa 用户", "华东医疗", day(0)),
        ("血糖试纸 LANCET-1", "50 条/盒", "国械注准2023LANCET-1", "LOT-B", expiry_b.isoformat(),
         D(5), D(3), "partly_rejected", "Qa 用户", "华东医疗", day(0)),
    ]  # fmt: skip
    assert D(rows[1]["rejected_quantity"]) == 2 and rows[1]["reject_reason"] == "外包装破损"
    page = bed.api("qa").get(f"/forms/purchase_receipt/{receipt['id']}")
    assert page.status_code == 200 and number in page.text and "外包装破损" in page.text

    # the rejected cartons go back to the supplier
    back = bed.create("supervisor", "supplier_return", {
        "location": warehouse, "supplier": supplier["id"], "purchase_receipt": receipt["id"],
        "reason": "nonconforming", "lines": [{"scan": label_b, "quantity": "2"}],
    })  # fmt: skip
    response = bed.review_and_return("qa", back["id"])
    assert response.status_code == 200, response.json
    assert bed.balances() == {
        ("WH-SH", strips_id, "LOT-A", "available"): D(10),
        ("WH-SH", lancets_id, "LOT-B", "available"): D(3),
    }
    assert bed.ledger()[-1] == (back["number"], 1, "nonconforming", D(-2), "supplier_return")

    # the nonconforming goods register (不合格品台账): set apart at inspection, gone back to the
    # supplier, nothing left apart; the accepted goods are not in it
    report = bed.api("qa").get("/api/v1/reports/nonconforming_register").json
    assert [(r["item"], r["model"], r["lot"], r["expiry_date"], D(r["quantity"]), D(r["held"]),
             r["reason"], r["document"], r["user"])
            for r in (row["values"] for row in report["rows"])] == [
        ("血糖试纸 LANCET-1", "50 条/盒", "LOT-B", expiry_b.isoformat(), D(2), D(2),
         "inspection", number, "Qa 用户"),
        ("血糖试纸 LANCET-1", "50 条/盒", "LOT-B", expiry_b.isoformat(), D(-2), D(0),
         "supplier_return", back["number"], "Qa 用户"),
    ]  # fmt: skip
    # the warehouse keeps it too (its keeper holds the nonconforming area); a store clerk's
    # reports are listed by name, and this is not one of them
    mine = bed.api("keeper").get("/api/v1/reports/nonconforming_register").json
    assert [row["values"]["document"] for row in mine["rows"]] == [number, back["number"]]
    assert bed.api("clerk").get("/api/v1/reports/nonconforming_register").status_code == 404


def test_purchase_orders_are_imported_with_their_lines_from_one_sheet(bed):
    bed.supplier()
    strips = bed.item("STRIP-50", "0690123456001")["data"]["item"]
    lancets = bed.item("LANCET-1", "0690123456002")["data"]["item"]
    book = Workbook()
    for row in (
        ("收货地点", "供应商", "预计到货日期", "明细 · 商品", "明细 · 数量", "明细 · 单价"),
        ("WH-SH", "SUP-HD", day(7), "STRIP-50", 1000, 12),
        (None, None, None, gtin("0690123456002"), 100, 5),  # a line by its GTIN
        ("WH-SH", "SUP-HD", None, "LANCET-1", 10, "5.00"),
    ):
        book.active.append(list(row))
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    response = bed.api("keeper").post(
        "/api/v1/forms/purchase_order/import",
        data={"file": (data, "orders.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    first, second = (
        bed.api("keeper").get(url("purchase_order", id)).json for id in response.json["ids"]
    )
    assert [(line["item"], line["quantity"]) for line in first["data"]["lines"]] == [
        (strips, "1000"), (lancets, "100"),
    ]  # fmt: skip
    assert (first["data"]["total"], second["data"]["total"]) == ("12500.00", "50.00")
    assert first["state"] == second["state"] == "draft"  # each goes through its approval
    # a total sorts and filters as a number, not as text ("12500.00" < "50.00")
    listed = bed.api("keeper").get(url("purchase_order"), query_string={"sort": "total"}).json
    assert [order["data"]["total"] for order in listed["items"]] == ["50.00", "12500.00"]
    found = bed.api("keeper").get(url("purchase_order"), query_string={"total": "50"}).json
    assert [order["id"] for order in found["items"]] == [second["id"]]
    refused = bed.api("keeper").get(url("purchase_order"), query_string={"total": "abc"})
    assert refused.status_code == 422 and "total" in refused.json["errors"]
