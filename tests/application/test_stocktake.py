"""Stocktake through the HTTP API with the shipped metadata: open (lock + snapshot), count sheets
filled by scanning, variance review, approval posting the count surplus / shortage, abort, and
refusals that name the reason and write nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.kernel import CountEntry, StockLock, Unit, UnitStatus, audit
from app.kernel.items import Item, Lot, add_item, get_or_create_unit
from app.kernel.locations import Location, add_location
from app.kernel.reservations import reserve
from app.kernel.stock import Movement, Reason, post_movements
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import approve, ledger, ledger_count, stock

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

ST = "/api/v1/forms/stocktake/records"
SC = "/api/v1/forms/stocktake_count/records"
AJ = "/api/v1/forms/stock_adjustment/records"
D = Decimal
SCAN_L1 = "(01)06901234567892(17)310630(10)L1"


def create(client, url: str, body: dict) -> dict:
    response = client.post(url, json=body)
    assert response.status_code == 201, response.json
    return response.json


def fire(client, url: str, record_id: int, transition: str, **body):
    return client.post(f"{url}/{record_id}/transitions/{transition}", json=body)


def open_count(client, chain, location="WH1", **fields) -> dict:
    record = create(client, ST, {"location": chain[location], "blind": True, **fields})
    response = fire(client, ST, record["id"], "open")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "counting"
    return record


def count_sheet(client, chain, stocktake: dict, lines: list[dict], location="WH1"):
    """Create and submit one counter's sheet; return the submission's response."""
    sheet = create(client, SC, {"stocktake": stocktake["id"], "location": chain[location],
                                "lines": lines})  # fmt: skip
    return sheet, fire(client, SC, sheet["id"], "submit")


def offered_counts(client) -> list[dict]:
    """The stocktakes a count sheet's picker offers."""
    query = {"form": "stocktake_count", "field": "stocktake"}
    response = client.get("/api/v1/lookup/stocktake", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["results"]


def entries(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(CountEntry))


def locks(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(StockLock))


def variance_rows(client, number: str) -> dict:
    response = client.get("/api/v1/reports/stocktake_variance", query_string={"document": number})
    assert response.status_code == 200, response.json
    return {
        (row["values"]["item_code"], row["values"]["lot"]): (
            D(str(row["values"]["expected"])), D(str(row["values"]["counted"])),
            D(str(row["values"]["variance"])),
        )
        for row in response.json["rows"]
    }  # fmt: skip


def test_the_whole_count_from_opening_to_posting(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain)
    # every movement at WH1 is refused while it is counted, and says since when and by whom
    adjustment = create(clerk, AJ, {
        "location": chain["WH1"], "reason": "adjustment", "explanation": "found one",
        "lines": [{"item": chain["strip"], "lot": "L1", "quantity": "1", "unit_cost": "8.50"}],
    })  # fmt: skip
    fire(clerk, AJ, adjustment["id"], "submit")
    before = (stock(db), ledger_count(db))
    response = boss.post(
        f"/api/v1/approval-tasks/{_task(db, adjustment['id'])}/decision",
        json={"decision": "approve"},
    )
    assert response.status_code == 409
    assert "WH1" in response.json["error"] and "being counted since" in response.json["error"]
    assert "whsuper 全名" in response.json["error"]
    assert (stock(db), ledger_count(db)) == before

    # two counters, each with their own sheet, for the count the picker offers; the clerk fills a
    # line from a scan
    assert [choice["value"] for choice in offered_counts(clerk)] == [stocktake["id"]]
    fills = clerk.post("/api/v1/forms/stocktake_count/scan",
                       json={"field": "lines.scan", "value": SCAN_L1}).json["fills"]  # fmt: skip
    assert fills["item"] == chain["strip"] and fills["lot"] == "L1"
    _sheet, response = count_sheet(clerk, chain, stocktake, [{**fills, "quantity": "6"}])
    assert response.status_code == 200, response.json
    assert response.json["state"] == "recorded"
    _sheet, response = count_sheet(boss, chain, stocktake, [
        {"item": chain["strip"], "lot": "L1", "quantity": "3"},
        {"item": chain["ecg"], "serial": "SN1", "quantity": "1"},
    ])  # fmt: skip
    assert response.status_code == 200, response.json
    assert entries(db) == 3

    # a blind count: the counters see no book quantities; the reviewer sees the variance
    assert clerk.get("/api/v1/reports/stocktake_variance").status_code == 404
    book = clerk.get(
        "/api/v1/reports/stocktake_book", query_string={"document": stocktake["number"]}
    )
    assert book.status_code == 200 and book.json["rows"] == []
    assert variance_rows(boss, stocktake["number"]) == {
        ("STRIP", "L1"): (D(10), D(9), D(-1)),
        ("STRIP", "RC"): (D(5), D(0), D(-5)),
        ("ECG", "E1"): (D(2), D(1), D(-1)),
    }

    # submitted for review, approved by the manager: the variance posts, WH1 is free again
    response = fire(clerk, ST, stocktake["id"], "submit")
    assert response.status_code == 200 and response.json["state"] == "review", response.json
    # (a sheet started now waits: the review may send the count back to counting)
    late = create(clerk, SC, {"stocktake": stocktake["id"], "location": chain["WH1"],
                              "lines": [{**fills, "quantity": "1"}]})  # fmt: skip
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(10)  # nothing before approval
    approve(db, boss, chain["whsuper"], stocktake["id"])
    assert boss.get(f"{ST}/{stocktake['id']}").json["state"] == "posted"
    assert sorted(ledger(db, stocktake["number"])) == [
        ("WH1", "ECG", "E1", "available", D(-1), "count_shortage"),
        ("WH1", "STRIP", "L1", "available", D(-1), "count_shortage"),
        ("WH1", "STRIP", "RC", "available", D(-5), "count_shortage"),
    ]
    assert locks(db) == 0
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(9)

    # the count is closed: the late sheet is refused, saying so in words, and writes nothing
    response = fire(clerk, SC, late["id"], "submit")
    assert response.status_code == 409
    assert response.json["error"] == (
        f"Stocktake {stocktake['number']} is already posted: it takes no more changes."
    )
    assert entries(db) == 3
    assert clerk.get(f"{SC}/{late['id']}").json["state"] == "draft"
    # and a new sheet cannot choose it: the picker offers only counts still open
    assert offered_counts(clerk) == []
    refused = clerk.post(SC, json={"stocktake": stocktake["id"], "location": chain["WH1"],
                                   "lines": [{**fills, "quantity": "1"}]})  # fmt: skip
    assert refused.status_code == 422, refused.json
    assert "cannot be chosen here" in refused.json["errors"]["stocktake"][0]


def _task(db, record_id: int) -> int:
    from app.workflow.models import ApprovalTask

    with db.session() as session:
        return session.scalar(
            select(ApprovalTask.id).where(
                ApprovalTask.record_id == record_id, ApprovalTask.status == "pending"
            )
        )


def test_an_open_count_shows_counters_the_book_quantities(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain, blind=False, items=[{"item": chain["strip"]}])
    book = clerk.get(
        "/api/v1/reports/stocktake_book", query_string={"document": stocktake["number"]}
    )
    assert book.status_code == 200
    assert {
        (row["values"]["lot"], D(str(row["values"]["expected"]))) for row in book.json["rows"]
    } == {
        ("L1", D(10)),
        ("RC", D(5)),
    }  # a partial count: the ECG units are not in it


def test_a_partial_count_refuses_other_items_and_writes_nothing(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain, items=[{"item": chain["strip"]}])
    sheet, response = count_sheet(clerk, chain, stocktake, [
        {"item": chain["strip"], "lot": "L1", "quantity": "10"},
        {"item": chain["ecg"], "serial": "SN1", "quantity": "1"},
    ])  # fmt: skip
    assert response.status_code == 409
    assert "Line 2" in response.json["error"] and "ECG" in response.json["error"]
    assert entries(db) == 0
    assert clerk.get(f"{SC}/{sheet['id']}").json["state"] == "draft"


def test_a_sheet_for_another_location_is_refused(db, as_user, chain):
    boss = as_user("whsuper")
    stocktake = open_count(boss, chain)
    hq = as_user("hq")
    _sheet, response = count_sheet(
        hq, chain, stocktake, [{"item": chain["strip"], "lot": "L1", "quantity": "1"}],
        location="S1",
    )  # fmt: skip
    assert response.status_code == 409
    assert "another location" in response.json["error"] and "S1" in response.json["error"]
    assert entries(db) == 0


def test_a_location_is_counted_once_at_a_time(db, as_user, chain):
    boss = as_user("whsuper")
    open_count(boss, chain)
    second = create(boss, ST, {"location": chain["WH1"], "blind": True})
    response = fire(boss, ST, second["id"], "open")
    assert response.status_code == 409
    assert "already being counted" in response.json["error"]
    assert boss.get(f"{ST}/{second['id']}").json["state"] == "draft"
    assert locks(db) == 1


@pytest.mark.parametrize("who", ["whsuper", "whclerk"])
def test_only_hq_or_an_admin_may_abort(db, as_user, chain, who):
    stocktake = open_count(as_user("whsuper"), chain)
    response = fire(as_user(who), ST, stocktake["id"], "abort", comment="wrong day")
    assert response.status_code == 403
    assert locks(db) == 1


def test_abort_releases_the_location_posts_nothing_and_is_audited(db, as_user, chain):
    clerk, boss, hq = as_user("whclerk"), as_user("whsuper"), as_user("hq")
    stocktake = open_count(boss, chain)
    count_sheet(clerk, chain, stocktake, [{"item": chain["strip"], "lot": "L1", "quantity": "2"}])
    before = (stock(db), ledger_count(db))
    response = fire(hq, ST, stocktake["id"], "abort")
    assert response.status_code == 422 and "comment" in response.json["errors"]
    response = fire(hq, ST, stocktake["id"], "abort", comment="scanner broken, count again")
    assert response.status_code == 200 and response.json["state"] == "aborted", response.json
    assert (stock(db), ledger_count(db)) == before
    assert locks(db) == 0
    with db.session() as session:
        entry = audit.history(session, "stocktake", stocktake["number"])[-1]
    assert (entry.action, entry.reason) == ("abort", "scanner broken, count again")


def test_the_pages_render_for_counters_and_reviewers(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain)
    count_sheet(clerk, chain, stocktake, [{"item": chain["strip"], "lot": "L1", "quantity": "9"}])
    sheet = clerk.get("/forms/stocktake_count/new")
    assert sheet.status_code == 200
    assert 'name="lines[__INDEX__].scan"' in sheet.text and 'data-udi="1"' in sheet.text
    assert "/api/v1/lookup/stocktake" in sheet.text
    page = boss.get(f"/forms/stocktake/{stocktake['id']}")
    assert page.status_code == 200 and stocktake["number"] in page.text
    report = boss.get("/reports/stocktake_variance", query_string={"document": stocktake["number"]})
    assert report.status_code == 200 and "L1" in report.text


def test_a_count_in_review_refuses_sheets_until_the_manager_sends_it_back(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain)
    line = {"item": chain["strip"], "lot": "L1", "quantity": "4"}
    assert count_sheet(clerk, chain, stocktake, [line])[1].status_code == 200
    response = fire(clerk, ST, stocktake["id"], "submit")
    assert response.status_code == 200 and response.json["state"] == "review", response.json

    # a late sheet is refused: it names the count, since when, who submitted it, what to ask
    sheet, response = count_sheet(clerk, chain, stocktake, [line])
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert stocktake["number"] in error and "WH1" in error and "whclerk 全名" in error
    assert "return it to counting" in error and not error.startswith("Line")
    assert entries(db) == 1
    assert clerk.get(f"{SC}/{sheet['id']}").json["state"] == "draft"

    # the manager rejects the review: back to counting, the same sheet now counts
    response = boss.post(f"/api/v1/approval-tasks/{_task(db, stocktake['id'])}/decision",
                         json={"decision": "reject", "comment": "recount aisle 3"})  # fmt: skip
    assert response.status_code == 200, response.json
    assert boss.get(f"{ST}/{stocktake['id']}").json["state"] == "counting"
    response = fire(clerk, SC, sheet["id"], "submit")
    assert response.status_code == 200, response.json
    assert entries(db) == 2
    assert fire(clerk, ST, stocktake["id"], "submit").json["state"] == "review"
    approve(db, boss, chain["whsuper"], stocktake["id"])
    assert variance_rows(boss, stocktake["number"])[("STRIP", "L1")] == (D(10), D(8), D(-2))
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(8)


def test_a_count_submitted_for_review_and_withdrawn_takes_sheets_again(db, as_user, chain):
    """Its submitter takes the count back from review (撤回): the approval's on_reject runs as a
    rejection's would — back to counting, the sheet refused in review now counts."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain)
    line = {"item": chain["strip"], "lot": "L1", "quantity": "4"}
    assert fire(clerk, ST, stocktake["id"], "submit").json["state"] == "review"
    sheet, response = count_sheet(clerk, chain, stocktake, [line])
    assert response.status_code == 409, response.json
    withdrawn = clerk.post(f"{ST}/{stocktake['id']}/withdraw", json={"comment": "one aisle left"})
    assert withdrawn.status_code == 200 and withdrawn.json["state"] == "counting", withdrawn.json
    assert fire(clerk, SC, sheet["id"], "submit").status_code == 200
    assert entries(db) == 1


def _all_counted_but_ecg(chain) -> list[dict]:
    """Lines counting WH1's strips as booked: only the ECG units make a variance."""
    return [{"item": chain["strip"], "lot": "L1", "quantity": "10"},
            {"item": chain["strip"], "lot": "RC", "quantity": "5"}]  # fmt: skip


def test_a_unit_counted_nonconforming_moves_there_and_stays_in_stock(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain)
    _sheet, response = count_sheet(clerk, chain, stocktake, [
        *_all_counted_but_ecg(chain),
        {"item": chain["ecg"], "serial": "SN1", "status": "nonconforming", "quantity": "1"},
        {"item": chain["ecg"], "serial": "SN2", "quantity": "1"},
    ])  # fmt: skip
    assert response.status_code == 200, response.json
    assert fire(clerk, ST, stocktake["id"], "submit").status_code == 200
    approve(db, boss, chain["whsuper"], stocktake["id"])
    assert sorted(ledger(db, stocktake["number"])) == [
        ("WH1", "ECG", "E1", "available", D(-1), "count_shortage"),
        ("WH1", "ECG", "E1", "nonconforming", D(1), "count_surplus"),
    ]
    assert stock(db)[("WH1", "ECG", "E1", "available")] == D(1)
    assert stock(db)[("WH1", "ECG", "E1", "nonconforming")] == D(1)
    with db.session() as session:
        unit = session.scalar(select(Unit).where(Unit.serial == "SN1"))
        assert (unit.location_id, unit.status) == (chain["WH1"], UnitStatus.in_stock)


def test_a_unit_is_counted_once_and_only_where_it_is_booked(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    with db.transaction() as session:  # SN3 is on the books at store S1
        ecg = session.get(Item, chain["ecg"])
        lot = session.scalar(select(Lot).where(Lot.lot_number == "E1"))
        unit = get_or_create_unit(session, ecg, "SN3", lot)
        post_movements(session, [Movement(item=ecg, quantity=D(1), unit=unit,
                                          destination=session.get(Location, chain["S1"]))],
                       reason=Reason.opening, document="OPENING-S1")  # fmt: skip
    stocktake = open_count(boss, chain)
    sn1 = {"item": chain["ecg"], "serial": "SN1", "quantity": "1"}
    assert count_sheet(clerk, chain, stocktake, [sn1])[1].status_code == 200
    sheet, response = count_sheet(boss, chain, stocktake, [*_all_counted_but_ecg(chain), sn1])
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error.startswith("Line 3") and "SN1" in error and "already counted" in error
    sheet, response = count_sheet(boss, chain, stocktake, [{**sn1, "serial": "SN3"}])
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error.startswith("Line 1") and "SN3" in error and "S1" in error and "WH1" in error
    assert entries(db) == 1
    assert variance_rows(boss, stocktake["number"])[("ECG", "E1")] == (D(2), D(1), D(-1))


def test_an_untracked_item_with_a_lot_is_refused_on_its_line_in_words(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    with db.transaction() as session:
        add_item(session, "GLV", "手套 Gloves", tracking="none")
    with db.session() as session:
        glove = session.scalar(select(Item.id).where(Item.code == "GLV"))
    stocktake = open_count(boss, chain)
    _sheet, response = count_sheet(clerk, chain, stocktake, [
        {"item": chain["strip"], "lot": "L1", "quantity": "10"},
        {"item": glove, "lot": "X1", "quantity": "3"},
    ])  # fmt: skip
    assert response.status_code == 409
    assert response.json["error"] == "Line 2: GLV is not tracked by lot number: leave it empty."
    assert entries(db) == 0


def test_a_shortage_the_orders_hold_is_refused_naming_them(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    with db.transaction() as session:
        reserve(session, "SO-WH1-1", 1, session.get(Item, chain["strip"]), 4,
                session.get(Location, chain["WH1"]),
                lot=session.scalar(select(Lot).where(Lot.lot_number == "L1")))  # fmt: skip
    stocktake = open_count(boss, chain, items=[{"item": chain["strip"]}])
    lines = [{"item": chain["strip"], "lot": "L1", "quantity": "3"},
             {"item": chain["strip"], "lot": "RC", "quantity": "5"}]  # fmt: skip
    assert count_sheet(clerk, chain, stocktake, lines)[1].status_code == 200
    assert fire(clerk, ST, stocktake["id"], "submit").status_code == 200
    response = boss.post(f"/api/v1/approval-tasks/{_task(db, stocktake['id'])}/decision",
                         json={"decision": "approve"})  # fmt: skip
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert "SO-WH1-1" in error and "4 are reserved" in error and "Release" in error
    assert boss.get(f"{ST}/{stocktake['id']}").json["state"] == "review"


def test_a_transit_location_cannot_be_counted(db, as_user, chain):
    with db.transaction() as session:
        transit = add_location(session, "TR-WH1-S1", "在途", "transit",
                               session.get(Location, chain["HQ"])).id  # fmt: skip
    hq = as_user("hq")
    record = create(hq, ST, {"location": transit, "blind": True})
    response = fire(hq, ST, record["id"], "open")
    assert response.status_code == 409, response.json
    assert "TR-WH1-S1 is a transit location" in response.json["error"]
    assert locks(db) == 0


def _gloves(db, chain) -> int:
    """An untracked item (no lots), 15 on the books at WH1."""
    with db.transaction() as session:
        glove = add_item(session, "GLV", "手套 Gloves", tracking="none")
        wh1 = session.get(Location, chain["WH1"])
        post_movements(session, [Movement(item=glove, quantity=D(15), destination=wh1)],
                       reason=Reason.opening, document="OPENING-GLV")  # fmt: skip
        return glove.id


def test_a_take_back_of_more_than_was_counted_is_refused_on_its_line(db, as_user, chain):
    """A negative line takes back a wrong scan, never more than was counted: the sheet that
    would leave an item (or a lot) counted below zero is refused naming its line, with the
    quantities as people write them, and writes nothing."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    glove = _gloves(db, chain)
    stocktake = open_count(boss, chain)
    assert count_sheet(clerk, chain, stocktake, [
        {"item": glove, "quantity": "15"}, {"item": chain["strip"], "lot": "L1", "quantity": "10"},
    ])[1].status_code == 200  # fmt: skip

    sheet, response = count_sheet(boss, chain, stocktake, [{"item": glove, "quantity": "-20"}])
    assert response.status_code == 409, response.json
    assert response.json["error"] == (
        "Line 1: GLV is counted 15 as available so far: taking back 20 would leave it below "
        "zero (-5)."
    )
    assert boss.get(f"{SC}/{sheet['id']}").json["state"] == "draft"
    # on a lot, counted on the same sheet: its earlier line counts, the sheet is all or nothing
    _sheet, response = count_sheet(boss, chain, stocktake, [
        {"item": chain["strip"], "lot": "L1", "quantity": "2"},
        {"item": chain["strip"], "lot": "L1", "quantity": "-13"},
    ])  # fmt: skip
    assert response.status_code == 409, response.json
    assert response.json["error"] == (
        "Line 2: STRIP lot L1 is counted 12 as available so far: taking back 13 would leave "
        "it below zero (-1)."
    )
    # taken back under another status than it was counted: nothing of that status to take back
    _sheet, response = count_sheet(boss, chain, stocktake, [
        {"item": glove, "status": "nonconforming", "quantity": "-1"},
    ])  # fmt: skip
    assert response.status_code == 409, response.json
    assert "counted 0 as nonconforming so far" in response.json["error"]
    assert entries(db) == 2

    # a take-back within the count passes, and the variance shows what is left
    _sheet, response = count_sheet(boss, chain, stocktake, [{"item": glove, "quantity": "-15"}])
    assert response.status_code == 200, response.json
    assert variance_rows(boss, stocktake["number"])[("GLV", None)] == (D(15), D(0), D(-15))


def test_a_count_below_zero_is_named_in_words_at_approval(db, as_user, chain):
    """A count recorded below zero before the sheets checked take-backs is still refused at
    approval: the item named without a lot it does not have, the quantity as people write it."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    glove = _gloves(db, chain)
    stocktake = open_count(boss, chain, items=[{"item": glove}])
    with db.transaction() as session:
        session.add(CountEntry(stocktake_id=_stocktake_id(session, stocktake), item_id=glove,
                               status="available", quantity=D(-5)))  # fmt: skip
    assert fire(clerk, ST, stocktake["id"], "submit").status_code == 200
    response = boss.post(f"/api/v1/approval-tasks/{_task(db, stocktake['id'])}/decision",
                         json={"decision": "approve"})  # fmt: skip
    assert response.status_code == 409, response.json
    assert response.json["error"].endswith("Item GLV is counted below zero (-5): fix the count.")
    assert boss.get(f"{ST}/{stocktake['id']}").json["state"] == "review"


def _stocktake_id(session, record: dict) -> int:
    from app.kernel.stocktake import Stocktake

    return session.scalar(select(Stocktake.id).where(Stocktake.document == record["number"]))
