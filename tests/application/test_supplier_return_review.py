"""出库复核 of what goes back to a supplier, through the API: a warehouse's return is picked, then
waits for its review with its lines fixed; it leaves only once QA or its supervisor — not whoever
picked it — has scanned the goods again and the scans match; a refused review names each
difference and moves nothing, and a wrong picking goes back to the picker; the review is kept on
the return and in the 出库复核记录 next to the orders and transfers. A store's return ships as
before."""

from __future__ import annotations

import pytest

from tests.application.purchasing_fixtures import (
    USERS,
    Decimal,
    day,
    make_bed,
    url,
)

D = Decimal


@pytest.fixture
def bed(app, db):
    return make_bed(app, db, USERS | {"manager": ("store_manager", "SH01", "en")})


def draft(bed, who: str, where: str, gauze: int, quantity: str) -> dict:
    """``who`` picks ``quantity`` of the rejected lot L1 at ``where`` onto a supplier return."""
    bed.rejected("keeper" if where == "WH-SH" else "clerk", where, bed.supplier_id, gauze, "L1")
    return bed.create(who, "supplier_return", {
        "location": bed.loc(where), "supplier": bed.supplier_id, "reason": "nonconforming",
        "lines": [{"item": gauze, "lot": "L1", "quantity": quantity}],
    })  # fmt: skip


def to_ship(bed, reader: str = "supervisor") -> list[tuple]:
    """The card 待出库退货 (the warehouse's, and QA's): (the return its number opens, supplier,
    state, lines, quantity)."""
    rows = bed.api(reader).get("/api/v1/reports/returns_to_ship").json["rows"]
    return [(row["links"]["number"], row["values"]["supplier"], row["values"]["state"],
             row["values"]["lines"], D(row["values"]["quantity"])) for row in rows]  # fmt: skip


@pytest.fixture
def gauze(bed) -> int:
    bed.supplier_id = bed.supplier()["id"]
    return bed.item("GAUZE", "0690123456011")["data"]["item"]


def test_a_warehouses_return_leaves_once_another_person_has_scanned_it_again(bed, gauze):
    back = draft(bed, "keeper", "WH-SH", gauze, "4")
    assert back["data"]["needs_review"] is True
    assert to_ship(bed) == [(back["id"], "华东医疗", "draft", 1, D(4))]  # on the warehouse's card
    assert to_ship(bed, "qa") == to_ship(bed)  # and on QA's
    before = bed.balances()

    plain = bed.fire("supervisor", "supplier_return", back["id"], "ship")
    assert plain.status_code == 409
    assert plain.json["error"].endswith("仓库退回供应商的货物须拣货完成后复核出库。")
    # the keeper has picked: the return waits for its review, and the supervisor hears of it
    done = bed.fire("keeper", "supplier_return", back["id"], "finish_picking")
    assert done.status_code == 200, done.json
    assert done.json["state"] == "picked"
    assert to_ship(bed) == [(back["id"], "华东医疗", "picked", 1, D(4))]
    assert bed.messages(back["id"]) == [("supervisor", f"{back['number']}: 已拣货，待出库复核")]
    # the picked lines are fixed now, and the keeper neither scans the review nor ships it back
    keeper = bed.api("keeper")
    version = done.json["version"]
    fewer = [{**done.json["data"]["lines"][0], "quantity": "3"}]
    scanned = [{"item": gauze, "lot": "L1", "quantity": "4"}]
    for change in ({"lines": fewer}, {"review_scans": scanned}):
        refused = keeper.put(url("supplier_return", back["id"]), json=change | {"version": version})
        assert refused.status_code == 403 and refused.json["field"] in change
    assert bed.fire("keeper", "supplier_return", back["id"], "review_ship").status_code == 403
    # one short: named, nothing leaves
    short = bed.review_and_return("qa", back["id"], [{"item": gauze, "lot": "L1", "quantity": "3"}])
    assert short.status_code == 409
    assert short.json["error"].endswith("复核与拣货扫码不符：GAUZE 批号 L1 拣货 4，复核 3。")
    assert bed.balances() == before

    shipped = bed.review_and_return("supervisor", back["id"])
    assert shipped.status_code == 200, shipped.json
    assert shipped.json["state"] == "returned"
    assert shipped.json["data"]["reviewer"] == bed.users["supervisor"]
    assert shipped.json["data"]["reviewed_at"]
    assert bed.balances() == {("WH-SH", gauze, "L1", "nonconforming"): D(1)}
    assert to_ship(bed) == []

    rows = bed.api("qa").get(f"/api/v1/reports/outbound_review?period={day(-1)}..{day(1)}")
    assert [
        (row["values"]["number"], row["values"]["destination"], row["values"]["lot"],
         D(row["values"]["quantity"]), row["record_form"], row["record_id"])
        for row in rows.json["rows"]
    ] == [(back["number"], "华东医疗", "L1", D(4), "supplier_return", back["id"])]  # fmt: skip


def test_whoever_picked_the_return_does_not_review_it(bed, gauze):
    back = draft(bed, "supervisor", "WH-SH", gauze, "5")
    refused = bed.review_and_return("supervisor", back["id"])  # who made the return and picked it
    assert refused.status_code == 403
    assert "复核退货出库" in refused.json["error"]
    # the picker's review scans stand until someone else clears them and scans again
    unchanged = bed.review_and_return("qa", back["id"])
    assert unchanged.status_code == 409
    assert "Supervisor 用户" in unchanged.json["error"]
    qa = bed.api("qa")
    version = qa.get(url("supplier_return", back["id"])).json["version"]
    cleared = qa.put(
        url("supplier_return", back["id"]), json={"review_scans": [], "version": version}
    )
    assert cleared.status_code == 200, cleared.json
    assert bed.review_and_return("qa", back["id"]).status_code == 200


def test_a_wrong_picking_goes_back_to_the_picker(bed, gauze):
    back = draft(bed, "keeper", "WH-SH", gauze, "4")
    assert bed.fire("keeper", "supplier_return", back["id"], "finish_picking").status_code == 200
    supervisor = bed.api("supervisor")
    current = supervisor.get(url("supplier_return", back["id"])).json
    review = [{"item": gauze, "lot": "L1", "quantity": "3"}]
    body = {"review_scans": review, "version": current["version"]}
    saved = supervisor.put(url("supplier_return", back["id"]), json=body)
    assert saved.status_code == 200, saved.json
    # the supervisor counts 3 on the shelf: back to picking, with the reason
    unsaid = bed.fire("supervisor", "supplier_return", back["id"], "back_to_picking")
    assert unsaid.status_code == 422 and "comment" in unsaid.json["errors"]
    again = bed.fire("supervisor", "supplier_return", back["id"], "back_to_picking",
                     comment="货架上只有 3 盒")  # fmt: skip
    assert again.status_code == 200, again.json
    assert again.json["state"] == "draft"
    assert again.json["data"]["review_scans"] == []  # the next review scans the goods again
    assert bed.messages(back["id"])[-1] == (
        "keeper",
        f"{back['number']}: 复核退回，请重新拣货",
    )
    # the keeper corrects the lines and picks again; the review of the new lines passes
    lines = [{**again.json["data"]["lines"][0], "quantity": "3"}]
    body = {"lines": lines, "version": again.json["version"]}
    fixed = bed.api("keeper").put(url("supplier_return", back["id"]), json=body)
    assert fixed.status_code == 200, fixed.json
    assert bed.fire("keeper", "supplier_return", back["id"], "finish_picking").status_code == 200
    shipped = bed.review_and_return("supervisor", back["id"])
    assert shipped.status_code == 200, shipped.json
    assert bed.balances() == {("WH-SH", gauze, "L1", "nonconforming"): D(2)}


def test_a_stores_return_ships_without_a_review(bed, gauze):
    back = draft(bed, "clerk", "SH01", gauze, "5")
    assert back["data"]["needs_review"] is False
    page = bed.api("manager").get(f"/forms/supplier_return/{back['id']}").text
    assert "Review scans" not in page
    for transition in ("finish_picking", "review_ship"):
        refused = bed.fire("manager", "supplier_return", back["id"], transition)
        assert refused.status_code in (403, 409)
    shipped = bed.fire("manager", "supplier_return", back["id"], "ship")
    assert shipped.status_code == 200, shipped.json
    assert bed.balances() == {}
