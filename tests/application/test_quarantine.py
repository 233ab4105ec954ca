"""The shipped quarantine flow through the HTTP API: QA stops a suspect lot everywhere (an order
that held it shows the shortfall and cannot deliver it), releases it with its conclusion, and the
lot sells again; stores may neither open nor read a quarantine; bad requests name their field."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import select

from app.kernel.items import Lot, LotStatus
from tests.application import sales_fixtures
from tests.application.sales_fixtures import PASSWORD, SO, stock, strip_scan
from tests.application.test_sales import fire, new_order, scan_goods

shop = sales_fixtures.shop  # the fixture, used by name
QT = "/api/v1/forms/quarantine/records"
SIGNED = {"signature": {"password": PASSWORD, "meaning": "approved"}}


def new_quarantine(api, shop, **data):
    body = {"item": shop["STRIP"], "lots": "A", "source": "complaint",
            "reason": "客户投诉：试纸读数偏高", **data}  # fmt: skip
    return api.post(QT, json=body)


def _status(db, number: str) -> str:
    with db.session() as session:
        return session.scalar(select(Lot.status).where(Lot.lot_number == number))


def test_quarantine_stops_the_lot_and_release_lets_it_sell_again(shop, db):
    clerk, qa = shop.api("clerk"), shop.api("qa")
    order = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "2", "unit_price": "10"}])
    assert fire(clerk, SO, order, "confirm").status_code == 200
    held = stock(db)

    created = new_quarantine(qa, shop, lots="A, A ")
    assert created.status_code == 201, created.json
    response = fire(qa, QT, created.json, "quarantine")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "quarantined"
    assert response.json["data"]["lots"] == "A"  # each lot once
    assert _status(db, "A") == LotStatus.quarantined
    # the order's hold on A (FEFO's first) was given back: it shows the shortfall, cannot deliver A
    line = clerk.get(f"{SO}/{order['id']}").json["data"]["lines"][0]
    assert D(line["unallocated"]) == D(2)
    assert stock(db)[("STRIP", "A", "available")] == (held[("STRIP", "A", "available")][0], 0)
    scan_goods(clerk, order["id"], [strip_scan("A", 2)])
    refused = fire(clerk, SO, order, "deliver")
    assert refused.status_code == 409, refused.json
    assert "A" in refused.json["error"]

    # releasing needs QA's conclusion, and QA's signature
    refused = fire(qa, QT, response.json, "release", **SIGNED)
    assert refused.status_code in (400, 409, 422), refused.json
    assert refused.json.get("field") == "conclusion" or "conclusion" in str(refused.json)
    current = qa.get(f"{QT}/{created.json['id']}").json
    conclusion = {"conclusion": "复测合格，读数偏差系操作不当", "version": current["version"]}
    saved = qa.put(f"{QT}/{created.json['id']}", json=conclusion)
    assert saved.status_code == 200, saved.json
    released = fire(qa, QT, saved.json, "release", **SIGNED)
    assert released.status_code == 200, released.json
    assert released.json["state"] == "released"
    assert _status(db, "A") == LotStatus.released


def messages(api) -> list[tuple[str, int | None]]:
    response = api.get("/api/v1/inbox")
    assert response.status_code == 200, response.json
    return [(m["message"], m["record_id"]) for m in response.json["messages"]]


def test_the_staff_where_the_lot_is_hear_of_it_and_of_its_release(shop, db):
    qa = shop.api("qa")
    created = new_quarantine(qa, shop, lots="A, B")
    quarantined = fire(qa, QT, created.json, "quarantine")
    assert quarantined.status_code == 200, quarantined.json
    number = quarantined.json["number"]
    told = (f"{number}: lots A, B of STRIP 血糖试纸 are quarantined: set the 13 EA here apart "
            "and neither sell nor transfer them")  # fmt: skip
    for user in ("clerk", "manager"):  # (no link: the quarantine is QA's to read)
        assert messages(shop.api(user)) == [(told, None)]
    assert messages(qa) == []  # nothing of it at HQ

    current = qa.get(f"{QT}/{created.json['id']}").json
    saved = qa.put(f"{QT}/{created.json['id']}",
                   json={"conclusion": "复测合格", "version": current["version"]})  # fmt: skip
    assert fire(qa, QT, saved.json, "release", **SIGNED).status_code == 200
    released = (f"{number}: lots A, B of STRIP 血糖试纸 are released from quarantine (13 EA "
                "here): they may be sold again")  # fmt: skip
    assert messages(shop.api("manager"))[0] == (released, None)


def test_stores_neither_open_nor_read_a_quarantine(shop, db):
    created = new_quarantine(shop.api("qa"), shop)
    assert created.status_code == 201, created.json
    for user in ("clerk", "manager"):
        api = shop.api(user)
        assert new_quarantine(api, shop).status_code == 403
        assert api.get(f"{QT}/{created.json['id']}").status_code in (403, 404)


def test_bad_quarantines_are_refused_naming_the_field_and_change_nothing(shop, db):
    qa = shop.api("qa")
    for data, field, words in [
        ({"lots": "NOPE"}, "lots", "no lot NOPE"),
        ({"lots": "A, NOPE"}, "lots", "no lot NOPE"),
        ({"lots": "P1"}, "lots", "no lot P1"),  # a lot of another item
    ]:
        created = new_quarantine(qa, shop, **data)
        assert created.status_code == 201, created.json
        response = fire(qa, QT, created.json, "quarantine")
        assert response.status_code in (400, 409, 422), response.json
        assert words in response.json["error"], response.json
        assert response.json.get("field") == field, response.json
        assert qa.get(f"{QT}/{created.json['id']}").json["state"] == "draft"
    assert _status(db, "A") == LotStatus.released
    missing = qa.post(QT, json={"item": shop["STRIP"]})
    assert missing.status_code == 422, missing.json
    assert {"lots", "source", "reason"} <= set(missing.json["errors"]), missing.json

    first = new_quarantine(qa, shop)
    assert fire(qa, QT, first.json, "quarantine").status_code == 200
    second = new_quarantine(qa, shop)
    response = fire(qa, QT, second.json, "quarantine")
    assert response.status_code == 409, response.json
    assert "quarantined already" in response.json["error"]
    assert response.json.get("field") == "lots"
