"""Price limits on a sale, through the HTTP API: a line sold after discount more than 10 % under
its list price, or under the lowest selling price of the item's card (最低售价), waits at
confirmation for the store manager's approval, with nothing reserved; within the limits the order
is confirmed at once, with no approval in its history. Rejected, it goes back to the clerk with
the reason; cancelled while it waits, nobody is left asked to decide."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.kernel.items import Item, get_or_create_lot
from app.kernel.locations import Location
from app.kernel.reservations import Reservation
from app.kernel.stock import Movement, Reason, post_movements
from app.workflow.models import ApprovalTask, WorkflowEvent
from tests.application import purchasing_fixtures as purchasing
from tests.application.purchasing_fixtures import day, url

STAFF = {**purchasing.USERS, "manager": ("store_manager", "SH01", "en")}


@pytest.fixture(name="bed")
def bed_fixture(app, db):
    """SH01 holds 20 of GLC (retail 25.00, lowest selling price 20.00) and 20 of CHEAP (retail
    25.00, no lowest price)."""
    bed = purchasing.make_bed(app, db, STAFF)
    bed.glc = bed.item("GLC", "0690123456011", min_price="20.00")["data"]["item"]
    bed.cheap = bed.item("CHEAP", "0690123456012")["data"]["item"]
    with db.transaction() as session:
        store = session.get(Location, bed.loc("SH01"))
        moves = []
        for item_id in (bed.glc, bed.cheap):
            item = session.get(Item, item_id)
            lot = get_or_create_lot(session, item, "L1", dt.date.fromisoformat(day(300)))
            moves.append(Movement(item=item, quantity=Decimal(20), destination=store, lot=lot,
                                  reason=Reason.opening))  # fmt: skip
        post_movements(session, moves, document="OPENING")
    return bed


def sale(bed, *lines: dict, by: str = "clerk") -> dict:
    return bed.create(by, "sales_order", {"location": bed.loc("SH01"), "lines": list(lines)})


def confirm(bed, order: dict, by: str = "clerk") -> dict:
    response = bed.fire(by, "sales_order", order["id"], "confirm")
    assert response.status_code == 200, response.json
    return response.json


def tasks(bed, order: dict) -> list[tuple[str, str]]:
    """(approver's username, status) of each approval task of the order."""
    names = {user_id: name for name, user_id in bed.users.items()}
    with bed.db.session() as session:
        rows = session.scalars(select(ApprovalTask).where(ApprovalTask.record_id == order["id"]))
        return [(names[task.approver_id], task.status) for task in rows]


def decide(bed, order: dict, decision: str, by: str = "manager", **body):
    with bed.db.session() as session:
        task = session.scalar(select(ApprovalTask.id).where(
            ApprovalTask.record_id == order["id"], ApprovalTask.status == "pending"
        ))  # fmt: skip
    return bed.api(by).post(
        f"/api/v1/approval-tasks/{task}/decision", json={"decision": decision, **body}
    )


def reserved(bed) -> Decimal:
    with bed.db.session() as session:
        return sum(session.scalars(select(Reservation.quantity)), Decimal(0))


def steps(bed, order: dict) -> list[str]:
    with bed.db.session() as session:
        events = session.scalars(
            select(WorkflowEvent).where(WorkflowEvent.record_id == order["id"])
            .order_by(WorkflowEvent.id)
        )  # fmt: skip
        return [event.transition for event in events]


def test_a_sale_within_its_limits_is_confirmed_at_once(bed):
    # 10 % off the list price is the limit, and 22.50 is over the lowest price
    order = sale(bed, {"item": bed.glc, "quantity": "2", "discount": "10"},
                 {"item": bed.cheap, "quantity": "1", "unit_price": "22.50"})  # fmt: skip
    lines = order["data"]["lines"]
    assert [(line["list_price"], line["price_below_limit"]) for line in lines] == [
        ("25.00", False),
        ("25.00", False),
    ]
    assert confirm(bed, order)["state"] == "confirmed"
    assert reserved(bed) == 3
    assert tasks(bed, order) == [] and steps(bed, order) == ["confirm"]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param({"unit_price": "22.49"}, id="more than 10 % under the list price"),
        pytest.param({"discount": "11"}, id="a discount over 10 %"),
        pytest.param({"unit_price": "0"}, id="given away"),
    ],
)
def test_a_sale_under_the_limit_waits_for_the_managers_approval(bed, line):
    order = sale(bed, {"item": bed.cheap, "quantity": "2", **line})
    assert order["data"]["lines"][0]["price_below_limit"] is True
    waiting = confirm(bed, order)
    assert waiting["state"] == "price_approval"
    assert reserved(bed) == 0  # nothing is held until the prices are approved
    assert tasks(bed, order) == [("manager", "pending")]

    approved = decide(bed, order, "approve")
    assert approved.status_code == 200, approved.json
    current = bed.api("clerk").get(url("sales_order", order["id"])).json
    assert current["state"] == "confirmed"
    assert reserved(bed) == 2
    assert set(steps(bed, order)) == {"confirm", "approve:price", "approved"}


def test_a_price_under_the_items_lowest_selling_price_waits_though_near_the_list(bed):
    order = sale(bed, {"item": bed.glc, "quantity": "1", "unit_price": "23.00", "discount": "15"})
    assert order["data"]["lines"][0]["price_below_limit"] is True  # 19.55 < 20.00
    assert confirm(bed, order)["state"] == "price_approval"


def test_a_rejected_price_goes_back_to_the_clerk_who_corrects_it(bed):
    order = sale(bed, {"item": bed.cheap, "quantity": "1", "unit_price": "15.00"})
    confirm(bed, order)
    refused = decide(bed, order, "reject", comment="最低九折")
    assert refused.status_code == 200, refused.json
    clerk = bed.api("clerk")
    current = clerk.get(url("sales_order", order["id"])).json
    assert current["state"] == "draft" and reserved(bed) == 0
    lines = [{**current["data"]["lines"][0], "unit_price": "23.00"}]
    saved = clerk.put(url("sales_order", order["id"]),
                      json={"lines": lines, "version": current["version"]})  # fmt: skip
    assert saved.status_code == 200, saved.json
    assert confirm(bed, order)["state"] == "confirmed"


def test_the_clerk_cannot_approve_and_the_manager_approves_their_own_sale(bed):
    order = sale(bed, {"item": bed.cheap, "quantity": "1", "unit_price": "1.00"})
    confirm(bed, order)
    assert decide(bed, order, "approve", by="clerk").status_code == 404  # not theirs to decide

    own = sale(bed, {"item": bed.cheap, "quantity": "1", "unit_price": "1.00"}, by="manager")
    assert confirm(bed, own, by="manager")["state"] == "price_approval"
    assert tasks(bed, own) == [("manager", "pending")]  # on record as the manager's decision


def test_the_clerk_withdraws_an_order_waiting_for_its_prices_to_correct_it(bed):
    order = sale(bed, {"item": bed.cheap, "quantity": "1", "unit_price": "2.00"})
    confirm(bed, order)
    withdrawn = bed.fire("clerk", "sales_order", order["id"], "withdraw")
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["state"] == "draft"
    assert tasks(bed, order) == [("manager", "cancelled")] and reserved(bed) == 0


def test_an_order_cancelled_while_its_prices_wait_leaves_nobody_asked(bed):
    order = sale(bed, {"item": bed.cheap, "quantity": "1", "unit_price": "1.00"})
    confirm(bed, order)
    cancelled = bed.fire("manager", "sales_order", order["id"], "cancel", comment="顾客不要了")
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["state"] == "cancelled"
    assert tasks(bed, order) == [("manager", "cancelled")]
    inbox = bed.api("manager").get("/inbox")
    assert order["number"] not in inbox.text


def test_a_negative_lowest_selling_price_is_refused_on_its_field(bed):
    card = bed.create("hq", "item_master", {"code": "NEG", "name": "试纸", "device_class": "I",
                                            "registration_cert": "沪械备20260001",
                                            "min_price": "5"})  # fmt: skip
    before = bed.api("hq").get(url("item_master", card["id"])).json
    negative = {"min_price": "-1", "version": before["version"]}
    response = bed.api("hq").put(url("item_master", card["id"]), json=negative)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["min_price"], response.json
    after = bed.api("hq").get(url("item_master", card["id"])).json
    assert after["data"]["min_price"] == "5" and after["version"] == before["version"]


def test_the_manager_reads_the_list_price_and_the_lines_under_the_limit_on_the_page(bed):
    order = sale(bed, {"item": bed.cheap, "quantity": "1", "unit_price": "15.00"},
                 {"item": bed.glc, "quantity": "1"})  # fmt: skip
    confirm(bed, order)
    page = bed.api("manager").get(f"/forms/sales_order/{order['id']}")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))

    assert "Awaiting price approval" in text
    assert "Your approval: Below the price limit: the manager approves" in text
    assert "List price" in text and "Below the price limit" in text
    [cheap, glc] = [row for row in re.findall(r"<tr[^>]*>.*?</tr>", page.text, re.S)
                    if "CHEAP" in row or "GLC" in row][:2]  # fmt: skip
    assert "15.00" in cheap and "25.00" in cheap and "Yes" in cheap
    # said on the lines under the limit, not 'No' on every other
    assert '<td data-label="Below the price limit" class="text-break"></td>' in glc
    assert "No" not in glc
    # an order within the limits draws no such column
    fine = sale(bed, {"item": bed.glc, "quantity": "1"})
    confirm(bed, fine)
    page = bed.api("manager").get(f"/forms/sales_order/{fine['id']}")
    assert "List price" in page.text and "Below the price limit" not in page.text


def test_the_managers_inbox_says_what_waits_and_who_asked(bed):
    order = sale(bed, {"item": bed.cheap, "quantity": "2", "unit_price": "10.00"})
    confirm(bed, order)
    inbox = bed.api("manager").get("/inbox")
    assert inbox.status_code == 200
    [row] = re.findall(r'<li class="list-group-item" data-task="\d+">(.*?)</li>', inbox.text, re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    assert order["number"] in text and "Below the price limit: the manager approves" in text
    assert "Sales order · Selling location: SH01" in text
    assert "Total: 20.00" in text and "asked by Clerk 用户" in text
    [waiting] = bed.api("manager").get("/api/v1/inbox").json["waiting"]
    assert (waiting["number"], waiting["form_label"], waiting["asked_by"]) == (
        order["number"],
        "Sales order",
        "Clerk 用户",
    )
    assert {"label": "Total", "value": "20.00"} in waiting["summary"]


def test_the_form_shows_the_flag_on_the_lines_under_the_limit_as_prices_are_typed(bed):
    """A line field's visible_if: each line's cell shows or hides as the live recompute says."""
    clerk = bed.api("clerk")
    typed = {"location": str(bed.loc("SH01")), "lines[0].item": str(bed.cheap),
             "lines[0].quantity": "1", "lines[0].unit_price": "15.00",
             "lines[1].item": str(bed.glc), "lines[1].quantity": "1"}  # fmt: skip
    answer = clerk.form("/forms/sales_order/evaluate", typed).text
    visible = json.loads(html.unescape(re.search(r'data-visible="([^"]*)"', answer).group(1)))
    assert visible["lines[0].price_below_limit"] is True
    assert visible["lines[1].price_below_limit"] is False
    assert "lines[0].quantity" not in visible  # a line field always shown is not sent
    raised = clerk.form("/forms/sales_order/evaluate", {**typed, "lines[0].unit_price": "25.00"})
    shown = re.search(r'data-visible="([^"]*)"', raised.text).group(1)
    assert json.loads(html.unescape(shown))["lines[0].price_below_limit"] is False
    # the edit page draws each line's cell shown or hidden as its values say
    order = sale(bed, {"item": bed.cheap, "quantity": "1", "unit_price": "15.00"},
                 {"item": bed.glc, "quantity": "1"})  # fmt: skip
    page = clerk.get(f"/forms/sales_order/{order['id']}/edit").text
    assert '<div data-field="lines[0].price_below_limit">' in page
    assert '<div data-field="lines[1].price_below_limit" class="d-none">' in page
