"""The metadata editors in a real browser: the workflow editor draws the flow as the admin opens
it and again as they type (a mistake replaces the drawing with the message naming its line); the
form designer changes a form without the admin touching its YAML."""

import pytest

from app.kernel.locations import add_location
from app.meta import identity
from tests.e2e.conftest import DESKTOP, PHONE, save, sign_in

PASSWORD = "correct horse battery"


def settled(page) -> None:
    """Wait until htmx has no request under way and nothing being swapped in."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


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

    page.click("#yaml-tab")  # the editor opens on the designer; the YAML is the tab beside it
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


def test_a_form_is_designed_without_yaml_and_published(
    live_server, page_factory, designer, app, screenshot_dir
):
    """Relabel a field, make it required, add a choice field, move it up, publish: the YAML the
    designer wrote is what goes live, and the preview followed each step."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/forms/supplier/edit")
    contact = page.locator(".designer-field[data-name=contact] form").first
    contact.wait_for()
    label = contact.locator("input[name=label_zh]")
    label.fill("联系人姓名")
    label.press("Tab")  # a change is sent when the input is left
    page.wait_for_function("document.querySelector('#preview')?.textContent.includes('联系人姓名')")
    contact = page.locator(".designer-field[data-name=contact] form").first
    contact.locator("input[name=required]").check()
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes('联系人姓名, en: Contact}\\n"
        "    required: true')"
    )

    add = page.locator("#add-form")
    page.click("details:has(> #add-form) > summary")
    add.locator("input[name=name]").fill("Bad Name")
    add.locator("button[type=submit]").click()
    page.wait_for_selector("#add-form-name.is-invalid")
    settled(page)
    add = page.locator("#add-form")
    add.locator("input[name=name]").fill("delivery_mode")
    add.locator("select[name=type]").select_option("select")
    add.locator("select[name=options]").select_option("transport_modes")
    add.locator("input[name=label_zh]").fill("送货方式：默认")  # a colon needs quoting: done for us
    add.locator("input[name=label_en]").fill("Delivery mode")
    add.locator("button[type=submit]").click()
    page.wait_for_selector(".designer-field[data-name=delivery_mode]")
    settled(page)
    fields = page.locator("#designer-fields > .designer-field").evaluate_all(
        "cards => cards.map(card => card.dataset.name)"
    )
    assert fields[-1] == "delivery_mode"
    page.locator(".designer-field[data-name=delivery_mode] [data-move=up]").click()
    page.wait_for_function(
        "[...document.querySelectorAll('#designer-fields > .designer-field')]"
        ".map(card => card.dataset.name).slice(-2).join() === 'delivery_mode," + fields[-2] + "'"
    )
    page.wait_for_function("document.querySelector('#preview')?.textContent.includes('送货方式')")
    page.screenshot(path=screenshot_dir / "form-designer.png", full_page=True)
    text = page.input_value("#yaml-text")
    with page.expect_navigation():
        page.get_by_role("button", name="发布", exact=True).click()
    with app.extensions["lianku.db"].session() as session:
        from app.meta.models import FormVersion

        [published] = session.query(FormVersion).filter_by(form="supplier").all()
        assert published.yaml_text == text  # as the admin saw it, LF line ends and all
    assert "name: delivery_mode" in text and "options: transport_modes" in text
    assert text.index("name: delivery_mode") < text.index(f"name: {fields[-2]}")


def test_rights_are_ticked_in_the_roles_grid(live_server, page_factory, designer, screenshot_dir):
    """Pick the store clerk, give the scrap form rights of its own, take away create: the YAML
    and the permission matrix follow."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/roles/roles/edit")
    page.wait_for_selector("#rights-matrix")
    page.click("#role-picker [data-role=store_clerk]")
    page.wait_for_selector("#designer-state[value=store_clerk]", state="attached")
    page.check("#own-scrap")
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('scrap: [read')")
    settled(page)
    page.uncheck("#right-scrap-create")
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes('scrap: [read, update]')"
    )
    clerk_cell = """() => {
        const heads = [...document.querySelectorAll('#rights-matrix thead th')];
        const column = heads.findIndex(
            th => th.querySelector('code')?.textContent === 'store_clerk');
        const row = [...document.querySelectorAll('#rights-matrix tbody tr')]
            .find(tr => tr.querySelector('th').textContent.trim() === '报损销毁');
        return row && row.children[column].textContent.trim();
    }"""
    page.wait_for_function(f"({clerk_cell})() === 'RU'")  # read, change: no create
    page.screenshot(path=screenshot_dir / "roles-designer.png", full_page=True)


def test_an_approval_level_is_added_in_the_flow_designer(
    live_server, page_factory, designer, screenshot_dir
):
    """Add a finance level to the scrap approval and make it 会签: the YAML and the flow's
    description beside it follow, without the admin typing YAML."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/workflows/scrap/edit")
    page.wait_for_selector("#flow-diagram")
    add = page.locator("#add-level-0")
    page.click("details:has(> #add-level-0) > summary")
    add.locator("input[name=name]").fill("finance")
    add.locator("input[name=label_zh]").fill("财务复核")
    add.locator("button[type=submit]").click()
    page.wait_for_selector("#level-0-2")
    settled(page)
    level = page.locator("#level-0-2")
    level.locator("select[name=manager]").select_option("")
    page.wait_for_function("document.querySelector('#designer [data-refused]') !== null")
    assert "Say who approves" in page.inner_text("#designer") or "请指定审批人" in page.inner_text(
        "#designer"
    )
    manager = page.locator("#level-0-2 select[name=manager]")
    assert manager.input_value() == "location"  # drawn from the YAML
    page.locator("#level-0-2 input[name=roles][value=finance]").check()
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('[finance]')")
    settled(page)
    manager.select_option("region")  # and the region's manager (区域经理)
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('manager: region')")
    settled(page)
    manager.select_option("")
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes('approvers: {roles: [finance]}')"
    )
    settled(page)  # the designer is drawn anew: a choice made on the old one would be lost
    page.locator("#level-0-2 select[name=mode]").select_option("all")
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('mode: all')")
    page.wait_for_function("document.querySelector('#check')?.textContent.includes('财务复核')")
    page.screenshot(path=screenshot_dir / "flow-designer.png", full_page=True)


def test_an_action_is_added_to_a_transition_and_filled_in(
    live_server, page_factory, designer, screenshot_dir
):
    """Tell the creator when a scrap is cancelled: the action is picked from the installed ones,
    its message typed and its switch ticked in inputs drawn from its schema; a value the schema
    refuses is refused on its input."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/workflows/scrap/edit")
    page.wait_for_selector("#flow-diagram")
    page.locator("#add-step-1-action").select_option("notify")
    page.locator("#add-step-1 button[type=submit]").click()
    page.wait_for_selector("#step-1-0")
    settled(page)
    message = page.locator("#step-1-0-param-message-zh_CN")
    message.fill("报损单已取消")
    message.press("Tab")
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes('params: {message: 报损单已取消}')"
    )
    settled(page)
    english = page.locator("#step-1-0-param-message-en")  # the message in English too
    english.fill("Scrap cancelled")
    english.press("Tab")
    page.wait_for_function(
        "document.querySelector('#yaml-text').value"
        ".includes('message: {zh_CN: 报损单已取消, en: Scrap cancelled}')"
    )
    settled(page)
    page.click("#step-1-0 details > summary")  # the parameters not given yet, folded away
    page.locator("#step-1-0-param-creator").check()
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('creator: true}')")
    settled(page)
    reason = page.locator("#step-0-0-param-direction")
    assert reason.input_value() == "out"  # adjust_stock's choice, drawn as a list
    page.locator("#step-0-0-param-item").fill("Item Code")
    page.locator("#step-0-0-param-item").press("Tab")
    page.wait_for_selector("#step-0-0-param-item.is-invalid")
    assert "item: item" in page.locator("#yaml-text").input_value()  # the YAML left alone
    page.screenshot(path=screenshot_dir / "flow-actions.png", full_page=True)


def test_the_designers_changes_are_undone_last_first(live_server, page_factory, designer):
    """Two changes made in the flow designer, taken back one by one: the YAML, the preview and
    the designer return to where each was."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/workflows/scrap/edit")
    page.wait_for_selector("#flow-diagram")
    settled(page)
    shipped = page.locator("#yaml-text").input_value()
    assert page.locator("#designer-undo").is_disabled()
    page.locator("#add-step-1-action").select_option("notify")
    page.locator("#add-step-1 button[type=submit]").click()
    page.wait_for_selector("#step-1-0")
    settled(page)
    with_step = page.locator("#yaml-text").input_value()
    page.locator("#transition-1-signature").check()
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('signature: true')"
                           " && document.querySelectorAll('#yaml-text').length === 1"
                           " && document.querySelector('#yaml-text').value.split('signature: true')"
                           ".length === 3")  # fmt: skip
    settled(page)
    page.click("#designer-undo")
    page.wait_for_function("document.querySelector('#yaml-text').value.split('signature: true')"
                           ".length === 2")  # fmt: skip
    assert page.locator("#yaml-text").input_value() == with_step
    page.click("#designer-undo")
    page.wait_for_function("!document.querySelector('#step-1-0')")  # the designer follows
    assert page.locator("#yaml-text").input_value() == shipped
    assert page.locator("#designer-undo").is_disabled()


def test_yaml_typed_after_a_designer_change_still_redraws_the_designer(
    live_server, page_factory, designer
):
    """The designer's change replaces the YAML box; what is typed in the new box must still
    reach the designer (htmx binds a trigger's "from:" element once, and lost it before)."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/workflows/scrap/edit")
    page.wait_for_selector("#flow-diagram")
    settled(page)
    page.locator("#transition-1-signature").check()
    page.wait_for_function("document.querySelectorAll('#yaml-text')[0].value"
                           ".split('signature: true').length === 3")  # fmt: skip
    settled(page)
    page.click("#yaml-tab")
    box = page.locator("#yaml-text")
    box.fill(box.input_value().replace("{zh_CN: 取消, en: Cancel}", "{zh_CN: 作废, en: Void}"))
    box.press("End")
    page.click("#design-tab")
    page.wait_for_function("document.querySelector('#transition-1-label_zh')?.value === '作废'")


def test_a_choice_is_relabelled_in_the_option_table(live_server, page_factory, designer):
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/options/transport_modes/edit")
    label = page.locator("#choice-3-label_zh")
    label.fill("常温（无温控）")
    label.press("Tab")
    relabelled = "{zh_CN: 常温（无温控）, en: Ambient}"
    page.wait_for_function(f"document.querySelector('#yaml-text').value.includes('{relabelled}')")
    settled(page)
    page.locator("#choice-3 [data-move=up]").click()
    page.wait_for_function(
        "document.querySelector('#choices tbody tr:nth-child(3)')?.dataset.value === 'ambient'"
    )


def test_what_is_typed_while_the_designer_redraws_is_kept(live_server, page_factory, designer):
    """Change a label, move on and type in the next box before the answer comes back: the
    redrawn designer keeps what was typed there and sends it too."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/forms/supplier/edit")
    contact = ".designer-field[data-name=contact] form"
    page.locator(f"{contact} input[name=label_en]").wait_for()
    settled(page)
    held = []

    def hold_the_first(route):  # the answer to the first change waits; later ones go through
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/design", hold_the_first)
    page.locator(f"{contact} input[name=label_zh]").fill("联系人姓名")
    page.locator(f"{contact} input[name=label_zh]").press("Tab")  # to the English label
    page.keyboard.press("End")
    page.keyboard.type(" person")
    while not held:
        page.wait_for_timeout(20)
    held[0].continue_()
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes("
        "'{zh_CN: 联系人姓名, en: Contact person}')"
    )
    assert page.input_value(f"{contact} input[name=label_en]") == "Contact person"


def test_a_report_column_is_picked_from_its_source(
    live_server, page_factory, designer, screenshot_dir
):
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/reports/stock_by_location/edit")
    page.wait_for_selector("#add-column")
    settled(page)
    page.select_option("#add-column-column", "reserved")
    page.fill("#add-column-label_zh", "预留量")
    page.click("#add-column button[type=submit]")
    page.wait_for_selector("#report-columns tr[data-name=reserved]")
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('预留量')")
    page.wait_for_function("document.querySelector('#check')?.textContent.includes('预留量')")
    page.screenshot(path=screenshot_dir / "report-designer.png", full_page=True)


def test_a_report_filter_and_its_chart_are_set_without_yaml(live_server, page_factory, designer):
    """Only the lots that are expired, drawn as a pie: a condition added from the source's columns,
    the chart's type and figures ticked; the preview runs the draft each time."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/reports/stock_by_location/edit")
    page.wait_for_selector("#add-filter")
    settled(page)
    page.select_option("#add-filter-column", "lot.days_to_expiry")
    page.select_option("#add-filter-compare", "lt")
    page.fill("#add-filter-value", "0")
    page.click("#add-filter button[type=submit]")
    page.wait_for_selector("#filter-1")
    added = "{column: lot.days_to_expiry, op: lt, value: 0}"
    page.wait_for_function(f"document.querySelector('#yaml-text').value.includes('{added}')")
    settled(page)
    page.select_option("#chart-type", "pie")
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('type: pie')")
    settled(page)
    page.locator("#chart-y-available").check()
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes('y: [on_hand, available]')"
    )
    page.wait_for_selector("#check")


def test_a_dashboard_card_is_redrawn_as_another_chart(live_server, page_factory, designer):
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/dashboards/expiry/edit")
    page.wait_for_selector("#card-0")
    settled(page)
    page.select_option("#card-0-width", "6")
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes('chart: table\\n    width: 6')"
    )


def add_section(page, name: str, zh: str) -> None:
    """Open the form designer's sections panel and add the section ``name`` headed ``zh``."""
    page.locator("#form-sections > summary").click()
    add = page.locator("#section-add")
    add.locator("input[name=name]").fill(name)
    add.locator("input[name=label_zh]").fill(zh)
    add.locator("button[type=submit]").click()
    page.wait_for_selector(f"#form-sections [data-section={name}]")
    settled(page)


def test_a_section_is_made_and_a_field_placed_under_it(
    live_server, page_factory, designer, screenshot_dir
):
    """A heading added in the sections panel, a field placed under it from its card: the preview
    shows the field under that heading, the others after it."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/forms/supplier/edit")
    add_section(page, "reach", "联系方式")
    card = page.locator(".designer-field[data-name=phone] form").first
    card.locator("select[name=section]").select_option("reach")
    page.wait_for_function(
        "document.querySelector('#preview [data-section=reach]')?.textContent.includes('联系方式')"
        " && document.querySelector('#preview [data-section=reach] [name=phone]')"
    )
    settled(page)
    preview = page.locator("#preview [data-section=reach]")
    assert preview.locator("[name=phone]").count() == 1
    assert preview.locator("[name=code]").count() == 0
    assert page.locator(".designer-field[data-name=phone] select[name=section]").input_value() == (
        "reach"
    )  # fmt: skip
    page.locator("#form-sections").screenshot(path=screenshot_dir / "form-sections.png")


def test_a_new_form_is_made_in_the_designer_and_filled_on_a_phone(
    live_server, page_factory, designer, screenshot_dir
):
    """The whole no-code loop in a browser: a business admin names a new form, adds its fields
    and a section without opening the YAML, publishes it, and fills a record on a phone."""
    page = page_factory(viewport=DESKTOP)
    sign_in(page, live_server, "designer", PASSWORD)
    page.goto(f"{live_server}/admin/forms/new")
    page.fill("#definition-name", "fridge_log")
    settings = page.locator("#form-settings")
    settings.locator("input[name=label_zh]").fill("冷藏柜温度记录")
    settings.locator("input[name=label_en]").fill("Fridge log")
    settings.locator("input[name=label_en]").press("Tab")
    page.wait_for_function("document.querySelector('#yaml-text').value.includes('冷藏柜温度记录')")
    settled(page)
    for name, kind, zh in [("reading_date", "date", "日期"), ("temperature", "decimal", "温度")]:
        page.click("details:has(> #add-form) > summary")
        add = page.locator("#add-form")
        add.locator("input[name=name]").fill(name)
        add.locator("select[name=type]").select_option(kind)
        add.locator("input[name=label_zh]").fill(zh)
        add.locator("input[name=required]").check()
        add.locator("button[type=submit]").click()
        page.wait_for_selector(f".designer-field[data-name={name}]")
        settled(page)
    add_section(page, "reading", "读数")
    for name in ("reading_date", "temperature"):
        card = page.locator(f".designer-field[data-name={name}] form").first
        card.locator("select[name=section]").select_option("reading")
        settled(page)
    page.wait_for_function(
        "document.querySelector('#yaml-text').value.includes('fields: [reading_date, temperature]')"
    )
    with page.expect_navigation():
        page.get_by_role("button", name="发布", exact=True).click()
    assert "/admin/forms/fridge_log/" in page.url

    phone = page_factory(viewport=PHONE)
    sign_in(phone, live_server, "designer", PASSWORD)
    phone.goto(f"{live_server}/forms/fridge_log/new")
    assert "读数" in phone.locator("[data-section=reading]").inner_text()
    phone.fill("input[name=reading_date]", "2026-12-05")
    phone.fill("input[name=temperature]", "4.5")
    phone.fill("input[name=note]", "门封正常")
    save(phone)
    assert phone.locator("dd[data-field=temperature]").inner_text() == "4.5"
    assert phone.locator("h1 + .badge, .badge").first.inner_text() == "已保存"  # no flow: saved
    phone.screenshot(path=screenshot_dir / "new-form-record.png", full_page=True)
