"""Recalled goods come back into available stock by no document: a stock adjustment (盘盈 or
other) of a recalled lot as 合格, or a stocktake that counted it 合格, is refused at the approval
that would post it — naming the line's lot, why, and that it is booked as nonconforming — and
writes nothing; booked as 不合格 it posts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import approve, ledger, ledger_count, stock

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

AJ = "/api/v1/forms/stock_adjustment/records"
ST = "/api/v1/forms/stocktake/records"
SC = "/api/v1/forms/stocktake_count/records"
D = Decimal


def create(client, url: str, body: dict) -> dict:
    response = client.post(url, json=body)
    assert response.status_code == 201, response.json
    return response.json


def fire(client, url: str, record_id: int, transition: str, **body):
    return client.post(f"{url}/{record_id}/transitions/{transition}", json=body)


def decide(db, client, record_id: int, decision: str = "approve", **body):
    """``client`` decides the pending approval task on ``record_id``; returns the response."""
    from app.workflow.models import ApprovalTask

    with db.session() as session:
        task = session.scalar(
            select(ApprovalTask.id).where(
                ApprovalTask.record_id == record_id, ApprovalTask.status == "pending"
            )
        )
    return client.post(
        f"/api/v1/approval-tasks/{task}/decision", json={"decision": decision, **body}
    )


def rc_line(chain, quantity: str, status: str = "available") -> dict:
    """A line of the recalled lot RC (WH1 holds 5 of it)."""
    return {"item": chain["strip"], "lot": "RC", "quantity": quantity, "status": status,
            "unit_cost": "8.50"}  # fmt: skip


@pytest.mark.parametrize("reason", ["count_surplus", "adjustment"])
def test_an_adjustment_of_a_recalled_lot_into_available_is_refused_at_approval(
    db, as_user, chain, reason
):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    body = {"location": chain["WH1"], "reason": reason, "explanation": "found behind the shelf"}
    record = create(clerk, AJ, {**body, "lines": [rc_line(chain, "2")]})
    assert fire(clerk, AJ, record["id"], "submit").json["state"] == "in_approval"
    before = (stock(db), ledger_count(db))
    response = decide(db, boss, record["id"])
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert "RC" in error and "recalled" in error and "nonconforming" in error, error
    assert response.json["field"] == "lines[0].lot", response.json
    assert (stock(db), ledger_count(db)) == before  # nothing posted
    assert boss.get(f"{AJ}/{record['id']}").json["state"] == "in_approval"

    # booked as 不合格, the found goods post: apart, for the recall to take out
    kept_apart = create(clerk, AJ, {**body, "lines": [rc_line(chain, "2", "nonconforming")]})
    fire(clerk, AJ, kept_apart["id"], "submit")
    approve(db, boss, chain["whsuper"], kept_apart["id"])
    assert ledger(db, kept_apart["number"]) == [
        ("WH1", "STRIP", "RC", "nonconforming", D(2), reason)
    ]
    assert stock(db)[("WH1", "STRIP", "RC", "available")] == D(5)  # as before the count


def test_a_count_of_a_recalled_lot_as_available_is_refused_and_counted_again(db, as_user, chain):
    """The counter scans one more RC than the books under the sheet's default status (合格): the
    manager's approval is refused naming the lot; sent back, the counter books it 不合格."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    stocktake = create(boss, ST, {"location": chain["WH1"], "blind": True,
                                  "items": [{"item": chain["strip"]}]})  # fmt: skip
    assert fire(boss, ST, stocktake["id"], "open").json["state"] == "counting"
    counted = [{"item": chain["strip"], "lot": "L1", "quantity": "10"},
               {"item": chain["strip"], "lot": "RC", "quantity": "6"}]  # fmt: skip
    sheet = create(clerk, SC, {"stocktake": stocktake["id"], "location": chain["WH1"],
                               "lines": counted})  # fmt: skip
    assert fire(clerk, SC, sheet["id"], "submit").status_code == 200
    assert fire(clerk, ST, stocktake["id"], "submit").json["state"] == "review"
    before = (stock(db), ledger_count(db))
    response = decide(db, boss, stocktake["id"])
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert "RC" in error and "recalled" in error and "nonconforming" in error, error
    assert response.json["field"] == "lot", response.json
    assert (stock(db), ledger_count(db)) == before
    assert boss.get(f"{ST}/{stocktake['id']}").json["state"] == "review"

    # sent back to counting, the counter takes the found one back and counts it 不合格
    assert decide(db, boss, stocktake["id"], "reject", comment="RC is recalled").status_code == 200
    fixed = [
        {"item": chain["strip"], "lot": "RC", "quantity": "-1"},
        {"item": chain["strip"], "lot": "RC", "quantity": "1", "status": "nonconforming"},
    ]
    sheet = create(clerk, SC, {"stocktake": stocktake["id"], "location": chain["WH1"],
                               "lines": fixed})  # fmt: skip
    assert fire(clerk, SC, sheet["id"], "submit").status_code == 200
    assert fire(clerk, ST, stocktake["id"], "submit").json["state"] == "review"
    approve(db, boss, chain["whsuper"], stocktake["id"])
    assert ledger(db, stocktake["number"]) == [
        ("WH1", "STRIP", "RC", "nonconforming", D(1), "count_surplus")
    ]
