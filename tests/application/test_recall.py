"""The shipped recall flow through the HTTP API: QA issues a recall, the lots are blocked at once
(a reserved order can no longer be delivered), the trace names holders and customers (net of
returns, with contact and UDIs), the per-location tasks close when the stock is gone, and the
trace report exports to Excel for the regulator."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.db import clock_at
from app.kernel.items import Item, Lot, LotStatus, Unit, business_timezone
from app.kernel.locations import Location, add_location
from app.kernel.stock import Movement, Reason, post_movements
from app.kernel.stocktake import abort_stocktake, open_stocktake, stocktake_of
from app.meta import identity
from app.meta.models import Record
from app.workflow import reminders
from app.workflow.models import InboxMessage, Signature
from tests.application import sales_fixtures
from tests.application.clock import TODAY
from tests.application.sales_fixtures import (
    CR,
    PACE_GTIN,
    SO,
    approved_customer,
    day,
    hospital_order,
    review_goods,
    stock,
    strip_scan,
)
from tests.application.test_sales import fire, new_order, pace_scan, scan_goods

shop = sales_fixtures.shop  # the fixture, used by name
RC = "/api/v1/forms/recall/records"
#: QA signs the recall's issue and close (电子签名)
SIGNED = {"signature": {"password": sales_fixtures.PASSWORD, "meaning": "approved"}}


def new_recall(api, shop, **data) -> dict:
    body = {"item": shop["STRIP"], "level": "II", "deadline": str(day(14)),
            "reason": "包装密封不良", "regulator_reference": "RC-2026-12", **data}  # fmt: skip
    response = api.post(RC, json=body)
    assert response.status_code == 201, response.json
    return response.json


def sold_and_held(shop):
    """Order 1 delivers A ×3 and A2 ×2 to a clinic; 1 of A2 comes back; order 2 holds A2 ×2."""
    clinic = approved_customer(shop, "C-1", kind="retail", contact="王医生", phone="021-5555")
    clerk = shop.api("clerk")
    first = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "5",
                                     "unit_price": "10"}], clinic)  # fmt: skip
    assert fire(clerk, SO, first, "confirm").status_code == 200
    scan_goods(clerk, first["id"], [strip_scan("A", 3), strip_scan("A2", 2)])
    assert fire(clerk, SO, first, "deliver").status_code == 200
    back = clerk.post(CR, json={"location": shop["S1"], "sales_order": first["id"],
                                "reason": "客户退回", "lines": [strip_scan("A2", 1)]})  # fmt: skip
    assert fire(clerk, CR, back.json, "receive").status_code == 200
    second = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "2",
                                      "unit_price": "10"}])  # fmt: skip
    assert fire(clerk, SO, second, "confirm").status_code == 200
    number = clerk.get(f"{SO}/{first['id']}").json["number"]
    return number, second


def _return_to_supplier(db, shop) -> None:
    """S1 ships what it holds of the recalled A2 back to the supplier (2 set apart, 1 returned
    by a customer and awaiting inspection)."""
    with db.transaction() as session:
        strip, s1 = session.get(Item, shop["STRIP"]), session.get(Location, shop["S1"])
        lot = session.scalar(select(Lot).where(Lot.lot_number == "A2"))
        post_movements(session, [
            Movement(item=strip, quantity=D(2), source=s1, lot=lot, source_status="nonconforming"),
            Movement(item=strip, quantity=D(1), source=s1, lot=lot,
                     source_status="awaiting_inspection"),
        ], reason=Reason.supplier_return, document="SR-RC")  # fmt: skip


def notify_customers(api, task_id: int, on: dt.date = TODAY):
    """The store's manager records on its recall task that its customers were told."""
    url = f"/api/v1/forms/recall_task/records/{task_id}"
    current = api.get(url).json
    told = {"customers_notified": str(on), "notification": "电话通知 C-1 王医生：停止使用"}
    return api.put(url, json={**told, "version": current["version"]})


def test_qa_signs_the_issue_and_the_close(shop, db):
    """A recall blocks goods everywhere and ends QA's part: both are signed with the password
    (电子签名); unsigned or wrongly signed, nothing is blocked and the recall stays as it was."""
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A2")
    unsigned = fire(qa, RC, recall, "issue")
    assert unsigned.status_code == 422 and "signature.password" in unsigned.json["errors"]
    wrong = fire(qa, RC, recall, "issue", signature={**SIGNED["signature"], "password": "nope"})
    assert wrong.status_code == 403 and "password is wrong" in wrong.json["error"]
    with db.session() as session:
        assert session.scalar(select(Lot.status).where(Lot.lot_number == "A2")) != (
            LotStatus.recalled)  # fmt: skip
    assert qa.get(f"{RC}/{recall['id']}").json["state"] == "draft"
    assert fire(qa, RC, recall, "issue", **SIGNED).status_code == 200
    unsigned = fire(qa, RC, recall, "close")
    assert unsigned.status_code == 422 and "signature.password" in unsigned.json["errors"]
    with db.session() as session:
        signed = session.execute(
            select(Signature.full_name, Signature.meaning).where(
                Signature.record_id == recall["id"]
            )
        ).all()
    assert signed == [("Qa User", "approved")]


def test_issue_blocks_the_lot_traces_it_and_tracks_tasks_to_completion(shop, db):
    first_number, second = sold_and_held(shop)
    qa, clerk = shop.api("qa"), shop.api("clerk")
    recall = new_recall(qa, shop, lots="A2")
    response = fire(qa, RC, recall, "issue", **SIGNED)
    assert response.status_code == 200, response.json
    data = response.json["data"]
    with db.session() as session:
        assert (
            session.scalar(select(Lot.status).where(Lot.lot_number == "A2")) == LotStatus.recalled
        )
    holders = sorted((row["status"], D(row["quantity"])) for row in data["trace"]
                     if row["kind"] == "holder")  # fmt: skip
    # set apart where it is: what was on the shelf is nonconforming now, the return awaits QA
    assert holders == [("awaiting_inspection", D(1)), ("nonconforming", D(2))]
    customers = [row for row in data["trace"] if row["kind"] == "customer"]
    assert [
        (row["document"], row["customer"], row["contact"], row["phone"], D(row["quantity"]))
        for row in customers
    ] == [(first_number, "C-1", "王医生", "021-5555", D(1))]
    assert [(task["location"], D(task["remaining"]), task["done"]) for task in data["tasks"]] == [
        (shop["S1"], D(3), False)
    ]
    with db.session() as session:  # the store manager is told at once, of the store's task
        told = session.execute(
            select(InboxMessage.user_id, Record.form, Record.location_id).join(
                Record, Record.id == InboxMessage.record_id
            )
        )
        assert sorted(told) == [
            (shop["clerk"], "sales_order", shop["S1"]),  # the order that held A2 lost it
            (shop["manager"], "recall_task", shop["S1"]),
        ]
    # the tasks are the issue's doing: QA, who may not create a task by hand, got them all
    by_hand = qa.post("/api/v1/forms/recall_task/records", json={"location": shop["S1"]})
    assert by_hand.status_code == 403, by_hand.json

    # the order that held A2 before the recall can no longer deliver it: nothing leaves
    before = stock(db)
    assert before[("STRIP", "A2", "nonconforming")] == (D(2), D(0))  # the hold was released
    scan_goods(clerk, second["id"], [strip_scan("A2", 2)])
    response = fire(clerk, SO, second, "deliver")
    assert response.status_code == 409
    assert stock(db) == before

    response = fire(qa, RC, recall, "close", **SIGNED)
    assert response.status_code == 409, response.json
    assert "S1" in response.json["error"] and "3" in response.json["error"]

    _return_to_supplier(db, shop)  # the goods go back to the supplier
    # S1 sold A2 to C-1: its task is done once it records telling its customer
    notified = notify_customers(shop.api("manager"), data["tasks"][0]["task"])
    assert notified.status_code == 200, notified.json
    response = fire(qa, RC, recall, "refresh")
    assert response.status_code == 200, response.json
    assert [(D(task["remaining"]), task["done"]) for task in response.json["data"]["tasks"]] == [
        (D(0), True)
    ]
    response = fire(qa, RC, recall, "close", **SIGNED)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "closed"


def test_serial_range_recall_names_the_hospital_and_unit_udis(shop, db):
    hospital = approved_customer(shop, "H-1", kind="hospital", licence_number="沪械经营2020001",
                                 licence_expiry=str(day(300)), contact="李主任")  # fmt: skip
    clerk, manager, qa = shop.api("clerk"), shop.api("manager"), shop.api("qa")
    order = new_order(clerk, shop, [{"item": shop["PACE"], "quantity": "2",
                                     "unit_price": "30000"}], hospital)  # fmt: skip
    assert fire(clerk, SO, order, "confirm").status_code == 200
    scan_goods(clerk, order["id"], [pace_scan("SN1"), pace_scan("SN2")])
    review_goods(manager, order["id"], [pace_scan("SN1"), pace_scan("SN2")])
    assert fire(manager, SO, order, "review_deliver").status_code == 200
    recall = new_recall(qa, shop, item=shop["PACE"], serial_from="SN2", serial_to="SN3", level="I")
    response = fire(qa, RC, recall, "issue", **SIGNED)
    assert response.status_code == 200, response.json
    trace = response.json["data"]["trace"]
    expiry = f"{day(400):%y%m%d}"
    assert [(row["kind"], row.get("customer"), row.get("contact"), row["udis"]) for row in trace
            if row["kind"] in ("holder", "customer")] == [
        ("holder", None, None, f"(01){PACE_GTIN}(17){expiry}(10)P1(21)SN3"),
        ("customer", "H-1", "李主任", f"(01){PACE_GTIN}(17){expiry}(10)P1(21)SN2"),
    ]  # fmt: skip
    with db.session() as session:
        recalled = dict(session.execute(select(Unit.serial, Unit.recalled)).all())
        assert recalled == {"SN1": False, "SN2": True, "SN3": True}
        assert session.scalar(select(Lot.status).where(Lot.lot_number == "P1")) == "released"

    report = qa.get(f"/api/v1/reports/recall_trace?recall={recall['number']}")
    assert report.status_code == 200, report.json
    rows = [line["values"] for line in report.json["rows"]]
    assert [
        (row["kind"], row["customer"]) for row in rows if row["kind"] in ("holder", "customer")
    ] == [
        ("holder", None),
        ("customer", "H-1"),
    ]
    assert {row["location"] for row in rows} == {"一号店"}  # named, not its id
    export = qa.client.get(f"/reports/recall_trace/export.xlsx?recall={recall['number']}")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:2] == ("Recall", "Recall class") and len(values) == 1 + len(rows)
    assert any("李主任" in row for row in values[1:])


def test_bad_recalls_are_refused_naming_why_and_change_nothing(shop, db):
    qa = shop.api("qa")
    for data, words in [
        ({}, "Name the lots"),
        ({"lots": "A, NOPE"}, "NOPE"),
        ({"item": shop["PACE"], "serial_from": "SN3", "serial_to": "SN1"}, "SN3"),
        ({"item": shop["PACE"], "serial_from": "SN1"}, "both"),
    ]:
        recall = new_recall(qa, shop, **data)
        response = fire(qa, RC, recall, "issue", **SIGNED)
        assert response.status_code == 409, (data, response.json)
        assert words in response.json["error"]
    with db.session() as session:
        assert set(session.scalars(select(Lot.status))) == {LotStatus.released}
        assert not any(session.scalars(select(Unit.recalled)))
        states = set(session.scalars(select(Record.state).where(Record.form == "recall")))
        assert states == {"draft"}
    # a deadline gone by is refused as it is written, nothing saved
    late = qa.post(RC, json={"item": shop["STRIP"], "lots": "A", "level": "I",
                             "deadline": str(day(-1)), "reason": "x"})  # fmt: skip
    assert late.status_code == 422
    assert late.json["errors"] == {"deadline": ["The deadline cannot be before today"]}
    with db.session() as session:
        assert session.scalar(select(func.count(Record.id)).where(Record.form == "recall")) == 4
    # only QA issues recalls: a store clerk may not even create one
    response = shop.api("clerk").post(
        RC,
        json={
            "item": shop["STRIP"],
            "lots": "A",
            "level": "I",
            "deadline": str(day(3)),
            "reason": "x",
        },
    )
    assert response.status_code == 403


def _holders(data) -> list[tuple]:
    return [(row["status"], D(row["quantity"])) for row in data["trace"] if row["kind"] == "holder"]


def test_a_count_in_progress_does_not_hold_up_the_recall(shop, db):
    """Issuing blocks the lot at once; the counted store's goods are set apart after the count."""
    with db.transaction() as session:
        open_stocktake(session, "ST-1", session.get(Location, shop["S1"]))
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A2", level="I")
    response = fire(qa, RC, recall, "issue", **SIGNED)
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert _holders(data) == [("available", D(4))]  # left as counted, but blocked
    assert [(task["location"], task["counting"]) for task in data["tasks"]] == [(shop["S1"], True)]
    with db.session() as session:
        assert session.scalar(select(Lot.status).where(Lot.lot_number == "A2")) == "recalled"
    with db.transaction() as session:
        abort_stocktake(session, stocktake_of(session, "ST-1"), reason="recall")
    response = fire(qa, RC, recall, "refresh")
    assert response.status_code == 200, response.json
    assert _holders(response.json["data"]) == [("nonconforming", D(4))]
    assert [task["counting"] for task in response.json["data"]["tasks"]] == [False]


def test_a_serial_recall_sets_the_units_apart_and_the_order_holding_them_shows_the_gap(shop, db):
    clerk, qa = shop.api("clerk"), shop.api("qa")
    order = new_order(clerk, shop, [{"item": shop["PACE"], "quantity": "3",
                                     "unit_price": "30000"}])  # fmt: skip
    assert fire(clerk, SO, order, "confirm").status_code == 200
    recall = new_recall(qa, shop, item=shop["PACE"], serial_from="SN2", serial_to="SN2")
    response = fire(qa, RC, recall, "issue", **SIGNED)
    assert response.status_code == 200, response.json
    assert _holders(response.json["data"]) == [("nonconforming", D(1))]
    assert stock(db)[("PACE", "P1", "available")] == (D(2), D(2))
    line = clerk.get(f"{SO}/{order['id']}").json["data"]["lines"][0]
    assert line["unallocated"] == "1"
    other = new_order(clerk, shop, [{"item": shop["PACE"], "quantity": "1",
                                     "unit_price": "30000"}])  # fmt: skip
    assert fire(clerk, SO, other, "confirm").status_code == 409  # the recalled unit is not free


def test_a_lot_is_recalled_once(shop, db):
    """Naming a lot twice recalls it once; a second recall of it is refused, naming the lot."""
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A2, A2")
    response = fire(qa, RC, recall, "issue", **SIGNED)
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["lots"] == "A2"
    assert [D(task["quantity"]) for task in data["tasks"]] == [D(4)]
    assert _holders(data) == [("nonconforming", D(4))]
    again = new_recall(qa, shop, lots="B, A2", level="I")
    response = fire(qa, RC, again, "issue", **SIGNED)
    assert response.status_code == 409
    assert "A2" in response.json["error"] and "already recalled" in response.json["error"]
    with db.session() as session:
        assert session.scalar(select(Lot.status).where(Lot.lot_number == "B")) == "released"


def test_an_order_that_loses_its_hold_to_a_recall_can_be_reallocated(shop, db):
    clerk, qa = shop.api("clerk"), shop.api("qa")
    order = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "2",
                                     "unit_price": "10"}])  # fmt: skip
    assert fire(clerk, SO, order, "confirm").status_code == 200
    assert fire(qa, RC, new_recall(qa, shop, lots="A"), "issue", **SIGNED).status_code == 200
    record = clerk.get(f"{SO}/{order['id']}").json
    assert record["state"] == "confirmed"
    assert record["data"]["lines"][0]["unallocated"] == "2"
    assert any("A" in (row.get("note") or "") for row in record["data"]["fulfilments"])
    with db.session() as session:  # the clerk who took the order is told
        messages = session.scalars(
            select(InboxMessage.message).where(InboxMessage.record_id == order["id"])
        ).all()
        assert len(messages) == 1 and "2" in messages[0]
    response = fire(clerk, SO, order, "reallocate")
    assert response.status_code == 200, response.json
    assert response.json["data"]["lines"][0]["unallocated"] is None
    assert stock(db)[("STRIP", "A2", "available")] == (D(4), D(2))


def test_trace_dates_are_the_shops_calendar_days(shop, db):
    """A sale at 01:30 in Shanghai is 17:30 UTC the day before: the trace gives the shop's day."""
    clerk, qa = shop.api("clerk"), shop.api("qa")
    yesterday = TODAY - dt.timedelta(days=1)
    with clock_at(dt.datetime.combine(yesterday, dt.time(1, 30), business_timezone())):
        order = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "1",
                                         "unit_price": "10"}])  # fmt: skip
        assert fire(clerk, SO, order, "confirm").status_code == 200
        scan_goods(clerk, order["id"], [strip_scan("A", 1)])
        assert fire(clerk, SO, order, "deliver").status_code == 200
    recall = new_recall(qa, shop, lots="A")
    response = fire(qa, RC, recall, "issue", **SIGNED)
    assert response.status_code == 200, response.json
    assert [row["date"] for row in response.json["data"]["trace"] if row["kind"] == "customer"] == [
        yesterday.isoformat()
    ]


def test_the_trace_report_leaves_out_cancelled_recalls_and_the_page_shows_status_labels(shop, db):
    qa = shop.api("qa")
    issued = new_recall(qa, shop, lots="A2")
    assert fire(qa, RC, issued, "issue", **SIGNED).status_code == 200
    page = qa.client.get(f"/forms/recall/{issued['id']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Nonconforming" in text and ">nonconforming<" not in text
    cancelled = new_recall(qa, shop, lots="B")
    with db.transaction() as session:  # however a trace got onto it, a cancelled recall has none
        record = session.get(Record, cancelled["id"])
        record.data = {**record.data, "trace": [{"kind": "customer", "lot": "B", "quantity": "5",
                                                 "customer": "伪造医院"}]}  # fmt: skip
    assert fire(qa, RC, cancelled, "cancel", comment="录入错误").status_code == 200
    for recall, rows in ((cancelled, 0), (issued, 3)):  # held at issue, held now, opening
        report = qa.get(f"/api/v1/reports/recall_trace?recall={recall['number']}")
        assert report.status_code == 200, report.json
        assert len(report.json["rows"]) == rows, report.json["rows"]


def test_a_customer_return_of_a_recalled_lot_is_kept_apart_even_when_accepted(shop, db):
    sold_and_held(shop)  # one A2 came back and awaits inspection
    qa, manager = shop.api("qa"), shop.api("manager")
    assert fire(qa, RC, new_recall(qa, shop, lots="A2"), "issue", **SIGNED).status_code == 200
    with db.session() as session:
        back = session.scalar(select(Record).where(Record.form == "customer_return"))
        back = {"id": back.id}
    signed = {"password": sales_fixtures.PASSWORD, "meaning": "verified"}
    response = fire(manager, CR, back, "inspect", signature=signed)
    assert response.status_code == 200, response.json
    after = stock(db)
    assert after[("STRIP", "A2", "nonconforming")] == (D(3), D(0))
    assert ("STRIP", "A2", "available") not in after


def test_a_store_reads_its_own_recall_task_never_another_stores_customers(shop, db):
    """Every location the trace names gets its task; the recall and its whole trace are HQ's."""
    first_number, _second = sold_and_held(shop)  # S1 sold A2 to clinic C-1
    with db.transaction() as session:
        s2 = add_location(
            session, "S2", "二号店", "store", session.get(Location, shop["S1"]).parent
        )
        identity.create_user(
            session, "s2_manager", "S2 Manager", sales_fixtures.PASSWORD,
            roles=["store_manager"], location_ids=[s2.id], locale="en",
        )  # fmt: skip
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A2")
    data = fire(qa, RC, recall, "issue", **SIGNED).json["data"]
    task_id = data["tasks"][0]["task"]
    s1_manager, s2_manager = shop.api("manager"), shop.api("s2_manager")
    assert s1_manager.get(f"{RC}/{recall['id']}").status_code in (403, 404)
    task = s1_manager.get(f"/api/v1/forms/recall_task/records/{task_id}")
    assert task.status_code == 200, task.json
    assert task.json["data"]["recall"] == recall["number"]
    assert [row.get("customer") for row in task.json["data"]["trace"]
            if row["kind"] == "customer"] == ["C-1"]  # fmt: skip
    assert s2_manager.get(f"/api/v1/forms/recall_task/records/{task_id}").status_code == 404
    assert s2_manager.get(f"{RC}/{recall['id']}").status_code in (403, 404)

    def customers(api) -> list:
        report = api.get(f"/api/v1/reports/recall_trace?recall={recall['number']}")
        assert report.status_code == 200, report.json
        return [line["values"]["customer"] for line in report.json["rows"]
                if line["values"]["kind"] == "customer"]  # fmt: skip

    assert customers(qa) == customers(s1_manager) == ["C-1"]
    assert customers(s2_manager) == []


def test_a_recall_task_is_reminded_as_its_deadline_nears_until_it_is_done(app, shop, db):
    """The recall task's ``deadline``: from three days before until the task is done, the
    location's manager hears of it every day, once."""
    sold_and_held(shop)
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A2", deadline=str(day(5)))
    assert fire(qa, RC, recall, "issue", **SIGNED).status_code == 200
    registry = app.extensions["lianku.registry"]

    def remind(offset: int) -> dict:
        with db.transaction() as session:
            return reminders.remind(session, registry, day(offset))

    assert remind(1)["deadlines"] == {}
    [(number, due)] = remind(2)["deadlines"]["recall_task"].items()
    assert due == str(day(5))
    with db.session() as session:
        told = session.execute(
            select(InboxMessage.user_id, InboxMessage.message).where(
                InboxMessage.kind == "deadline"
            )
        ).all()
    assert told == [
        (
            shop["manager"],
            f"[{day(2)}] recall_task {number} 召回任务期限 {day(5)}，还有 3 天",
        )
    ]
    _return_to_supplier(db, shop)  # the task is done once S1 also told its customer
    task = fire(qa, RC, recall, "refresh").json["data"]["tasks"][0]
    assert notify_customers(shop.api("manager"), task["task"]).status_code == 200
    assert fire(qa, RC, recall, "refresh").status_code == 200
    assert remind(6)["deadlines"] == {}  # done: past its deadline, nobody is reminded


def test_a_recall_reaches_an_order_already_picked_for_its_review(shop, db):
    """A hospital's order picked and waiting for its outbound review still waits: the recall
    taking back its hold of the lot shows on it as a shortfall, the clerk is told, and
    re-allocating it sends it back to picking."""
    qa, clerk = shop.api("qa"), shop.api("clerk")
    order = hospital_order(shop)
    assert fire(clerk, SO, order, "finish_picking").json["state"] == "picked"

    recall = new_recall(qa, shop, lots="A2")
    assert fire(qa, RC, recall, "issue", **SIGNED).status_code == 200
    picked = clerk.get(f"{SO}/{order['id']}").json
    assert picked["state"] == "picked"
    assert picked["data"]["lines"][0]["unallocated"] == "2"
    with db.session() as session:
        told = session.scalars(
            select(InboxMessage.message).where(
                InboxMessage.user_id == shop["clerk"], InboxMessage.record_id == order["id"]
            )
        ).all()
    assert any("A2" in message for message in told), told
    response = fire(clerk, SO, order, "reallocate")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "confirmed"


def test_a_recall_issued_in_error_is_withdrawn_with_a_signed_reason(shop, db):
    """撤销召回: QA withdraws a recall of the wrong lot — a reason and a signature asked first;
    then the lot sells again, what was set apart is back on the shelf, the task says so and the
    store's manager is told to stop. The recall keeps its trace; it is over (no refresh)."""
    sold_and_held(shop)
    qa, clerk = shop.api("qa"), shop.api("clerk")
    recall = new_recall(qa, shop, lots="A2")
    issued = fire(qa, RC, recall, "issue", **SIGNED)
    assert issued.status_code == 200, issued.json
    before = stock(db)
    assert before[("STRIP", "A2", "nonconforming")] == (D(2), D(0))
    for body, field in (({**SIGNED}, "comment"), ({"comment": "批号录错"}, "signature.password")):
        refused = fire(qa, RC, recall, "withdraw", **body)
        assert refused.status_code == 422 and field in refused.json["errors"], refused.json
    assert stock(db) == before
    assert fire(clerk, RC, recall, "withdraw", comment="x", **SIGNED).status_code in (403, 404)

    withdrawn = fire(qa, RC, recall, "withdraw", comment="批号录错，应为 A", **SIGNED)
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["state"] == "withdrawn"
    assert [task["withdrawn"] for task in withdrawn.json["data"]["tasks"]] == [True]
    assert withdrawn.json["data"]["trace"] == issued.json["data"]["trace"]
    after = stock(db)
    assert after[("STRIP", "A2", "available")] == (D(2), D(0))
    assert ("STRIP", "A2", "nonconforming") not in after
    with db.session() as session:
        assert session.scalar(select(Lot.status).where(Lot.lot_number == "A2")) == (
            LotStatus.released)  # fmt: skip
        [task] = session.scalars(select(Record).where(Record.form == "recall_task")).all()
        assert task.data["withdrawn"] is True
        told = session.scalars(
            select(InboxMessage.message).where(InboxMessage.user_id == shop["manager"])
        ).all()
    assert any("已撤销" in message for message in told)
    order = new_order(clerk, shop, [{"item": shop["STRIP"], "quantity": "12", "unit_price": "9"}])
    assert fire(clerk, SO, order, "confirm").status_code == 200  # A2 2 + B 10: A2 counts again
    assert fire(qa, RC, recall, "refresh").status_code == 409  # over: nothing to follow up
