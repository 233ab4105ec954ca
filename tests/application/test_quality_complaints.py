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


def test_bad_complaints_are_refused_on_their_fields(bed):
    item = bed.item("STRIP", "0690123456011")["data"]["item"]
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
    item = bed.item("STRIP", "0690123456011")["data"]["item"]
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
        "replied_on": ["请填写答复客户的日期"],
    }
    qa = bed.api("qa")
    record = qa.get(url("quality_complaint", complaint["id"])).json
    response = qa.put(url("quality_complaint", complaint["id"]), json={
        "version": record["version"], "investigation": "留样复测合格，系顾客未校准血糖仪",
        "conclusion": "not_justified", "measures": "指导校准，赠送质控液", "replied_on": day(2),
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
            for row in rows] == [(number, "not_justified", day(2))]  # fmt: skip


def test_a_complaint_where_someone_was_harmed_starts_an_adverse_event(bed):
    item = bed.item("STRIP", "0690123456011")["data"]["item"]
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
    item = bed.item("STRIP", "0690123456011")["data"]["item"]
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
