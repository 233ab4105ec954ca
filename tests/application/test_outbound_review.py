"""出库复核 through the HTTP API: the clerk picks a hospital's goods and says so; the order then
waits for its review with its picking fixed, and its managers hear of it. The goods leave only
when a second person — a manager, not the clerk who picked them nor the order's creator —
scanned them again and the two scans match; each difference is named and nothing leaves; a wrong
picking goes back to the picker. The review is kept on the order and in the GSP outbound review
record. A retail sale leaves as before, without a review."""

from __future__ import annotations

from decimal import Decimal as D

from tests.application import sales_fixtures
from tests.application.sales_fixtures import (
    PACE_GTIN,
    SO,
    approved_customer,
    day,
    fire,
    hospital_order,
    review_goods,
    scan,
    scan_goods,
    stock,
    strip_scan,
    units,
)

shop = sales_fixtures.shop  # the fixture, used by name


def awaiting_review(api) -> list[tuple]:
    """The store dashboard's 待复核出库: (order id its number opens, customer, scans, quantity)."""
    rows = api.get("/api/v1/reports/awaiting_review").json["rows"]
    return [(row["links"]["number"], row["values"]["customer"], row["values"]["scans"],
             D(row["values"]["quantity"])) for row in rows]  # fmt: skip


def test_a_hospitals_goods_leave_once_a_manager_has_reviewed_them(shop, db):
    order = hospital_order(shop)
    clerk, manager = shop.api("clerk"), shop.api("manager")
    before = stock(db)

    refused = fire(clerk, SO, order, "deliver")
    assert refused.status_code == 409
    assert "leaves by Picking done, then Review and deliver" in refused.json["error"]
    assert awaiting_review(manager) == []  # still being picked
    # the clerk has picked: the order waits for its review, and the manager hears of it
    picked = fire(clerk, SO, order, "finish_picking")
    assert picked.status_code == 200, picked.json
    assert picked.json["state"] == "picked"
    assert f"{order['number']}: Picked, awaiting outbound review" in manager.get("/inbox").text
    assert fire(clerk, SO, order, "review_deliver").status_code == 403  # a clerk picks, not reviews
    page = clerk.get(f"/forms/sales_order/{order['id']}").text  # and reads who does
    assert (
        "Review and deliver</span> (Store manager, Warehouse supervisor, Quality assurance" in page
    )

    refused = fire(manager, SO, order, "review_deliver")
    assert refused.status_code == 409
    assert refused.json["error"].endswith("Scan the goods again to review them.")
    # the manager finds the picked order among those awaiting review, a click away
    assert awaiting_review(manager) == [(order["id"], "H-1", 2, D(5))]

    # one carton short of A2 and one of lot B that was not picked: both named, nothing leaves
    review_goods(
        manager, order["id"], [strip_scan("A", 3), strip_scan("A2", 1), strip_scan("B", 1)]
    )
    refused = fire(manager, SO, order, "review_deliver")
    assert refused.status_code == 409
    assert refused.json["error"].endswith(
        "The review does not match the goods picked: STRIP lot A2 picked 2, reviewed 1; "
        "STRIP lot B picked 0, reviewed 1."
    )
    record = manager.get(f"{SO}/{order['id']}").json
    assert record["state"] == "picked" and record["data"].get("reviewer") is None
    assert stock(db) == before

    # scanned in another order and in parts, the same goods pass
    review_goods(
        manager, order["id"], [strip_scan("A2", 2), strip_scan("A", 1), strip_scan("A", 2)]
    )
    response = fire(manager, SO, order, "review_deliver")
    assert response.status_code == 200, response.json
    record = response.json
    assert record["state"] == "delivered"
    assert record["data"]["reviewer"] == shop["manager"]
    assert record["data"]["reviewed_at"]
    assert stock(db)[("STRIP", "A2", "available")] == (D(2), D(0))
    assert ("STRIP", "A", "available") not in stock(db)

    assert awaiting_review(manager) == []
    note = manager.get(f"/forms/sales_order/{order['id']}/print").text  # 随货同行单
    assert "Reviewer" in note and "Manager User" in note
    rows = manager.get(f"/api/v1/reports/outbound_review?period={day(-1)}..{day(1)}").json["rows"]
    assert [
        (r["number"], r["destination"], r["lot"], D(r["quantity"]), r["reviewer"])
        for r in (row["values"] for row in rows)
    ] == [
        (record["number"], "H-1", "A2", D(2), "Manager User"),
        (record["number"], "H-1", "A", D(1), "Manager User"),
        (record["number"], "H-1", "A", D(2), "Manager User"),
    ]
    assert {(row["record_form"], row["record_id"]) for row in rows} == {
        ("sales_order", order["id"])
    }


def test_whoever_created_the_order_does_not_review_it(shop):
    order = hospital_order(shop, creator="manager")
    manager = shop.api("manager")
    review_goods(manager, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    assert fire(manager, SO, order, "review_deliver").status_code == 403


def test_whoever_saved_the_picking_scans_does_not_review_them(shop, db):
    order = hospital_order(shop)
    manager = shop.api("manager")
    scan_goods(manager, order["id"], [strip_scan("A", 2), strip_scan("A2", 2), strip_scan("A", 1)])
    review_goods(manager, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    refused = fire(manager, SO, order, "review_deliver")
    assert refused.status_code == 409
    assert refused.json["error"].endswith("You saved the picking scans: someone else reviews them.")
    assert manager.get(f"{SO}/{order['id']}").json["state"] == "picked"


def test_the_picker_does_not_scan_the_review_and_a_wrong_picking_goes_back(shop, db):
    order = hospital_order(shop)
    clerk, manager = shop.api("clerk"), shop.api("manager")
    assert fire(clerk, SO, order, "finish_picking").status_code == 200
    version = clerk.get(f"{SO}/{order['id']}").json["version"]
    for change in ({"review_scans": [strip_scan("A", 3)]}, {"deliveries": [strip_scan("A", 5)]}):
        refused = clerk.put(f"{SO}/{order['id']}", json=change | {"version": version})
        assert refused.status_code == 403 and refused.json["field"] in change
    # the manager finds one carton of A2 on the shelf, not two: back to the clerk, who hears why
    back = fire(manager, SO, order, "back_to_picking", comment="A2 只找到 1 盒")
    assert back.status_code == 200, back.json
    assert back.json["state"] == "confirmed"
    assert f"{order['number']}: Sent back to picking" in clerk.get("/inbox").text
    scan_goods(
        clerk, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)]
    )  # scanned again, as picked
    assert fire(clerk, SO, order, "finish_picking").status_code == 200
    review_goods(manager, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    assert fire(manager, SO, order, "review_deliver").json["state"] == "delivered"


def test_picking_done_needs_the_whole_picking_and_a_review_sent_back_starts_again(shop, db):
    """The reviewer is handed a whole picking, never an empty or short one; and once the review
    sent the picking back, the next review scans the goods again: the first review's scans,
    which may match by chance, are not reused."""
    order = hospital_order(shop)
    clerk, manager = shop.api("clerk"), shop.api("manager")
    for picked, said in (([], "Scan the goods you hand over before delivering."),
                         ([strip_scan("A", 3)], "STRIP: 5 ordered but 3 scanned.")):  # fmt: skip
        scan_goods(clerk, order["id"], picked)
        refused = fire(clerk, SO, order, "finish_picking")
        assert refused.status_code == 409, refused.json
        assert refused.json["error"].endswith(said)
        assert refused.json["field"] == "deliveries"  # the scans the picker corrects
        assert clerk.get(f"{SO}/{order['id']}").json["state"] == "confirmed"
    scan_goods(clerk, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    assert fire(clerk, SO, order, "finish_picking").status_code == 200
    review_goods(manager, order["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    back = fire(manager, SO, order, "back_to_picking", comment="外箱破损，请换一盒")
    assert back.status_code == 200, back.json
    assert back.json["data"]["review_scans"] == []
    assert fire(clerk, SO, order, "finish_picking").status_code == 200  # (the same goods)
    refused = fire(manager, SO, order, "review_deliver")
    assert refused.status_code == 409
    assert refused.json["error"].endswith("Scan the goods again to review them.")
    assert stock(db)[("STRIP", "A", "available")] == (D(3), D(3))  # nothing left


def test_a_retail_sale_is_not_reviewed(shop):
    clerk = shop.api("clerk")
    response = clerk.post(SO, json={"location": shop["S1"],
                                    "lines": [{"item": shop["STRIP"], "quantity": "1",
                                               "unit_price": "20"}]})  # fmt: skip
    assert response.status_code == 201, response.json
    order = response.json
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [strip_scan("A", 1)])
    refused = fire(clerk, SO, order, "finish_picking")
    assert refused.status_code == 409
    assert "a retail sale is not reviewed" in refused.json["error"]
    assert "Review scans" not in clerk.get(f"/forms/sales_order/{order['id']}").text
    assert fire(clerk, SO, order, "deliver").json["state"] == "delivered"


def pace_scan(serial: str) -> dict:
    """A delivery or review scan of one pacemaker's UDI (lot P1, serial ``serial``)."""
    return {"scan": scan(PACE_GTIN, "P1", day(400), serial)}


def test_a_unit_scanned_twice_is_refused_naming_the_scan_not_only_the_count(shop, db):
    """One pacemaker scanned twice is one device, not two: picking done and the review refuse it
    naming the row and the serial, even when the count comes out right."""
    hospital = approved_customer(shop, "H-9", kind="hospital", licence_number="沪械经营2020009",
                                 licence_expiry=str(day(300)))  # fmt: skip
    clerk, manager = shop.api("clerk"), shop.api("manager")
    line = {"item": shop["PACE"], "quantity": "2", "unit_price": "30000"}
    response = clerk.post(SO, json={"location": shop["S1"], "customer": hospital, "lines": [line]})
    assert response.status_code == 201, response.json
    order = response.json
    assert fire(clerk, SO, order, "confirm").status_code == 200

    for picked in ([pace_scan("SN2"), pace_scan("SN2")],  # two ordered, "two" scanned
                   [pace_scan("SN1"), pace_scan("SN2"), pace_scan("SN2")]):  # fmt: skip
        scan_goods(clerk, order["id"], picked)
        refused = fire(clerk, SO, order, "finish_picking")
        assert refused.status_code == 409, refused.json
        assert refused.json["error"].endswith(
            f"Scan {len(picked)}: serial SN2 is scanned twice (also scan {len(picked) - 1})."
        )
        assert refused.json["field"] == f"deliveries[{len(picked) - 1}].serial"
        assert clerk.get(f"{SO}/{order['id']}").json["state"] == "confirmed"

    # picked right; the reviewer scans SN2 twice and SN3 not: the repeat is named first
    scan_goods(clerk, order["id"], [pace_scan("SN2"), pace_scan("SN3")])
    assert fire(clerk, SO, order, "finish_picking").status_code == 200
    review_goods(manager, order["id"], [pace_scan("SN2"), pace_scan("SN2")])
    refused = fire(manager, SO, order, "review_deliver")
    assert refused.status_code == 409, refused.json
    assert refused.json["error"].endswith(
        "Review scans, scan 2: serial SN2 is scanned twice (also scan 1)."
    )
    assert refused.json["field"] == "review_scans[1].serial"
    assert units(db) == {"SN1": "in_stock", "SN2": "in_stock", "SN3": "in_stock"}
    review_goods(manager, order["id"], [pace_scan("SN3"), pace_scan("SN2")])
    assert fire(manager, SO, order, "review_deliver").json["state"] == "delivered"
    assert units(db) == {"SN1": "in_stock", "SN2": "sold", "SN3": "sold"}
