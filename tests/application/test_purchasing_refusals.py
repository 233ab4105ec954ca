"""Purchasing's refusals, through the API: an expired supplier licence, an unapproved supplier, an
expired registration certificate, inspection results that do not add up, a role that may not
create or approve master cards; each says why and writes nothing. Plus the approval levels by
amount and the item card's sync to the kernel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from app.kernel.items import Item, add_item
from app.kernel.stock import LedgerEntry
from app.meta.models import Record
from app.workflow.models import ApprovalTask
from tests.application.purchasing_fixtures import (
    SIGN,
    TODAY,
    VERIFY,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    gtin,
    url,
)

D = Decimal


def receipt(bed, username: str, supplier_id: int, item_id: int, quantity="5") -> dict:
    return bed.create(username, "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier_id,
        "lines": [{"item": item_id, "lot": "L1", "expiry_date": day(300), "quantity": quantity,
                   "unit_cost": "3.00"}],
    })  # fmt: skip


def assert_nothing_written(bed, form: str, record: dict, state="draft"):
    now = bed.api("qa").get(url(form, record["id"])).json
    assert (now["state"], now["version"]) == (state, record["version"])
    with bed.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_expired_supplier_licence_is_refused_naming_it_in_chinese_and_english(bed):
    lapsed = (TODAY - dt.timedelta(days=25)).isoformat()
    supplier = bed.supplier("SUP-OLD", licence_expiry=lapsed)
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    chinese = receipt(bed, "supervisor", supplier["id"], item)
    response = bed.fire("supervisor", "purchase_receipt", chinese["id"], "receive")
    assert response.status_code == 409
    assert response.json["error"] == (
        f"供应商 华东医疗 的医疗器械经营许可证 沪食药监械经营许SUP-OLD号 已于 {lapsed} 过期"
    )
    assert_nothing_written(bed, "purchase_receipt", chinese)
    english = receipt(bed, "keeper", supplier["id"], item)
    response = bed.fire("keeper", "purchase_receipt", english["id"], "receive")
    assert response.status_code == 409
    assert response.json["error"] == (
        f"The medical device business licence 沪食药监械经营许SUP-OLD号 of supplier 华东医疗 "
        f"expired on {lapsed}."
    )
    assert_nothing_written(bed, "purchase_receipt", english)


def test_expired_business_licence_is_refused_too(bed):
    lapsed = (TODAY - dt.timedelta(days=1)).isoformat()
    supplier = bed.supplier("SUP-BL", business_licence_expiry=lapsed)
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    record = receipt(bed, "keeper", supplier["id"], item)
    response = bed.fire("keeper", "purchase_receipt", record["id"], "receive")
    assert response.status_code == 409
    assert "business licence 91310000MA1FL0001X" in response.json["error"]
    assert lapsed in response.json["error"]
    assert_nothing_written(bed, "purchase_receipt", record)


def test_unapproved_supplier_is_refused(bed):
    draft = bed.create("hq", "supplier", {
        "code": "SUP-NEW", "name": "新供应商", "licence_number": "L-9", "licence_expiry": day(99),
    })  # fmt: skip
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    record = receipt(bed, "supervisor", draft["id"], item)
    response = bed.fire("supervisor", "purchase_receipt", record["id"], "receive")
    assert response.status_code == 409
    assert response.json["error"] == "供应商 新供应商 未通过质量部门的首营审核"
    assert_nothing_written(bed, "purchase_receipt", record)


def test_expired_registration_certificate_is_refused(bed):
    supplier = bed.supplier()
    lapsed = TODAY - dt.timedelta(days=3)
    item = bed.item("OLD-REG", "0690123456012", registration_expiry=lapsed.isoformat())
    record = receipt(bed, "keeper", supplier["id"], item["data"]["item"])
    response = bed.fire("keeper", "purchase_receipt", record["id"], "receive")
    assert response.status_code == 409
    assert response.json["error"] == (
        f"The registration certificate 国械注准2023OLD-REG of OLD-REG expired on {lapsed}: "
        "the item may be neither bought nor sold."
    )
    assert_nothing_written(bed, "purchase_receipt", record)


def test_inspection_results_must_add_up_to_the_received_quantity(bed):
    supplier = bed.supplier()
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    record = receipt(bed, "keeper", supplier["id"], item, quantity="5")
    received = bed.fire("keeper", "purchase_receipt", record["id"], "receive").json
    qa = bed.api("qa")
    # inspecting before the results are recorded: refused, naming what is missing
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 422
    assert response.json["errors"]["_schema"] == [
        "每行都须填写合格数量与不合格数量",
        "请填写验收人和验收日期",
    ]
    # the line as received (its unit cost too: left out, the card's price would fill it in)
    line = {"item": item, "lot": "L1", "expiry_date": day(300), "quantity": "5",
            "unit_cost": "3.00"}  # fmt: skip
    response = qa.put(url("purchase_receipt", record["id"]), json={
        "version": received["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": [{**line, "accepted_quantity": "3", "rejected_quantity": "1",
                   "reject_reason": "破损"}],
    })  # fmt: skip
    assert response.status_code == 422
    message = "合格数量与不合格数量之和必须等于到货数量"
    assert response.json["errors"] == {
        "lines[0].accepted_quantity": [message],
        "lines[0].rejected_quantity": [message],
    }
    response = qa.put(url("purchase_receipt", record["id"]), json={
        "version": received["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": [{**line, "accepted_quantity": "0", "rejected_quantity": "5"}],
    })  # fmt: skip
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["lines[0].reject_reason"]
    now = qa.get(url("purchase_receipt", record["id"])).json
    assert now["version"] == received["version"] and "accepted_quantity" not in str(now["data"])
    # all rejected: an accepted quantity of 0 posts nothing, the 5 go to nonconforming
    response = qa.put(url("purchase_receipt", record["id"]), json={
        "version": received["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": [{**line, "accepted_quantity": "0", "rejected_quantity": "5",
                   "conclusion": "rejected", "reject_reason": "无中文标签"}],
    })  # fmt: skip
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert bed.balances() == {("WH-SH", item, "L1", "nonconforming"): D(5)}


def test_a_negative_unit_cost_is_refused_on_a_receipt(bed):
    supplier = bed.supplier()
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    response = bed.api("supervisor").post(url("purchase_receipt"), json={
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": item, "lot": "L1", "expiry_date": day(300), "quantity": "5",
                   "unit_cost": "-5"}],
    })  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {"lines[0].unit_cost": ["不能小于 0。"]}


def test_an_item_card_with_a_wrong_gtin_check_digit_is_refused_at_save_and_at_submit(bed):
    body = {"code": "BAD-GTIN", "name": "血糖试纸", "gtin": "06900000000017",
            "registration_cert": "国械注准2023BAD", "registration_expiry": day(700)}  # fmt: skip
    response = bed.api("hq").post(url("item_master"), json=body)
    assert response.status_code == 422  # at the keyboard, by the form's own rule
    assert response.json["errors"] == {"gtin": ["产品标识校验位不对：请核对 14 位数字。"]}
    card = bed.create("hq", "item_master", {**body, "gtin": gtin("0690000000001")})
    with bed.db.transaction() as session:  # however a wrong one got in, submit still refuses it
        record = session.get(Record, card["id"])
        record.data = {**record.data, "gtin": "06900000000017"}
    response = bed.fire("hq", "item_master", card["id"], "submit")
    assert response.status_code == 409
    assert response.json["error"] == (
        "06900000000017 不是有效的 GTIN（应为 14 位数字，含 GS1 校验位）。"
    )
    assert bed.api("hq").get(url("item_master", card["id"])).json["state"] == "draft"


def test_store_clerks_may_not_create_master_cards_and_only_qa_approves(bed):
    clerk = bed.api("clerk")
    card = {"code": "X", "name": "X", "licence_number": "L", "licence_expiry": day(9)}
    assert clerk.post(url("supplier"), json=card).status_code == 403
    item = {"code": "X", "name": "X", "registration_cert": "R", "registration_expiry": day(9)}
    assert clerk.post(url("item_master"), json=item).status_code == 403
    assert bed.api("keeper").post(url("item_master"), json=item).status_code == 403
    assert clerk.get(url("supplier")).status_code == 200
    supplier = bed.create("hq", "supplier", card)
    # chain-wide cards: a store's staff may read them, only HQ puts them to QA
    assert bed.fire("clerk", "supplier", supplier["id"], "submit").status_code == 403
    assert bed.fire("hq", "supplier", supplier["id"], "submit").status_code == 200
    assert bed.fire("supervisor", "supplier", supplier["id"], "approve", **SIGN).status_code == 403
    response = bed.fire("hq", "supplier", supplier["id"], "approve", **SIGN)
    assert response.status_code == 403 and "审核通过" in response.json["error"]
    assert bed.api("qa").get(url("supplier", supplier["id"])).json["state"] == "qa_review"
    rejected = bed.fire("qa", "supplier", supplier["id"], "reject")
    assert rejected.status_code == 422 and "comment" in rejected.json["errors"]
    rejected = bed.fire("qa", "supplier", supplier["id"], "reject", comment="许可证复印件不清晰")
    assert rejected.status_code == 200 and rejected.json["state"] == "draft"


def _order(bed, supplier_id: int, item_id: int, quantity: str) -> dict:
    order = bed.create("keeper", "purchase_order", {
        "location": bed.loc("WH-SH"), "supplier": supplier_id,
        "lines": [{"item": item_id, "quantity": quantity, "unit_price": "100.00"}],
    })  # fmt: skip
    response = bed.fire("keeper", "purchase_order", order["id"], "submit")
    assert response.status_code == 200 and response.json["state"] == "in_approval"
    return order


def _levels(bed, record_id: int) -> list[str]:
    with bed.db.session() as session:
        return list(
            session.scalars(
                select(ApprovalTask.level_name)
                .where(ApprovalTask.record_id == record_id)
                .order_by(ApprovalTask.id)
            )
        )


def _approve(bed, username: str, record_id: int):
    with bed.db.session() as session:
        task = session.scalar(
            select(ApprovalTask.id).where(
                ApprovalTask.record_id == record_id, ApprovalTask.status == "pending"
            )
        )
    return bed.api(username).post(
        f"/api/v1/approval-tasks/{task}/decision", json={"decision": "approve"}
    )


def test_purchase_order_approval_by_total_and_qualification_at_approval(bed):
    supplier = bed.supplier()
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    small = _order(bed, supplier["id"], item, "100")  # 10 000.00: the supervisor alone
    assert D(small["data"]["total"]) == D("10000.00")
    assert _approve(bed, "supervisor", small["id"]).status_code == 200
    assert _levels(bed, small["id"]) == ["manager"]
    assert bed.api("keeper").get(url("purchase_order", small["id"])).json["state"] == "approved"
    assert bed.fire("supervisor", "purchase_order", small["id"], "close").json["state"] == "closed"
    # the supplier's licence lapses while a large order waits for HQ: HQ's approval is refused
    large = _order(bed, supplier["id"], item, "101")  # 10 100.00: HQ too
    early = bed.api("keeper").post(url("purchase_receipt"), json={
        "location": bed.loc("WH-SH"), "supplier": supplier["id"], "purchase_order": large["id"],
        "lines": [{"item": item, "lot": "L1", "expiry_date": day(300), "quantity": "1"}],
    })  # fmt: skip
    assert early.status_code == 422 and list(early.json["errors"]) == ["purchase_order"]
    assert _approve(bed, "supervisor", large["id"]).status_code == 200
    lapsed = (TODAY - dt.timedelta(days=1)).isoformat()
    with bed.app.test_request_context(), bed.db.transaction() as session:
        from app.meta.models import Record

        card = session.get(Record, supplier["id"])
        card.data = {**card.data, "licence_expiry": lapsed}
    response = _approve(bed, "hq", large["id"])
    assert response.status_code == 409
    assert response.json["error"] == (
        f"供应商 华东医疗 的医疗器械经营许可证 沪食药监械经营许SUP-HD号 已于 {lapsed} 过期"
    )
    assert bed.api("hq").get(url("purchase_order", large["id"])).json["state"] == "in_approval"
    assert _levels(bed, large["id"]) == ["manager", "hq"]


def test_item_card_revision_updates_the_same_kernel_item_and_gtins_stay_unique(bed):
    card = bed.item("ECG-12", "0690123456021")
    kernel_id = card["data"]["item"]
    revised = bed.fire("hq", "item_master", card["id"], "revise", comment="新规格")
    assert revised.status_code == 200 and revised.json["state"] == "draft"
    response = bed.api("hq").put(url("item_master", card["id"]), json={
        "version": revised.json["version"], "name": "十二导心电图机", "tracking": "serial",
    })  # fmt: skip
    assert response.status_code == 200, response.json
    assert bed.fire("hq", "item_master", card["id"], "submit").status_code == 200
    approved = bed.fire("qa", "item_master", card["id"], "approve", **SIGN)
    assert approved.status_code == 200 and approved.json["data"]["item"] == kernel_id
    with bed.db.session() as session:
        item = session.get(Item, kernel_id)
        assert (item.name, str(item.tracking)) == ("十二导心电图机", "serial")
        assert session.scalar(select(func.count()).select_from(Item)) == 1
    # two cards may not share a GTIN (unique field), nor a card take a kernel item's GTIN
    copy = {"code": "ECG-COPY", "name": "复制", "registration_cert": "R-1",
            "registration_expiry": day(30), "gtin": gtin("0690123456021")}  # fmt: skip
    duplicate = bed.api("hq").post(url("item_master"), json=copy)
    assert duplicate.status_code == 422 and list(duplicate.json["errors"]) == ["gtin"]
    with bed.db.transaction() as session:
        add_item(session, "LEGACY", "旧系统商品", gtin=gtin("0690123456031"))
    other = bed.create("hq", "item_master", {**copy, "gtin": gtin("0690123456031")})
    refused = bed.fire("hq", "item_master", other["id"], "submit")  # HQ hears it, not QA
    assert refused.status_code == 409
    assert refused.json["error"] == f"产品标识 {gtin('0690123456031')} 已属于商品 LEGACY"
    assert bed.api("qa").get(url("item_master", other["id"])).json["state"] == "draft"


def test_licences_expiring_report_lists_suppliers_within_the_horizon(bed):
    bed.supplier("SUP-SOON", name="快到期", licence_expiry=day(30))
    bed.supplier("SUP-LATER", name="远期", licence_expiry=day(365))
    report = bed.api("qa").get("/api/v1/reports/licences_expiring").json
    assert [row["values"]["supplier"] for row in report["rows"]] == ["快到期"]
    report = bed.api("qa").get("/api/v1/reports/licences_expiring", query_string={
        "until": day(400)}).json  # fmt: skip
    assert [row["values"]["code"] for row in report["rows"]] == ["SUP-SOON", "SUP-LATER"]
    # the cards are the chain's: a warehouse's supervisor reads them here as on the supplier list
    # (a report of such records once showed anyone short of HQ none); recalls are not theirs
    own = bed.api("supervisor").get("/api/v1/reports/licences_expiring").json
    assert [row["values"]["supplier"] for row in own["rows"]] == ["快到期"]
    assert bed.api("supervisor").get("/api/v1/reports/open_recalls").status_code == 404


def test_stock_policy_is_one_per_location_and_item_with_consistent_levels(bed):
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    policy = {"location": bed.loc("WH-SH"), "item": item, "safety_stock": "10",
              "reorder_point": "20", "max_stock": "100"}  # fmt: skip
    assert bed.create("supervisor", "stock_policy", policy)["data"]["safety_stock"] == "10"
    again = bed.api("supervisor").post(url("stock_policy"), json=policy)
    # said above the form, naming the pair (the key field is hidden: nothing would be marked)
    assert again.status_code == 422
    assert again.json["errors"] == {"_schema": ["已有其他记录使用相同的“地点与商品”。"]}
    page = bed.api("supervisor").form("/forms/stock_policy/new", policy)
    assert page.status_code == 422 and "已有其他记录使用相同的“地点与商品”。" in page.text
    assert bed.create("hq", "stock_policy", {**policy, "location": bed.loc("SH01")})
    inverted = bed.api("hq").post(
        url("stock_policy"),
        json={**policy, "location": bed.loc("HZ01"), "reorder_point": "5", "max_stock": "4"},
    )
    assert inverted.status_code == 422
    assert inverted.json["errors"] == {
        "reorder_point": ["再订货点不能低于安全库存"],
        "max_stock": ["最高库存不能低于再订货点"],
    }
    # a refused value is not compared by the rules that read it (they would blame the wrong field
    # with "wrong type of value")
    negative = bed.api("hq").post(url("stock_policy"), json={
        **policy, "location": bed.loc("HZ01"), "safety_stock": "-1"})  # fmt: skip
    assert negative.status_code == 422 and list(negative.json["errors"]) == ["safety_stock"]
    assert bed.api("clerk").post(url("stock_policy"), json=policy).status_code == 403
    # only a store or a warehouse holds stock to replenish: not HQ, nor a region
    for place in ("HQ", "R-EAST"):
        refused = bed.api("hq").post(
            url("stock_policy"), json={**policy, "location": bed.loc(place)}
        )
        assert refused.status_code == 422 and list(refused.json["errors"]) == ["location"], place
