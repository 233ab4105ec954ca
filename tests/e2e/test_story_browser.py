"""The story's key steps done by people in a real browser: a warehouse clerk on a phone creates a
purchase receipt by scanning a GS1 label into the scan field (the line fills itself), saves and
receives it; QA records the inspection and signs it; the record page then shows where the goods
went (the document's stock movements)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from app.kernel import Movement, Reason, get_or_create_lot, post_movements
from app.kernel.items import Item
from app.kernel.locations import Location
from tests.application.story_fixtures import (
    STRIP_GTIN,
    day,
    hospital,
    label,
    raw,
    scan_deliveries,
    stock,
    story_fixture,  # noqa: F401  (the fixture ``story``)
)
from tests.chain import PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, chosen, fill, pick, save, scan_into_new_row, sign_in

D = Decimal


@pytest.fixture
def qualified(story):
    """The supplier and the strips, qualified through the API as HQ and QA would."""
    supplier = story.supplier("SUP-YY", name="鱼跃供应链")
    strips = story.item("STRIP", "0690123456101", name="血糖试纸", specification="50 条/盒")
    return story, supplier, strips


def shot(page, name: str, tmp_path: Path) -> Path:
    path = Path(os.environ.get("LIANKU_E2E_SHOTS", tmp_path)) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_a_clerk_scans_a_receipt_on_a_phone_and_qa_inspects_it(
    live_server, page_factory, qualified, tmp_path
):
    bed, supplier, strips = qualified
    expiry = day(400)
    clerk = page_factory(viewport=PHONE, locale="zh-CN")
    sign_in(clerk, live_server, "keeper", PASSWORD)
    clerk.goto(f"{live_server}/forms/purchase_receipt/new")
    assert "上海中心仓" in chosen(clerk, "location")  # the keeper's own warehouse, chosen already
    pick(clerk, "supplier", "鱼跃供应链")
    clerk.click("[data-add-row=lines]")
    scan_field = clerk.locator("input[name='lines[0].scan']")
    scan_field.click()
    clerk.keyboard.type(f"]d201{STRIP_GTIN[:-1]}017{expiry:%y%m%d}10LOT-A")  # a bad check digit
    clerk.keyboard.press("Enter")
    error = clerk.locator("[data-error-for='lines[0].scan']")
    error.wait_for(timeout=5000)  # said next to the scan field, nothing filled
    assert error.inner_text() == f"The GTIN {STRIP_GTIN[:-1]}0 has a wrong check digit."
    assert clerk.locator("input[name='lines[0].lot']").input_value() == ""
    assert clerk.locator(".invalid-feedback").count() == 1  # no noise from half-typed fields
    shot(clerk, "receipt-bad-scan-phone", tmp_path)
    scan_field = clerk.locator("input[name='lines[0].scan']")
    scan_field.fill("")
    scan_field.click()
    clerk.keyboard.type(f"]d201{STRIP_GTIN}17{expiry:%y%m%d}10LOT-A")
    clerk.keyboard.press("Enter")
    clerk.wait_for_function(
        "document.querySelector(\"input[name='lines[0].lot']\").value === 'LOT-A'", timeout=5000
    )
    assert clerk.locator("input[name='lines[0].expiry_date']").input_value() == expiry.isoformat()
    assert clerk.locator("[data-error-for='lines[0].scan']").count() == 0
    fill(clerk, "input[name='lines[0].quantity']", "12")
    fill(clerk, "input[name='lines[0].unit_cost']", "12.00")
    shot(clerk, "receipt-new-phone", tmp_path)
    save(clerk)
    shot(clerk, "receipt-saved-phone", tmp_path)
    clerk.click("button[data-transition=receive]")
    clerk.wait_for_selector("#movements")
    shot(clerk, "receipt-received-phone", tmp_path)
    assert stock(bed.db) == {("WH-SH", "STRIP", "LOT-A", "awaiting_inspection"): (D(12), D(0))}
    assert movements(clerk) == [["WH-SH", "STRIP · LOT-A", "Awaiting inspection", "+12"]]
    record_url = clerk.url

    # QA records the result on the same page (desktop), then signs the inspection
    qa = page_factory(viewport=DESKTOP, locale="zh-CN")
    sign_in(qa, live_server, "qa", PASSWORD)
    qa.goto(record_url)
    qa.click("a:has-text('编辑')")
    qa.fill("input[name='lines[0].accepted_quantity']", "10")
    qa.fill("input[name='lines[0].rejected_quantity']", "2")
    qa.select_option("select[name='lines[0].conclusion']", "partly_rejected")
    qa.fill("input[name='lines[0].reject_reason']", "外包装破损")
    pick(qa, "inspector", "Qa 用户")
    qa.fill("input[name=inspected_at]", day(0).isoformat())
    shot(qa, "receipt-inspecting-desktop", tmp_path)
    save(qa)
    qa.wait_for_selector("button[data-transition=inspect]", timeout=5000)
    qa.fill("#transitions input[name=password]", PASSWORD)
    qa.click("button[data-transition=inspect]")
    qa.wait_for_selector("#movements tbody tr:nth-child(5)")
    shot(qa, "receipt-inspected-desktop", tmp_path)
    assert stock(bed.db) == {
        ("WH-SH", "STRIP", "LOT-A", "available"): (D(10), D(0)),
        ("WH-SH", "STRIP", "LOT-A", "nonconforming"): (D(2), D(0)),
    }
    assert movements(qa) == [
        ["WH-SH", "STRIP · LOT-A", "待验", "+12"],
        ["WH-SH", "STRIP · LOT-A", "待验", "-10"],
        ["WH-SH", "STRIP · LOT-A", "合格（可用）", "+10"],
        ["WH-SH", "STRIP · LOT-A", "待验", "-2"],
        ["WH-SH", "STRIP · LOT-A", "不合格", "+2"],
    ]
    # the clerk's phone shows the same result
    clerk.reload()
    shot(clerk, "receipt-inspected-phone", tmp_path)
    assert len(movements(clerk)) == 5
    # nothing on the page (the signature's hash, the scan strings) pushes it wider than the phone
    assert clerk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def movements(page) -> list[list[str]]:
    """The record page's stock movements as the rows read."""
    return [
        [cell.inner_text().strip() for cell in row.locator("td").all()]
        for row in page.locator("#movements tbody tr").all()
    ]


def test_a_manager_reviews_a_hospitals_goods_on_a_phone(
    live_server, page_factory, qualified, tmp_path
):
    """出库复核 on a phone: the clerk picked four boxes of strips for a hospital; the store manager
    scans them again, is told that the count does not match, and the goods leave once it does."""
    bed, _supplier, strips = qualified
    item_id, expiry = strips["data"]["item"], day(300)
    with bed.db.transaction() as session:
        item = session.get(Item, item_id)
        lot = get_or_create_lot(session, item, "LOT-H", expiry)
        store = session.get(Location, bed.loc("SH01"))
        opening = Movement(item=item, quantity=D(10), destination=store, lot=lot)
        post_movements(session, [opening], reason=Reason.opening, document="OPENING")
    order = bed.create("clerk", "sales_order", {
        "location": bed.loc("SH01"), "customer": hospital(bed)["id"],
        "lines": [{"item": item_id, "quantity": "4", "unit_price": "25.00"}],
    })  # fmt: skip
    assert bed.fire("clerk", "sales_order", order["id"], "confirm").status_code == 200
    picked = {"scan": label(STRIP_GTIN, "LOT-H", expiry), "quantity": "4"}
    scan_deliveries(bed, order["id"], [picked])
    assert bed.fire("clerk", "sales_order", order["id"], "finish_picking").status_code == 200

    manager = page_factory(viewport=PHONE, locale="zh-CN")
    sign_in(manager, live_server, "manager", PASSWORD)
    manager.goto(f"{live_server}/forms/sales_order/{order['id']}")
    manager.click("a:has-text('编辑')")
    scan_into_new_row(manager, "review_scans", raw(STRIP_GTIN, "LOT-H", expiry), "LOT-H")
    fill(manager, "input[name='review_scans[0].quantity']", "3")  # one box not scanned
    save(manager)
    manager.click("button[data-transition=review_deliver]")
    refusal = manager.locator(".alert-danger")
    refusal.wait_for(timeout=5000)
    assert "复核与拣货扫码不符：STRIP 批号 LOT-H 拣货 4，复核 3。" in refusal.inner_text()
    shot(manager, "review-refused-phone", tmp_path)
    assert stock(bed.db)[("SH01", "STRIP", "LOT-H", "available")] == (D(10), D(4))

    manager.click("a:has-text('编辑')")
    fill(manager, "input[name='review_scans[0].quantity']", "4")
    save(manager)
    manager.click("button[data-transition=review_deliver]")
    manager.wait_for_selector("#movements")
    shot(manager, "review-delivered-phone", tmp_path)
    assert stock(bed.db)[("SH01", "STRIP", "LOT-H", "available")] == (D(6), D(0))
    assert "Manager 用户" in manager.locator("[data-field='reviewer']").inner_text()
    assert manager.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
