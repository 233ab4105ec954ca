"""The visual form designer over HTTP: it draws the fields of the YAML being edited, each change
comes back as new YAML for the editor (and so for the preview and the publish), a refused change
names its input and leaves the YAML alone, and only admins use it."""

from __future__ import annotations

import re
from html import unescape

import pytest
from werkzeug.datastructures import MultiDict

from tests.conftest import without_csrf_token
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_admin import SUPPLIER, publish, supplier_body

DESIGN = "/admin/forms/supplier/design"


def live_text(app) -> str:
    return app.extensions["lianku.registry"].form("supplier").yaml_text


def new_yaml(response) -> str | None:
    """The YAML the designer sends back for the editor (an out-of-band swap), if any."""
    found = re.search(r'<textarea[^>]*hx-swap-oob="true"[^>]*>(.*?)</textarea>', response.text,
                      re.S)  # fmt: skip
    return unescape(found.group(1)) if found else None


def shown_inputs(response, path: str) -> dict[str, str]:
    """The values the designer shows for the field at ``path``, as its form would send them."""
    form = re.search(
        rf'<form class="card-body[^>]*id="field-{path.replace(".", "-")}".*?</form>',
        response.text, re.S,
    ).group(0)  # fmt: skip
    inputs = re.findall(r'<input(?![^>]*checkbox)[^>]*name="(\w+)" value="([^"]*)"', form)
    values = {name: unescape(value) for name, value in inputs}
    values |= dict(re.findall(r'<select[^>]*name="(\w+)">.*?<option value="(\w+)" selected', form,
                              re.S))  # fmt: skip
    values |= {name: "1" for name in re.findall(r'name="(\w+)" value="1" checked', form)}
    return values


def field_path(response, name: str) -> str:
    return re.search(rf'data-path="([\d.]+)" data-name="{name}"', response.text).group(1)


def test_the_editor_opens_on_the_designer(api):
    page = api.get("/admin/forms/supplier/edit").text
    assert 'id="design-tab"' in page and 'hx-post="/admin/forms/supplier/design"' in page
    assert 'form="yaml-form"' in page  # publish and draft still send the YAML


def test_the_designer_draws_each_field_with_what_it_edits(api, lab_app):
    response = api.form(DESIGN, {"yaml": live_text(lab_app), "op": "show"})
    assert response.status_code == 200
    assert new_yaml(response) is None  # showing changes nothing
    contact = shown_inputs(response, field_path(response, "contact"))
    assert (contact["name"], contact["label_zh"], contact["label_en"]) == (
        "contact", "联系人", "Contact"
    )  # fmt: skip
    assert "添加字段" in response.text or "Add a field" in response.text


def test_a_change_comes_back_as_yaml_that_publishes(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    path = field_path(shown, "contact")
    values = shown_inputs(shown, path) | {"label_zh": "联系人姓名", "required": "1"}
    changed = api.form(DESIGN, {"yaml": text, "op": "update", "path": path, **values})
    after = new_yaml(changed)
    assert "label: {zh_CN: 联系人姓名, en: Contact}" in after
    assert shown_inputs(changed, path)["required"] == "1"  # drawn again from the new text
    added = new_yaml(
        api.form(DESIGN, {"yaml": after, "op": "add", "path": "", "name": "rating",
                          "type": "integer", "label_zh": "评级", "label_en": "Rating"})
    )  # fmt: skip
    assert "name: rating" in added
    assert publish(api, "supplier", added).status_code == 302
    refused = api.post(SUPPLIER, json=supplier_body("S1"))
    assert refused.status_code == 422 and "contact" in refused.json["errors"]
    accepted = api.post(SUPPLIER, json=supplier_body("S1", contact="Ms Li", rating=3))
    assert accepted.status_code == 201, accepted.json


def test_a_browser_s_line_ends_are_not_stored(api, lab_app):
    """A browser sends a textarea's lines ended by CR LF: stored so, every line of the version
    diff would differ and the exported file would not match the repository's."""
    text = live_text(lab_app).replace(
        "label: {zh_CN: 联系人, en: Contact}", "label: {zh_CN: 联系人姓名, en: Contact}"
    )
    assert publish(api, "supplier", text.replace("\n", "\r\n")).status_code == 302
    assert api.get("/admin/forms/supplier/export").text == text
    page = api.get("/admin/forms/supplier/versions/2?against=1").text
    diff = unescape(re.search(r'<pre[^>]*id="diff">(.*?)</pre>', page, re.S).group(1))
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert len(changed) == 2, diff  # the one line, old and new


def test_moves_and_removals(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    path = field_path(shown, "contact")
    up = api.form(DESIGN, {"yaml": text, "op": "up", "path": path})
    assert int(field_path(up, "contact")) == int(path) - 1
    removed = new_yaml(api.form(DESIGN, {"yaml": text, "op": "remove", "path": path}))
    assert "name: contact" not in removed and "name: phone" in removed


def test_a_refused_change_names_its_input_and_keeps_the_yaml(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    path = field_path(shown, "contact")
    values = shown_inputs(shown, path) | {"name": "phone"}
    response = api.form(DESIGN, {"yaml": text, "op": "update", "path": path, **values})
    assert response.status_code == 200 and new_yaml(response) is None
    assert re.search(r'id="field-\d+-name" name="name" value="phone"', response.text)  # as typed
    assert "is-invalid" in response.text and "phone" in unescape(response.text)
    missing = api.form(DESIGN, {"yaml": text, "op": "add", "path": "", "name": "mode",
                                "type": "select"})  # fmt: skip
    assert new_yaml(missing) is None and 'value="mode"' in missing.text  # kept for a retry
    stale = api.form(DESIGN, {"yaml": text, "op": "remove", "path": "99"})
    assert new_yaml(stale) is None and 'id="designer-message"' in stale.text


def test_yaml_that_does_not_parse_is_shown_not_designed(api):
    response = api.form(DESIGN, {"yaml": "name: supplier\nfields: [\n", "op": "show"})
    assert response.status_code == 200
    assert 'id="designer-message"' in response.text and "line 3" in response.text
    assert "designer-field" not in response.text


def test_only_admins_design(lab_app, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.form(DESIGN, {"yaml": "name: supplier\n", "op": "show"}).status_code == 403


@pytest.mark.parametrize(
    ("kind", "name"),
    [("forms", "new_form"), ("reports", "new_report"), ("workflows", "new_workflow"),
     ("options", "new_option_list")],
)  # fmt: skip
def test_a_new_definition_opens_on_its_designer(api, kind, name):
    page = api.get(f"/admin/{kind}/new")
    assert page.status_code == 200 and f"/admin/{kind}/{name}/design" in page.text
    text = unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S).group(1))
    drawn = api.form(f"/admin/{kind}/{name}/design", {"yaml": text})
    assert drawn.status_code == 200 and "designer-message" not in drawn.text


@pytest.mark.parametrize(
    ("kind", "name", "key"),
    [("forms", "temperature_log", "name"), ("reports", "cold_rooms", "name"),
     ("options", "rooms", "name")],
)  # fmt: skip
def test_a_new_definition_is_given_the_name_it_is_created_under(api, lab_app, kind, name, key):
    """The name box sits above the designer: an admin who never opens the YAML names it there."""
    page = api.get(f"/admin/{kind}/new").text
    assert page.index('id="definition-name"') < page.index('id="design-tab"')
    text = unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1))
    created = api.form(f"/admin/{kind}/new", {"name": name, "yaml": text})
    assert created.status_code == 302, created.text
    live = api.get(f"/admin/{kind}/{name}/edit").text
    assert f"{key}: {name}\n" in unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", live,
                                                     re.S).group(1))  # fmt: skip


def test_a_scan_field_shows_what_it_fills_and_a_formula_its_expression(api, lab_app):
    text = lab_app.extensions["lianku.registry"].form("purchase_receipt").yaml_text
    shown = api.form("/admin/forms/purchase_receipt/design", {"yaml": text}).text
    scan = re.search(r'id="field-6-0".*?</form>', shown, re.S).group(0)
    assert re.search(r'name="fill_lot">.*?<option selected>lot</option>', scan, re.S)
    nothing = r'name="fill_gtin"><option value="">—</option>(<option>\w+</option>)+</select>'
    assert re.search(nothing, scan)  # nothing is filled from the GTIN
    assert (
        'name="formula" value="lookup(item, &#39;storage_condition&#39;) == &#39;cold_chain&#39;"'
        in shown
    )


def test_the_form_renamed_in_the_designer_is_renamed_in_the_menu(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text})
    assert 'id="form-settings"' in shown.text
    settings = {"label_zh": "供应商资料", "label_en": "Supplier file", "menu": "purchasing"}
    renamed = new_yaml(api.form(DESIGN, {"yaml": text, "op": "form", **settings}))
    assert "label: {zh_CN: 供应商资料, en: Supplier file}" in renamed
    assert "menu: purchasing" in renamed
    assert publish(api, "supplier", renamed).status_code == 302
    assert "Supplier file" in api.get("/").text


def test_a_check_added_in_the_designer_refuses_a_record(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text})
    path = field_path(shown, "contact")
    values = {**shown_inputs(shown, path), "csrf_token": api.token, "yaml": text}
    rule = {"rule_expr": "contact != 'nobody'", "rule_zh": "请填写真实联系人",
            "rule_en": "Name a real contact"}  # fmt: skip
    changed = new_yaml(api.client.post(DESIGN, data={**values, **rule}))
    assert "      - expr: contact != 'nobody'\n" in changed
    assert publish(api, "supplier", changed).status_code == 302
    refused = api.post(SUPPLIER, json=supplier_body("S9", contact="nobody"))
    assert refused.status_code == 422 and refused.json["errors"]["contact"] == [
        "Name a real contact"
    ]  # fmt: skip


def test_a_default_value_set_in_the_designer_is_what_a_new_record_starts_with(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    path = field_path(shown, "contact")
    assert 'id="field-' + path.replace(".", "-") + '-default"' in shown.text
    values = shown_inputs(shown, path) | {"default": "采购部"}
    after = new_yaml(api.form(DESIGN, {"yaml": text, "op": "update", "path": path, **values}))
    assert "    default: 采购部\n" in after
    assert publish(api, "supplier", after).status_code == 302
    created = api.post(SUPPLIER, json=supplier_body("S9"))
    assert created.status_code == 201 and created.json["data"]["contact"] == "采购部"


def test_a_choice_added_in_the_designer_is_one_a_record_may_take(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    path = field_path(shown, "licence_kind")
    card = re.search(rf'id="field-{path}".*?</form>', shown.text, re.S).group(0)
    assert card.count('name="choice_value"') == 3  # two choices and a new one
    kept = [(k, v) for k, v in shown_inputs(shown, path).items() if not k.startswith("choice_")]
    rows = [("permit", "医疗器械经营许可证", "Medical device business licence"),
            ("filing", "医疗器械经营备案凭证", "Medical device business filing"),
            ("class_one", "一类器械（无需许可）", "Class I only (no licence)")]  # fmt: skip
    data = MultiDict([*kept, ("yaml", text), ("op", "update"), ("path", path),
                      ("csrf_token", api.token)])  # fmt: skip
    for row in rows:
        data.add("choice_value", row[0])
        data.add("choice_zh", row[1])
        data.add("choice_en", row[2])
    after = new_yaml(api.client.post(DESIGN, data=data))
    assert "      - {value: class_one, label: {zh_CN: 一类器械（无需许可）, " in after
    assert publish(api, "supplier", after).status_code == 302
    refused = api.post(SUPPLIER, json=supplier_body("S7", licence_kind="nonsense"))
    assert refused.status_code == 422 and "licence_kind" in refused.json["errors"]
    created = api.post(SUPPLIER, json=supplier_body("S8", licence_kind="class_one"))
    assert created.status_code == 201, created.json


def test_a_field_added_after_another_is_drawn_there(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    assert '<option value="code">' in re.search(r'id="add-form-after".*?</select>', shown.text,
                                                 re.S).group(0)  # fmt: skip
    added = api.form(DESIGN, {"yaml": text, "op": "add", "path": "", "name": "rating",
                              "type": "integer", "label_zh": "评级", "after": "code"})  # fmt: skip
    names = re.findall(r'data-path="\d+" data-name="(\w+)"', added.text)
    assert names[:3] == ["code", "rating", "name"]


def test_sections_made_in_the_designer_group_the_published_forms_page(api, lab_app):
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    assert 'id="section-add"' in shown.text and 'name="section"' not in shown.text  # none yet
    add = {"yaml": text, "op": "section_add", "name": "contact_info", "label_zh": "联系方式",
           "label_en": "How to reach them"}  # fmt: skip
    added = api.form(DESIGN, add)
    text = new_yaml(added)
    assert 'data-section="contact_info"' in added.text
    for name in ("phone", "contact"):
        path = field_path(added, name)
        values = shown_inputs(added, path) | {"section": "contact_info"}
        added = api.form(DESIGN, {"yaml": text, "op": "update", "path": path, **values})
        text = new_yaml(added)
    assert "    fields: [contact, phone]\n" in text  # the form's order, whichever came first
    assert 'value="contact_info" selected' in added.text  # each card shows its section
    taken = api.form(DESIGN, add | {"yaml": text})
    assert new_yaml(taken) is None and "already has a section named contact_info" in taken.text
    assert publish(api, "supplier", text).status_code == 302
    page = api.get("/forms/supplier/new").text
    section = re.search(r'data-section="contact_info">(.*?)</section>', page, re.S).group(1)
    assert "How to reach them" in section or "联系方式" in section
    assert 'name="contact"' in section and 'name="phone"' in section
    assert 'name="code"' not in section and 'name="code"' in page  # the others, after it


def test_a_field_records_hold_values_in_is_not_renamed(api, lab_app):
    """Renamed, a field would show none of the values records keep under its name."""
    assert api.post(SUPPLIER, json=supplier_body("S1", contact="王经理")).status_code == 201
    assert api.post(SUPPLIER, json=supplier_body("S2", contact="")).status_code == 201
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    path = field_path(shown, "contact")
    values = shown_inputs(shown, path) | {"name": "contact_person"}
    refused = api.form(DESIGN, {"yaml": text, "op": "update", "path": path, **values})
    assert new_yaml(refused) is None
    assert "1 record holds a value in contact" in unescape(refused.text)
    assert 'name="name" value="contact_person"' in refused.text  # what was typed, marked
    phone = field_path(shown, "phone")  # no record holds a phone
    values = shown_inputs(shown, phone) | {"name": "telephone"}
    renamed = new_yaml(api.form(DESIGN, {"yaml": text, "op": "update", "path": phone, **values}))
    assert "  - name: telephone\n" in renamed


def test_the_record_list_set_in_the_designer_is_the_published_lists(api, lab_app):
    assert api.post(SUPPLIER, json=supplier_body("S1", contact="Wang")).status_code == 201
    assert api.post(SUPPLIER, json=supplier_body("S2", contact="Li")).status_code == 201
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    assert 'id="form-list-form"' in shown.text
    assert re.search(r'name="search" value="code" id="list-search-code" checked', shown.text)
    values = MultiDict([("yaml", text), ("op", "list"), ("csrf_token", api.token),
                        ("list_columns", "code"), ("list_columns", "contact"),
                        ("list_sort", "contact"), ("search", "contact")])  # fmt: skip
    after = new_yaml(api.client.post(DESIGN, data=values))
    assert "  columns: [code, contact]\n  sort: contact\n" in after
    assert "search: [contact]\n" in after
    assert publish(api, "supplier", after).status_code == 302
    page = api.get("/forms/supplier/").text
    body = page[page.index("<tbody") : page.index("</tbody>")]
    assert re.findall(r'<a href="/forms/supplier/\d+">(S\d)', body) == ["S2", "S1"]  # Li, Wang
    assert "<td>Li" in body and "Acme" not in body  # the columns chosen, not the name
    found = without_csrf_token(api.get("/forms/supplier/", query_string={"q": "Wang"}).text)
    assert "S1" in found and "S2" not in found  # the search looks in the contact now


def test_a_document_made_from_a_record_is_set_in_the_designer(api, lab_app):
    """参照生单 without YAML: a supplier's record makes a purchase order naming that supplier."""
    created = api.post(SUPPLIER, json=supplier_body("S1"))
    assert created.status_code == 201
    text = live_text(lab_app)
    shown = api.form(DESIGN, {"yaml": text, "op": "show"})
    assert 'id="make-add"' in shown.text and '<option value="purchase_order">' in shown.text
    added = api.form(DESIGN, {"yaml": text, "op": "make_add", "form": "purchase_order",
                              "label_zh": "下采购订单", "label_en": "Order from them"})  # fmt: skip
    text = new_yaml(added)
    assert (
        "makes:\n  - form: purchase_order\n    label: {zh_CN: 下采购订单, en: Order from them}\n"
        in text
    )
    assert 'id="make-0-value-supplier" name="value.supplier"' in added.text
    values = MultiDict([("yaml", text), ("op", "make"), ("path", "0"), ("csrf_token", api.token),
                        ("label_zh", "下采购订单"), ("label_en", "Order from them"),
                        ("value.supplier", "id"), ("lines_to", "")])  # fmt: skip
    made = new_yaml(api.client.post(DESIGN, data=values))
    assert "    values: {supplier: id}\n" in made
    assert publish(api, "supplier", made).status_code == 302
    record_id = created.json["id"]
    draft = api.get(f"{SUPPLIER}/{record_id}/make/purchase_order")
    assert draft.status_code == 200 and draft.json["data"]["supplier"] == record_id


def test_order_allocation_is_set_in_the_designer(api, lab_app):
    """订单分配 without YAML: wholesale orders take goods with a year of shelf life left."""
    text = lab_app.extensions["lianku.registry"].form("sales_order").yaml_text
    url = "/admin/forms/sales_order/design"
    shown = api.form(url, {"yaml": text, "op": "show"})
    for kind in ("default", "retail", "wholesale", "hospital"):
        assert f'id="allocation-{kind}"' in shown.text
    assert re.search(r'id="allocation-retail-rule-split"[^>]* checked disabled', shown.text)
    values = MultiDict([("yaml", text), ("op", "allocation"), ("path", "wholesale"),
                        ("csrf_token", api.token), ("own_types", "1"),
                        ("location_types", "warehouse"), ("min_shelf_life_days", "365"),
                        ("fulfilment", "direct")])  # fmt: skip
    after = new_yaml(api.client.post(url, data=values))
    assert "      min_shelf_life_days: 365\n" in after
    refused = api.client.post(url, data=MultiDict([*values.items(multi=True),
                                                   ("max_distance_km", "-5")]))  # fmt: skip
    assert new_yaml(refused) is None
    assert re.search(r'is-invalid" id="allocation-wholesale-max_distance_km"', refused.text)
    assert publish(api, "sales_order", after).status_code == 302
    api.get("/admin/forms/")  # the app reloads its definitions at a request after a publish
    live = lab_app.extensions["lianku.registry"].form("sales_order").spec["allocation"]
    assert live["kinds"]["wholesale"]["min_shelf_life_days"] == 365


def test_a_recurring_duty_set_in_the_designer_is_what_the_reminders_tell(api, lab_app, org):
    """定期任务 without YAML: the storage check falls on HQ alone, and HQ's admin is told."""
    from app.kernel import jobs  # (the job queue, as cron runs it)

    text = lab_app.extensions["lianku.registry"].form("maintenance_check").yaml_text
    url = "/admin/forms/maintenance_check/design"
    shown = api.form(url, {"yaml": text, "op": "show"})
    assert re.search(
        r'name="location_types" value="store" id="duty-location_types-store" checked', shown.text
    )
    values = MultiDict([("yaml", text), ("op", "duty"), ("csrf_token", api.token), ("on", "1"),
                        ("every_days", "3"), ("date_field", "check_date"), ("states", "done"),
                        ("location_types", "hq"), ("remind", "admin")])  # fmt: skip
    after = new_yaml(api.client.post(url, data=values))
    assert (
        "recurring:\n  every_days: 3\n  date_field: check_date\n  location_types: [hq]\n" in after
    )
    assert publish(api, "maintenance_check", after).status_code == 302
    api.get("/admin/forms/")  # the app reloads its definitions at a request after a publish
    database = lab_app.extensions["lianku.db"]
    with database.transaction() as session:
        jobs.enqueue(session, "reminders", {"day": "2026-12-07"})
    ran = jobs.run_next(database)
    assert ran.result["due"]["maintenance_check"] == {"HQ": None}  # not the stores any more
    inbox = api.get("/inbox").text
    assert "maintenance_check HQ" in inbox


def test_a_deadline_set_in_the_designer_is_what_the_reminders_tell(api, lab_app, org):
    """到期提醒 without YAML: a storage check due in two days reminds the store's clerk."""
    from app.kernel import jobs

    text = lab_app.extensions["lianku.registry"].form("maintenance_check").yaml_text
    url = "/admin/forms/maintenance_check/design"
    assert 'id="deadline-on"' in api.form(url, {"yaml": text, "op": "show"}).text
    values = MultiDict([("yaml", text), ("op", "deadline"), ("csrf_token", api.token),
                        ("on", "1"), ("date_field", "check_date"), ("days_before", "3"),
                        ("states", "draft"), ("remind", "store_clerk")])  # fmt: skip
    after = new_yaml(api.client.post(url, data=values))
    assert "deadline:\n  date_field: check_date\n  days_before: 3\n  states: [draft]\n" in after
    assert publish(api, "maintenance_check", after).status_code == 302
    api.get("/admin/forms/")  # the app reloads its definitions at a request after a publish
    check = api.post("/api/v1/forms/maintenance_check/records",
                     json={"location": org["s1"], "check_date": "2026-12-09"})  # fmt: skip
    assert check.status_code == 201, check.json
    database = lab_app.extensions["lianku.db"]
    with database.transaction() as session:
        jobs.enqueue(session, "reminders", {"day": "2026-12-07"})
    ran = jobs.run_next(database)
    [(number, due)] = ran.result["deadlines"]["maintenance_check"].items()
    assert number == check.json["number"] and due == "2026-12-09"


def test_an_account_set_in_the_designer_counts_the_forms_records(api, lab_app):
    """往来账 without YAML: approved purchase orders count on the supplier's payable account."""
    from app.meta.accounts import account_forms

    text = lab_app.extensions["lianku.registry"].form("purchase_order").yaml_text
    url = "/admin/forms/purchase_order/design"
    assert 'id="account-on"' in api.form(url, {"yaml": text, "op": "show"}).text
    values = MultiDict([("yaml", text), ("op", "account"), ("csrf_token", api.token),
                        ("on", "1"), ("kind", "payable"), ("party", "supplier"),
                        ("date", "order_date"), ("amount", "total"), ("effect", "increase"),
                        ("states", "approved")])  # fmt: skip
    after = new_yaml(api.client.post(url, data=values))
    assert "account:\n  kind: payable\n  party: supplier\n  date: order_date\n" in after
    refused = api.client.post(url, data=MultiDict([*values.items(multi=True)][:-1]))  # no state
    assert new_yaml(refused) is None and "data-refused" in refused.text
    assert publish(api, "purchase_order", after).status_code == 302
    api.get("/admin/forms/")  # the app reloads its definitions at a request after a publish
    metadata = lab_app.extensions["lianku.registry"].metadata
    assert "purchase_order" in [form for form, _account in account_forms(metadata, "payable")]


def test_what_a_form_keeps_and_whose_records_are_seen_is_set_in_the_designer(api, lab_app):
    text = lab_app.extensions["lianku.registry"].form("purchase_order").yaml_text
    url = "/admin/forms/purchase_order/design"
    shown = api.form(url, {"yaml": text, "op": "show"})
    assert re.search(r'id="form-location_field".*?<option value="location" selected', shown.text,
                     re.S)  # fmt: skip
    values = {"yaml": text, "op": "form", "label_zh": "采购订单", "label_en": "Purchase order",
              "menu": "purchasing", "numbering": "PO-{location.code}-{yyyyMM}-{seq:05}",
              "kind": "document", "location_field": "location", "description_zh": "向供应商订货",
              "description_en": "What we order from a supplier"}  # fmt: skip
    after = new_yaml(api.form(url, values))
    assert "description: {zh_CN: 向供应商订货, en: What we order from a supplier}\n" in after
    assert "period_date: order_date" in after  # left as it was: the designer did not send it
    assert re.search(r'id="form-period_date".*?<option value="order_date" selected', shown.text,
                     re.S)  # fmt: skip
    expected = new_yaml(api.form(url, values | {"period_date": "expected_date"}))
    assert "period_date: expected_date" in expected
    refused = api.form(url, values | {"period_date": "supplier"})
    assert new_yaml(refused) is None and "data-refused" in refused.text
    assert publish(api, "purchase_order", after).status_code == 302


def test_a_form_without_a_workflow_offers_its_one_state(api):
    """A new form has no flow yet: what counts in a state (an account, a duty) counts once saved."""
    page = api.get("/admin/forms/new").text
    text = unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1))
    shown = api.form("/admin/forms/new_form/design", {"yaml": text, "op": "show"})
    assert re.search(r'name="states" value="draft" id="duty-states-draft"> Saved', shown.text)
