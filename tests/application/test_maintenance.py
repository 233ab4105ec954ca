"""The storage check (养护检查), through the API: what is found in order is recorded; what is set
apart leaves available stock at once, and QA confirms it (it stays nonconforming) or releases it
(back to available), signed. Bad lines are refused on the field, and nothing moves."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.kernel.items import business_today
from app.meta import identity
from app.workflow import reminders
from app.workflow.models import InboxMessage
from tests.application.purchasing_fixtures import (
    SIGN,
    VERIFY,
    Decimal,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    url,
)
from tests.chain import PASSWORD


def _stock(bed, quantity="10", lot="MC1") -> int:
    """``quantity`` of a lot available at WH-SH, received and inspected."""
    supplier = bed.supplier()["id"]
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    _receive(bed, supplier, item, lot, day(300), quantity)
    return item


def _receive(bed, supplier, item, lot, expiry, quantity, **line) -> None:
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier, "transport_mode": "cold_box",
        "lines": [{"item": item, "lot": lot, "expiry_date": expiry, "quantity": quantity,
                   "unit_cost": "3.00", **line}],
    })  # fmt: skip
    assert bed.fire("keeper", "purchase_receipt", receipt["id"], "receive").status_code == 200
    receipt = bed.api("qa").get(url("purchase_receipt", receipt["id"])).json
    response = bed.api("qa").put(url("purchase_receipt", receipt["id"]), json={
        "version": receipt["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": [{**receipt["data"]["lines"][0], "accepted_quantity": quantity,
                   "rejected_quantity": "0", "conclusion": "accepted"}],
    })  # fmt: skip
    assert response.status_code == 200, response.json
    assert bed.fire("qa", "purchase_receipt", receipt["id"], "inspect", **VERIFY).status_code == 200


def _check(bed, item, **line) -> dict:
    return {
        "location": bed.loc("WH-SH"),
        "storage_temperature": "18.5",
        "storage_humidity": "55",
        "lines": [{"item": item, "lot": "MC1", "quantity": "10", **line}],
    }


def test_a_check_that_finds_everything_in_order_is_finished_and_moves_nothing(bed):
    item = _stock(bed)
    before, ledger = bed.balances(), bed.ledger()
    check = bed.create("keeper", "maintenance_check", _check(bed, item))
    assert check["data"]["lines"][0]["finding"] == "normal"
    response = bed.fire("keeper", "maintenance_check", check["id"], "set_apart")
    assert response.status_code == 409
    assert response.json["error"] == (
        "'Set apart for QA review' is not possible now: nothing is set apart: use 'Finish check'."
    )
    response = bed.fire("keeper", "maintenance_check", check["id"], "finish")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "done"
    assert (bed.balances(), bed.ledger()) == (before, ledger)


def test_bad_lines_are_refused_on_their_fields(bed):
    item = _stock(bed)
    keeper = bed.api("keeper")
    response = keeper.post(url("maintenance_check"), json=_check(bed, item, set_apart="2"))
    assert response.status_code == 422
    assert response.json["errors"] == {
        "lines[0].set_apart": ["Goods found in order are not set apart"]
    }
    response = keeper.post(url("maintenance_check"), json=_check(
        bed, item, finding="packaging_damaged", set_apart="12"))  # fmt: skip
    assert response.json["errors"] == {
        "lines[0].set_apart": ["Cannot set apart more than was checked"],
        "lines[0].measure": ["This field is required."],
    }
    assert keeper.get(url("maintenance_check")).json["items"] == []


def test_a_storage_climate_out_of_range_asks_what_was_done_and_tells_qa(bed):
    item = _stock(bed)
    keeper = bed.api("keeper")
    humid = {**_check(bed, item), "storage_humidity": "82"}
    response = keeper.post(url("maintenance_check"), json=humid)
    assert response.status_code == 422
    assert response.json["errors"] == {"climate_measure": ["This field is required."]}
    cold_room = {**_check(bed, item), "storage_area": "cold", "storage_temperature": "12.0"}
    response = keeper.post(url("maintenance_check"), json=cold_room)  # 12 ℃ is fine, not there
    assert response.json["errors"] == {"climate_measure": ["This field is required."]}
    check = bed.create("keeper", "maintenance_check",
                       {**humid, "climate_measure": "开启除湿机，两小时后复测 60%"})  # fmt: skip
    assert check["data"]["climate_ok"] is False
    assert bed.fire("keeper", "maintenance_check", check["id"], "finish").status_code == 200
    assert bed.messages(check["id"]) == [("qa", f"{check['number']}: 库房温湿度超标")]
    fine = bed.create("keeper", "maintenance_check", _check(bed, item))  # 18.5 ℃, 55 %
    assert fine["data"]["climate_ok"] is True
    assert bed.fire("keeper", "maintenance_check", fine["id"], "finish").status_code == 200
    assert bed.messages(fine["id"]) == []
    page = bed.api("qa").client.get(f"/forms/maintenance_check/{check['id']}/edit").text
    assert 'data-computed="climate_ok" value="否"' in page  # yes/no, not False
    rows = bed.api("qa").get("/api/v1/reports/maintenance_record").json["rows"]
    assert [(row["values"]["check"], row["values"]["climate_ok"], row["values"]["climate_measure"])
            for row in rows] == [(check["number"], False, "开启除湿机，两小时后复测 60%"),
                                 (fine["number"], True, None)]  # fmt: skip


def test_a_check_is_finished_only_with_the_storage_climate_measured(bed):
    """A draft may wait for its readings, but says nothing of the climate until both are in;
    finishing without them is refused, naming each."""
    item = _stock(bed)
    unmeasured = {**_check(bed, item), "storage_temperature": None, "storage_humidity": None}
    check = bed.create("keeper", "maintenance_check", unmeasured)
    assert check["data"]["climate_ok"] is None
    refused = bed.fire("keeper", "maintenance_check", check["id"], "finish")
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        "storage_temperature": ["Enter the storage temperature"],
        "storage_humidity": ["Enter the relative humidity"],
    }
    assert bed.api("keeper").get(url("maintenance_check", check["id"])).json["state"] == "draft"


def test_a_location_whose_last_check_is_a_week_old_is_reminded_once_a_day(app, bed):
    """The form's ``recurring`` duty: every store and warehouse checks weekly; the daily job
    tells the staff of each location whose last counted check is 7 days old, or that has none."""
    item = _stock(bed)
    registry, today = app.extensions["lianku.registry"], business_today()

    def remind(on: dt.date) -> dict:
        with bed.db.transaction() as session:
            return reminders.remind(session, registry, on)

    result = remind(today)  # nobody has checked yet
    every = {"SH01", "HZ01", "BJ01", "TJ01", "WH-SH", "WH-BJ"}  # the stores and warehouses
    assert result["due"]["maintenance_check"] == dict.fromkeys(every)
    assert result["notified"] == 3  # the keeper and the supervisor at WH-SH, the clerk at SH01
    assert _reminders(bed, "keeper") == [
        f"[{today}] maintenance_check WH-SH 上海中心仓: 养护检查到期，每 7 天一次（从未记录）"
    ]
    assert remind(today)["notified"] == 0  # once a day
    draft = bed.create("keeper", "maintenance_check", _check(bed, item))  # a draft does not count
    assert "WH-SH" in remind(today)["due"]["maintenance_check"]
    assert bed.fire("keeper", "maintenance_check", draft["id"], "finish").status_code == 200
    assert "WH-SH" not in remind(today)["due"]["maintenance_check"]
    assert "WH-SH" not in remind(today + dt.timedelta(days=6))["due"]["maintenance_check"]
    week = remind(today + dt.timedelta(days=7))
    assert week["due"]["maintenance_check"]["WH-SH"] == today.isoformat()
    assert len(_reminders(bed, "keeper")) == 2 and "上次 " in _reminders(bed, "keeper")[-1]


def _reminders(bed, username: str) -> list[str]:
    with bed.db.session() as session:
        return list(
            session.scalars(
                select(InboxMessage.message)
                .where(InboxMessage.user_id == bed.users[username], InboxMessage.kind == "duty")
                .order_by(InboxMessage.id)
            )
        )


def test_goods_set_apart_leave_available_stock_and_qa_confirms_them(bed):
    item = _stock(bed)
    damaged = _check(
        bed, item, finding="packaging_damaged", set_apart="3", measure="移入不合格品区"
    )
    check = bed.create("keeper", "maintenance_check", damaged)
    assert bed.fire("keeper", "maintenance_check", check["id"], "finish").status_code == 409
    with bed.db.transaction() as session:  # QA of another region does not hear of it
        identity.create_user(session, "qa_north", "北区质管", PASSWORD, roles=["qa"],
                             location_ids=[bed.loc("R-NORTH")])  # fmt: skip
    response = bed.fire("keeper", "maintenance_check", check["id"], "set_apart")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "in_review"
    assert bed.balances() == {
        ("WH-SH", item, "MC1", "available"): Decimal(7),
        ("WH-SH", item, "MC1", "nonconforming"): Decimal(3),
    }
    number = response.json["number"]
    assert bed.messages(check["id"]) == [("qa", f"{number}: 有商品移入不合格品区，待质量复核")]
    assert bed.ledger()[-2:] == [
        (number, 1, "available", Decimal(-3), "maintenance"),
        (number, 1, "nonconforming", Decimal(3), "maintenance"),
    ]
    # nothing changes once set apart: not even QA edits what was set apart
    record = bed.api("qa").get(url("maintenance_check", check["id"])).json
    response = bed.api("qa").put(url("maintenance_check", check["id"]), json={
        "version": record["version"], "lines": [{**record["data"]["lines"][0], "set_apart": "10"}],
    })  # fmt: skip
    assert response.status_code == 409, response.json
    assert response.json["error"] == "状态为“待质量复核”的记录不能再修改。"
    assert bed.api("qa").get(url("maintenance_check", check["id"])).json == record
    assert bed.fire("keeper", "maintenance_check", check["id"], "confirm").status_code == 403
    assert bed.fire("qa", "maintenance_check", check["id"], "confirm", **SIGN).status_code == 422
    response = bed.fire("qa", "maintenance_check", check["id"], "confirm",
                        comment="外箱压损，内包装破裂，确认不合格", **SIGN)  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["state"] == "confirmed"
    assert bed.messages(check["id"])[-1] == (
        "keeper",
        f"{number}: 质量复核：确认不合格",
    )
    assert bed.balances()[("WH-SH", item, "MC1", "nonconforming")] == Decimal(3)
    rows = bed.api("qa").get("/api/v1/reports/maintenance_record").json["rows"]
    assert [
        (row["values"]["lot"], row["values"]["finding"], row["values"]["set_apart"],
         row["values"]["outcome"], row["values"]["storage_temperature"])
        for row in rows
    ] == [("MC1", "packaging_damaged", "3", "confirmed", "18.5")]  # fmt: skip
    page = bed.api("qa").client.get("/reports/maintenance_record").text
    assert "包装破损" in page and "确认不合格" in page  # codes shown by their labels


def test_qa_releases_what_was_set_apart_back_to_available(bed):
    item = _stock(bed)
    suspect = _check(bed, item, finding="suspect_quality", set_apart="10", measure="暂停销售")
    check = bed.create("keeper", "maintenance_check", suspect)
    assert bed.fire("keeper", "maintenance_check", check["id"], "set_apart").status_code == 200
    assert bed.balances() == {("WH-SH", item, "MC1", "nonconforming"): Decimal(10)}
    response = bed.fire("qa", "maintenance_check", check["id"], "release", **SIGN)
    assert response.status_code == 422  # a release says why
    response = bed.fire("qa", "maintenance_check", check["id"], "release",
                        comment="复检合格，恢复销售", **SIGN)  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["state"] == "released"
    assert bed.balances() == {("WH-SH", item, "MC1", "available"): Decimal(10)}


def test_setting_apart_more_than_is_available_is_refused_and_nothing_moves(bed):
    item = _stock(bed, quantity="4")
    before, ledger = bed.balances(), bed.ledger()
    check = bed.create("keeper", "maintenance_check", _check(
        bed, item, finding="expired", set_apart="6", measure="移入不合格品区"))  # fmt: skip
    response = bed.fire("keeper", "maintenance_check", check["id"], "set_apart")
    assert response.status_code == 409
    assert "GAUZE" in response.json["error"] and "MC1" in response.json["error"]
    assert (bed.balances(), bed.ledger()) == (before, ledger)
    record = bed.api("keeper").get(url("maintenance_check", check["id"])).json
    assert record["state"] == "draft"


def test_the_summary_says_when_each_location_last_checked(bed):
    item = _stock(bed)
    for line in ({}, {"finding": "label_unclear", "set_apart": "2", "measure": "待换标签"}):
        check = bed.create("keeper", "maintenance_check", _check(bed, item, **line))
        transition = "set_apart" if line else "finish"
        assert bed.fire("keeper", "maintenance_check", check["id"], transition).status_code == 200
    bed.create("keeper", "maintenance_check", _check(bed, item))  # a draft is not a check yet
    report = bed.api("qa").get("/api/v1/reports/storage_checks_by_location").json
    assert [row["values"] for row in report["rows"]] == [
        {"location": "上海中心仓", "last_check": day(0), "checks": 2, "set_apart": "2"}
    ]


def test_a_check_lists_the_key_items_from_stock_then_everything(bed):
    gauze = _stock(bed)  # class II, a year to go: not a key item
    supplier = bed.supplier(code="SUP-2")["id"]
    _receive(bed, supplier, gauze, "MC2", day(30), "5")  # near expiry (90 days)
    fridge = bed.item("GLC", "0690123456031", storage_condition="cold_chain")["data"]["item"]
    _receive(bed, supplier, fridge, "CC1", day(200), "2", arrival_temperature="4")
    check = bed.create("keeper", "maintenance_check", {"location": bed.loc("WH-SH")})
    assert check["data"]["focus"] == "key"
    response = bed.fire("keeper", "maintenance_check", check["id"], "fill_from_stock")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "draft"
    fields = ("item", "lot", "expiry_date", "quantity", "finding", "set_apart")
    listed = [tuple(line[name] for name in fields) for line in response.json["data"]["lines"]]
    assert listed == [
        (gauze, "MC2", day(30), "5", "normal", "0"),
        (fridge, "CC1", day(200), "2", "normal", "0"),
    ]
    again = bed.fire("keeper", "maintenance_check", check["id"], "fill_from_stock")
    assert again.status_code == 409
    assert again.json["error"] == (
        "上海中心仓 holds no key items (cold chain, class III, near expiry) that are not on the "
        "check yet; choose all items to list everything."
    )
    said = bed.fire("qa", "maintenance_check", check["id"], "fill_from_stock").json["error"]
    assert said.startswith("上海中心仓 没有尚未列入本次检查的重点养护品种")
    record = bed.api("keeper").get(url("maintenance_check", check["id"])).json
    response = bed.api("keeper").put(url("maintenance_check", check["id"]), json={
        "version": record["version"], "focus": "all"})  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("keeper", "maintenance_check", check["id"], "fill_from_stock")
    assert response.status_code == 200, response.json
    assert [line["lot"] for line in response.json["data"]["lines"]] == ["MC2", "CC1", "MC1"]
    measured = {"version": response.json["version"], "storage_temperature": "19.0",
                "storage_humidity": "50"}  # fmt: skip
    response = bed.api("keeper").put(url("maintenance_check", check["id"]), json=measured)
    assert response.status_code == 200, response.json
    response = bed.fire("keeper", "maintenance_check", check["id"], "finish")
    assert response.status_code == 200, response.json
