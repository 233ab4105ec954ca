"""Issue 6's acceptance story, through the HTTP API only, each member of staff in their own role:
supplier and items qualified (首营) → purchase order approved → goods received by GS1 scans (the
printed and the raw scanner form) → inspection with one line rejected → a transfer to the store
received in part → a retail sale, FEFO → a hospital buys a pacemaker by its UDI → a customer
return, quality-checked → the rejected goods back to the supplier.

Stock comes in only through these documents. After each step the stock by location/lot/status
(on hand, reserved), the document's ledger rows and the GSP records are asserted exactly; each
refused step (lapsed supplier licence, expired lot, a unit that is not here) names its reason and
leaves everything as it was.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.meta.models import Record
from app.workflow.models import ApprovalTask
from tests.application.purchasing_fixtures import VERIFY, url
from tests.application.sales_fixtures import review_goods
from tests.application.story_fixtures import (
    PACE_GTIN,
    STRIP_GTIN,
    day,
    hospital,
    label,
    ledger,
    raw,
    scan_deliveries,
    snapshot,
    stock,
    story_fixture,  # noqa: F401  (the fixture ``story``)
    units,
)

D = Decimal
ZERO = D(0)
#: the strips' lots: lot → expiry. EXP expired ten days ago (the supplier sent old stock).
EARLY, LATE, EXP = day(200), day(400), day(-10)
PACE_EXPIRY = day(700)
PACEMAKERS = ("PM-001", "PM-002", "PM-003")


def decide(bed, username: str, record_id: int) -> None:
    """``username`` approves their pending task on the record."""
    with bed.db.session() as session:
        [task] = session.scalars(
            select(ApprovalTask.id).where(
                ApprovalTask.record_id == record_id,
                ApprovalTask.approver_id == bed.users[username],
                ApprovalTask.status == "pending",
            )
        ).all()
    response = bed.api(username).post(
        f"/api/v1/approval-tasks/{task}/decision", json={"decision": "approve"}
    )
    assert response.status_code == 200, response.json


def edit(bed, username: str, form: str, record_id: int, **data) -> dict:
    api = bed.api(username)
    current = api.get(url(form, record_id)).json
    response = api.put(url(form, record_id), json={**data, "version": current["version"]})
    assert response.status_code == 200, response.json
    return response.json


def fire_ok(bed, username: str, form: str, record_id: int, transition: str, **body) -> dict:
    response = bed.fire(username, form, record_id, transition, **body)
    assert response.status_code == 200, response.json
    return response.json


def refused(bed, username: str, form: str, record_id: int, transition: str, **body) -> str:
    """Fire a transition that must be refused (409) and write nothing; its message."""
    before = snapshot(bed.db)
    response = bed.fire(username, form, record_id, transition, **body)
    assert response.status_code == 409, response.json
    assert snapshot(bed.db) == before
    return response.json["error"]


def only_record(db, form: str) -> Record:
    with db.session() as session:
        [record] = session.scalars(select(Record).where(Record.form == form)).all()
        return record


def report(bed, username: str, name: str) -> list[dict]:
    response = bed.api(username).get(f"/api/v1/reports/{name}?period={day(-1)}..{day(1)}")
    assert response.status_code == 200, response.json
    return [row["values"] for row in response.json["rows"]]


STRIP = ("血糖试纸", "50 条/盒", "国械注准20192220001")
PACE = ("植入式心脏起搏器", "SR-200", "国械注准20193120002")


def receiving_record(bed) -> list[tuple]:
    return [
        (r["receipt"], r["supplier"], r["item"], r["model"], r["registration_cert"], r["lot"],
         r["serial"], r["expiry_date"], D(r["quantity"]), D(r["accepted_quantity"]),
         D(r["rejected_quantity"] or 0), r["conclusion"], r["reject_reason"], r["inspector"],
         r["arrival_date"], r["inspected_at"])
        for r in report(bed, "qa", "receiving_record")
    ]  # fmt: skip


def sales_record(bed) -> list[tuple]:
    return [
        (r["customer"], r["item"], r["model"], r["registration_cert"], r["lot"], r["expiry_date"],
         D(r["quantity"]), r["udi"])
        for r in report(bed, "manager", "sales_record")
    ]  # fmt: skip


def test_the_story_from_supplier_qualification_to_supplier_return(story):
    bed = story
    strip_id, pace_id, supplier = qualify(bed)
    lapsed_supplier_is_refused(bed, strip_id)
    order = purchase_order(bed, supplier, strip_id, pace_id)
    receipt = receive_by_scans(bed, supplier, order)
    inspect(bed, receipt)
    transit = transfer_to_the_store(bed, strip_id, pace_id)
    retail = retail_sale_fefo(bed, strip_id, transit)
    hospital_sale_by_udi(bed, pace_id)
    customer_return(bed, retail)
    supplier_return(bed, supplier, receipt, transit)


def qualify(bed) -> tuple[int, int, dict]:
    """HQ enters the supplier and the item cards; QA approves them; the items reach the kernel."""
    supplier = bed.supplier("SUP-YY", name="鱼跃供应链")
    strips = bed.item(
        "STRIP", "0690123456101", name="血糖试纸", specification="50 条/盒",
        registration_cert="国械注准20192220001",
    )  # fmt: skip
    pacemaker = bed.item(
        "PACE", "0690123456202", name="植入式心脏起搏器", specification="SR-200",
        registration_cert="国械注准20193120002", device_class="III", tracking="serial",
        unit_of_measure="台", purchase_price="3500.00", retail_price="30000.00",
    )  # fmt: skip
    assert supplier["state"] == strips["state"] == pacemaker["state"] == "approved"
    assert strips["data"]["gtin"] == STRIP_GTIN and pacemaker["data"]["gtin"] == PACE_GTIN
    assert stock(bed.db) == {}
    return strips["data"]["item"], pacemaker["data"]["item"], supplier


def lapsed_supplier_is_refused(bed, strip_id: int) -> None:
    """Goods from a supplier whose licence lapsed are not taken in; nothing is written."""
    lapsed = bed.supplier("SUP-OLD", name="旧供应商", licence_expiry=day(-25).isoformat())
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": lapsed["id"],
        "lines": [{"scan": label(STRIP_GTIN, "S-OLD", day(300)), "quantity": "10"}],
    })  # fmt: skip
    message = refused(bed, "keeper", "purchase_receipt", receipt["id"], "receive")
    assert message == (
        f"The medical device business licence 沪食药监械经营许SUP-OLD号 of supplier 旧供应商 "
        f"expired on {day(-25)}."
    )
    assert stock(bed.db) == {}


def purchase_order(bed, supplier: dict, strip_id: int, pace_id: int) -> dict:
    """The warehouse orders 55 boxes of strips and 3 pacemakers: 11 160.00, so above the
    supervisor HQ approves too."""
    order = bed.create("keeper", "purchase_order", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "expected_date": day(7).isoformat(),
        "lines": [{"item": strip_id, "quantity": "55", "unit_price": "12.00"},
                  {"item": pace_id, "quantity": "3", "unit_price": "3500.00"}],
    })  # fmt: skip
    assert D(order["data"]["total"]) == D("11160.00")
    assert fire_ok(bed, "keeper", "purchase_order", order["id"], "submit")["state"] == "in_approval"
    decide(bed, "supervisor", order["id"])
    decide(bed, "hq", order["id"])
    assert bed.api("keeper").get(url("purchase_order", order["id"])).json["state"] == "approved"
    assert stock(bed.db) == {}  # an order moves nothing
    return order


def receive_by_scans(bed, supplier: dict, order: dict) -> dict:
    """The keeper scans each carton and each pacemaker; the scan alone fills item, lot, expiry
    and serial. Both forms a scanner may send are read."""
    keeper = bed.api("keeper")
    fills = keeper.post(
        "/api/v1/forms/purchase_receipt/scan",
        json={"field": "lines.scan", "value": raw(PACE_GTIN, "P1", PACE_EXPIRY, "PM-001")},
    )
    assert fills.status_code == 200, fills.json
    pace_id = order["data"]["lines"][1]["item"]
    assert fills.json["fills"] == {
        "item": pace_id, "lot": "P1", "expiry_date": PACE_EXPIRY.isoformat(), "serial": "PM-001"
    }  # fmt: skip
    lines = [
        {"scan": label(STRIP_GTIN, "S-EARLY", EARLY), "quantity": "20", "unit_cost": "12.00"},
        {"scan": raw(STRIP_GTIN, "S-LATE", LATE), "quantity": "30", "unit_cost": "12.00"},
        {"scan": label(STRIP_GTIN, "S-EXP", EXP), "quantity": "5", "unit_cost": "12.00"},
        *({"scan": raw(PACE_GTIN, "P1", PACE_EXPIRY, serial), "quantity": "1",
           "unit_cost": "3500.00"} for serial in PACEMAKERS),
    ]  # fmt: skip
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "purchase_order": order["id"],
        "lines": lines,
    })  # fmt: skip
    strip_id = order["data"]["lines"][0]["item"]
    scanned = receipt["data"]["lines"]
    assert [(r["item"], r["lot"], r["expiry_date"], r.get("serial")) for r in scanned] == [
        (strip_id, "S-EARLY", EARLY.isoformat(), None),
        (strip_id, "S-LATE", LATE.isoformat(), None),
        (strip_id, "S-EXP", EXP.isoformat(), None),
        *((pace_id, "P1", PACE_EXPIRY.isoformat(), serial) for serial in PACEMAKERS),
    ]  # fmt: skip
    fire_ok(bed, "keeper", "purchase_receipt", receipt["id"], "receive")
    assert stock(bed.db) == {
        ("WH-SH", "STRIP", "S-EARLY", "awaiting_inspection"): (D(20), ZERO),
        ("WH-SH", "STRIP", "S-LATE", "awaiting_inspection"): (D(30), ZERO),
        ("WH-SH", "STRIP", "S-EXP", "awaiting_inspection"): (D(5), ZERO),
        ("WH-SH", "PACE", "P1", "awaiting_inspection"): (D(3), ZERO),
    }
    number = receipt["number"]
    assert ledger(bed.db, number) == [
        (1, "WH-SH", "STRIP", "S-EARLY", None, "awaiting_inspection", D(20), "purchase_receipt"),
        (2, "WH-SH", "STRIP", "S-LATE", None, "awaiting_inspection", D(30), "purchase_receipt"),
        (3, "WH-SH", "STRIP", "S-EXP", None, "awaiting_inspection", D(5), "purchase_receipt"),
        *((4 + n, "WH-SH", "PACE", "P1", serial, "awaiting_inspection", D(1), "purchase_receipt")
          for n, serial in enumerate(PACEMAKERS)),
    ]  # fmt: skip
    assert receiving_record(bed) == []  # not a record until inspected
    return receipt


def inspect(bed, receipt: dict) -> None:
    """QA accepts everything but the expired lot, which is rejected whole; signed."""
    lines = bed.api("qa").get(url("purchase_receipt", receipt["id"])).json["data"]["lines"]
    results = [
        {"accepted_quantity": line["quantity"], "rejected_quantity": "0", "conclusion": "accepted"}
        for line in lines
    ]
    results[2] = {"accepted_quantity": "0", "rejected_quantity": "5", "conclusion": "rejected",
                  "reject_reason": "已过期"}  # fmt: skip
    lines = [{**line, **result} for line, result in zip(lines, results, strict=True)]
    edit(bed, "qa", "purchase_receipt", receipt["id"], inspector=bed.users["qa"],
         inspected_at=day(0).isoformat(), lines=lines)  # fmt: skip
    assert (
        fire_ok(bed, "qa", "purchase_receipt", receipt["id"], "inspect", **VERIFY)["state"]
        == "done"
    )
    assert stock(bed.db) == {
        ("WH-SH", "STRIP", "S-EARLY", "available"): (D(20), ZERO),
        ("WH-SH", "STRIP", "S-LATE", "available"): (D(30), ZERO),
        ("WH-SH", "STRIP", "S-EXP", "nonconforming"): (D(5), ZERO),
        ("WH-SH", "PACE", "P1", "available"): (D(3), ZERO),
    }
    assert ledger(bed.db, receipt["number"])[6:] == [
        (1, "WH-SH", "STRIP", "S-EARLY", None, "awaiting_inspection", D(-20), "inspection"),
        (1, "WH-SH", "STRIP", "S-EARLY", None, "available", D(20), "inspection"),
        (2, "WH-SH", "STRIP", "S-LATE", None, "awaiting_inspection", D(-30), "inspection"),
        (2, "WH-SH", "STRIP", "S-LATE", None, "available", D(30), "inspection"),
        *(row for n, serial in enumerate(PACEMAKERS) for row in (
            (4 + n, "WH-SH", "PACE", "P1", serial, "awaiting_inspection", D(-1), "inspection"),
            (4 + n, "WH-SH", "PACE", "P1", serial, "available", D(1), "inspection"),
        )),
        (3, "WH-SH", "STRIP", "S-EXP", None, "awaiting_inspection", D(-5), "inspection"),
        (3, "WH-SH", "STRIP", "S-EXP", None, "nonconforming", D(5), "inspection"),
    ]  # fmt: skip
    assert units(bed.db) == {serial: ("in_stock", "WH-SH") for serial in PACEMAKERS}
    # the record page shows what the receipt moved: 6 lines in, then 2 rows per line inspected
    page = bed.api("qa").get(f"/forms/purchase_receipt/{receipt['id']}").text
    assert "库存变动" in page and page.count("<td>WH-SH</td>") == 6 + 12
    # the item code links to the item's one-screen stock view
    strip = receipt["data"]["lines"][0]["item"]
    assert f'href="/stock/items/{strip}"' in page and "STRIP</a> · S-EXP</td>" in page
    assert "<td>不合格</td>" in page
    number, today = receipt["number"], day(0).isoformat()
    common = ("Qa 用户", today, today)
    assert receiving_record(bed) == [
        (number, "鱼跃供应链", *STRIP, "S-EARLY", None, EARLY.isoformat(), D(20), D(20), ZERO,
         "accepted", None, *common),
        (number, "鱼跃供应链", *STRIP, "S-LATE", None, LATE.isoformat(), D(30), D(30), ZERO,
         "accepted", None, *common),
        (number, "鱼跃供应链", *STRIP, "S-EXP", None, EXP.isoformat(), D(5), ZERO, D(5),
         "rejected", "已过期", *common),
        *((number, "鱼跃供应链", *PACE, "P1", serial, PACE_EXPIRY.isoformat(), D(1), D(1), ZERO,
           "accepted", None, *common) for serial in PACEMAKERS),
    ]  # fmt: skip


def transfer_to_the_store(bed, strip_id: int, pace_id: int) -> str:
    """SH01 asks for 12 boxes and 2 pacemakers; its manager approves; the warehouse scans, reviews
    and ships; the store counts one box short and receives in part. Returns the transit location."""
    request = bed.create("clerk", "transfer_request", {
        "from_location": bed.loc("WH-SH"), "to_location": bed.loc("SH01"),
        "lines": [{"item": strip_id, "quantity": "12", "unit_price": "12.00"},
                  {"item": pace_id, "quantity": "2", "unit_price": "3500.00"}],
    })  # fmt: skip
    assert D(request["data"]["amount"]) == D("7144.00")  # the store manager alone decides
    assert (
        fire_ok(bed, "clerk", "transfer_request", request["id"], "submit")["state"] == "in_approval"
    )
    before = stock(bed.db)
    decide(bed, "manager", request["id"])
    out = only_record(bed.db, "transfer_out")
    assert (out.state, out.location_id, out.data["request_number"]) == (
        "draft", bed.loc("WH-SH"), request["number"])  # fmt: skip
    assert stock(bed.db) == before  # approved, nothing moved yet

    # the keeper scans 8 of the early lot, 4 of the late one and two units: passing over the
    # early lot's last 12 breaks earliest-expiry-first (近效期先出) unless the line says why
    picked = [
        {"scan": label(STRIP_GTIN, "S-EARLY", EARLY), "quantity": "8"},
        {"scan": raw(STRIP_GTIN, "S-LATE", LATE), "quantity": "4"},
        {"scan": raw(PACE_GTIN, "P1", PACE_EXPIRY, "PM-001"), "quantity": "1"},
        {"scan": raw(PACE_GTIN, "P1", PACE_EXPIRY, "PM-002"), "quantity": "1"},
    ]
    edit(bed, "keeper", "transfer_out", out.id, lines=picked)
    assert "S-EARLY" in refused(bed, "keeper", "transfer_out", out.id, "finish_picking")
    picked[1]["fefo_reason"] = "packaging"  # the early lot's other cartons are dented
    edit(bed, "keeper", "transfer_out", out.id, lines=picked)
    fire_ok(bed, "keeper", "transfer_out", out.id, "finish_picking")
    # the supervisor scans the goods again (出库复核), the boxes in the other order, and ships
    edit(bed, "supervisor", "transfer_out", out.id, review_scans=[
        {"scan": raw(PACE_GTIN, "P1", PACE_EXPIRY, "PM-002"), "quantity": "1"},
        {"scan": raw(STRIP_GTIN, "S-LATE", LATE), "quantity": "4"},
        {"scan": raw(PACE_GTIN, "P1", PACE_EXPIRY, "PM-001"), "quantity": "1"},
        {"scan": label(STRIP_GTIN, "S-EARLY", EARLY), "quantity": "8"},
    ])  # fmt: skip
    shipped = fire_ok(bed, "supervisor", "transfer_out", out.id, "review_ship")
    assert shipped["state"] == "shipped" and shipped["data"]["reviewer"] == bed.users["supervisor"]
    after_ship = stock(bed.db)
    [transit] = {key[0] for key in after_ship if key[3] == "in_transit"}
    assert after_ship == {
        ("WH-SH", "STRIP", "S-EARLY", "available"): (D(12), ZERO),
        ("WH-SH", "STRIP", "S-LATE", "available"): (D(26), ZERO),
        ("WH-SH", "STRIP", "S-EXP", "nonconforming"): (D(5), ZERO),
        ("WH-SH", "PACE", "P1", "available"): (D(1), ZERO),
        (transit, "STRIP", "S-EARLY", "in_transit"): (D(8), ZERO),
        (transit, "STRIP", "S-LATE", "in_transit"): (D(4), ZERO),
        (transit, "PACE", "P1", "in_transit"): (D(2), ZERO),
    }
    assert ledger(bed.db, out.number) == [
        (1, "WH-SH", "STRIP", "S-EARLY", None, "available", D(-8), "transfer_out"),
        (1, transit, "STRIP", "S-EARLY", None, "in_transit", D(8), "transfer_out"),
        (2, "WH-SH", "STRIP", "S-LATE", None, "available", D(-4), "transfer_out"),
        (2, transit, "STRIP", "S-LATE", None, "in_transit", D(4), "transfer_out"),
        (3, "WH-SH", "PACE", "P1", "PM-001", "available", D(-1), "transfer_out"),
        (3, transit, "PACE", "P1", "PM-001", "in_transit", D(1), "transfer_out"),
        (4, "WH-SH", "PACE", "P1", "PM-002", "available", D(-1), "transfer_out"),
        (4, transit, "PACE", "P1", "PM-002", "in_transit", D(1), "transfer_out"),
    ]

    # the store counts: one box of the late lot is missing
    incoming = only_record(bed.db, "transfer_in")
    assert (incoming.state, incoming.location_id) == ("in_transit", bed.loc("SH01"))
    lines = bed.api("clerk").get(url("transfer_in", incoming.id)).json["data"]["lines"]
    counted = ["8", "3", "1", "1"]
    saved = edit(bed, "clerk", "transfer_in", incoming.id, lines=[
        {**line, "received": count, "discrepancy_note": "少 1 盒" if count == "3" else None}
        for line, count in zip(lines, counted, strict=True)
    ])  # fmt: skip
    assert D(saved["data"]["short_total"]) == D(1)
    fired = fire_ok(bed, "clerk", "transfer_in", incoming.id, "receive_partial")
    assert fired["state"] == "partially_received"
    assert stock(bed.db) == {
        ("WH-SH", "STRIP", "S-EARLY", "available"): (D(12), ZERO),
        ("WH-SH", "STRIP", "S-LATE", "available"): (D(26), ZERO),
        ("WH-SH", "STRIP", "S-EXP", "nonconforming"): (D(5), ZERO),
        ("WH-SH", "PACE", "P1", "available"): (D(1), ZERO),
        (transit, "STRIP", "S-LATE", "in_transit"): (D(1), ZERO),
        ("SH01", "STRIP", "S-EARLY", "available"): (D(8), ZERO),
        ("SH01", "STRIP", "S-LATE", "available"): (D(3), ZERO),
        ("SH01", "PACE", "P1", "available"): (D(2), ZERO),
    }
    assert ledger(bed.db, incoming.number) == [
        (1, transit, "STRIP", "S-EARLY", None, "in_transit", D(-8), "transfer_in"),
        (1, "SH01", "STRIP", "S-EARLY", None, "available", D(8), "transfer_in"),
        (2, transit, "STRIP", "S-LATE", None, "in_transit", D(-3), "transfer_in"),
        (2, "SH01", "STRIP", "S-LATE", None, "available", D(3), "transfer_in"),
        (3, transit, "PACE", "P1", "PM-001", "in_transit", D(-1), "transfer_in"),
        (3, "SH01", "PACE", "P1", "PM-001", "available", D(1), "transfer_in"),
        (4, transit, "PACE", "P1", "PM-002", "in_transit", D(-1), "transfer_in"),
        (4, "SH01", "PACE", "P1", "PM-002", "available", D(1), "transfer_in"),
    ]
    assert units(bed.db) == {"PM-001": ("in_stock", "SH01"), "PM-002": ("in_stock", "SH01"),
                             "PM-003": ("in_stock", "WH-SH")}  # fmt: skip
    # the missing box stays visible as in transit, to the store
    rows = bed.api("manager").get("/api/v1/reports/transfers_in_transit").json["rows"]
    assert [(r["values"]["document"], r["values"]["item_code"], r["values"]["lot"],
             D(r["values"]["quantity"])) for r in rows] == [
        (out.number, "STRIP", "S-LATE", D(1))]  # fmt: skip
    return transit


def retail_sale_fefo(bed, strip_id: int, transit: str) -> dict:
    """A walk-in customer buys 10 boxes at SH01: FEFO reserves the early lot first; an expired
    lot or a later lot than FEFO allows is refused by name and date; the scanned FEFO lots are
    delivered."""
    order = bed.create("clerk", "sales_order", {
        "location": bed.loc("SH01"),
        "lines": [{"item": strip_id, "quantity": "10", "unit_price": "25.00", "discount": "10"}],
    })  # fmt: skip
    assert order["data"]["sale_kind"] == "retail" and D(order["data"]["total"]) == D("225.00")
    fire_ok(bed, "clerk", "sales_order", order["id"], "confirm")
    confirmed = bed.api("clerk").get(url("sales_order", order["id"])).json
    assert confirmed["data"]["lines"][0]["allocation"] == (
        f"S-EARLY ({EARLY}) × 8; S-LATE ({LATE}) × 2"
    )
    at_store = {key: value for key, value in stock(bed.db).items() if key[0] == "SH01"}
    assert at_store == {
        ("SH01", "STRIP", "S-EARLY", "available"): (D(8), D(8)),
        ("SH01", "STRIP", "S-LATE", "available"): (D(3), D(2)),
        ("SH01", "PACE", "P1", "available"): (D(2), ZERO),
    }

    # the clerk picks up two boxes of the expired lot: refused, nothing written
    scan_deliveries(bed, order["id"], [
        {"scan": label(STRIP_GTIN, "S-EARLY", EARLY), "quantity": "8"},
        {"scan": label(STRIP_GTIN, "S-EXP", EXP), "quantity": "2"},
    ])  # fmt: skip
    message = refused(bed, "clerk", "sales_order", order["id"], "deliver")
    assert message == f"Lot S-EXP expired on {EXP}: it cannot be sold, reserved or shipped."
    # one late box more than allocated while an early one is left: not FEFO, refused
    scan_deliveries(bed, order["id"], [
        {"scan": label(STRIP_GTIN, "S-EARLY", EARLY), "quantity": "7"},
        {"scan": raw(STRIP_GTIN, "S-LATE", LATE), "quantity": "3"},
    ])  # fmt: skip
    message = refused(bed, "clerk", "sales_order", order["id"], "deliver")
    assert message == (
        f"Lot S-LATE (expires {LATE}) may not be sold yet: lot S-EARLY of STRIP expires earlier "
        f"({EARLY}) and is still free here (FEFO)."
    )

    scan_deliveries(bed, order["id"], [
        {"scan": label(STRIP_GTIN, "S-EARLY", EARLY), "quantity": "8"},
        {"scan": raw(STRIP_GTIN, "S-LATE", LATE), "quantity": "2"},
    ])  # fmt: skip
    assert fire_ok(bed, "clerk", "sales_order", order["id"], "deliver")["state"] == "delivered"
    assert {key: value for key, value in stock(bed.db).items() if key[0] == "SH01"} == {
        ("SH01", "STRIP", "S-LATE", "available"): (D(1), ZERO),
        ("SH01", "PACE", "P1", "available"): (D(2), ZERO),
    }
    assert stock(bed.db)[(transit, "STRIP", "S-LATE", "in_transit")] == (D(1), ZERO)
    assert ledger(bed.db, order["number"]) == [
        (1, "SH01", "STRIP", "S-EARLY", None, "available", D(-8), "sale"),
        (2, "SH01", "STRIP", "S-LATE", None, "available", D(-2), "sale"),
    ]
    assert sales_record(bed) == [
        (None, *STRIP, "S-EARLY", EARLY.isoformat(), D(8), None),
        (None, *STRIP, "S-LATE", LATE.isoformat(), D(2), None),
    ]
    return order


def hospital_sale_by_udi(bed, pace_id: int) -> None:
    """A hospital QA approved buys one pacemaker, reviewed as it leaves by the store manager
    (出库复核): a unit that is not in this store is refused by its serial; another unit of the
    allocated lot, scanned raw, is delivered and recorded by UDI."""
    order = bed.create("clerk", "sales_order", {
        "location": bed.loc("SH01"), "customer": hospital(bed)["id"],
        "lines": [{"item": pace_id, "quantity": "1", "unit_price": "30000.00"}],
    })  # fmt: skip
    assert order["data"]["sale_kind"] == "hospital"
    fire_ok(bed, "clerk", "sales_order", order["id"], "confirm")
    line = bed.api("clerk").get(url("sales_order", order["id"])).json["data"]["lines"][0]
    assert line["allocation"] == f"P1 ({PACE_EXPIRY}) × 1: PM-001"
    assert stock(bed.db)[("SH01", "PACE", "P1", "available")] == (D(2), D(1))

    # PM-003 is still at the warehouse: the review scans it too, the delivery refuses it, naming
    # the unit and the store (in the manager's Chinese)
    away = [{"scan": raw(PACE_GTIN, "P1", PACE_EXPIRY, "PM-003")}]
    scan_deliveries(bed, order["id"], away)
    fire_ok(bed, "clerk", "sales_order", order["id"], "finish_picking")
    review_goods(bed.api("manager"), order["id"], away)
    message = refused(bed, "manager", "sales_order", order["id"], "review_deliver")
    assert message == "序列号 PM-003 不在 SH01 的库存中。"
    fire_ok(bed, "manager", "sales_order", order["id"], "back_to_picking", comment="换一台")

    here = [{"scan": raw(PACE_GTIN, "P1", PACE_EXPIRY, "PM-002")}]
    scan_deliveries(bed, order["id"], here)
    fire_ok(bed, "clerk", "sales_order", order["id"], "finish_picking")
    review_goods(bed.api("manager"), order["id"], here)
    delivered = fire_ok(bed, "manager", "sales_order", order["id"], "review_deliver")
    assert delivered["state"] == "delivered"
    assert delivered["data"]["reviewer"] == bed.users["manager"]
    assert stock(bed.db)[("SH01", "PACE", "P1", "available")] == (D(1), ZERO)
    assert units(bed.db) == {"PM-001": ("in_stock", "SH01"), "PM-002": ("sold", None),
                             "PM-003": ("in_stock", "WH-SH")}  # fmt: skip
    assert ledger(bed.db, order["number"]) == [
        (1, "SH01", "PACE", "P1", "PM-002", "available", D(-1), "sale"),
    ]
    udi = f"(01){PACE_GTIN}(17){PACE_EXPIRY:%y%m%d}(10)P1(21)PM-002"
    assert sales_record(bed)[-1] == ("仁济医院", *PACE, "P1", PACE_EXPIRY.isoformat(), D(1), udi)
    assert len(sales_record(bed)) == 3


def customer_return(bed, retail: dict) -> None:
    """The walk-in customer brings back the 2 late boxes: in as awaiting inspection, then the
    store manager's quality check puts one back on sale and keeps the damp one apart."""
    back = bed.create("clerk", "customer_return", {
        "location": bed.loc("SH01"), "sales_order": retail["id"], "reason": "买多了",
        "lines": [{"scan": raw(STRIP_GTIN, "S-LATE", LATE), "quantity": "2"}],
    })  # fmt: skip
    assert fire_ok(bed, "clerk", "customer_return", back["id"], "receive")["state"] == (
        "awaiting_inspection"
    )
    assert {key: value for key, value in stock(bed.db).items() if key[0] == "SH01"} == {
        ("SH01", "STRIP", "S-LATE", "available"): (D(1), ZERO),
        ("SH01", "STRIP", "S-LATE", "awaiting_inspection"): (D(2), ZERO),
        ("SH01", "PACE", "P1", "available"): (D(1), ZERO),
    }
    [line] = bed.api("manager").get(url("customer_return", back["id"])).json["data"]["lines"]
    edit(
        bed,
        "manager",
        "customer_return",
        back["id"],
        lines=[
            {**line, "accepted_quantity": "1", "rejected_quantity": "1", "reject_reason": "受潮"}
        ],
    )
    fired = fire_ok(bed, "manager", "customer_return", back["id"], "inspect", **VERIFY)
    assert fired["state"] == "done" and fired["data"]["inspector"] == bed.users["manager"]
    assert {key: value for key, value in stock(bed.db).items() if key[0] == "SH01"} == {
        ("SH01", "STRIP", "S-LATE", "available"): (D(2), ZERO),
        ("SH01", "STRIP", "S-LATE", "nonconforming"): (D(1), ZERO),
        ("SH01", "PACE", "P1", "available"): (D(1), ZERO),
    }
    assert ledger(bed.db, back["number"]) == [
        (1, "SH01", "STRIP", "S-LATE", None, "awaiting_inspection", D(2), "customer_return"),
        (1, "SH01", "STRIP", "S-LATE", None, "awaiting_inspection", D(-1), "inspection"),
        (1, "SH01", "STRIP", "S-LATE", None, "available", D(1), "inspection"),
        (1, "SH01", "STRIP", "S-LATE", None, "awaiting_inspection", D(-1), "inspection"),
        (1, "SH01", "STRIP", "S-LATE", None, "nonconforming", D(1), "inspection"),
    ]
    assert len(sales_record(bed)) == 3  # the record of what was sold stands


def supplier_return(bed, supplier: dict, receipt: dict, transit: str) -> None:
    """The warehouse sends the expired lot rejected at inspection back to the supplier, once QA
    has scanned it again (出库复核)."""
    back = bed.create("supervisor", "supplier_return", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "purchase_receipt": receipt["id"],
        "reason": "nonconforming",
        "lines": [{"scan": label(STRIP_GTIN, "S-EXP", EXP), "quantity": "5"}],
    })  # fmt: skip
    assert refused(bed, "supervisor", "supplier_return", back["id"], "ship") == (
        "当前不能执行“退货出库”：仓库退回供应商的货物须拣货完成后复核出库。"
    )
    fire_ok(bed, "supervisor", "supplier_return", back["id"], "finish_picking")
    edit(bed, "qa", "supplier_return", back["id"],
         review_scans=[{"scan": raw(STRIP_GTIN, "S-EXP", EXP), "quantity": "5"}])  # fmt: skip
    returned = fire_ok(bed, "qa", "supplier_return", back["id"], "review_ship")
    assert returned["state"] == "returned" and returned["data"]["reviewer"] == bed.users["qa"]
    assert ledger(bed.db, back["number"]) == [
        (1, "WH-SH", "STRIP", "S-EXP", None, "nonconforming", D(-5), "supplier_return"),
    ]
    assert stock(bed.db) == {
        ("WH-SH", "STRIP", "S-EARLY", "available"): (D(12), ZERO),
        ("WH-SH", "STRIP", "S-LATE", "available"): (D(26), ZERO),
        ("WH-SH", "PACE", "P1", "available"): (D(1), ZERO),
        (transit, "STRIP", "S-LATE", "in_transit"): (D(1), ZERO),
        ("SH01", "STRIP", "S-LATE", "available"): (D(2), ZERO),
        ("SH01", "STRIP", "S-LATE", "nonconforming"): (D(1), ZERO),
        ("SH01", "PACE", "P1", "available"): (D(1), ZERO),
    }
    # the GSP receiving record still shows the lot as received and rejected
    assert [row[5:13] for row in receiving_record(bed)][2] == (
        "S-EXP",
        None,
        EXP.isoformat(),
        D(5),
        ZERO,
        D(5),
        "rejected",
        "已过期",
    )


def test_inspection_is_saved_from_the_edit_page_and_a_refused_save_keeps_the_locked_fields(story):
    """In the browser QA saves the inspection from the generated edit page, where the receipt's
    header is locked; a save the rules refuse shows the header again, not empty fields."""
    bed = story
    supplier = bed.supplier("SUP-YY", name="鱼跃供应链")
    bed.item("STRIP", "0690123456101")
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"scan": label(STRIP_GTIN, "L1", EARLY), "quantity": "5"}],
    })  # fmt: skip
    received = fire_ok(bed, "keeper", "purchase_receipt", receipt["id"], "receive")
    qa, edit_url = bed.api("qa"), f"/forms/purchase_receipt/{receipt['id']}/edit"
    [row] = received["data"]["lines"]
    line = {f"lines[0].{key}": str(value or "") for key, value in row.items()}
    page = {
        "version": str(received["version"]), "_record_id": str(receipt["id"]),
        "inspector": str(bed.users["qa"]), "inspected_at": day(0).isoformat(), **line,
    }  # fmt: skip

    wrong = qa.form(edit_url, {**page, "lines[0].accepted_quantity": "4",
                               "lines[0].rejected_quantity": "0"})  # fmt: skip
    assert wrong.status_code == 422
    assert "合格数量与不合格数量之和必须等于到货数量" in wrong.text
    assert "鱼跃供应链" in wrong.text and "WH-SH" in wrong.text  # the locked header is still shown

    saved = qa.form(edit_url, {**page, "lines[0].accepted_quantity": "5",
                               "lines[0].rejected_quantity": "0"})  # fmt: skip
    assert saved.status_code == 302, saved.text
    fire_ok(bed, "qa", "purchase_receipt", receipt["id"], "inspect", **VERIFY)
    assert stock(bed.db) == {("WH-SH", "STRIP", "L1", "available"): (D(5), ZERO)}
