"""The generated pages: list, new, edit, detail with history, live recompute, every field type."""

from __future__ import annotations

import re

from tests.web.test_forms_api import SCAN, URL, valid


def form_data(org, **changes):
    data = {
        "location": str(org["s1"]),
        "title": "Alpha",
        "notes": "Fragile",
        "count": "4",
        "weight": "1.250",
        "price": "9.99",
        "discount": "5",
        "due": "2026-12-01",
        "at": "2026-05-01T08:30",
        "urgent": "1",
        "reason": "Patient waiting",
        "priority": "high",
        "tags": ["a", "b"],
        "owner": str(org["clerk"]),
        "supplier": "",
        "lot": "",
        "serial": "",
        "expiry": "",
        "scan": SCAN,
        "barcode": "6901234567892",
        "photo": "",
        "lines[0].item": "Gloves",
        "lines[0].quantity": "2",
        "lines[0].unit_price": "1.105",
        "lines[1].item": "",
        "lines[1].quantity": "",
        "lines[1].unit_price": "",
    }
    data.update(changes)
    return data


def test_new_form_renders_every_field_type(api):
    page = api.get("/forms/field_lab/new")
    assert page.status_code == 200
    html = page.text
    for name in ("title", "notes", "count", "weight", "price", "discount", "due", "at",
                 "urgent", "priority", "tags", "owner", "supplier", "lot", "serial", "expiry",
                 "scan", "barcode", "photo"):  # fmt: skip
        assert f'name="{name}"' in html, name
    assert 'type="date"' in html and 'type="datetime-local"' in html and "multiple" in html
    assert 'data-lookup="/api/v1/lookup/location?form=field_lab&amp;field=location"' in html
    assert 'data-row-template="lines"' in html
    assert 'data-computed="total"' in html
    assert re.search(r'data-field="reason"[^>]*', html)
    assert 'class="mb-3 d-none" data-field="reason"' in html  # hidden until urgent
    assert "Field lab" in html  # nav entry and title
    basics = html.index('data-section="basics"')
    assert basics < html.index('name="title"') < html.index('name="location"')
    assert html.index('data-section="other"') < html.index('name="count"')  # the rest follows


def test_create_through_the_page_and_see_detail_and_history(api, org):
    response = api.form("/forms/field_lab/new", form_data(org))
    assert response.status_code == 302, response.text
    detail = api.get(response.headers["Location"])
    html = detail.text
    assert "FL-S1-" in html
    assert "Gloves" in html and "2.21" in html  # line formula
    assert "LOT7" in html and "2027-12-31" in html  # filled from the UDI scan
    assert "High" in html and "A, B" in html and "Yes" in html
    assert "Clerk User" in html  # link label
    # a field left empty is left out, not a label over nothing
    assert 'data-field="title"' in html and 'data-field="supplier"' not in html
    assert 'data-field="photo"' not in html
    assert 'id="history"' in html and "<strong>Created</strong>" in html and "admin" in html


def test_the_edit_page_opens_with_the_fields_the_record_shows(api, org):
    """``visible_if`` on the edit page as on the new one: hidden until the record makes it
    visible, not shown until the first change."""
    calm = form_data(org)
    del calm["urgent"], calm["reason"]  # an unchecked box sends nothing
    response = api.form("/forms/field_lab/new", calm)
    assert response.status_code == 302, response.text
    edit = response.headers["Location"] + "/edit"
    assert 'class="mb-3 d-none" data-field="reason"' in api.get(edit).text  # not urgent
    urgent = api.form("/forms/field_lab/new", form_data(org, title="Beta"))
    assert urgent.status_code == 302, urgent.text
    html = api.get(urgent.headers["Location"] + "/edit").text
    assert 'class="mb-3" data-field="reason"' in html


def test_page_shows_inline_errors_per_field(api, org):
    response = api.form(
        "/forms/field_lab/new",
        form_data(org, title="lower", count="3", **{"lines[0].quantity": "0"}),
    )
    assert response.status_code == 422
    html = response.text
    assert 'data-error-for="title"' in html and "expected format" in html
    assert "Count must be even" in html
    assert "at least 0.0001" in html
    assert 'value="lower"' in html  # what the user typed is kept


def test_edit_and_stale_edit(api, org):
    created = api.post(URL, json=valid(org)).json
    edit_url = f"/forms/field_lab/{created['id']}/edit"
    page = api.get(edit_url)
    assert page.status_code == 200 and 'value="Alpha"' in page.text
    saved = api.form(edit_url, form_data(org, title="Alpha", count="8", version="1"))
    assert saved.status_code == 302
    stale = api.form(edit_url, form_data(org, count="10", version="1"))
    assert stale.status_code == 409 and "changed by" in stale.text
    history = api.get(f"/forms/field_lab/{created['id']}").text
    assert "<strong>Changed</strong>" in history
    # what changed, by its labels (not ``count``), in whatever order the database keeps them
    changed = re.search(r"data-changed>— ([^<]*)</span>", history).group(1).split(", ")
    assert "Count" in changed and "count" not in changed


def test_edit_posts_what_the_edit_page_sends(api, org):
    """The page's own hidden inputs (its record id, for the live recompute) are not record data:
    a browser's save of the edit page goes through."""
    created = api.post(URL, json=valid(org)).json
    edit_url = f"/forms/field_lab/{created['id']}/edit"
    hidden = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', api.get(edit_url).text)
    )
    assert hidden["_record_id"] == str(created["id"])
    saved = api.form(edit_url, {**form_data(org, count="8"), **hidden})
    assert saved.status_code == 302, saved.text
    assert api.get(f"/api/v1/forms/field_lab/records/{created['id']}").json["data"]["count"] == 8


def test_live_recompute_formulas_and_visibility(api, org):
    html = api.form(
        "/forms/field_lab/evaluate",
        {
            "urgent": "1",
            "lines[0].item": "X",
            "lines[0].quantity": "3",
            "lines[0].unit_price": "2.5",
        },  # fmt: skip
    ).text
    assert 'data-computed="total" value="7.50"' in html
    assert 'id="in-lines-0-amount" hx-swap-oob="true"' in html
    assert 'name="lines[0].quantity"' not in html  # what the user types is never replaced
    assert "&#34;reason&#34;: true" in html  # visible now
    hidden = api.form("/forms/field_lab/evaluate", {"title": "A"}).text
    assert "&#34;reason&#34;: false" in hidden
    scanned = api.form("/forms/field_lab/evaluate", {"scan": SCAN}).text
    assert 'id="in-lot"' in scanned and 'value="LOT7"' in scanned and 'id="in-expiry"' in scanned
    assert 'data-error-for="scan"' not in scanned


def test_a_scan_that_cannot_be_read_says_why_next_to_the_scan_field(api, org):
    bad = SCAN.replace("04012345678901", "04012345678902")  # wrong check digit
    html = api.form("/forms/field_lab/evaluate", {"scan": bad}).text
    assert 'id="in-scan" hx-swap-oob="true"' in html
    [message] = re.findall(r'data-error-for="scan">([^<]+)<', html)
    assert "04012345678902" in message and "check digit" in message
    assert 'id="in-lot"' not in html  # nothing filled from it


def test_list_search_sort_filter_paginate(api, org):
    for title in ("Alpha", "Bravo", "Charlie"):
        api.post(URL, json=valid(org, title=title))
    html = api.get("/forms/field_lab/?q=rav").text
    assert "Bravo" in html and "Charlie" not in html
    assert "Alpha" in api.get("/forms/field_lab/?sort=title").text
    assert "3 records" in api.get("/forms/field_lab/").text


def test_delete_from_the_page(api, org):
    created = api.post(URL, json=valid(org)).json
    response = api.form(f"/forms/field_lab/{created['id']}/delete", {"version": "1"})
    assert response.status_code == 302
    assert api.get(f"/forms/field_lab/{created['id']}").status_code == 404


def test_pages_need_sign_in(lab_app):
    response = lab_app.test_client().get("/forms/field_lab/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_form_may_name_its_own_template(lab_config, db, org, tmp_path):
    import shutil

    from app import create_app
    from tests.conftest import PROJECT_ROOT
    from tests.forms_fixtures import PASSWORD, ApiClient

    templates = tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "form_templates", templates)
    (templates / "supplier_form.html").write_text(
        '{% extends "form.html" %}{% block title %}Custom supplier page{% endblock %}'
    )
    forms = tmp_path / "metadata" / "forms"
    text = (forms / "supplier.yaml").read_text()
    (forms / "supplier.yaml").write_text(
        text.replace("kind: master", "kind: master\ntemplate: supplier_form.html")
    )
    app = create_app({**lab_config, "FORM_TEMPLATES_DIR": str(templates)})
    client = ApiClient(app.test_client()).login("admin", PASSWORD)
    assert "<title>Custom supplier page</title>" in client.get("/forms/supplier/new").text
    app.extensions["lianku.db"].dispose()


def test_the_menu_groups_forms_as_settings_declare(api, org):
    page = api.get("/forms/field_lab/").text
    purchasing = page.split('data-menu="purchasing"', 1)[1].split("</ul>", 1)[0]
    assert 'href="/forms/purchase_order/">Purchase order<' in purchasing  # the admin reads en
    assert 'href="/forms/sales_order/"' not in purchasing
    menus = [part.split('"', 1)[0] for part in page.split('data-menu="')[1:]]
    order = "purchasing sales stock transfers counting quality finance master_data"
    assert menus == order.split()  # settings.yaml's order
    # a form without a menu is an entry of its own
    assert '<li class="nav-item"><a class="nav-link" href="/forms/field_lab/">' in page
