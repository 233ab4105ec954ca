"""Quality complaints (质量投诉), through the API: a store records one with the device and the
promised reply, QA is told, investigates and closes it — its conclusion, the measures and the
date of the answer required, signed; a complaint where someone was harmed starts a suspected
adverse event; the reply date is reminded; the register lists them. Each refusal names its
field."""

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


def _complaint(bed, item, **changes) -> dict:
    return {
        "location": bed.loc("SH01"), "item": item, "lot": "QC1", "category": "quality",
        "complainant": "张女士 138 0000 0000", "description": "试纸读数比医院化验偏低约 20%",
        **changes,
    }  # fmt: skip


def _told(bed, record_id: int) -> list[tuple[int, str]]:
    with bed.db.session() as session:
        rows = session.execute(
            select(InboxMessage.user_id, InboxMessage.message)
            .where(InboxMessage.record_id == record_id)
            .order_by(InboxMessage.id)
        )
        return [tuple(row) for row in rows]


def _strip(bed) -> int:
    """The lot-tracked test strip, its lot QC1 on record (received once)."""
    item = bed.item("STRIP", "0690123456011")["data"]["item"]
    bed.lot(item, "QC1")
    return item


def test_bad_complaints_are_refused_on_their_fields(bed):
    item = _strip(bed)
    clerk = bed.api("clerk")
    response = clerk.post(url("quality_complaint"), json=_complaint(
        bed, item, complainant=None, reply_due=day(-1)))  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {
        "complainant": ["此字段必填。"],
        "reply_due": ["答复期限不能早于受理日期"],
    }
    assert clerk.get(url("quality_complaint")).json["items"] == []


def test_qa_investigates_and_closes_a_complaint_signed(bed):
    item = _strip(bed)
    complaint = bed.create("clerk", "quality_complaint", _complaint(bed, item))
    assert complaint["data"]["reply_due"] == day(7)  # a week unless set
    assert bed.fire("clerk", "quality_complaint", complaint["id"], "submit").status_code == 200
    number = complaint["number"]
    assert _told(bed, complaint["id"]) == [(bed.users["qa"], f"{number}: 质量投诉待调查")]
    assert (
        bed.fire("clerk", "quality_complaint", complaint["id"], "close", **SIGN).status_code == 403
    )
    response = bed.fire("qa", "quality_complaint", complaint["id"], "close", **SIGN)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "investigation": ["请填写调查情况"],
        "conclusion": ["请选择调查结论"],
        "measures": ["请填写处理措施"],
        "replied_on": ["请填写答复客户的日期"],
    }
    qa = bed.api("qa")
    record = qa.get(url("quality_complaint", complaint["id"])).json
    response = qa.put(url("quality_complaint", complaint["id"]), json={
        "version": record["version"], "investigation": "留样复测合格，系顾客未校准血糖仪",
        "conclusion": "not_justified", "measures": "指导校准，赠送质控液", "replied_on": day(0),
    })  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "quality_complaint", complaint["id"], "close", **SIGN)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "closed"
    assert _told(bed, complaint["id"])[-1] == (
        bed.users["clerk"],
        f"{number}: 质量投诉已结案",
    )
    rows = qa.get("/api/v1/reports/quality_complaints").json["rows"]
    assert [(row["values"]["number"], row["values"]["conclusion"], row["values"]["replied_on"])
            for row in rows] == [(number, "not_justified", day(0))]  # fmt: skip


def test_a_complaint_where_someone_was_harmed_starts_an_adverse_event(bed):
    item = _strip(bed)
    plain = bed.create("clerk", "quality_complaint", _complaint(bed, item))
    harmed = bed.create("clerk", "quality_complaint", _complaint(bed, item, harm=True))
    for complaint in (plain, harmed):
        assert bed.fire("clerk", "quality_complaint", complaint["id"], "submit").status_code == 200
    clerk = bed.api("clerk")  # the store records the adverse event, QA assesses it
    made = clerk.get(f"{url('quality_complaint', plain['id'])}/make/adverse_event")
    assert made.status_code == 409  # nobody was harmed
    made = clerk.get(f"{url('quality_complaint', harmed['id'])}/make/adverse_event")
    assert made.status_code == 200, made.json
    draft = made.json["data"]
    assert (draft["item"], draft["lot"], draft["learned_on"], draft["description"]) == (
        item,
        "QC1",
        day(0),
        "试纸读数比医院化验偏低约 20%",
    )
    response = clerk.post(url("adverse_event"), json={**draft, "severity": "other"})
    assert response.status_code == 201, response.json


def test_the_promised_reply_is_reminded_until_the_complaint_is_closed(app, bed):
    item = _strip(bed)
    complaint = bed.create("clerk", "quality_complaint", _complaint(bed, item, reply_due=day(3)))
    registry, today = app.extensions["lianku.registry"], business_today()

    def deadlines(days: int) -> dict:
        with bed.db.transaction() as session:
            return reminders.remind(session, registry, today + dt.timedelta(days=days))["deadlines"]

    assert deadlines(1) == {}
    assert deadlines(2) == {"quality_complaint": {complaint["number"]: day(3)}}
    assert [user for user, _text in _told(bed, complaint["id"])] == [bed.users["qa"]]
    assert bed.fire("qa", "quality_complaint", complaint["id"], "cancel",
                    comment="顾客撤回投诉").status_code == 200  # fmt: skip
    assert deadlines(4) == {}


def _investigated(bed, complaint: dict, **changes):
    """QA writes its part of ``complaint`` (submitted): the response to the save."""
    qa = bed.api("qa")
    record = qa.get(url("quality_complaint", complaint["id"])).json
    return qa.put(url("quality_complaint", complaint["id"]), json={
        "version": record["version"], "investigation": "留样复测合格，系顾客未校准血糖仪",
        "conclusion": "not_justified", "measures": "指导校准，赠送质控液", "replied_on": day(0),
        **changes,
    })  # fmt: skip


def test_closing_needs_the_measures_and_a_reply_given_by_today(bed):
    """QA found a complaint closed without measures and answered on a day still to come."""
    item = _strip(bed)
    complaint = bed.create("clerk", "quality_complaint", _complaint(bed, item))
    assert bed.fire("clerk", "quality_complaint", complaint["id"], "submit").status_code == 200
    response = _investigated(bed, complaint, replied_on=day(1))
    assert response.status_code == 422
    assert response.json["errors"] == {"replied_on": ["答复日期不能晚于今天"]}
    response = _investigated(bed, complaint, measures=None)
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "quality_complaint", complaint["id"], "close", **SIGN)
    assert response.status_code == 422
    assert response.json["errors"] == {"measures": ["请填写处理措施"]}
    assert _investigated(bed, complaint).status_code == 200
    response = bed.fire("qa", "quality_complaint", complaint["id"], "close", **SIGN)
    assert response.status_code == 200, response.json


def test_a_complaint_where_someone_was_harmed_closes_with_its_adverse_event_linked(bed):
    """QA found a complaint marked 造成人身伤害 closed with no adverse event anywhere: it closes
    only once the event made from it (submitted to QA, so it cannot be cancelled) is linked."""
    item = _strip(bed)
    other = bed.item("LANCET", "0690123456028")["data"]["item"]
    bed.lot(other, "QC1")
    complaint = bed.create("clerk", "quality_complaint", _complaint(bed, item, harm=True))
    assert bed.fire("clerk", "quality_complaint", complaint["id"], "submit").status_code == 200
    assert _investigated(bed, complaint).status_code == 200
    response = bed.fire("qa", "quality_complaint", complaint["id"], "close", **SIGN)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "adverse_event": ["造成人身伤害的投诉，请报告不良事件、提交质量部门并在此关联"]
    }
    clerk = bed.api("clerk")
    draft = clerk.get(f"{url('quality_complaint', complaint['id'])}/make/adverse_event").json
    event = bed.create("clerk", "adverse_event", {**draft["data"], "severity": "other"})
    unrelated = bed.create("clerk", "adverse_event", {
        **draft["data"], "item": other, "severity": "other"})  # fmt: skip
    response = _investigated(bed, complaint, adverse_event=event["id"])  # a draft: not yet
    assert response.status_code == 422
    assert response.json["errors"] == {"adverse_event": [f"此处不能选择 {event['number']}。"]}
    for made in (event, unrelated):
        assert bed.fire("clerk", "adverse_event", made["id"], "submit").status_code == 200
    response = _investigated(bed, complaint, adverse_event=unrelated["id"])  # another device's
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["adverse_event"]
    response = _investigated(bed, complaint, adverse_event=event["id"])
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "quality_complaint", complaint["id"], "close", **SIGN)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "closed"
    page = bed.api("qa").client.get(f"/forms/quality_complaint/{complaint['id']}")
    assert page.status_code == 200
    assert event["number"] in page.text
    # and the adverse event lists the complaint it came from, for whoever reads the event alone
    page = bed.api("qa").client.get(f"/forms/adverse_event/{event['id']}").text
    linked = page[page.index('id="linked"') : page.index("</ul>", page.index('id="linked"'))]
    assert complaint["number"] in linked and "质量投诉" in linked
    assert f"/forms/quality_complaint/{complaint['id']}" in linked
    page = bed.api("qa").client.get(f"/forms/adverse_event/{unrelated['id']}").text
    assert 'id="linked"' not in page


def test_a_complaint_where_nobody_was_harmed_needs_no_adverse_event(bed):
    item = _strip(bed)
    complaint = bed.create("clerk", "quality_complaint", _complaint(bed, item))
    assert bed.fire("clerk", "quality_complaint", complaint["id"], "submit").status_code == 200
    assert _investigated(bed, complaint).status_code == 200
    response = bed.fire("qa", "quality_complaint", complaint["id"], "close", **SIGN)
    assert response.status_code == 200, response.json


def test_a_lot_or_serial_not_on_record_for_the_item_is_refused(bed):
    """QA found a complaint saved and closed with lot NOSUCHLOT and serial ZZZ on a lot-tracked
    item."""
    item = _strip(bed)
    response = bed.api("clerk").post(url("quality_complaint"), json=_complaint(
        bed, item, lot="NOSUCHLOT", serial="ZZZ"))  # fmt: skip
    assert response.status_code == 422
    assert set(response.json["errors"]) >= {"lot"}
