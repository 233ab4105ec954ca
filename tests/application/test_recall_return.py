"""Recalled goods back to the warehouse through the HTTP API: QA issues the recall, the store
ships its nonconforming recalled goods to the warehouse on a transfer out naming the recall (in
transit and on arrival nonconforming, never available), its recall task closes, the trace shows
them on the road and at the warehouse, and the warehouse returns them to the supplier. Refused,
writing nothing: a recall return to a store, an ordinary transfer of recalled goods."""

from __future__ import annotations

from decimal import Decimal as D

from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import SIGN, book, ledger_count, records_of, stock

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

RC = "/api/v1/forms/recall/records"
SIGNED = {"signature": SIGN}  # QA signs the recall's issue and close
TO = "/api/v1/forms/transfer_out/records"
TI = "/api/v1/forms/transfer_in/records"
SR = "/api/v1/forms/supplier_return/records"


def fire(client, url: str, record_id: int, transition: str, **body):
    return client.post(f"{url}/{record_id}/transitions/{transition}", json=body)


def create(client, url: str, body: dict) -> dict:
    response = client.post(url, json=body)
    assert response.status_code == 201, response.json
    return response.json


def tasks(response) -> dict:
    return {task["location"]: (D(task["remaining"]), task["done"])
            for task in response.json["data"]["tasks"]}  # fmt: skip


def test_a_store_returns_recalled_goods_to_the_warehouse_then_the_supplier(db, as_user, chain):
    book(db, chain, "S1", 4)  # S1 holds 4 of lot L1 (WH1 holds 10)
    qa, clerk, whclerk = as_user("qa"), as_user("clerk1"), as_user("whclerk")
    recall = create(qa, RC, {"item": chain["strip"], "lots": "L1", "level": "II",
                             "deadline": "2031-01-31", "reason": "包装密封不良"})  # fmt: skip
    issued = fire(qa, RC, recall["id"], "issue", **SIGNED)
    assert issued.status_code == 200, issued.json
    assert tasks(issued) == {chain["S1"]: (D(4), False), chain["WH1"]: (D(10), False)}

    def transfer(to: str, **fields) -> dict:
        return create(clerk, TO, {"from_location": chain["S1"], "to_location": chain[to],
                                  "lines": [{"item": chain["strip"], "lot": "L1", "quantity": "4"}],
                                  **fields})  # fmt: skip

    before = (stock(db), ledger_count(db))
    to_store = transfer("S2", recall=recall["id"])  # recalled goods never go to another store
    response = fire(clerk, TO, to_store["id"], "ship")
    assert response.status_code == 409 and "warehouse" in response.json["error"]
    assert "S2" in response.json["error"]
    ordinary = transfer("WH1")  # nor as an ordinary transfer, available
    response = fire(clerk, TO, ordinary["id"], "ship")
    assert response.status_code == 409 and "L1" in response.json["error"]
    assert (stock(db), ledger_count(db)) == before
    assert clerk.get(f"{TO}/{ordinary['id']}").json["state"] == "draft"

    back = transfer("WH1", recall=recall["id"])
    response = fire(clerk, TO, back["id"], "ship")
    assert response.status_code == 200, response.json
    balances = stock(db)
    assert ("S1", "STRIP", "L1", "nonconforming") not in balances
    assert balances[("TR-S1-WH1", "STRIP", "L1", "in_transit")] == D(4)
    refreshed = fire(qa, RC, recall["id"], "refresh")  # the store's task is done
    assert tasks(refreshed)[chain["S1"]] == (D(0), True)
    on_the_road = [row for row in refreshed.json["data"]["trace"]
                   if row["kind"] == "holder" and "→" in row["location"]]  # fmt: skip
    assert [(row["status"], D(row["quantity"])) for row in on_the_road] == [("in_transit", D(4))]

    [incoming] = records_of(db, "transfer_in")
    response = fire(whclerk, TI, incoming.id, "receive")
    assert response.status_code == 200, response.json
    balances = stock(db)
    assert balances[("WH1", "STRIP", "L1", "nonconforming")] == D(14)  # arrived nonconforming
    assert ("WH1", "STRIP", "L1", "available") not in balances

    supplier = create(as_user("hq"), "/api/v1/forms/supplier/records", {
        "code": "SUP-1", "name": "华东医疗", "licence_kind": "permit",
        "licence_number": "沪食药监械经营许SUP-1号", "licence_expiry": "2031-12-31",
        "business_licence_number": "91310000MA1FL0001X", "contact": "王经理",
        "phone": "021-5555 0001", "address": "上海市闵行区",
    })  # fmt: skip
    supervisor = as_user("whsuper")
    returned = create(supervisor, SR, {
        "location": chain["WH1"], "supplier": supplier["id"], "reason": "recalled",
        "lines": [{"item": chain["strip"], "lot": "L1", "quantity": "14"}],
    })  # fmt: skip
    # 出库复核: the supervisor picks, QA scans the returned goods again; they leave the
    # warehouse once they match
    assert fire(supervisor, SR, returned["id"], "ship").status_code == 409
    picked = fire(supervisor, SR, returned["id"], "finish_picking")
    assert picked.status_code == 200, picked.json
    review = {"review_scans": [{"item": chain["strip"], "lot": "L1", "quantity": "14"}],
              "version": picked.json["version"]}  # fmt: skip
    assert qa.put(f"{SR}/{returned['id']}", json=review).status_code == 200
    shipped = fire(qa, SR, returned["id"], "review_ship")
    assert shipped.status_code == 200, shipped.json
    assert shipped.json["data"]["reviewer"] == chain["qa"]
    refreshed = fire(qa, RC, recall["id"], "refresh")
    assert all(done for _remaining, done in tasks(refreshed).values())
    assert fire(qa, RC, recall["id"], "close", **SIGNED).json["state"] == "closed"
