"""Admins edit the settings live: the menus' order holds at the next page, a replenishment knob
at the next plan; a wrong key is refused with its line."""

from __future__ import annotations

import re

from tests.forms_fixtures import PASSWORD, ApiClient

EDIT = "/admin/settings/settings"
FINANCE = "  - {name: finance, label: {zh_CN: 财务, en: Finance}}\n"


def shipped(app) -> str:
    return app.extensions["lianku.registry"].metadata.settings_document.text


def test_menus_reordered_and_a_knob_changed_hold_at_once(api, lab_app, org):
    text = shipped(lab_app)
    edited = text.replace(FINANCE, "").replace("menus:\n", "menus:\n" + FINANCE, 1)
    edited = edited.replace("sales_days: 28", "sales_days: 56")
    check = api.form(f"{EDIT}/check", {"yaml": edited}).text
    assert "Finance · Purchasing · Sales" in check and "56" in check
    assert api.form(f"{EDIT}/publish", {"yaml": edited}).status_code == 302
    page = api.get("/").text
    menus = [part.split('"', 1)[0] for part in page.split('data-menu="')[1:]]
    assert menus[:2] == ["finance", "purchasing"]
    settings = lab_app.extensions["lianku.registry"].metadata.settings
    assert settings["replenishment"]["sales_days"] == 56


def test_a_wrong_key_is_refused_and_only_admins_edit(api, lab_app, org):
    broken = shipped(lab_app).replace("sales_days: 28", "sales_dayz: 28")
    response = api.form(f"{EDIT}/publish", {"yaml": broken})
    assert response.status_code == 422
    assert "settings.yaml:" in response.text and "sales_dayz" in response.text
    assert api.get("/admin/settings/new").status_code == 404
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.get(f"{EDIT}/edit").status_code == 403


def test_a_menu_moved_in_the_designer_holds_at_the_next_page(api, lab_app, org):
    from tests.web.test_forms_designer import new_yaml

    text = shipped(lab_app)
    shown = api.form(f"{EDIT}/design", {"yaml": text})
    assert shown.status_code == 200 and 'data-menu-name="finance"' in shown.text
    finance = re.search(r'<tr id="menu-(\d+)" data-menu-name="finance"', shown.text)[1]
    moved = new_yaml(api.form(f"{EDIT}/design", {"yaml": text, "op": "up", "path": finance}))
    assert moved.index("name: finance") < moved.index("name: quality")
    assert api.form(f"{EDIT}/publish", {"yaml": moved}).status_code == 302
    page = api.get("/").text
    menus = [part.split('"', 1)[0] for part in page.split('data-menu="')[1:]]
    assert menus.index("finance") < menus.index("quality")
    refused = api.form(f"{EDIT}/design", {"yaml": text, "op": "knobs", "sales_days": "0"})
    assert "is-invalid" in refused.text and new_yaml(refused) is None
