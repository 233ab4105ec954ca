"""Suspected adverse events (不良事件), through the API: a store records one, QA is told, assesses
it and reports it to the monitoring system within the legal deadline (7 days for a death, 20 for
what led or may lead to serious injury or death, the same day for a cluster; 30 by the chain's own
rule otherwise) — or closes it as not reportable with the reason — and may recall the lot from
it. Each rule refuses naming its field."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.kernel.items import business_today
from app.workflow import reminders
from app.workflow.models import InboxMessage
from tests.application.purchasing_fixtures import (
    SIGN,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    url,
)


def _event(bed, item, **changes) -> dict:
    return {
        "location": bed.loc("SH01"), "item": item, "lot": "AE1", "patient": "W.L. 女 62 岁",
        "occurred_on": day(-3), "learned_on": day(-1), "severity": "death",
        "description": "使用中试纸读数异常偏低，患者误判后低血糖入院", **changes,
    }  # fmt: skip


def _strip(bed) -> int:
    """The lot-tracked test strip, its lot AE1 on record (received once)."""
    item = bed.item("STRIP", "0690123456011")["data"]["item"]
    bed.lot(item, "AE1")
    return item


def test_the_deadline_follows_the_harm_and_bad_dates_are_refused(bed):
    item = _strip(bed)
    due = {  # learned of yesterday
        "death": day(6), "serious_injury": day(19), "may_cause_serious": day(19),
        "cluster": day(-1), "other": day(29),
    }  # fmt: skip
    for severity, expected in due.items():
        event = bed.create("clerk", "adverse_event", _event(bed, item, severity=severity))
        assert (severity, event["data"]["report_due"]) == (severity, expected)
    serious = _event(bed, item, severity="serious_injury", report_due=day(29))  # the old 30 days
    response = bed.api("clerk").post(url("adverse_event"), json=serious)
    assert response.status_code == 422 and list(response.json["errors"]) == ["report_due"]
    response = bed.api("clerk").post(url("adverse_event"), json=_event(
        bed, item, occurred_on=day(0), report_due=day(10)))  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {
        "learned_on": ["获知日期不能早于发生日期"],
        "report_due": [
            "报告期限不能晚于法定期限（死亡 7 日，严重伤害或可能导致严重伤害、死亡 20 日，"
            "群体不良事件当日，其他 30 日）"
        ],
    }


def test_a_store_submits_qa_assesses_and_reports(bed):
    item = _strip(bed)
    event = bed.create("clerk", "adverse_event", _event(bed, item))
    response = bed.fire("clerk", "adverse_event", event["id"], "submit")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "in_review"
    with bed.db.session() as session:  # QA, at HQ above the store, is told
        told = session.scalars(
            select(InboxMessage.user_id).where(InboxMessage.record_id == event["id"])
        ).all()
    assert told == [bed.users["qa"]]
    # the store cannot report it, nor write QA's part
    assert bed.fire("clerk", "adverse_event", event["id"], "report", **SIGN).status_code == 403
    qa = bed.api("qa")
    record = qa.get(url("adverse_event", event["id"])).json
    response = bed.api("clerk").put(url("adverse_event", event["id"]), json={
        "version": record["version"], "assessment": "店员评价"})  # fmt: skip
    assert response.status_code == 403
    assert response.json["field"] == "assessment"
    response = bed.fire("qa", "adverse_event", event["id"], "report", **SIGN)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "assessment": ["请填写质量部门评价"],
        "reported_on": ["请填写上报日期"],
        "report_number": ["请填写监测系统报告编码"],
    }
    assessed = {"version": record["version"], "assessment": "与产品批次相关性待查，按严重伤害上报"}
    response = qa.put(url("adverse_event", event["id"]), json=assessed)
    assert response.status_code == 200, response.json
    record = qa.get(url("adverse_event", event["id"])).json
    report = {"version": record["version"], "report_number": "310000-2026-0001"}
    response = qa.put(url("adverse_event", event["id"]), json={**report, "reported_on": day(-2)})
    assert response.status_code == 422
    assert response.json["errors"] == {"reported_on": ["上报日期不能早于获知日期"]}
    response = qa.put(url("adverse_event", event["id"]), json={**report, "reported_on": day(0)})
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "adverse_event", event["id"], "report", **SIGN)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "reported"
    rows = qa.get("/api/v1/reports/adverse_events").json["rows"]
    fields = ("lot", "report_due", "reported_on", "state")
    assert [tuple(row["values"][name] for name in fields) for row in rows] == [
        ("AE1", day(6), day(0), "reported")
    ]


def test_a_report_after_the_deadline_says_why(bed):
    """Learned of ten days ago, a death was due three days ago: QA reporting it today
    must say why it is late, and the register shows the reason."""
    item = _strip(bed)
    learned = _event(bed, item, occurred_on=day(-12), learned_on=day(-10))
    event = bed.create("clerk", "adverse_event", learned)
    assert event["data"]["report_due"] == day(-3)
    assert bed.fire("clerk", "adverse_event", event["id"], "submit").status_code == 200
    qa = bed.api("qa")
    record = qa.get(url("adverse_event", event["id"])).json
    late = {"version": record["version"], "assessment": "与批次相关，按严重伤害上报",
            "report_number": "310000-2026-0002", "reported_on": day(0)}  # fmt: skip
    response = qa.put(url("adverse_event", event["id"]), json=late)
    assert response.status_code == 422
    assert response.json["errors"] == {"late_reason": ["此字段必填。"]}
    page = qa.get(f"/forms/adverse_event/{event['id']}")
    assert "迟报原因" not in page.text  # (asked for only once the report is late)
    reason = "门店获知后第 9 日才转交质量部门"
    response = qa.put(url("adverse_event", event["id"]), json={**late, "late_reason": reason})
    assert response.status_code == 200, response.json
    assert bed.fire("qa", "adverse_event", event["id"], "report", **SIGN).status_code == 200
    [row] = qa.get("/api/v1/reports/adverse_events").json["rows"]
    assert (row["values"]["reported_on"], row["values"]["late_reason"]) == (day(0), reason)


def test_not_reportable_needs_the_reason_and_qa_may_recall_the_lot(bed):
    item = _strip(bed)
    event = bed.create("clerk", "adverse_event", _event(bed, item, severity="other"))
    assert bed.fire("clerk", "adverse_event", event["id"], "submit").status_code == 200
    made = bed.api("qa").get(f"/forms/recall/new?from=adverse_event&record={event['id']}")
    assert made.status_code == 200
    assert "AE1" in made.text and "使用中试纸读数异常偏低" in made.text
    record = bed.api("qa").get(url("adverse_event", event["id"])).json
    response = bed.api("qa").put(url("adverse_event", event["id"]), json={
        "version": record["version"], "assessment": "操作不当所致，非产品质量问题"})  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "adverse_event", event["id"], "close", **SIGN)
    assert response.status_code == 422  # the reason is required
    response = bed.fire("qa", "adverse_event", event["id"], "close",
                        comment="患者未按说明书操作", **SIGN)  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["state"] == "not_reportable"


def test_qa_and_the_store_are_reminded_daily_as_the_report_falls_due(app, bed):
    """The form's ``deadline``: from two days before the report is due until it is reported,
    QA (at HQ, above the store) and the store's manager hear of it each day, once."""
    item = _strip(bed)
    bed.users |= _manager(bed)
    event = bed.create("clerk", "adverse_event", _event(bed, item))  # due in 6 days
    registry, today = app.extensions["lianku.registry"], business_today()

    def remind(days: int) -> dict:
        with bed.db.transaction() as session:
            return reminders.remind(session, registry, today + dt.timedelta(days=days))

    assert remind(3)["deadlines"] == {}  # three days ahead: not yet
    result = remind(4)
    assert result["deadlines"] == {"adverse_event": {event["number"]: day(6)}}
    assert _deadline_messages(bed, event["id"]) == {
        "qa": [f"[{today + dt.timedelta(days=4)}] adverse_event {event['number']} 不良事件期限 "
               f"{day(6)}，还有 2 天"],
        "manager": [f"[{today + dt.timedelta(days=4)}] adverse_event {event['number']} 不良事件"
                    f"期限 {day(6)}，还有 2 天"],
    }  # fmt: skip
    assert remind(4)["notified"] == 0  # once a day
    inbox = bed.api("qa").client.get("/inbox").text  # the message opens the event
    assert f'<a href="/forms/adverse_event/{event["id"]}">{event["number"]}</a>' in inbox
    remind(7)
    assert "不良事件期限" in _deadline_messages(bed, event["id"])["qa"][-1]
    assert _deadline_messages(bed, event["id"])["qa"][-1].endswith("已逾期 1 天")
    assert bed.fire("clerk", "adverse_event", event["id"], "submit").status_code == 200
    assert remind(8)["deadlines"] == {"adverse_event": {event["number"]: day(6)}}  # in review
    reported = bed.api("qa").get(url("adverse_event", event["id"])).json
    response = bed.api("qa").put(url("adverse_event", event["id"]), json={
        "version": reported["version"], "assessment": "按严重伤害上报", "reported_on": day(0),
        "report_number": "310000-2026-0002"})  # fmt: skip
    assert response.status_code == 200, response.json
    assert bed.fire("qa", "adverse_event", event["id"], "report", **SIGN).status_code == 200
    assert remind(9)["deadlines"] == {}  # reported: nobody is reminded any more


def _manager(bed) -> dict[str, int]:
    from app.meta import identity
    from tests.chain import PASSWORD

    with bed.db.transaction() as session:
        user = identity.create_user(session, "manager", "店长", PASSWORD, roles=["store_manager"],
                                    location_ids=[bed.loc("SH01")])  # fmt: skip
        return {"manager": user.id}


def _deadline_messages(bed, record_id: int) -> dict[str, list[str]]:
    names = {user_id: name for name, user_id in bed.users.items()}
    with bed.db.session() as session:
        found: dict[str, list[str]] = {}
        for message in session.scalars(
            select(InboxMessage)
            .where(InboxMessage.record_id == record_id, InboxMessage.kind == "deadline")
            .order_by(InboxMessage.id)
        ):
            found.setdefault(names[message.user_id], []).append(message.message)
        return found


def test_dates_after_today_are_refused(bed):
    """An event has occurred, been learned of and been reported by today: a later date is a
    typing error (QA found 2027 dates accepted, one reported after its deadline too)."""
    item = _strip(bed)
    response = bed.api("clerk").post(url("adverse_event"), json=_event(
        bed, item, occurred_on=day(1), learned_on=day(2)))  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {
        "occurred_on": ["发生日期不能晚于今天"],
        "learned_on": ["获知日期不能晚于今天"],
    }
    event = bed.create("clerk", "adverse_event", _event(bed, item))
    assert bed.fire("clerk", "adverse_event", event["id"], "submit").status_code == 200
    qa = bed.api("qa")
    record = qa.get(url("adverse_event", event["id"])).json
    response = qa.put(url("adverse_event", event["id"]), json={
        "version": record["version"], "assessment": "按严重伤害上报", "reported_on": day(1),
        "report_number": "310000-2026-0003"})  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {"reported_on": ["上报日期不能晚于今天"]}
    assert bed.fire("qa", "adverse_event", event["id"], "report", **SIGN).status_code == 422


def test_a_lot_or_serial_not_on_record_for_the_item_is_refused(bed):
    """QA found an event saved and reported with lot NOSUCHLOT and serial ZZZ on a lot-tracked
    item: the trace a recall reads must name goods that exist."""
    item = _strip(bed)
    response = bed.api("clerk").post(url("adverse_event"), json=_event(
        bed, item, lot="NOSUCHLOT", serial="ZZZ"))  # fmt: skip
    assert response.status_code == 422
    assert set(response.json["errors"]) >= {"lot"}


def test_qa_records_an_event_that_reached_hq_first(bed):
    """A hospital calls QA about a device one of the stores sold: QA records the event (and a
    complaint) itself, at that store, rather than waiting for the store to."""
    item = _strip(bed)
    qa = bed.api("qa")
    assert qa.get("/forms/adverse_event/new").status_code == 200
    event = bed.create("qa", "adverse_event", _event(bed, item))
    assert event["data"]["location"] == bed.loc("SH01")
    assert bed.fire("qa", "adverse_event", event["id"], "submit").status_code == 200
    assert qa.get("/forms/quality_complaint/new").status_code == 200
