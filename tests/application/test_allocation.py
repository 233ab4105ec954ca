"""Order allocation through the HTTP API on the chain of ``tests/allocation_chain.py`` (stock
table and hand-worked distances there): own stock only, the nearest single location, a split,
transfer to the store and direct shipment to the customer, nothing anywhere, cancel and reopen,
and two orders racing for the last goods (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from app.kernel.items import Lot, LotStatus
from app.meta import identity
from app.meta.models import Record
from tests.allocation_chain import PACE_GTIN, STRIP_GTIN
from tests.application import allocation_fixtures
from tests.application.allocation_fixtures import SO, TI, TO, held, records
from tests.application.sales_fixtures import (
    PASSWORD,
    approved_customer,
    day,
    fire,
    paid,
    review_goods,
    scan,
    scan_goods,
)
from tests.application.story_fixtures import stock
from tests.application.transfers_fixtures import review_and_ship, scan_picks
from tests.forms_fixtures import ApiClient
from tests.races import wait_until_blocked

chain = allocation_fixtures.chain  # the fixture, used by name


def order(api, chain, item: str, quantity, customer=None, at="SH01") -> dict:
    body = {"location": chain[at], "lines": [
        {"item": chain[item], "quantity": str(quantity), "unit_price": "10"}]}  # fmt: skip
    if customer is not None:
        body["customer"] = customer
    response = api.post(SO, json=body)
    assert response.status_code == 201, response.json
    return response.json


def confirmed(api, chain, item: str, quantity, customer=None) -> dict:
    record = order(api, chain, item, quantity, customer)
    response = fire(api, SO, record, "confirm")
    assert response.status_code == 200, response.json
    return response.json


def allocated(record: dict) -> list[tuple]:
    """The order's ``fulfilments`` as (location id, rule, km, mode, quantity, lots, received)."""
    return [(row["location"], row["rule"], row["distance_km"], row["mode"], row["quantity"],
             row["lots"], row["received"]) for row in record["data"]["fulfilments"]]  # fmt: skip


def hospital(chain) -> int:
    return approved_customer(chain, "H-1", kind="hospital", licence_number="沪械经营2020001",
                             licence_expiry=str(day(300)))  # fmt: skip


def test_own_stock_is_reserved_fefo_as_before(chain, db):
    record = confirmed(chain.api("clerk"), chain, "STRIP", 4)
    line = record["data"]["lines"][0]
    assert line["allocation"] == f"A ({day(100)}) × 2; B ({day(200)}) × 2"
    assert line["allocation_reason"] == "本店库存 / own stock"
    assert allocated(record) == [(chain["SH01"], "own_location", "0.0", "own", "4",
                                  "A × 2; B × 2", None)]  # fmt: skip
    assert held(db) == [(record["number"], 1, "SH01", "A", "2"),
                        (record["number"], 1, "SH01", "B", "2")]  # fmt: skip
    assert records(db, "transfer_out") == []


def test_the_nearest_store_transfers_and_the_order_waits_for_the_goods(chain, db):
    clerk, sz_clerk = chain.api("clerk"), chain.api("sz_clerk")
    # 8: SH01 has 5, WH-SH (25.5 km) 6; SZ01 (84.8 km) has 10 of lot C
    record = confirmed(clerk, chain, "STRIP", 8)
    number = record["number"]
    line = record["data"]["lines"][0]
    assert line["allocation"] is None  # nothing of its own to pick yet
    assert line["allocation_reason"] == (
        "最近有货 SZ01（84.8 km）/ nearest with stock: SZ01 (84.8 km)"
    )
    (transfer,) = records(db, "transfer_out")
    assert (transfer.location_id, transfer.data["to_location"]) == (chain["SZ01"], chain["SH01"])
    assert transfer.data["sales_order"] == number and transfer.state == "draft"
    assert [(row["lot"], row["quantity"], row["order_line"]) for row in transfer.data["lines"]] == [
        ("C", "8", 1)
    ]
    assert allocated(record) == [(chain["SZ01"], "nearest", "84.8", "transfer", "8", "C × 8", "0")]
    assert record["data"]["fulfilments"][0]["document"] == transfer.number
    # the goods are held at SZ01 for the transfer: nobody else can sell them
    assert held(db) == [(transfer.number, 1, "SZ01", "C", "8")]

    paid(clerk, record["id"])  # the customer pays; the goods are not here yet
    refused = fire(clerk, SO, record, "deliver")
    assert refused.status_code == 409 and "has not been shipped yet" in refused.json["error"]

    response = sz_clerk.post(f"{TO}/{transfer.id}/transitions/ship", json={})
    assert response.status_code == 200, response.json
    assert held(db) == []  # the hold left with the goods
    refused = fire(clerk, SO, record, "deliver")
    assert refused.status_code == 409 and "still on the way (8 in transit)" in refused.json["error"]

    (incoming,) = records(db, "transfer_in")
    assert incoming.data["sales_order"] == number
    response = clerk.post(f"{TI}/{incoming.id}/transitions/receive", json={})
    assert response.status_code == 200, response.json
    # arrived: held for the order at the store, the lot proposed on the line
    assert held(db) == [(number, 1, "SH01", "C", "8")]
    record = clerk.get(f"{SO}/{record['id']}").json
    assert record["data"]["lines"][0]["allocation"] == f"C ({day(400)}) × 8"
    assert record["data"]["fulfilments"][0]["received"] == "8"

    scan_goods(clerk, record["id"], [{"scan": scan(STRIP_GTIN, "C", day(400)), "quantity": "8"}])
    response = fire(clerk, SO, record, "deliver")
    assert response.status_code == 200, response.json
    balances = stock(db)
    assert balances[("SZ01", "STRIP", "C", "available")] == (D(2), D(0))
    assert ("SH01", "STRIP", "C", "available") not in balances  # 8 in, 8 sold
    assert held(db) == []


def test_serial_units_travel_by_transfer_one_line_each(chain, db):
    clerk = chain.api("clerk")
    # a walk-in buys 2 pacemakers: none at SH01, WH-SH (25.5 km) has SN1 and SN2
    record = confirmed(clerk, chain, "PACE", 2)
    (transfer,) = records(db, "transfer_out")
    assert [(row["serial"], row["quantity"], row["order_line"])
            for row in transfer.data["lines"]] == [("SN1", "1", 1), ("SN2", "1", 1)]  # fmt: skip
    assert held(db) == [(transfer.number, 1, "WH-SH", "P1", "1"),
                        (transfer.number, 2, "WH-SH", "P1", "1")]  # fmt: skip
    # the allocation chose the units; nobody has scanned them as picked, so nothing is reviewed
    supervisor = chain.api("wh_supervisor")
    refused = review_and_ship(supervisor, transfer.id)
    assert refused.status_code == 409
    assert refused.json["error"].endswith(
        "Nobody has scanned the goods as picked yet: scan them first."
    )
    # back to picking: the clerk scans them as picked and says so, the warehouse's supervisor
    # reviews them (出库复核)
    back = supervisor.post(f"{TO}/{transfer.id}/transitions/back_to_picking",
                           json={"comment": "请扫码拣货"})  # fmt: skip
    assert back.status_code == 200, back.json
    wh_clerk = chain.api("wh_clerk")
    scan_picks(wh_clerk, transfer.id,
               [scan(PACE_GTIN, "P1", day(400), serial) for serial in ("SN1", "SN2")])  # fmt: skip
    done = wh_clerk.post(f"{TO}/{transfer.id}/transitions/finish_picking", json={})
    assert done.status_code == 200, done.json
    assert review_and_ship(supervisor, transfer.id).status_code == 200
    (incoming,) = records(db, "transfer_in")
    assert clerk.post(f"{TI}/{incoming.id}/transitions/receive", json={}).status_code == 200
    line = clerk.get(f"{SO}/{record['id']}").json["data"]["lines"][0]
    assert line["allocation"] == f"P1 ({day(400)}) × 1: SN1; P1 ({day(400)}) × 1: SN2"
    assert held(db) == [(record["number"], 1, "SH01", "P1", "2")]
    scan_goods(clerk, record["id"], [{"scan": scan(PACE_GTIN, "P1", day(400), serial)}
                                     for serial in ("SN1", "SN2")])  # fmt: skip
    response = fire(clerk, SO, record, "deliver")
    assert response.status_code == 200, response.json
    assert held(db) == [] and ("SH01", "PACE", "P1", "available") not in stock(db)


def test_goods_recalled_on_the_road_arrive_but_are_not_held(chain, db):
    clerk, sz_clerk = chain.api("clerk"), chain.api("sz_clerk")
    record = confirmed(clerk, chain, "STRIP", 8)  # from SZ01, lot C
    (transfer,) = records(db, "transfer_out")
    assert sz_clerk.post(f"{TO}/{transfer.id}/transitions/ship", json={}).status_code == 200
    with db.transaction() as session:
        session.get(Lot, chain["lot:C"]).status = LotStatus.recalled
    (incoming,) = records(db, "transfer_in")
    response = clerk.post(f"{TI}/{incoming.id}/transitions/receive", json={})
    assert response.status_code == 200, response.json  # the store takes them in, to set apart
    assert held(db) == []
    assert clerk.get(f"{SO}/{record['id']}").json["data"]["fulfilments"][0]["received"] == "0"


def test_split_then_cancel_gives_everything_back(chain, db):
    clerk, manager = chain.api("clerk"), chain.api("manager")
    before = stock(db)
    # 20 within 200 km, none alone: SH01 5 (A 2, B 3) + WH-SH 6 (B) + SZ01 9 (C)
    record = confirmed(clerk, chain, "STRIP", 20)
    number = record["number"]
    assert record["data"]["lines"][0]["allocation_reason"] == (
        "拆分：SH01 5 + WH-SH 6（25.5 km） + SZ01 9（84.8 km）"
        " / split: SH01 5 + WH-SH 6 (25.5 km) + SZ01 9 (84.8 km)"
    )
    assert allocated(record) == [
        (chain["SH01"], "split", "0.0", "own", "5", "A × 2; B × 3", None),
        (chain["WH-SH"], "split", "25.5", "transfer", "6", "B × 6", "0"),
        (chain["SZ01"], "split", "84.8", "transfer", "9", "C × 9", "0"),
    ]
    from_wh, from_sz = records(db, "transfer_out")
    assert (from_wh.location_id, from_sz.location_id) == (chain["WH-SH"], chain["SZ01"])
    assert held(db) == sorted([
        (number, 1, "SH01", "A", "2"), (number, 1, "SH01", "B", "3"),
        (from_wh.number, 1, "WH-SH", "B", "6"), (from_sz.number, 1, "SZ01", "C", "9"),
    ])  # fmt: skip

    response = fire(manager, SO, record, "cancel", comment="客户取消")
    assert response.status_code == 200, response.json
    assert held(db) == [] and stock(db) == before
    assert [transfer.state for transfer in records(db, "transfer_out")] == ["cancelled"] * 2
    assert response.json["data"]["fulfilments"] == []
    assert response.json["data"]["lines"][0]["allocation_reason"] is None


def test_a_preview_says_where_the_goods_would_come_from_and_changes_nothing(chain, db):
    clerk = chain.api("clerk")
    record = order(clerk, chain, "STRIP", 20)
    before = stock(db)
    url = f"{SO}/{record['id']}/transitions/confirm/preview"
    response = clerk.post(url, json={})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "confirmed"
    assert [row["mode"] for row in response.json["data"]["fulfilments"]] == [
        "own", "transfer", "transfer",
    ]  # fmt: skip
    assert response.json["data"]["lines"][0]["allocation_reason"].startswith("拆分：SH01 5")
    assert stock(db) == before and held(db) == [] and records(db, "transfer_out") == []
    assert clerk.get(f"{SO}/{record['id']}").json["state"] == "draft"
    too_much = order(clerk, chain, "STRIP", 100)
    refused = clerk.post(f"{SO}/{too_much['id']}/transitions/confirm/preview", json={})
    assert refused.status_code == 409 and "100 requested" in refused.json["error"]


def test_reopen_undoes_the_allocation_and_confirm_makes_it_anew(chain, db):
    clerk = chain.api("clerk")
    record = confirmed(clerk, chain, "STRIP", 8)
    response = fire(clerk, SO, record, "reopen")
    assert response.status_code == 200, response.json
    assert held(db) == [] and [t.state for t in records(db, "transfer_out")] == ["cancelled"]
    response = fire(clerk, SO, record, "confirm")
    assert response.status_code == 200, response.json
    assert [t.state for t in records(db, "transfer_out")] == ["cancelled", "draft"]
    assert len(held(db)) == 1


def test_a_hospital_is_shipped_directly_by_fulfilment_orders(chain, db):
    clerk, manager, wh_clerk = chain.api("clerk"), chain.api("manager"), chain.api("wh_clerk")
    customer = hospital(chain)
    # PACE: none at SH01; WH-SH (25.5 km) 2 units, WH-NJ (269.7 km, within the hospital's 400) 1
    record = confirmed(clerk, chain, "PACE", 3, customer)
    number = record["number"]
    assert record["data"]["lines"][0]["allocation_reason"] == (
        "拆分：WH-SH 2（25.5 km） + WH-NJ 1（269.7 km）"
        " / split: WH-SH 2 (25.5 km) + WH-NJ 1 (269.7 km)"
    )
    parent, from_wh, from_nj = records(db, "sales_order")
    assert parent.id == record["id"]
    for child, where, quantity, serials in ((from_wh, "WH-SH", "2", "SN1, SN2"),
                                            (from_nj, "WH-NJ", "1", "SN3")):  # fmt: skip
        assert (child.location_id, child.state) == (chain[where], "confirmed")
        assert child.data["parent_order"] == number and child.data["customer"] == customer
        (line,) = child.data["lines"]
        assert line["quantity"] == quantity
        assert line["allocation"] == f"P1 ({day(400)}) × {quantity}: {serials}"
    assert [row["document"] for row in record["data"]["fulfilments"]] == [
        from_wh.number, from_nj.number,
    ]  # fmt: skip
    assert allocated(record) == [
        (chain["WH-SH"], "split", "25.5", "direct", "2", "P1 × 2", None),
        (chain["WH-NJ"], "split", "269.7", "direct", "1", "P1 × 1", None),
    ]
    assert held(db) == sorted([(from_wh.number, 1, "WH-SH", "P1", "2"),
                               (from_nj.number, 1, "WH-NJ", "P1", "1")])  # fmt: skip

    # the warehouse hands over its part by scanning the units, its supervisor reviewing them
    child = wh_clerk.get(f"{SO}/{from_wh.id}").json
    units = [{"scan": scan(PACE_GTIN, "P1", day(400), serial)} for serial in ("SN1", "SN2")]
    scan_goods(wh_clerk, child["id"], units)
    assert fire(wh_clerk, SO, child, "finish_picking").status_code == 200
    supervisor = chain.api("wh_supervisor")  # finds it on the warehouse dashboard, a click away
    waiting = supervisor.get("/api/v1/reports/awaiting_review").json["rows"]
    assert [(row["values"]["number"], row["links"]["number"]) for row in waiting] == [
        (from_wh.number, from_wh.id)
    ]  # fmt: skip
    review_goods(supervisor, child["id"], units)
    response = fire(supervisor, SO, child, "review_deliver")
    assert response.status_code == 200, response.json
    # a delivered part cannot be undone by cancelling the order
    refused = fire(manager, SO, record, "cancel", comment="客户取消")
    assert refused.status_code == 409 and from_wh.number in refused.json["error"]
    # the store has nothing of its own to hand over: its order closes without scans, the
    # manager's review having nothing to compare
    assert fire(manager, SO, record, "finish_picking").status_code == 200
    response = fire(manager, SO, record, "review_deliver")
    assert response.status_code == 200, response.json
    assert held(db) == [(from_nj.number, 1, "WH-NJ", "P1", "1")]
    # the sale counts once, at the store that took the order (3 × 10), chain-wide
    report = chain.api("buyer").get(f"/api/v1/reports/sales_today?period={day(-1)}..{day(1)}")
    assert report.status_code == 200, report.json
    assert [(D(row["values"]["amount"]), row["values"]["orders"])
            for row in report.json["rows"]] == [(D(30), 1)]  # fmt: skip


def test_nothing_anywhere_is_refused_naming_item_and_quantities(chain, db):
    clerk = chain.api("clerk")
    before = stock(db)
    record = order(clerk, chain, "STRIP", 100)
    refused = fire(clerk, SO, record, "confirm")
    # within 200 km: SH01 5 + WH-SH 6 + SZ01 10 + HZ01 4 = 25 (WH-NJ too far, NC01 unmeasured)
    assert refused.status_code == 409
    error = refused.json["error"]
    assert "STRIP" in error and "100 requested" in error and "25 available" in error
    # the rules as a clerk reads them, on the line that cannot be filled
    assert "(own stock, nearest location with stock, split across locations)" in error
    assert refused.json["field"] == "lines[0].quantity", refused.json
    assert held(db) == [] and stock(db) == before
    assert records(db, "transfer_out") == [] and len(records(db, "sales_order")) == 1
    assert clerk.get(f"{SO}/{record['id']}").json["state"] == "draft"


def test_the_record_page_shows_where_from_and_why(chain, db):
    clerk = chain.api("clerk")
    record = confirmed(clerk, chain, "STRIP", 20)
    (from_wh, from_sz) = records(db, "transfer_out")
    page = clerk.client.get(f"/forms/sales_order/{record['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Order allocation" in html and "split: SH01 5 + WH-SH 6 (25.5 km)" in html
    assert from_wh.number in html and from_sz.number in html
    assert "Transfer to the store" in html
    # the transfers it made, with their state; the clerk of SH01 cannot open the sources' papers
    linked = html[html.index('id="linked"') : html.index("</ul>", html.index('id="linked"'))]
    assert linked.count("Transfer out") == 2 and linked.count("Picking") == 2
    assert from_wh.number in linked and "href" not in linked
    page = chain.api("manager").client.get(f"/forms/transfer_out/{from_wh.id}")
    assert page.status_code == 404  # out of the store's scope


# --- two orders racing for the last goods (PostgreSQL) ---------------------------------------


def _hold_wh_sh(db, chain):
    """A transaction of its own that locks WH-SH's balances until it is rolled back."""
    blocker = db.session(write=True)
    blocker.begin()
    blocker.execute(text("SELECT id FROM stock_balances WHERE location_id = :id FOR UPDATE"),
                    {"id": chain["WH-SH"]})  # fmt: skip
    return blocker


def _race(db, chain, clients_and_records) -> list:
    """Confirm the orders at once while WH-SH is locked; then let them through."""
    blocker = _hold_wh_sh(db, chain)
    results: list = [None] * len(clients_and_records)

    def confirm(index, api, record):
        response = fire(api, SO, record, "confirm")
        results[index] = (response.status_code, response.json)

    threads = [threading.Thread(target=confirm, args=(index, api, record))
               for index, (api, record) in enumerate(clients_and_records)]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        wait_until_blocked(db, len(threads))
    finally:
        blocker.rollback()
        blocker.close()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres_only
def test_racing_orders_one_takes_the_nearest_the_other_goes_elsewhere(chain, db):
    clerk, clerk2 = chain.api("clerk"), chain.api("clerk2")
    # 6 each: SH01 has 5; WH-SH (25.5 km) has exactly 6 — for one of them; SZ01 (84.8) has 10
    first, second = order(clerk, chain, "STRIP", 6), order(clerk2, chain, "STRIP", 6)
    results = _race(db, chain, [(clerk, first), (clerk2, second)])
    assert [status for status, _body in results] == [200, 200], results
    sources = sorted(body["data"]["fulfilments"][0]["location"] for _status, body in results)
    assert sources == sorted([chain["WH-SH"], chain["SZ01"]])
    transfers = {t.data["sales_order"]: t for t in records(db, "transfer_out")}
    assert len(transfers) == 2
    by_source = {t.location_id: t.number for t in transfers.values()}
    assert held(db) == sorted([(by_source[chain["WH-SH"]], 1, "WH-SH", "B", "6"),
                               (by_source[chain["SZ01"]], 1, "SZ01", "C", "6")])  # fmt: skip


@pytest.mark.postgres_only
def test_racing_orders_the_loser_is_refused_cleanly_when_nothing_else_fills(chain, db):
    clerk, clerk2 = chain.api("clerk"), chain.api("clerk2")
    customer = hospital(chain)
    # PACE 2 each: only WH-SH has 2 (WH-NJ has 1): one order gets them, the other is refused
    first = order(clerk, chain, "PACE", 2, customer)
    second = order(clerk2, chain, "PACE", 2, customer)
    results = _race(db, chain, [(clerk, first), (clerk2, second)])
    assert sorted(status for status, _body in results) == [200, 409], results
    (loser,) = [body for status, body in results if status == 409]
    assert "PACE" in loser["error"] and "2 requested" in loser["error"]
    assert "1 available" in loser["error"]
    children = [r for r in records(db, "sales_order") if r.data.get("parent_order")]
    assert len(children) == 1 and children[0].location_id == chain["WH-SH"]
    assert held(db) == [(children[0].number, 1, "WH-SH", "P1", "2")]


def test_an_order_transfer_goes_to_the_order_store_and_is_cancelled_not_deleted(chain, db, app):
    """Goods an order holds reach the order's own store: its transfer out cannot be redirected
    while picking nor deleted (cancelling releases the hold and tells the order)."""
    clerk, sz_clerk = chain.api("clerk"), chain.api("sz_clerk")
    record = confirmed(clerk, chain, "STRIP", 8)
    (transfer,) = records(db, "transfer_out")
    holding = held(db)
    current = sz_clerk.get(f"{TO}/{transfer.id}").json
    moved = sz_clerk.put(f"{TO}/{transfer.id}", json={"to_location": chain["WH-SH"],
                                                      "version": current["version"]})  # fmt: skip
    assert moved.status_code == 403, moved.json
    with db.transaction() as session:
        identity.create_user(session, "admin", "管理员", PASSWORD, roles=["admin"],
                             location_ids=[], locale="en")  # fmt: skip
    admin = ApiClient(app.test_client()).login("admin", PASSWORD)
    deleted = admin.delete(f"{TO}/{transfer.id}?version={current['version']}")
    assert deleted.status_code in (403, 409), deleted.json
    assert held(db) == holding and records(db, "transfer_out")[0].state == "draft"
    assert fire(chain.api("manager"), SO, record, "cancel", comment="客户取消").status_code == 200
    assert held(db) == [] and records(db, "transfer_out")[0].state == "cancelled"


def test_goods_of_an_order_arriving_at_another_store_are_not_held_there(chain, db):
    """A transfer of the order's that reached another location (redirected before this was
    refused): the goods are that location's stock, the order learns the shortfall and can still
    be cancelled."""
    clerk, sz_clerk, wh_clerk = chain.api("clerk"), chain.api("sz_clerk"), chain.api("wh_clerk")
    record = confirmed(clerk, chain, "STRIP", 8)
    (transfer,) = records(db, "transfer_out")
    with db.transaction() as session:
        redirected = session.get(Record, transfer.id)
        redirected.data = {**redirected.data, "to_location": chain["WH-SH"]}
    assert sz_clerk.post(f"{TO}/{transfer.id}/transitions/ship", json={}).status_code == 200
    (incoming,) = records(db, "transfer_in")
    assert incoming.location_id == chain["WH-SH"]
    response = wh_clerk.post(f"{TI}/{incoming.id}/transitions/receive", json={})
    assert response.status_code == 200, response.json
    assert held(db) == []  # nothing held at WH-SH for an order of SH01
    assert stock(db)[("WH-SH", "STRIP", "C", "available")] == (D(8), D(0))
    row = clerk.get(f"{SO}/{record['id']}").json["data"]["fulfilments"][0]
    assert row["received"] == "0" and row["shortfall"] == "8"
    response = fire(chain.api("manager"), SO, record, "cancel", comment="客户取消")
    assert response.status_code == 200, response.json
    assert held(db) == []


def test_a_fulfilment_order_its_order_counts_on_is_cancelled_not_reopened(chain, db):
    """Reopened, it would drop its hold while the store's order still promised its goods; the
    refusal says to cancel it instead, which tells the order."""
    clerk, wh_clerk = chain.api("clerk"), chain.api("wh_clerk")
    record = confirmed(clerk, chain, "PACE", 3, hospital(chain))
    _parent, from_wh, _from_nj = records(db, "sales_order")
    holding = held(db)
    refused = fire(wh_clerk, SO, {"id": from_wh.id}, "reopen")
    assert refused.status_code == 409, refused.json
    assert record["number"] in refused.json["error"] and "Cancel it" in refused.json["error"]
    assert held(db) == holding and records(db, "sales_order")[1].state == "confirmed"
    response = fire(chain.api("buyer"), SO, {"id": from_wh.id}, "cancel", comment="缺货")
    assert response.status_code == 200, response.json
    parent = clerk.get(f"{SO}/{record['id']}").json
    assert parent["data"]["fulfilments"][0]["shortfall"] == "2"
    # the store's own order reopens as before: its fulfilment orders are cancelled with it
    response = fire(clerk, SO, record, "reopen")
    assert response.status_code == 200, response.json
    assert [order.state for order in records(db, "sales_order")] == [
        "draft", "cancelled", "cancelled",
    ]  # fmt: skip
