"""Stock adjustments and scrap through the HTTP API with the shipped metadata: reason codes,
approval before posting, the destruction record, and refusals that write nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.kernel.items import Item, Lot, LotStatus
from app.kernel.locations import Location
from app.kernel.stock import LedgerEntry, Movement, Reason, post_movements
from app.kernel.users import User
from app.meta.models import Record
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import SIGN, approve, ledger, ledger_count, stock
from tests.forms_fixtures import appoint

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

AJ = "/api/v1/forms/stock_adjustment/records"
SC = "/api/v1/forms/scrap/records"
D = Decimal


def create(client, url: str, body: dict) -> dict:
    response = client.post(url, json=body)
    assert response.status_code == 201, response.json
    return response.json


def submit(client, url: str, record_id: int):
    return client.post(f"{url}/{record_id}/transitions/submit", json={})


def adjustment(chain, reason: str, lines: list[dict], location="WH1") -> dict:
    return {"location": chain[location], "reason": reason, "explanation": "counted on 11-20",
            "lines": lines}  # fmt: skip


def line(chain, quantity: str, lot="L1", status="available", cost="8.50") -> dict:
    return {"item": chain["strip"], "lot": lot, "quantity": quantity, "status": status,
            "unit_cost": cost}  # fmt: skip


def test_count_surplus_and_shortage_post_after_approval(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    surplus = create(clerk, AJ, adjustment(chain, "count_surplus", [line(chain, "2")]))
    response = submit(clerk, AJ, surplus["id"])
    assert response.status_code == 200, response.json
    assert response.json["state"] == "in_approval"
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(10)  # not before approval
    approve(db, boss, chain["whsuper"], surplus["id"])
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(12)
    assert ledger(db, surplus["number"]) == [
        ("WH1", "STRIP", "L1", "available", D(2), "count_surplus")
    ]
    shortage = create(clerk, AJ, adjustment(chain, "count_shortage", [line(chain, "-3")]))
    submit(clerk, AJ, shortage["id"])
    approve(db, boss, chain["whsuper"], shortage["id"])
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(9)
    assert ledger(db, shortage["number"]) == [
        ("WH1", "STRIP", "L1", "available", D(-3), "count_shortage")
    ]


def test_an_other_adjustment_moves_either_way_and_large_ones_need_the_region_and_hq(
    db, as_user, chain
):
    """Above ¥2,000 the warehouse's region manager approves after its supervisor, above ¥5,000
    HQ after them; a smaller one the supervisor alone."""
    regional = appoint(db, "regional", "region_manager", chain["R1"])
    clerk, boss, hq = as_user("whclerk"), as_user("whsuper"), as_user("hq")
    body = adjustment(chain, "adjustment", [line(chain, "-1"), line(chain, "1000", cost="6")])
    record = create(clerk, AJ, body)
    assert D(str(record["data"]["amount"])) == D("6008.50")
    submit(clerk, AJ, record["id"])
    approve(db, boss, chain["whsuper"], record["id"])
    approve(db, as_user("regional"), regional, record["id"])
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(10)  # HQ still to decide
    approve(db, hq, chain["hq"], record["id"])
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(1009)
    assert [row[4:] for row in ledger(db, record["number"])] == [
        (D(-1), "adjustment"),
        (D(1000), "adjustment"),
    ]
    small = create(clerk, AJ, adjustment(chain, "adjustment", [line(chain, "100", cost="6")]))
    submit(clerk, AJ, small["id"])
    approve(db, boss, chain["whsuper"], small["id"])
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(1109)


@pytest.mark.parametrize(
    ("reason", "quantity", "message"),
    [
        ("count_surplus", "-1", "Count surplus adds stock: the quantity must be positive"),
        ("count_shortage", "2", "Count shortage takes stock out: the quantity must be negative"),
    ],
)
def test_a_wrong_sign_is_refused_as_the_line_is_saved(
    db, as_user, chain, reason, quantity, message
):
    """Not at the last approval, after everyone signed it off: the line is refused as it is
    written, naming the reason as the form offers it (盘亏 / Count shortage), not its code."""
    response = as_user("whclerk").post(AJ, json=adjustment(chain, reason, [line(chain, quantity)]))
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {"lines[0].quantity": [message]}
    assert ledger_count(db) == 4  # the opening stock only


def test_the_posting_still_refuses_a_wrong_sign_naming_the_reason_by_its_label(db, as_user, chain):
    """The last guard, for a record saved before the form checked the sign (or under a form an
    admin changed): the posting refuses it, and says 盘亏 / Count shortage, not count_shortage."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    record = create(clerk, AJ, adjustment(chain, "count_shortage", [line(chain, "-2")]))
    with db.transaction() as session:
        saved = session.get(Record, record["id"])
        saved.data = {**saved.data, "lines": [{**saved.data["lines"][0], "quantity": "2"}]}
        session.get(User, chain["whsuper"]).locale = "zh_CN"  # the approver reads Chinese
    submit(clerk, AJ, record["id"])
    from app.workflow.models import ApprovalTask

    with db.session() as session:
        task = session.scalar(select(ApprovalTask.id).where(ApprovalTask.status == "pending"))
    response = boss.post(f"/api/v1/approval-tasks/{task}/decision", json={"decision": "approve"})
    assert response.status_code == 409, response.json
    assert response.json["error"] == "第 1 行：盘亏 的数量必须为负数，不能是 2。"
    assert ledger_count(db) == 4


def test_more_than_there_is_is_refused_and_nothing_posts(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    record = create(clerk, AJ, adjustment(chain, "count_shortage", [line(chain, "-11")]))
    submit(clerk, AJ, record["id"])
    before = (stock(db), ledger_count(db))
    from app.workflow.models import ApprovalTask

    with db.session() as session:
        task = session.scalar(select(ApprovalTask.id).where(ApprovalTask.status == "pending"))
    response = boss.post(f"/api/v1/approval-tasks/{task}/decision", json={"decision": "approve"})
    assert response.status_code == 409, response.json
    for word in ["STRIP", "11", "10"]:
        assert word in response.json["error"], response.json
    assert response.json["field"] == "lines[0].quantity"  # the line, as the page marks it
    assert (stock(db), ledger_count(db)) == before
    assert boss.get(f"{AJ}/{record['id']}").json["state"] == "in_approval"


def test_a_zero_quantity_is_refused_at_entry(db, as_user, chain):
    response = as_user("whclerk").post(AJ, json=adjustment(chain, "adjustment", [line(chain, "0")]))
    assert response.status_code == 422
    assert "lines[0].quantity" in response.json["errors"]


def test_a_negative_unit_cost_is_refused_at_entry(db, as_user, chain):
    """10 000 plus -9 500 would total 500 and escape HQ's approval above 5 000."""
    clerk = as_user("whclerk")
    lines = [line(chain, "100", cost="100.00"), line(chain, "1", cost="-9500.00")]
    response = clerk.post(AJ, json=adjustment(chain, "count_surplus", lines))
    assert response.status_code == 422
    assert response.json["errors"]["lines[1].unit_cost"] == ["Must be at least 0."]
    # (a scrap's cost is not typed: it is the stock's, written at submit, test_scrap_submit)


def test_a_store_clerk_cannot_adjust_the_warehouse(db, as_user, chain):
    response = as_user("clerk1").post(AJ, json=adjustment(chain, "adjustment", [line(chain, "1")]))
    assert response.status_code == 422
    assert "location" in response.json["errors"]
    assert ledger_count(db) == 4  # the opening stock only


# --- scrap ---------------------------------------------------------------------------------------


def scrap_body(chain, lines, **changes) -> dict:
    body = {"location": chain["WH1"], "explanation": "crushed in the warehouse",
            "destruction_method": "incineration", "destruction_date": "2026-11-20",
            "destruction_place": "Shanghai medical waste plant", "witnesses": "QA 王, 保管员 孙",
            "lines": lines}  # fmt: skip
    return {**body, **changes}


@pytest.fixture
def nonconforming(db, chain):
    """Two strips of lot L1 found damaged at WH1: moved to nonconforming."""
    with db.transaction() as session:
        strip = session.get(Item, chain["strip"])
        lot = session.scalar(select(Lot).where(Lot.lot_number == "L1"))
        wh1 = session.get(Location, chain["WH1"])
        post_movements(
            session,
            [
                Movement(
                    item=strip,
                    quantity=D(2),
                    lot=lot,
                    source=wh1,
                    destination=wh1,
                    destination_status="nonconforming",
                )
            ],  # fmt: skip
            reason=Reason.adjustment,
            document="DAMAGE-1",
        )


def test_scrap_nonconforming_goods_with_manager_and_signed_qa_approval(
    db, as_user, chain, nonconforming
):
    clerk, boss, qa = as_user("whclerk"), as_user("whsuper"), as_user("qa")
    record = create(clerk, SC, scrap_body(chain, [line(chain, "2", status="nonconforming")]))
    assert submit(clerk, SC, record["id"]).json["state"] == "in_approval"
    submitted = clerk.get(f"{SC}/{record['id']}").json  # priced at the stock's cost at submit
    assert D(str(submitted["data"]["amount"])) == D("17.00")
    approve(db, boss, chain["whsuper"], record["id"])
    assert stock(db)[("WH1", "STRIP", "L1", "nonconforming")] == D(2)  # QA has not signed
    approve(db, qa, chain["qa"], record["id"], signature=SIGN)
    after = stock(db)
    assert ("WH1", "STRIP", "L1", "nonconforming") not in after
    assert after[("WH1", "STRIP", "L1", "available")] == D(8)
    assert ledger(db, record["number"]) == [("WH1", "STRIP", "L1", "nonconforming", D(-2), "scrap")]
    scrapped = boss.get(f"{SC}/{record['id']}").json
    assert scrapped["state"] == "scrapped"
    assert scrapped["data"]["witnesses"] == "QA 王, 保管员 孙"


def test_scrap_of_an_expired_lot_from_available_stock(db, as_user, chain):
    with db.transaction() as session:
        strip = session.get(Item, chain["strip"])
        from app.kernel.items import get_or_create_lot

        old = get_or_create_lot(session, strip, "OLD", dt.date(2020, 1, 31))
        post_movements(
            session,
            [
                Movement(
                    item=strip,
                    quantity=D(3),
                    lot=old,
                    destination=session.get(Location, chain["WH1"]),
                )
            ],  # fmt: skip
            reason=Reason.opening,
            document="OPENING-OLD",
        )
    clerk, boss, qa = as_user("whclerk"), as_user("whsuper"), as_user("qa")
    record = create(clerk, SC, scrap_body(chain, [line(chain, "3", lot="OLD")]))
    submit(clerk, SC, record["id"])
    approve(db, boss, chain["whsuper"], record["id"])
    approve(db, qa, chain["qa"], record["id"], signature=SIGN)
    assert ("WH1", "STRIP", "OLD", "available") not in stock(db)
    assert ledger(db, record["number"]) == [("WH1", "STRIP", "OLD", "available", D(-3), "scrap")]


def test_good_stock_is_never_scrapped(db, as_user, chain):
    clerk, boss, qa = as_user("whclerk"), as_user("whsuper"), as_user("qa")
    # its expiry given and not past: refused as it is written, before anyone approves it
    good = {**line(chain, "1", status="available"), "expiry_date": "2099-12-31"}
    response = clerk.post(SC, json=scrap_body(chain, [good]))
    assert response.status_code == 422
    assert response.json["errors"] == {
        "lines[0].status": ["Available stock is scrapped only once its lot has expired"]
    }
    # not given: the posting checks the lot's own expiry, at the last approval
    record = create(clerk, SC, scrap_body(chain, [line(chain, "1", status="available")]))
    submit(clerk, SC, record["id"])
    approve(db, boss, chain["whsuper"], record["id"])
    before = (stock(db), ledger_count(db))
    from app.workflow.models import ApprovalTask

    with db.session() as session:
        task = session.scalar(
            select(ApprovalTask.id).where(
                ApprovalTask.status == "pending", ApprovalTask.approver_id == chain["qa"]
            )
        )
    response = qa.post(
        f"/api/v1/approval-tasks/{task}/decision", json={"decision": "approve", "signature": SIGN}
    )
    assert response.status_code == 409, response.json
    assert "only nonconforming goods or an expired lot" in response.json["error"]
    assert (stock(db), ledger_count(db)) == before


def test_a_recalled_lot_may_be_scrapped(db, as_user, chain):
    """Recalled goods cannot be sold or shipped, but destroying them is what a recall asks."""
    with db.transaction() as session:
        lot = session.scalar(select(Lot).where(Lot.lot_number == "RC"))
        assert lot.status == LotStatus.recalled
        strip = session.get(Item, chain["strip"])
        wh1 = session.get(Location, chain["WH1"])
        post_movements(
            session,
            [
                Movement(
                    item=strip,
                    quantity=D(5),
                    lot=lot,
                    source=wh1,
                    destination=wh1,
                    destination_status="nonconforming",
                )
            ],  # fmt: skip
            reason=Reason.adjustment,
            document="RECALL-HOLD",
        )
    clerk, boss, qa = as_user("whclerk"), as_user("whsuper"), as_user("qa")
    record = create(clerk, SC, scrap_body(chain, [line(chain, "5", lot="RC",
                                                       status="nonconforming")]))  # fmt: skip
    submit(clerk, SC, record["id"])
    approve(db, boss, chain["whsuper"], record["id"])
    approve(db, qa, chain["qa"], record["id"], signature=SIGN)
    assert ("WH1", "STRIP", "RC", "nonconforming") not in stock(db)


def test_the_destruction_record_is_required(db, as_user, chain):
    body = scrap_body(chain, [line(chain, "1", status="nonconforming")])
    for name in ("destruction_method", "destruction_date", "witnesses"):
        body.pop(name)
    response = as_user("whclerk").post(SC, json=body)
    assert response.status_code == 422
    assert {"destruction_method", "destruction_date", "witnesses"} <= set(response.json["errors"])


# --- what an adjustment or a scrap does to the stock value ---------------------------------------


def stock_value(client, chain, location="WH1") -> Decimal:
    """The report ``stock_value`` (库存金额) of ``location``, as its readers see it."""
    response = client.get("/api/v1/reports/stock_value", query_string={"location": chain[location]})
    assert response.status_code == 200, response.json
    [row] = response.json["rows"]
    return D(str(row["values"]["value"]))


def costs(db, document: str) -> list:
    """The unit cost on each ledger row of ``document``."""
    with db.session() as session:
        query = select(LedgerEntry.unit_cost).where(LedgerEntry.document == document)
        return list(session.scalars(query.order_by(LedgerEntry.id)))


def test_stock_leaves_at_its_cost_whatever_cost_a_shortage_types(db, as_user, chain):
    """A shortage of one strip typed at 0.01 took 8.49 off each of the other nine strips of the
    lot (stock value reads the lot's latest costed ledger row): the outgoing side carries no
    cost, so the value falls by one strip at the lot's cost, 8.50; an incoming line sets it."""
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    before = stock_value(boss, chain)
    assert before == D("6127.50")  # STRIP L1 10 and RC 5 at 8.50, ECG 2 at 3 000
    shortage = create(
        clerk, AJ, adjustment(chain, "count_shortage", [line(chain, "-1", cost="0.01")])
    )
    submit(clerk, AJ, shortage["id"])
    approve(db, boss, chain["whsuper"], shortage["id"])
    assert stock_value(boss, chain) == before - D("8.50")
    assert costs(db, shortage["number"]) == [None]
    # a count surplus brings goods in at the cost it names: the lot's cost from then on
    surplus = create(clerk, AJ, adjustment(chain, "count_surplus", [line(chain, "1", cost="9.50")]))
    submit(clerk, AJ, surplus["id"])
    approve(db, boss, chain["whsuper"], surplus["id"])
    assert costs(db, surplus["number"]) == [D("9.50")]
    assert stock_value(boss, chain) == 10 * D("9.50") + 5 * D("8.50") + 6000


def test_a_scrap_at_no_cost_does_not_zero_the_lot(db, as_user, chain, nonconforming):
    clerk, boss, qa = as_user("whclerk"), as_user("whsuper"), as_user("qa")
    before = stock_value(boss, chain)
    lines = [line(chain, "2", status="nonconforming", cost="0")]
    record = create(clerk, SC, scrap_body(chain, lines))
    submit(clerk, SC, record["id"])
    approve(db, boss, chain["whsuper"], record["id"])
    approve(db, qa, chain["qa"], record["id"], signature=SIGN)
    assert stock_value(boss, chain) == before - 2 * D("8.50")
    assert costs(db, record["number"]) == [None]
