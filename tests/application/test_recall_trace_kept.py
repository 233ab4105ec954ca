"""What a regulator reads of a recall once it is worked off, through the HTTP API.

A lot comes in on a purchase receipt from a supplier, goes to two stores (one still on the road
when the recall is issued), is sold to a hospital and loses one unit at a count. The recall's
trace keeps where the goods were when it was issued, names the receipt's supplier, and shows
where every unit went — the store's recall return, the scrap, the return to the supplier, the
count — so that received = held + sold + returned + scrapped + adjusted, on the recall and in
its export. A store that sold the goods is not done until it records telling its customers;
goods in transit are the task of the store they travel to, never of the transit location.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal as D

from openpyxl import load_workbook
from sqlalchemy import select

from app.kernel.items import (
    Item,
    Lot,
    Unit,
    get_or_create_lot,
    get_or_create_unit,
    gtin_check_digit,
)
from app.kernel.locations import Location
from app.kernel.stock import Movement, Reason, post_movements
from app.kernel.transfers import ReceiveLine, ShipLine, receive, ship
from app.meta.models import Record
from app.workflow.models import InboxMessage
from tests.application import transfers_fixtures as fixtures
from tests.application.clock import TODAY
from tests.application.transfers_fixtures import SIGN, records_of

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

RC = "/api/v1/forms/recall/records"
SIGNED = {"signature": SIGN}  # QA signs the recall's issue and close
RT = "/api/v1/forms/recall_task/records"
TO = "/api/v1/forms/transfer_out/records"
TI = "/api/v1/forms/transfer_in/records"
RECEIPT = "PR-WH1-202609-00001"


def fire(client, url: str, record_id: int, transition: str, **body):
    return client.post(f"{url}/{record_id}/transitions/{transition}", json=body)


def _card(session, form: str, number: str | None = None, at=None, **data) -> Record:
    """A record of ``form`` (numbered ``number``, at location ``at``) with ``data``."""
    record = Record(form=form, state="done", number=number, location_id=at, data=data)
    session.add(record)
    session.flush()
    return record


def _post(session, document: str, reason: Reason, item, lot, quantity, **sides) -> None:
    movement = Movement(item=item, quantity=D(quantity), lot=lot, **sides)
    post_movements(session, [movement], reason=reason, document=document)


def history(db, chain, *, store_keeps: bool = True) -> dict:
    """Lot LR of STRIP: 20 received at WH1 from 华东医疗; 8 (or, without ``store_keeps``, 3) to
    S1, which sells 3 to 仁济医院 and (keeping some) loses 1 at a count; 3 on the road to S2."""
    with db.transaction() as session:
        place = {code: session.get(Location, chain[code]) for code in ("WH1", "S1", "S2")}
        strip = session.get(Item, chain["strip"])
        lot = get_or_create_lot(session, strip, "LR", dt.date(2031, 6, 30))
        supplier = _card(session, "supplier", code="SUP-1", name="华东医疗", contact="王经理",
                         phone="021-5555 0001")  # fmt: skip
        hospital = _card(session, "customer", code="H-1", name="仁济医院", contact="李主任",
                         phone="021-6666 0001")  # fmt: skip
        _card(session, "purchase_receipt", RECEIPT, place["WH1"].id, supplier=supplier.id,
              location=place["WH1"].id)  # fmt: skip
        _card(session, "sales_order", "SO-S1-1", place["S1"].id, customer=hospital.id,
              location=place["S1"].id)  # fmt: skip
        _post(session, RECEIPT, Reason.purchase_receipt, strip, lot, 20, destination=place["WH1"])
        to_s1 = 8 if store_keeps else 3
        ship(session, "TO-WH1-1", place["WH1"], place["S1"], [ShipLine(strip, D(to_s1), lot)])
        receive(session, "TO-WH1-1", [ReceiveLine(1, received=D(to_s1))])
        ship(session, "TO-WH1-2", place["WH1"], place["S2"], [ShipLine(strip, D(3), lot)])
        _post(session, "SO-S1-1", Reason.sale, strip, lot, 3, source=place["S1"])
        if store_keeps:
            _post(session, "ST-S1-1", Reason.count_shortage, strip, lot, 1, source=place["S1"])
        return {"supplier": supplier.id}


def issue(qa, chain) -> tuple[dict, dict]:
    recall = qa.post(RC, json={"item": chain["strip"], "lots": "LR", "level": "I",
                               "deadline": str(TODAY + dt.timedelta(days=14)),
                               "reason": "灭菌不合格"})  # fmt: skip
    assert recall.status_code == 201, recall.json
    issued = fire(qa, RC, recall.json["id"], "issue", **SIGNED)
    assert issued.status_code == 200, issued.json
    return recall.json, issued.json


def tasks(record: dict) -> dict:
    return {task["location"]: (D(task["remaining"]), task["done"])
            for task in record["data"]["tasks"]}  # fmt: skip


def notify(client, task_id: int, **data):
    current = client.get(f"{RT}/{task_id}").json
    return client.put(f"{RT}/{task_id}", json={"version": current.get("version", 1), **data})


def figures(rows: list[dict]) -> dict:
    """Quantity by kind, location (as the row names it) and status."""
    found: dict[tuple, D] = defaultdict(D)
    for row in rows:
        found[(row["kind"], row.get("location"), row.get("status"))] += D(row["quantity"])
    return dict(found)


def test_the_closed_recall_still_shows_where_the_goods_were_and_where_each_unit_went(
    db, as_user, chain
):
    supplier = history(db, chain)["supplier"]
    qa, clerk1, whclerk = as_user("qa"), as_user("clerk1"), as_user("whclerk")
    recall, issued = issue(qa, chain)
    at_issue = {
        ("held_at_issue", "WH1 上海仓", "nonconforming"): D(9),
        ("held_at_issue", "S1 一号店", "nonconforming"): D(4),
        ("held_at_issue", "TR-WH1-S2 上海仓 → 二号店", "in_transit"): D(3),
    }
    assert {key: value for key, value in figures(issued["data"]["trace"]).items()
            if key[0] == "held_at_issue"} == at_issue  # fmt: skip
    [origin] = [row for row in issued["data"]["trace"] if row["kind"] == "origin"]
    assert (origin["document"], origin["supplier"], origin["contact"], origin["phone"]) == (
        RECEIPT, "华东医疗", "王经理", "021-5555 0001"
    )  # fmt: skip

    # S1 sends its 4 back to the warehouse; S2 scraps the 3 that reach it; WH1 returns 13
    back = clerk1.post(
        TO,
        json={
            "from_location": chain["S1"],
            "to_location": chain["WH1"],
            "recall": recall["id"],
            "lines": [{"item": chain["strip"], "lot": "LR", "quantity": "4"}],
        },
    )
    assert back.status_code == 201, back.json
    assert fire(clerk1, TO, back.json["id"], "ship").status_code == 200
    [incoming] = records_of(db, "transfer_in")
    assert fire(whclerk, TI, incoming.id, "receive").status_code == 200
    with db.transaction() as session:
        strip = session.get(Item, chain["strip"])
        lot = session.scalar(select(Lot).where(Lot.lot_number == "LR"))
        s2, wh1 = session.get(Location, chain["S2"]), session.get(Location, chain["WH1"])
        receive(session, "TO-WH1-2", [ReceiveLine(1, received=D(3))])  # arrives apart
        _post(session, "SC-S2-1", Reason.scrap, strip, lot, 3, source=s2,
              source_status="nonconforming")  # fmt: skip
        _card(session, "supplier_return", "SR-WH1-1", wh1.id, supplier=supplier)
        _post(session, "SR-WH1-1", Reason.supplier_return, strip, lot, 13, source=wh1,
              source_status="nonconforming")  # fmt: skip

    refreshed = fire(qa, RC, recall["id"], "refresh").json
    s1_task = next(task for task in refreshed["data"]["tasks"] if task["location"] == chain["S1"])
    assert notify(as_user("manager1"), s1_task["task"], customers_notified=str(TODAY),
                  notification="电话通知仁济医院李主任").status_code == 200  # fmt: skip
    closed = fire(qa, RC, recall["id"], "close", **SIGNED)
    assert closed.status_code == 200, closed.json
    assert closed.json["state"] == "closed"

    trace = closed.json["data"]["trace"]
    found = figures(trace)
    assert {key: value for key, value in found.items() if key[0] == "held_at_issue"} == at_issue
    assert not [key for key in found if key[0] == "holder"]  # nothing is held any more
    assert {key: value for key, value in found.items() if key[0] != "held_at_issue"} == {
        ("customer", "S1 一号店", None): D(3),
        ("origin", "WH1 上海仓", None): D(20),
        ("adjusted", "S1 一号店", None): D(1),
        ("recall_return", "S1 一号店", None): D(4),
        ("scrapped", "S2 二号店", None): D(3),
        ("returned", "WH1 上海仓", None): D(13),
    }
    [returned] = [row for row in trace if row["kind"] == "returned"]
    assert (returned["document"], returned["supplier"]) == ("SR-WH1-1", "华东医疗")
    [sent] = [row for row in trace if row["kind"] == "recall_return"]
    assert sent["destination"] == "WH1 上海仓"

    # the export the regulator gets says the same, and it adds up
    report = qa.get(f"/api/v1/reports/recall_trace?recall={recall['number']}")
    assert report.status_code == 200, report.json
    rows = [line["values"] for line in report.json["rows"]]
    total: dict[str, D] = defaultdict(D)
    for row in rows:
        total[row["kind"]] += D(row["quantity"])
    assert total["held_at_issue"] == D(16)
    assert total["origin"] == D(20) == (
        total["holder"] + total["customer"] + total["returned"] + total["scrapped"]
        + total["adjusted"]
    )  # fmt: skip
    export = qa.client.get(f"/reports/recall_trace/export.xlsx?recall={recall['number']}")
    sheet = list(load_workbook(io.BytesIO(export.data)).active.iter_rows(values_only=True))
    assert len(sheet) == 1 + len(rows)
    assert "Supplier" in sheet[0] and any("华东医疗" in row for row in sheet[1:])


def test_a_store_that_sold_the_goods_is_done_only_once_it_records_telling_its_customers(
    db, as_user, chain
):
    history(db, chain, store_keeps=False)  # S1 sold all 3 it had
    qa, manager1 = as_user("qa"), as_user("manager1")
    recall, issued = issue(qa, chain)
    # no task at the transit location: the 3 on the road are S2's to deal with when they arrive
    assert tasks(issued) == {
        chain["WH1"]: (D(14), False),
        chain["S1"]: (D(0), False),
        chain["S2"]: (D(3), False),
    }
    with db.session() as session:
        told = set(session.execute(
            select(InboxMessage.user_id, Record.location_id)
            .join(Record, Record.id == InboxMessage.record_id)
            .where(Record.form == "recall_task")
        ))  # fmt: skip
    assert told == {(chain["manager1"], chain["S1"]), (chain["manager2"], chain["S2"]),
                    (chain["whsuper"], chain["WH1"])}  # fmt: skip
    s1 = next(task for task in issued["data"]["tasks"] if task["location"] == chain["S1"])
    task = manager1.get(f"{RT}/{s1['task']}").json
    assert task["data"]["customers"] is True and task["data"]["done"] is False

    # the rest goes back to the supplier; S1 has nothing left, but has not told its customer
    with db.transaction() as session:
        strip = session.get(Item, chain["strip"])
        lot = session.scalar(select(Lot).where(Lot.lot_number == "LR"))
        receive(session, "TO-WH1-2", [ReceiveLine(1, received=D(3))])
        for code, quantity in (("WH1", 14), ("S2", 3)):
            _post(
                session,
                f"SR-{code}",
                Reason.supplier_return,
                strip,
                lot,
                quantity,
                source=session.get(Location, chain[code]),
                source_status="nonconforming",
            )
    assert tasks(fire(qa, RC, recall["id"], "refresh").json)[chain["S1"]] == (D(0), False)
    refused = fire(qa, RC, recall["id"], "close", **SIGNED)
    assert refused.status_code == 409
    assert "S1" in refused.json["error"] and "Customers notified on" in refused.json["error"]
    assert task["number"] in refused.json["error"]

    # only S1's manager records it, with a date gone by and how the customers were told
    assert notify(as_user("clerk1"), s1["task"], customers_notified=str(TODAY)).status_code == 403
    assert notify(as_user("manager2"), s1["task"], customers_notified=str(TODAY)).status_code == 404
    late = notify(manager1, s1["task"], customers_notified=str(TODAY + dt.timedelta(days=1)),
                  notification="电话")  # fmt: skip
    assert late.status_code == 422 and "customers_notified" in late.json["errors"]
    bare = notify(manager1, s1["task"], customers_notified=str(TODAY))
    assert bare.status_code == 422 and "notification" in bare.json["errors"]
    forged = notify(manager1, s1["task"], done=True)  # what the recall writes stays its own
    assert forged.status_code == 422 and "done" in forged.json["errors"]
    told = notify(manager1, s1["task"], customers_notified=str(TODAY),
                  notification="电话通知仁济医院李主任，已停用")  # fmt: skip
    assert told.status_code == 200, told.json
    assert told.json["data"]["done"] is False  # until the recall is updated
    refreshed = fire(qa, RC, recall["id"], "refresh").json
    assert tasks(refreshed)[chain["S1"]] == (D(0), True)
    s1_row = next(task for task in refreshed["data"]["tasks"] if task["location"] == chain["S1"])
    assert s1_row["customers_notified"] == str(TODAY)
    assert fire(qa, RC, recall["id"], "close", **SIGNED).json["state"] == "closed"


def test_each_origin_row_of_serial_goods_names_its_unit(db, as_user, chain):
    """Two units of one receipt are two origin rows, each with its own UDI."""
    with db.transaction() as session:
        ecg = session.get(Item, chain["ecg"])
        ecg.gtin = "0690123456780" + str(gtin_check_digit("0690123456780"))
        lot = session.scalar(select(Lot).where(Lot.lot_number == "E1"))
        wh1 = session.get(Location, chain["WH1"])
        supplier = _card(session, "supplier", code="SUP-2", name="迈瑞医疗")
        number = "PR-WH1-202609-00005"
        _card(session, "purchase_receipt", number, wh1.id, supplier=supplier.id)
        units: list[Unit] = [get_or_create_unit(session, ecg, serial, lot)
                             for serial in ("SN5", "SN6")]  # fmt: skip
        post_movements(session, [Movement(item=ecg, quantity=D(1), lot=lot, unit=unit,
                                          destination=wh1) for unit in units],
                       reason=Reason.purchase_receipt, document=number)  # fmt: skip
        gtin = ecg.gtin
    qa = as_user("qa")
    recall = qa.post(RC, json={"item": chain["ecg"], "serial_from": "SN5", "serial_to": "SN6",
                               "level": "I", "deadline": str(TODAY + dt.timedelta(days=14)),
                               "reason": "电池缺陷"})  # fmt: skip
    issued = fire(qa, RC, recall.json["id"], "issue", **SIGNED)
    assert issued.status_code == 200, issued.json
    origins = [(row["document"], row["quantity"], row["supplier"], row["udis"])
               for row in issued.json["data"]["trace"] if row["kind"] == "origin"]  # fmt: skip
    assert origins == [
        (number, "1", "迈瑞医疗", f"(01){gtin}(17)320131(10)E1(21)SN5"),
        (number, "1", "迈瑞医疗", f"(01){gtin}(17)320131(10)E1(21)SN6"),
    ]


PICKER = "/api/v1/lookup/recall?form=transfer_out&field=recall&this.from_location={}"


def _two_recalls(db, as_user, chain) -> tuple[dict, dict]:
    """Lot LR's recall gives S1 a task; lot L1's (held at WH1 only) does not."""
    history(db, chain)
    qa = as_user("qa")
    ours, _issued = issue(qa, chain)
    theirs = qa.post(
        RC,
        json={
            "item": chain["strip"],
            "lots": "L1",
            "level": "III",
            "deadline": str(TODAY + dt.timedelta(days=30)),
            "reason": "标签",
        },
    )
    assert fire(qa, RC, theirs.json["id"], "issue", **SIGNED).status_code == 200
    return ours, theirs.json


def test_the_recall_picker_offers_only_issued_recalls_with_a_task_at_the_sending_location(
    db, as_user, chain
):
    ours, theirs = _two_recalls(db, as_user, chain)
    qa = as_user("qa")
    offered = qa.get(PICKER.format(chain["S1"]))
    assert offered.status_code == 200, offered.json
    assert [choice["value"] for choice in offered.json["results"]] == [ours["id"]]
    offered = qa.get(PICKER.format(chain["WH1"])).json["results"]
    assert sorted(choice["value"] for choice in offered) == sorted([ours["id"], theirs["id"]])
    # nor may a store name a recall that gave it no task
    clerk1 = as_user("clerk1")
    wrong = clerk1.post(
        TO,
        json={
            "from_location": chain["S1"],
            "to_location": chain["WH1"],
            "recall": theirs["id"],
            "lines": [{"item": chain["strip"], "lot": "L1", "quantity": "1"}],
        },
    )
    assert wrong.status_code == 422 and "recall" in wrong.json["errors"]


def test_a_store_picks_the_recall_its_goods_go_back_on(db, as_user, chain):
    ours, _theirs = _two_recalls(db, as_user, chain)
    offered = as_user("clerk1").get(PICKER.format(chain["S1"]))
    assert offered.status_code == 200, offered.json
    assert [choice["value"] for choice in offered.json["results"]] == [ours["id"]]
    assert as_user("clerk1").get(f"{RC}/{ours['id']}").status_code in (403, 404)  # still unread
    # a picker of no field that narrows the recalls, or none at all: not for the store
    assert as_user("clerk1").get("/api/v1/lookup/recall").status_code == 403
    unfiltered = "/api/v1/lookup/recall?form=recall_task&field=recall"
    assert as_user("clerk1").get(unfiltered).status_code == 403
