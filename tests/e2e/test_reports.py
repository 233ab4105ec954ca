"""Reports in a real browser: charts drawn on a phone and a desktop, an Excel download that
matches the table on the page."""

import pytest
from openpyxl import load_workbook

from app.kernel import audit
from app.kernel.audit import AuditContext
from app.kernel.locations import add_location
from app.meta import identity
from tests.e2e.conftest import DESKTOP, PHONE, sign_in


@pytest.fixture
def auditor(db):
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        identity.create_user(session, "auditor", "审计 周平", "correct horse battery",
                             roles=["auditor"], location_ids=[hq.id])  # fmt: skip
        for action in ("create", "create", "update", "login"):
            audit.record(session, action, "supplier", 1, context=AuditContext(username="qa"))


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_report_chart_draws(live_server, page_factory, auditor, viewport, screenshot_dir):
    page = page_factory(viewport=viewport)
    sign_in(page, live_server, "auditor", "correct horse battery")
    page.goto(f"{live_server}/reports/audit_activity")
    page.wait_for_selector("#chart canvas")
    box = page.locator("#chart canvas").bounding_box()
    assert box["width"] > 200 and box["width"] <= viewport["width"]
    assert "操作量统计" in page.locator("h1").inner_text()
    page.wait_for_timeout(1200)  # let the bars finish their entry animation
    page.screenshot(path=screenshot_dir / f"report-activity-{viewport['width']}.png",
                    full_page=True)  # fmt: skip


def test_excel_download_matches_the_table(live_server, page_factory, auditor, tmp_path):
    page = page_factory()
    sign_in(page, live_server, "auditor", "correct horse battery")
    page.goto(f"{live_server}/reports/audit_activity")
    table = [
        [cell.inner_text() for cell in row.locator("td").all()]
        for row in page.locator("table.report-table tbody tr").all()
    ]
    with page.expect_download() as download_info:
        page.click("text=Excel")
    path = tmp_path / "report.xlsx"
    download_info.value.save_as(path)
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert [str(value) for value in rows[1]] == table[0]
    assert rows[0][0] == "日期"


@pytest.fixture
def store_chain(app, db):
    from tests.report_chain import make_report_chain

    return make_report_chain(app, db)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_store_manager_dashboard_draws_its_cards(
    live_server, page_factory, store_chain, viewport, screenshot_dir
):
    page = page_factory(viewport=viewport)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "manager_a")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    cards = page.locator("[data-report-url]")
    # sales today, the till today, cash not deposited, stock value, the margin, my approvals,
    # awaiting review, sales to deliver, transfers on their way in, stock, below safety,
    # near-expiry and expired lots, slow-moving
    assert cards.count() == 14
    for index in range(14):
        page.wait_for_selector(f".dashboard > div:nth-child({index + 1}) [data-loaded]")
    value = page.locator("[data-report-url*=stock_value] .kpi-value").inner_text()
    assert value.startswith("32.5")  # 3×1.50 + 2×1.50 + 100×0.25 at the manager's store
    assert page.locator("[data-report-url*=my_approvals] .kpi-value").inner_text() == "0"
    # the cash card shows the figure it names (not the report's first, the takings); no cash
    # sale here: nothing to deposit
    cash = page.locator("[data-report-url*=till_deposits]")
    assert cash.locator(".kpi-label").inner_text() == "未缴存"
    assert cash.locator(".kpi-value").inner_text() == "–"
    # no delivery here kept what it sold for and cost: the margin is empty, not 0
    assert page.locator("[data-report-url*=gross_margin_summary] .kpi-value").inner_text() == "–"
    waiting = page.locator("[data-report-url*=awaiting_review]")  # nothing picked to review
    assert waiting.locator("thead th").first.inner_text() == "单号"
    assert waiting.locator("tbody").inner_text().strip() == "–"
    expired = page.locator("[data-report-url*=expired_lots]")
    assert expired.locator("canvas").count() == 0  # a table card is a table, not a chart
    assert expired.locator("thead th").nth(3).inner_text() == "批号"
    first = expired.locator("tbody tr").first
    assert first.locator("td").nth(3).inner_text() == "L-OLD"  # expired yesterday, 2 at SH01
    assert first.locator("[data-highlight=danger]").inner_text().startswith("-")  # days left
    assert expired.locator("tfoot td").first.inner_text() == "合计"
    assert expired.locator("tfoot td").last.inner_text() == "2"
    # everything at SH01 arrived with the chain, days ago at most: nothing has sat 60 days
    slow = page.locator("[data-report-url*=slow_moving]")
    assert slow.locator("tbody").inner_text().strip() == "–"
    # the store's open work: no sale waits to be handed over here; the transfer to BJ01 is not
    # this store's to receive
    for open_work in ("sales_to_deliver", "transfers_in_transit"):
        card = page.locator(f"[data-report-url*={open_work}]")
        assert card.locator("tbody").inner_text().strip() == "–", open_work
    bar = page.locator("[data-report-url*=stock_by_location] canvas").bounding_box()
    assert 100 < bar["width"] <= viewport["width"]
    page.wait_for_timeout(1200)  # let the bars finish their entry animation
    page.screenshot(path=screenshot_dir / f"dashboard-store-{viewport['width']}.png",
                    full_page=True)  # fmt: skip


def test_a_dashboard_tables_drill_opens_the_report_it_names(live_server, page_factory, store_chain):
    """QA's expiry dashboard: an item code in the near-expiry table opens that item's stock card,
    as the report page's own table does."""
    from tests.chain import PASSWORD

    with store_chain.db.transaction() as session:
        identity.create_user(session, "qa", "质量 Quinn", PASSWORD, roles=["qa"],
                             location_ids=[store_chain.loc("HQ")])  # fmt: skip
    page = page_factory(viewport=PHONE)
    sign_in(page, live_server, "qa", PASSWORD)
    card = page.locator("[data-report-url*=near_expiry][data-loaded]")
    card.wait_for(timeout=10_000)
    code = card.locator("tbody a[data-link]", has_text="STRIP").first
    assert code.get_attribute("href").endswith("/reports/stock_card?item=STRIP")
    code.click()
    page.wait_for_url(f"{live_server}/reports/stock_card?item=STRIP")
    assert "L-EARLY" in page.locator("table.report-table").inner_text()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_wide_report_is_a_card_per_row_on_a_phone(
    live_server, page_factory, store_chain, viewport, screenshot_dir
):
    """The stock journal has fourteen columns: on a phone each row is a card of labelled values
    no wider than the screen; on a desktop it is the usual table."""
    page = page_factory(viewport=viewport)
    sign_in(page, live_server, "manager_a", "correct horse battery")
    page.goto(f"{live_server}/reports/stock_journal")  # the last 30 days
    table = page.locator("table.report-table")
    headers = [th.inner_text() for th in table.locator("thead th").all()]
    assert len(headers) >= 10 and headers[1] == "地点"
    cells = table.locator("tbody tr").first.locator("td")
    labels = [td.evaluate("e => getComputedStyle(e, '::before').content") for td in cells.all()]
    width = page.evaluate("document.documentElement.scrollWidth")
    if viewport is PHONE:
        assert not table.locator("thead").is_visible()
        assert labels == [f'"{header}"' for header in headers]
        assert width <= viewport["width"]
        assert cells.nth(1).bounding_box()["width"] > viewport["width"] / 2  # a card's line
    else:
        assert table.locator("thead").is_visible() and set(labels) == {"none"}
    page.screenshot(path=screenshot_dir / f"report-cards-{viewport['width']}.png")
