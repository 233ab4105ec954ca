"""Shared option lists (数据字典): one list, offered by every form that names it; an admin's edit
reaches them all at once; a value records hold cannot be dropped."""

from __future__ import annotations

from tests.forms_fixtures import PASSWORD, ApiClient

ADMIN = "/admin/options"

#: a form an admin adds that offers the shipped transport modes
COURIER_LOG = """name: courier_log
label: {zh_CN: 承运记录, en: Courier log}
kind: document
location_field: location
fields:
  - {name: location, type: link, link: location, label: {zh_CN: 地点, en: Location}, required: true}
  - {name: transport, type: select, options: transport_modes, required: true,
     label: {zh_CN: 运输方式, en: Transport}}
"""
URL = "/api/v1/forms/courier_log/records"


def shipped(app) -> str:
    return app.extensions["lianku.registry"].metadata.option_lists["transport_modes"].text


def publish(api, text):
    return api.form(f"{ADMIN}/transport_modes/publish", {"yaml": text})


def test_the_shipped_forms_offer_one_list(lab_app):
    registry = lab_app.extensions["lianku.registry"]
    offered = {
        form: [o["value"] for o in registry.form(form).field("transport_mode").options]
        for form in ("sales_order", "transfer_out", "transfer_in", "purchase_receipt")
    }
    assert set(map(tuple, offered.values())) == {
        ("refrigerated_vehicle", "cold_box", "insulated_box", "ambient")
    }


def test_an_edit_reaches_every_form_and_a_value_in_use_stays(api, lab_app, org):
    assert (
        api.form("/admin/forms/new", {"name": "courier_log", "yaml": COURIER_LOG}).status_code
        == 302
    )
    kept = api.post(URL, json={"location": org["s1"], "transport": "refrigerated_vehicle"})
    assert kept.status_code == 201, kept.json
    refused = api.post(URL, json={"location": org["s1"], "transport": "courier"})
    assert refused.status_code == 422 and "transport" in refused.json["errors"]

    courier = "  - {value: courier, label: {zh_CN: 冷链快递, en: Cold-chain courier}}\n"
    relabelled = shipped(lab_app).replace("en: Refrigerated vehicle", "en: Reefer truck") + courier
    check = api.form(f"{ADMIN}/transport_modes/check", {"yaml": relabelled})
    assert "No problems found." in check.text and "Cold-chain courier" in check.text
    for offered_by in ("Courier log", "Transfer out", "Sales order", "transport_mode"):
        assert offered_by in check.text
    assert publish(api, relabelled).status_code == 302

    added = api.post(URL, json={"location": org["s1"], "transport": "courier"})
    assert added.status_code == 201, added.json
    on_sales = lab_app.extensions["lianku.registry"].form("sales_order").field("transport_mode")
    label = {"zh_CN": "冷链快递", "en": "Cold-chain courier"}
    courier_option = {"value": "courier", "label": label}
    assert courier_option in on_sales.options
    assert "Reefer truck" in api.get(f"/forms/courier_log/{kept.json['id']}").text

    without = relabelled.replace(
        "  - {value: refrigerated_vehicle, label: {zh_CN: 冷藏车, en: Reefer truck}}\n", ""
    )
    assert without != relabelled
    response = publish(api, without)
    assert response.status_code == 409
    held = "1 records of courier_log hold &#39;refrigerated_vehicle&#39; in transport"
    assert f"{held}; keep that option" in response.text
    versions = api.get(f"{ADMIN}/transport_modes/versions").text
    assert "<td>v2" in versions and "<td>v3" not in versions  # (a CSRF token may hold "v3")


def test_a_broken_list_is_refused_with_its_path(api, lab_app):
    no_label = shipped(lab_app).replace(", label: {zh_CN: 保温箱, en: Insulated box}", "")
    response = publish(api, no_label)
    assert response.status_code == 422
    assert "options/transport_modes.yaml:8 options[2]: missing required key &#39;label&#39;" in (
        response.text
    )
    renamed = publish(api, shipped(lab_app).replace("name: transport_modes", "name: transports"))
    assert renamed.status_code == 422
    assert "the option list must be named &#39;transport_modes&#39;" in renamed.text


def test_a_new_list_and_the_forms_that_name_it(api, org):
    carriers = (
        "name: carriers\nlabel: {zh_CN: 承运商, en: Carriers}\noptions:\n"
        "  - {value: sf, label: {zh_CN: 顺丰冷运, en: SF cold chain}}\n"
    )
    assert api.form(f"{ADMIN}/new", {"name": "carriers", "yaml": carriers}).status_code == 302
    assert "Carriers" in api.get(f"{ADMIN}/").text
    form = COURIER_LOG.replace("options: transport_modes", "options: carriers")
    assert api.form("/admin/forms/new", {"name": "courier_log", "yaml": form}).status_code == 302
    assert api.post(URL, json={"location": org["s1"], "transport": "sf"}).status_code == 201
    unknown = COURIER_LOG.replace("courier_log", "parcel_log").replace("transport_modes", "nope")
    response = api.form("/admin/forms/new", {"name": "parcel_log", "yaml": unknown})
    assert response.status_code == 422
    assert "forms/parcel_log.yaml:7 fields[1].options: unknown option list &#39;nope&#39;" in (
        response.text
    )


def test_only_admins_edit_option_lists(lab_app, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.get(f"{ADMIN}/").status_code == 403
    assert clerk.form(f"{ADMIN}/transport_modes/publish", {"yaml": "x"}).status_code == 403
