"""A warehouse's "picking done" (拣货完成) on a supplier return, through the HTTP API: the return's
own posting is checked as it will run — the goods back to the supplier they came from, what the
location holds set apart, the kernel's rules — and nothing moves. A refusal names the picker's
line and the return is still being picked, instead of after QA or the supervisor scanned
everything again."""

from __future__ import annotations

import pytest

from tests.application.purchasing_fixtures import USERS, Decimal, make_bed

D = Decimal


@pytest.fixture
def bed(app, db):
    return make_bed(app, db, USERS)


@pytest.fixture
def gauze(bed) -> int:
    bed.supplier_id = bed.supplier()["id"]
    return bed.item("GAUZE", "0690123456011")["data"]["item"]


def picked(bed, gauze, quantity: str) -> dict:
    """The keeper puts ``quantity`` of the rejected lot L1 (5 set apart at WH-SH) on a return."""
    bed.rejected("keeper", "WH-SH", bed.supplier_id, gauze, "L1")
    return bed.create("keeper", "supplier_return", {
        "location": bed.loc("WH-SH"), "supplier": bed.supplier_id, "reason": "nonconforming",
        "lines": [{"item": gauze, "lot": "L1", "quantity": quantity}],
    })  # fmt: skip


def test_more_than_is_set_apart_is_refused_when_the_picking_is_done(bed, gauze):
    back = picked(bed, gauze, "1000")
    before = (bed.balances(), bed.ledger())
    refused = bed.fire("keeper", "supplier_return", back["id"], "finish_picking")
    assert refused.status_code == 409, refused.json
    assert refused.json["field"] == "lines[0].quantity"
    assert "GAUZE" in refused.json["error"] and "1000" in refused.json["error"]
    assert (bed.balances(), bed.ledger()) == before
    assert bed.api("keeper").get(f"/api/v1/forms/supplier_return/records/{back['id']}").json[
        "state"] == "draft"  # fmt: skip
    assert bed.messages(back["id"]) == []  # the supervisor is not told of a picking that can't go


def test_a_return_that_can_leave_waits_for_its_review_with_nothing_moved(bed, gauze):
    back = picked(bed, gauze, "4")
    before = (bed.balances(), bed.ledger())
    done = bed.fire("keeper", "supplier_return", back["id"], "finish_picking")
    assert done.status_code == 200, done.json
    assert done.json["state"] == "picked"
    assert (bed.balances(), bed.ledger()) == before
    shipped = bed.review_and_return("supervisor", back["id"])
    assert shipped.status_code == 200, shipped.json
    assert bed.balances()[("WH-SH", gauze, "L1", "nonconforming")] == D(1)
