"""Price changes (调价单) over the HTTP API: finance drafts, an HQ manager other than the author
approves, and from the change's date the sales of the stores it covers start at the new price;
a change dated ahead waits for its day and can be withdrawn until then; bad input is refused on
the field it is about, and nothing is written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.db import clock_at
from app.kernel.prices import ItemPrice
from app.workflow.models import ApprovalTask
from tests.application import purchasing_fixtures as purchasing
from tests.application.clock import SUITE_STARTED, TODAY, days_ahead
from tests.application.purchasing_fixtures import day, url

STAFF = {
    **purchasing.USERS,
    "finance": ("finance", "HQ", "zh_CN"),
    "hq2": ("hq_manager", "HQ", "en"),
    "north": ("store_clerk", "BJ01", "zh_CN"),
}


@pytest.fixture(name="bed")
def bed_fixture(app, db):
    bed = purchasing.make_bed(app, db, STAFF)
    # purchase 12.00, retail 25.00, wholesale 18.00
    bed.glc = bed.item("GLC", "0690123456011", wholesale_price="18.00")["data"]["item"]
    return bed


def _approve(bed, username: str, record_id: int):
    """``username`` approves their task on the record (each HQ manager has one: any may)."""
    with bed.db.session() as session:
        task = session.scalar(
            select(ApprovalTask.id).where(
                ApprovalTask.record_id == record_id,
                ApprovalTask.approver_id == bed.users[username],
                ApprovalTask.status == "pending",
            )
        )
    return bed.api(username).post(
        f"/api/v1/approval-tasks/{task}/decision", json={"decision": "approve"}
    )


def price_change(bed, username="finance", **data) -> dict:
    body = {"valid_from": day(0), "reason": "季度调价",
            "lines": [{"item": bed.glc, "new_retail_price": "22.00"}], **data}  # fmt: skip
    return bed.create(username, "price_change", body)


def approved(bed, record: dict, approver="hq2") -> dict:
    submitted = bed.fire("finance", "price_change", record["id"], "submit")
    assert submitted.status_code == 200, submitted.json
    assert submitted.json["state"] == "in_approval"
    decided = _approve(bed, approver, record["id"])
    assert decided.status_code == 200, decided.json
    current = bed.api("finance").get(url("price_change", record["id"])).json
    assert current["state"] == "approved"
    return current


def sale_price(bed, clerk: str, store: str, customer=None, sale_date=None) -> str:
    body = {"location": bed.loc(store), "lines": [{"item": bed.glc, "quantity": "1"}]}
    if customer:
        body["customer"] = customer
    if sale_date:
        body["sale_date"] = sale_date
    ahead = (dt.date.fromisoformat(sale_date) - TODAY).days if sale_date else 0
    with days_ahead(ahead):  # (sold on its day)
        return bed.create(clerk, "sales_order", body)["data"]["lines"][0]["unit_price"]


def test_an_approved_regional_change_prices_the_regions_sales_from_its_day(bed):
    record = price_change(bed, location=bed.loc("R-EAST"))
    line = record["data"]["lines"][0]
    assert (line["retail_price"], line["wholesale_price"]) == ("25.00", "18.00")  # the card's
    assert line["retail_change"] == "-12.0"
    assert sale_price(bed, "clerk", "SH01") == "25.00"  # a draft changes nothing
    approved(bed, record)
    assert sale_price(bed, "clerk", "SH01") == "22.00"  # East's store: the new price
    assert sale_price(bed, "north", "BJ01") == "25.00"  # the North's: the card's still
    hospital = bed.qualify("customer", {
        "code": "H-9", "name": "瑞金医院", "kind": "hospital", "licence_number": "沪械2020009",
        "licence_expiry": day(300),
    })  # fmt: skip
    # only the retail price changed: a hospital still buys at the card's wholesale price
    assert sale_price(bed, "clerk", "SH01", customer=hospital["id"]) == "18.00"
    # the next change shows the price now in force as the one it changes
    later = price_change(bed, valid_from=day(1), location=bed.loc("SH01"),
                         lines=[{"item": bed.glc, "new_wholesale_price": "17.00"}])  # fmt: skip
    line = later["data"]["lines"][0]
    assert (line["retail_price"], line.get("new_retail_price")) == ("22.00", None)


def test_a_change_dated_ahead_waits_for_its_day_and_can_be_withdrawn_until_then(bed):
    record = approved(bed, price_change(bed, valid_from=day(2)))
    page = bed.api("hq").get(f"/forms/price_change/{record['id']}").text
    assert 'data-transition="withdraw"' in page
    assert sale_price(bed, "clerk", "SH01") == "25.00"
    assert sale_price(bed, "clerk", "SH01", sale_date=day(2)) == "22.00"
    refused = bed.fire("hq", "price_change", record["id"], "withdraw")
    assert refused.status_code == 422 and "comment" in refused.json["errors"]  # say why
    withdrawn = bed.fire("hq", "price_change", record["id"], "withdraw", comment="错价")
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["state"] == "withdrawn"
    assert sale_price(bed, "clerk", "SH01", sale_date=day(2)) == "25.00"


def test_a_change_in_force_cannot_be_withdrawn(bed):
    record = approved(bed, price_change(bed))
    page = bed.api("hq").get(f"/forms/price_change/{record['id']}").text
    assert 'data-transition="withdraw"' not in page  # not offered
    response = bed.fire("hq", "price_change", record["id"], "withdraw", comment="错价")
    assert response.status_code == 409, response.json
    assert "调价已生效，不能撤销" in response.json["message"]  # in the manager's language
    assert bed.api("hq").get(url("price_change", record["id"])).json["state"] == "approved"
    assert sale_price(bed, "clerk", "SH01") == "22.00"


def test_a_change_approved_after_its_date_starts_on_the_day_of_approval(bed):
    record = price_change(bed)
    assert bed.fire("finance", "price_change", record["id"], "submit").status_code == 200
    with clock_at(SUITE_STARTED + dt.timedelta(days=1)):
        assert _approve(bed, "hq2", record["id"]).status_code == 200
    current = bed.api("hq").get(url("price_change", record["id"])).json
    assert current["data"]["valid_from"] == day(1)  # the document says when it took effect
    assert sale_price(bed, "clerk", "SH01") == "25.00"
    assert sale_price(bed, "clerk", "SH01", sale_date=day(1)) == "22.00"


def test_its_author_cannot_approve_it_nor_a_store_draft_one(bed):
    record = price_change(bed, username="hq")
    assert bed.fire("hq", "price_change", record["id"], "submit").status_code == 200
    with bed.db.session() as session:
        approvers = session.scalars(
            select(ApprovalTask.approver_id).where(ApprovalTask.record_id == record["id"])
        ).all()
    assert approvers == [bed.users["hq2"]]  # HQ's managers but its author
    refused = bed.api("clerk").post(url("price_change"), json={"reason": "x", "lines": []})
    assert refused.status_code == 403
    assert _approve(bed, "hq2", record["id"]).status_code == 200


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"valid_from": day(-1)}, {"valid_from"}),
        ({"lines": []}, {"lines"}),
        ({"lines": [{"item": None}]}, {"lines[0].item", "lines[0].new_retail_price"}),
        ({"lines": [{"item": "GLC", "new_retail_price": "-1"}]}, {"lines[0].new_retail_price"}),
        (
            {
                "lines": [
                    {"item": "GLC", "new_retail_price": "22"},
                    {"item": "GLC", "new_wholesale_price": "17"},
                ]
            },
            {"lines[0].item", "lines[1].item"},
        ),  # fmt: skip
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_written(bed, data, fields):
    for line in data.get("lines", []):
        line["item"] = bed.glc if line["item"] == "GLC" else line["item"]
    body = {"valid_from": day(0), "reason": "季度调价",
            "lines": [{"item": bed.glc, "new_retail_price": "22.00"}], **data}  # fmt: skip
    response = bed.api("finance").post(url("price_change"), json=body)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == fields
    assert bed.api("finance").get(url("price_change")).json["total"] == 0
    with bed.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ItemPrice)) == 0


def test_the_printed_change_carries_a_price_tag_per_new_retail_price(bed):
    """价签: name, model, manufacturer, registration certificate, unit, the new price, the day it
    starts and the GTIN as a barcode; a line changing the wholesale price alone gets none."""
    other = bed.item("GLC-2", "0690123456012")["data"]["item"]
    record = price_change(bed, valid_from=day(3), lines=[
        {"item": bed.glc, "new_retail_price": "22.00"},
        {"item": other, "new_wholesale_price": "17.00"},
    ])  # fmt: skip
    page = bed.api("clerk").get(f"/forms/price_change/{record['id']}/print")
    assert page.status_code == 200
    html = page.text
    tags = html[html.index('class="price-tags"') :]
    assert tags.count('class="price-tag"') == 1
    assert "血糖试纸 GLC" in tags and "国械注准2023GLC" in tags and "鱼跃医疗" in tags
    assert "¥ 22.00" in tags and day(3) in tags and "<svg" in tags
    assert "(01)06901234560114" in tags  # the GTIN under its barcode
    assert "GLC-2" not in tags  # its retail price does not change
    assert "17.00" in html[: html.index('class="price-tags"')]  # but the change lists it


def test_the_price_changes_report_lists_each_approved_line_with_its_document(bed):
    """调价记录: a store's clerk reads what changed where and from when; drafts are not in it."""
    approved(bed, price_change(bed, location=bed.loc("R-EAST")))
    price_change(bed, valid_from=day(5))  # a draft: not a price of anyone's yet
    response = bed.api("clerk").get("/api/v1/reports/price_changes")
    assert response.status_code == 200, response.json
    rows = [row["values"] for row in response.json["rows"]]
    assert len(rows) == 1
    row = rows[0]
    assert (row["valid_from"], row["scope"], row["item"]) == (day(0), "华东区", "血糖试纸 GLC")
    assert (row["retail_price"], row["new_retail_price"]) == ("25.00", "22.00")
    assert Decimal(row["retail_change"]) == Decimal("-12")
    assert row["number"].startswith("TJ-")


def test_a_store_reads_the_price_changes_that_set_its_prices_and_hq_those_of_one_place(bed):
    """调价记录 for a store: the chain's changes, its region's and its own — not another region's
    (they are not its prices); HQ reads them all, or those that apply to one place."""
    east = approved(bed, price_change(bed, location=bed.loc("R-EAST")))
    chain = approved(bed, price_change(bed, valid_from=day(1), reason="全国调价"))
    north_store = approved(bed, price_change(bed, location=bed.loc("BJ01"), valid_from=day(2)))

    def numbers(username, **params):
        response = bed.api(username).get("/api/v1/reports/price_changes", query_string=params)
        assert response.status_code == 200, response.json
        return sorted(row["values"]["number"] for row in response.json["rows"])

    assert numbers("clerk") == sorted([east["number"], chain["number"]])
    assert numbers("north") == sorted([chain["number"], north_store["number"]])
    everything = sorted([east["number"], chain["number"], north_store["number"]])
    assert numbers("hq") == everything
    assert numbers("hq", applies_to="SH01") == numbers("clerk")
    # a region takes in its stores' own changes too
    assert numbers("hq", applies_to="R-NORTH") == numbers("north")
    page = bed.api("clerk").get("/reports/price_changes")
    assert page.status_code == 200
    assert 'name="applies_to"' in page.text and "适用于" in page.text
    assert east["number"] in page.text and north_store["number"] not in page.text
    # a store's clerk cannot look at another store's: refused on the parameter, as unknown
    refused = bed.api("clerk").get("/api/v1/reports/price_changes?applies_to=BJ01")
    assert refused.status_code == 400
    assert "applies_to" in str(refused.json)


def test_the_price_before_is_read_again_when_the_change_takes_effect(bed):
    """A draft says the price before as it was when saved; another change approved meanwhile
    makes that stale, so approval reads it again — as it is on the day, without itself."""
    regional = price_change(bed, location=bed.loc("R-EAST"), valid_from=day(1))
    assert regional["data"]["lines"][0]["retail_price"] == "25.00"  # the card's, when drafted
    approved(bed, price_change(bed, reason="全国先调", lines=[
        {"item": bed.glc, "new_retail_price": "20.00"}]))  # fmt: skip
    line = approved(bed, regional)["data"]["lines"][0]
    assert (line["retail_price"], line["new_retail_price"]) == ("20.00", "22.00")
    assert Decimal(line["retail_change"]) == Decimal("10")
    assert line["wholesale_price"] == "18.00"  # no change set it: still the card's
