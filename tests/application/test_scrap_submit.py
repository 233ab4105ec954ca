"""A scrap (报损) as it is submitted, through the HTTP API with the shipped metadata: its lines are
priced at what the goods cost as the stock holds them, not at a cost the clerk types, and more
than is there is refused on the clerk's line then — not after the manager approved and QA signed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from app.kernel.items import Item, get_or_create_lot
from app.kernel.locations import Location
from app.kernel.stock import Movement, Reason, post_movements
from app.workflow.models import ApprovalTask
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import SIGN, approve, ledger, ledger_count, stock

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

SC = "/api/v1/forms/scrap/records"
D = Decimal


def received_damaged(db, chain, lot: str, quantity, cost: str) -> None:
    """``quantity`` strips of ``lot`` received at WH1 at ``cost`` each, found damaged on arrival:
    set apart as nonconforming."""
    with db.transaction() as session:
        strip = session.get(Item, chain["strip"])
        wh1 = session.get(Location, chain["WH1"])
        the_lot = get_or_create_lot(session, strip, lot, dt.date(2029, 8, 26))
        received = Movement(item=strip, quantity=D(quantity), lot=the_lot, destination=wh1,
                            unit_cost=D(cost))  # fmt: skip
        post_movements(session, [received], reason=Reason.purchase_receipt, document=f"PR-{lot}")
        apart = Movement(item=strip, quantity=D(quantity), lot=the_lot, source=wh1,
                         destination=wh1, destination_status="nonconforming")  # fmt: skip
        post_movements(session, [apart], reason=Reason.adjustment, document=f"NC-{lot}")


def scrap(client, chain, lines: list[dict]) -> dict:
    body = {"location": chain["WH1"], "explanation": "crushed in the warehouse",
            "destruction_method": "incineration", "destruction_date": "2026-11-20",
            "witnesses": "QA 王, 保管员 孙", "lines": lines}  # fmt: skip
    response = client.post(SC, json=body)
    assert response.status_code == 201, response.json
    return response.json


def line(chain, quantity: str, lot: str, cost: str) -> dict:
    """A line of damaged strips; ``cost``: what the clerk types (not taken: the stock has one)."""
    return {"item": chain["strip"], "lot": lot, "quantity": quantity, "status": "nonconforming",
            "unit_cost": cost}  # fmt: skip


def submit(client, record_id: int):
    return client.post(f"{SC}/{record_id}/transitions/submit", json={})


def pending_tasks(db, record_id: int) -> list[int]:
    with db.session() as session:
        query = select(ApprovalTask.id).where(
            ApprovalTask.record_id == record_id, ApprovalTask.status == "pending"
        )
        return list(session.scalars(query))


def test_a_scrap_is_priced_at_the_cost_its_goods_have_not_a_typed_one(db, as_user, chain):
    """QA's case: lot 26082618 received at 157 a box; the clerk typed 12.5 and the scrap said a
    loss of 553. The typed cost is not taken; the submit writes in each lot's own cost."""
    received_damaged(db, chain, "26082618", 35, "157")
    received_damaged(db, chain, "26082619", 2, "160.5")  # another lot, another cost
    clerk, boss, qa = as_user("whclerk"), as_user("whsuper"), as_user("qa")
    lines = [line(chain, "35", "26082618", cost="12.5"), line(chain, "2", "26082619", cost="1")]
    record = scrap(clerk, chain, lines)
    response = submit(clerk, record["id"])
    assert response.status_code == 200, response.json
    submitted = boss.get(f"{SC}/{record['id']}").json
    assert submitted["state"] == "in_approval"
    priced = [(D(row["unit_cost"]), D(str(row["amount"]))) for row in submitted["data"]["lines"]]
    assert priced == [(D("157"), D("5495")), (D("160.5"), D("321"))]
    assert D(str(submitted["data"]["amount"])) == D("5816.00")
    # the approvers weigh that loss; the goods then leave at the cost they have
    approve(db, boss, chain["whsuper"], record["id"])
    approve(db, qa, chain["qa"], record["id"], signature=SIGN)
    assert ("WH1", "STRIP", "26082618", "nonconforming") not in stock(db)
    assert ledger(db, record["number"])[0] == (
        "WH1",
        "STRIP",
        "26082618",
        "nonconforming",
        D(-35),
        "scrap",
    )


def test_more_than_is_there_is_refused_at_submit_on_the_line(db, as_user, chain):
    """40 asked of a lot with 34 on hand: refused as the clerk submits, naming the line's
    quantity and what is there; nobody is asked to approve, nothing is written."""
    received_damaged(db, chain, "26082618", 34, "157")
    clerk = as_user("whclerk")
    record = scrap(clerk, chain, [line(chain, "40", "26082618", cost="157")])
    before = (stock(db), ledger_count(db))
    response = submit(clerk, record["id"])
    assert response.status_code == 409, response.json
    assert response.json["field"] == "lines[0].quantity"
    assert "26082618" in response.json["error"]
    assert "40 requested, 34 available" in response.json["error"]
    after = clerk.get(f"{SC}/{record['id']}").json
    assert after["state"] == "draft"
    assert pending_tasks(db, record["id"]) == []
    assert (stock(db), ledger_count(db)) == before


def test_two_lines_of_one_lot_are_counted_together(db, as_user, chain):
    """20 and 20 of the same 34: the second line is the one that asks for more than is there."""
    received_damaged(db, chain, "26082618", 34, "157")
    clerk = as_user("whclerk")
    lines = [line(chain, "20", "26082618", cost="157"), line(chain, "20", "26082618", cost="157")]
    response = submit(clerk, scrap(clerk, chain, lines)["id"])
    assert response.status_code == 409, response.json
    assert response.json["field"] == "lines[1].quantity"


def test_a_rejected_scrap_is_checked_and_priced_again_when_resubmitted(db, as_user, chain):
    """Sent back to the clerk, then submitted again after more of the lot came in at another
    cost: the check and the price are those of the stock at the second submit."""
    received_damaged(db, chain, "26082618", 3, "157")
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    record = scrap(clerk, chain, [line(chain, "5", "26082618", cost="157")])
    assert submit(clerk, record["id"]).status_code == 409
    received_damaged(db, chain, "26082618", 2, "150")
    assert submit(clerk, record["id"]).status_code == 200
    [task] = pending_tasks(db, record["id"])
    response = boss.post(f"/api/v1/approval-tasks/{task}/decision",
                         json={"decision": "reject", "comment": "wrong witnesses"})  # fmt: skip
    assert response.status_code == 200, response.json
    received_damaged(db, chain, "26082618", 1, "149")
    assert submit(clerk, record["id"]).status_code == 200
    data = boss.get(f"{SC}/{record['id']}").json["data"]
    assert D(data["lines"][0]["unit_cost"]) == D("149")
    assert D(str(data["amount"])) == D("745.00")
