"""Count sheets through the HTTP API: a serial unit is counted under its own lot, refused on its
sheet's line otherwise; and a count goes to variance review only once every sheet is in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from app.kernel import audit
from app.kernel.items import Item, Lot, get_or_create_lot, get_or_create_unit
from app.kernel.locations import Location
from app.kernel.stock import Movement, Reason, post_movements
from app.kernel.stocktake import StocktakeState, stocktake_of
from app.workflow.models import ApprovalTask
from tests.application import transfers_fixtures as fixtures
from tests.application.test_stocktake import (
    SC,
    ST,
    approve,
    count_sheet,
    create,
    entries,
    fire,
    open_count,
    variance_rows,
)

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses
D = Decimal


def _second_ecg_lot(db, chain) -> None:
    """ECG lot E2 with unit SN3 at WH1, beside lot E1's SN1 and SN2."""
    with db.transaction() as session:
        ecg = session.get(Item, chain["ecg"])
        lot = get_or_create_lot(session, ecg, "E2", dt.date(2032, 6, 30))
        unit = get_or_create_unit(session, ecg, "SN3", lot)
        post_movements(session, [Movement(item=ecg, quantity=D(1), lot=lot, unit=unit,
                                          destination=session.get(Location, chain["WH1"]))],
                       reason=Reason.opening, document="OPENING-E2")  # fmt: skip


def _lots(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Lot))


def test_a_unit_under_another_lot_is_refused_on_its_line_and_writes_nothing(db, as_user, chain):
    """SN1 (lot E1) scanned with lot E2 would count E2 as 2 against 2 on the books and leave the
    approval refused with a message naming no sheet: the sheet is refused on the line's lot."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    _second_ecg_lot(db, chain)
    stocktake = open_count(boss, chain, items=[{"item": chain["ecg"]}])
    sn3 = {"item": chain["ecg"], "lot": "E2", "serial": "SN3", "quantity": "1"}
    wrong = {"item": chain["ecg"], "lot": "E2", "serial": "SN1", "quantity": "1"}
    sheet, response = count_sheet(clerk, chain, stocktake, [sn3, wrong])
    assert response.status_code == 409, response.json
    assert response.json["field"] == "lines[1].lot"
    assert response.json["error"] == (
        "Line 2: Serial number SN1 belongs to lot E1, not to lot E2: count it under lot E1, or "
        "leave the lot empty."
    )
    assert entries(db) == 0  # the sheet is all or nothing: SN3's line is not counted either
    assert clerk.get(f"{SC}/{sheet['id']}").json["state"] == "draft"

    lots = _lots(db)  # a lot typed that the item does not have yet is not left behind
    typo, response = count_sheet(
        clerk, chain, stocktake, [{**wrong, "lot": "E9", "expiry_date": "2033-01-31"}]
    )
    assert response.status_code == 409, response.json
    assert response.json["field"] == "lines[0].lot" and "not to lot E9" in response.json["error"]
    assert _lots(db) == lots and entries(db) == 0

    # its own lot, or none (the unit's own is taken): counted; the count balances and posts
    for refused in (sheet, typo):  # (an open sheet would hold the count back from review)
        assert fire(clerk, SC, refused["id"], "cancel").status_code == 200
    _sheet, response = count_sheet(clerk, chain, stocktake, [
        sn3, {**wrong, "lot": "E1"}, {**wrong, "lot": None, "serial": "SN2"},
    ])  # fmt: skip
    assert response.status_code == 200, response.json
    assert variance_rows(boss, stocktake["number"]) == {
        ("ECG", "E1"): (D(2), D(2), D(0)),
        ("ECG", "E2"): (D(1), D(1), D(0)),
    }
    assert fire(clerk, ST, stocktake["id"], "submit").json["state"] == "review"
    approve(db, boss, chain["whsuper"], stocktake["id"])
    assert boss.get(f"{ST}/{stocktake['id']}").json["state"] == "posted"


def test_a_count_goes_to_review_only_once_every_sheet_is_in(db, as_user, chain):
    """A sheet still being filled would be left out of the variance and its goods shown as
    shortages: the submission is refused naming each open sheet and its counter."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = open_count(boss, chain, items=[{"item": chain["strip"]}])
    line = {"item": chain["strip"], "lot": "L1", "quantity": "4"}
    recorded, response = count_sheet(boss, chain, stocktake, [line])
    assert response.status_code == 200, response.json
    mine = create(clerk, SC, {"stocktake": stocktake["id"], "location": chain["WH1"],
                              "lines": [{**line, "quantity": "6"}]})  # fmt: skip
    theirs = create(boss, SC, {"stocktake": stocktake["id"], "location": chain["WH1"],
                               "lines": [line]})  # fmt: skip

    response = fire(clerk, ST, stocktake["id"], "submit")
    assert response.status_code == 409, response.json
    assert response.json["error"] == (
        f"Count sheets of {stocktake['number']} are still open: {mine['number']} (whclerk 全名), "
        f"{theirs['number']} (whsuper 全名). Their lines are not in the count yet. Each counter "
        "submits their sheet (or cancels it if it was started by mistake); then submit the count "
        "for review."
    )
    assert recorded["number"] not in response.json["error"]
    # nothing of the submission is kept: still counting, no approval asked, nothing audited
    assert boss.get(f"{ST}/{stocktake['id']}").json["state"] == "counting"
    with db.session() as session:
        assert stocktake_of(session, stocktake["number"]).state == StocktakeState.counting
        actions = [
            entry.action for entry in audit.history(session, "stocktake", stocktake["number"])
        ]
        assert actions == ["open"]
        assert session.scalar(select(func.count()).select_from(ApprovalTask)) == 0

    # the clerk submits theirs, the supervisor cancels the one started by mistake: it goes
    assert fire(clerk, SC, mine["id"], "submit").status_code == 200
    assert fire(boss, SC, theirs["id"], "cancel").status_code == 200
    response = fire(clerk, ST, stocktake["id"], "submit")
    assert response.status_code == 200 and response.json["state"] == "review", response.json
    assert variance_rows(boss, stocktake["number"])[("STRIP", "L1")] == (D(10), D(10), D(0))
