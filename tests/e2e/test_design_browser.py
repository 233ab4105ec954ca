"""The workflow editor in a real browser: the flow is drawn as the admin opens it and drawn again
as they type; a mistake replaces the drawing with the message naming its line."""

import pytest

from app.kernel.locations import add_location
from app.meta import identity
from tests.e2e.conftest import DESKTOP, sign_in

PASSWORD = "correct horse battery"


@pytest.fixture
def designer(db):
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        identity.create_user(session, "designer", "流程 设计", PASSWORD, roles=["admin"],
                             location_ids=[hq.id])  # fmt: skip


def test_the_flow_is_drawn_and_redrawn_as_the_admin_types(
    live_server, page_factory, designer, screenshot_dir
):
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/workflows/scrap/edit")
    page.wait_for_selector("#flow-diagram")
    states = page.locator("#flow-diagram g.state text").all_text_contents()
    assert states == ["草稿", "审批中", "已销毁", "已取消"]
    arrows = page.locator("#flow-diagram > text").all_text_contents()
    assert "提交审批" in arrows and "驳回" in arrows
    page.screenshot(path=screenshot_dir / "workflow-editor.png", full_page=True)

    editor = page.locator("textarea[name=yaml]")
    text = editor.input_value()
    editor.fill(text.replace("{zh_CN: 已销毁, en: Scrapped}", "{zh_CN: 已报废销毁, en: Scrapped}"))
    page.keyboard.press("End")  # the preview follows key presses
    page.wait_for_function(
        "document.querySelector('#flow-diagram')?.textContent.includes('已报废销毁')"
    )
    editor.fill(text.replace("    to: scrapped", "    to: scraped"))
    page.keyboard.press("End")
    page.wait_for_selector("#issues.list-group")
    assert "unknown state" in page.locator("#issues").inner_text() or "未知状态" in (
        page.locator("#issues").inner_text()
    )
    assert page.locator("#flow-diagram").count() == 0


def test_a_field_added_with_the_helper_is_checked_and_published(
    live_server, page_factory, designer, app
):
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/forms/supplier/edit")
    page.wait_for_selector("#preview")
    page.click("#add-field summary")
    page.fill("#new-name", "Bad Name")
    page.click("[data-add-field-button]")
    assert "is-invalid" in page.get_attribute("#new-name", "class")

    page.fill("#new-name", "delivery_mode")
    page.select_option("#new-type", "select")
    page.select_option("#new-options", "transport_modes")
    page.fill("#new-zh", "送货方式：默认")  # a colon would break a bare YAML value: it is quoted
    page.fill("#new-en", "Delivery mode")
    page.click("[data-add-field-button]")
    text = page.input_value("textarea[name=yaml]")
    line = ('  - {name: delivery_mode, type: select, label: {zh_CN: "送货方式：默认", '
            'en: "Delivery mode"}, options: transport_modes}')  # fmt: skip
    assert line in text
    assert text.index(line) < text.index("\nlist:")  # among the fields, not after them
    page.wait_for_function("document.querySelector('#preview')?.textContent.includes('送货方式')")
    with page.expect_navigation():
        page.click("text=发布")
    with app.extensions["lianku.db"].session() as session:
        from app.meta.models import FormVersion

        [published] = session.query(FormVersion).filter_by(form="supplier").all()
        assert line in published.yaml_text
