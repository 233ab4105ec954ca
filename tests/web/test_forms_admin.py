"""Admins edit forms live: a new field and a new form work at once, in every worker, with no
restart; a rollback brings the old version back and old records still render."""

from __future__ import annotations

import pytest

from app import create_app
from app.kernel.audit import AuditEntry
from tests.forms_fixtures import PASSWORD, ApiClient

SUPPLIER = "/api/v1/forms/supplier/records"

COLD_CHAIN = """name: cold_chain_log
label: {zh_CN: 冷链温度记录, en: Cold-chain temperature log}
kind: document
numbering: "CC-{location.code}-{yyyyMM}-{seq:04}"
location_field: location
fields:
  - {name: location, type: link, link: location, label: {zh_CN: 地点, en: Location}, required: true}
  - name: temperature
    type: decimal
    label: {zh_CN: 温度, en: Temperature}
    required: true
    validate:
      - expr: temperature >= 2 and temperature <= 8
        message: {zh_CN: 冷链温度须在 2–8 ℃, en: Cold chain must stay within 2–8 °C}
"""


def supplier_body(code="S1", **extra):
    return {"code": code, "name": "Acme", "licence_number": "L1", "licence_expiry": "2030-01-01",
            **extra}  # fmt: skip


def edited_supplier(app) -> str:
    text = app.extensions["lianku.registry"].form("supplier").yaml_text
    return text.replace(
        "list:",
        "  - name: rating\n    type: integer\n    label: {zh_CN: 评级, en: Rating}\n"
        "    required: true\n    max: 5\nlist:",
    )


def publish(api, form, text, url=None):
    return api.form(url or f"/admin/forms/{form}/publish", {"yaml": text})


def test_publish_a_field_and_a_new_form_then_roll_back(api, lab_app, lab_config, org):
    old = api.post(SUPPLIER, json=supplier_body("OLD"))
    assert old.status_code == 201
    other_worker = create_app(lab_config)  # a second gunicorn worker, loaded before the edit
    other = ApiClient(other_worker.test_client()).login("admin", PASSWORD)

    response = publish(api, "supplier", edited_supplier(lab_app))
    assert response.status_code == 302, response.text
    refused = api.post(SUPPLIER, json=supplier_body("NEW"))
    assert refused.status_code == 422 and "rating" in refused.json["errors"]
    assert other.post(SUPPLIER, json=supplier_body("NEW", rating=9)).json["errors"]["rating"]
    created = other.post(SUPPLIER, json=supplier_body("NEW", rating=4))
    assert created.status_code == 201 and created.json["meta_version"] == 2

    new_form = api.form("/admin/forms/new", {"name": "cold_chain_log", "yaml": COLD_CHAIN})
    assert new_form.status_code == 302, new_form.text
    url = "/api/v1/forms/cold_chain_log/records"
    warm = other.post(url, json={"location": org["s1"], "temperature": "9.5"})
    assert warm.status_code == 422
    assert warm.json["errors"]["temperature"] == ["Cold chain must stay within 2–8 °C"]
    ok = other.post(url, json={"location": org["s1"], "temperature": "4.5"})
    assert ok.status_code == 201 and ok.json["number"].startswith("CC-S1-")
    assert "Cold-chain temperature log" in api.get("/forms/cold_chain_log/").text

    versions = api.get("/admin/forms/supplier/versions").text
    assert "v2" in versions and "v1" in versions
    diff = api.get("/admin/forms/supplier/versions/2?against=1").text
    assert "+  - name: rating" in diff

    rolled = api.form("/admin/forms/supplier/versions/1/rollback", {})
    assert rolled.status_code == 302
    assert other.post(SUPPLIER, json=supplier_body("THIRD")).status_code == 201  # no rating now
    for record in (old.json, created.json):
        page = other.get(f"/forms/supplier/{record['id']}")
        assert page.status_code == 200 and record["data"]["code"] in page.text
    assert "rating" not in other.get(f"{SUPPLIER}/{created.json['id']}").json["data"]
    other_worker.extensions["lianku.db"].dispose()

    with lab_app.extensions["lianku.db"].session() as session:
        publishes = (
            session.query(AuditEntry).filter_by(action="publish").order_by(AuditEntry.id).all()
        )
        assert [(e.entity_id, e.changes["version"]) for e in publishes] == [
            ("supplier", [1, 2]),
            ("cold_chain_log", [None, 1]),
            ("supplier", [2, 3]),
        ]


def test_bad_yaml_is_refused_with_precise_messages(api):
    text = (
        "name: supplier\nlabel: {zh_CN: 供应商, en: Supplier}\nfields:\n"
        "  - name: licence_number\n    type: txt\n    label: {zh_CN: x, en: x}\n"
        # the purchases report reads supplier.name: a supplier form without it would break it
        "  - name: name\n    type: text\n    label: {zh_CN: 名称, en: Name}\n"
        # and the licences report reads the licences and how to reach the supplier, the purchase
        # order its contract prices (lookup(supplier, 'prices')), the receipt its terms, the
        # invoice the rate it bills at
        + "".join(
            f"  - name: {name}\n    type: {kind}\n    label: {{zh_CN: x, en: x}}\n"
            for name, kind in (("code", "text"), ("licence_expiry", "date"),
                               ("business_licence_number", "text"),
                               ("business_licence_expiry", "date"), ("phone", "text"),
                               ("prices", "long_text"), ("payment_days", "integer"),
                               ("invoice_tax_rate", "percent"))
        )
    )  # fmt: skip
    response = publish(api, "supplier", text)
    assert response.status_code == 422
    assert "forms/supplier.yaml:5 fields[0].type: &#39;txt&#39; is not allowed" in response.text
    check = api.form("/admin/forms/supplier/check", {"yaml": text.replace("txt", "text")})
    assert "No problems found." in check.text and 'id="preview"' in check.text
    typo = api.form(
        "/admin/forms/supplier/check",
        {"yaml": text.replace("type: txt", "type: formula\n    formula: nme * 2")},
    )
    assert "unknown name &#39;nme&#39;" in typo.text


def test_type_change_with_stored_values_is_refused(api, lab_app):
    api.post(SUPPLIER, json=supplier_body("S1"))
    text = lab_app.extensions["lianku.registry"].form("supplier").yaml_text
    changed = text.replace(
        "  - name: licence_number\n    type: text", "  - name: licence_number\n    type: integer"
    )
    assert changed != text
    response = publish(api, "supplier", changed)
    assert response.status_code == 409
    assert "licence_number" in response.text and "cannot become integer" in response.text


def test_an_option_records_hold_cannot_leave_the_fields_choices(api, lab_app):
    """As with a shared list: records holding 'filing' would show the bare code."""
    api.post(SUPPLIER, json=supplier_body("S1", licence_kind="filing"))
    text = lab_app.extensions["lianku.registry"].form("supplier").yaml_text
    option = (
        "      - {value: filing, label: {zh_CN: 医疗器械经营备案凭证,"
        " en: Medical device business filing}}\n"
    )
    assert option in text
    response = publish(api, "supplier", text.replace(option, ""))
    assert response.status_code == 409
    assert (
        "1 records of supplier hold &#39;filing&#39; in licence_kind; keep that option"
        in response.text
    )
    relabelled = text.replace("en: Medical device business filing", "en: Business filing")
    assert publish(api, "supplier", relabelled).status_code == 302  # a label may change


def test_removed_field_is_hidden_not_dropped(api, lab_app):
    created = api.post(SUPPLIER, json=supplier_body("S1", contact="Ms Li")).json
    text = lab_app.extensions["lianku.registry"].form("supplier").yaml_text
    without = text.replace(
        "  - name: contact\n    type: text\n    label: {zh_CN: 联系人, en: Contact}\n", ""
    )
    published = publish(api, "supplier", without)
    assert published.status_code == 302
    told = api.get(published.headers["Location"]).text  # the admin hears what stays where
    assert "Field contact left the form: the 1 records holding a value keep it" in told
    assert "contact" not in api.get(f"{SUPPLIER}/{created['id']}").json["data"]
    # the record's page still shows what was recorded, as the version it was saved under named it
    page = api.get(f"/forms/supplier/{created['id']}").text
    kept = page[page.index('id="retired"') : page.index("</dl>", page.index('id="retired"'))]
    assert "Contact" in kept and "Ms Li" in kept
    assert api.form("/admin/forms/supplier/versions/1/rollback", {}).status_code == 302
    assert 'id="retired"' not in api.get(f"/forms/supplier/{created['id']}").text
    assert api.get(f"{SUPPLIER}/{created['id']}").json["data"]["contact"] == "Ms Li"


def test_a_removed_field_cannot_come_back_as_another_type(api, lab_app):
    """Two publishes (remove the field, add it back as a number) must not turn stored text
    into numbers: the check looks at the type the records' values were saved as."""
    api.post(SUPPLIER, json=supplier_body("S1", contact="Ms Li"))
    text = lab_app.extensions["lianku.registry"].form("supplier").yaml_text
    field = "  - name: contact\n    type: text\n    label: {zh_CN: 联系人, en: Contact}\n"
    assert publish(api, "supplier", text.replace(field, "")).status_code == 302
    as_number = text.replace(field, field.replace("type: text", "type: decimal"))
    response = publish(api, "supplier", as_number)
    assert response.status_code == 409
    assert "contact" in response.text and "cannot become decimal" in response.text
    assert publish(api, "supplier", text).status_code == 302  # back as text is fine


def test_draft_export_and_editor(api, lab_app):
    text = edited_supplier(lab_app)
    assert api.form("/admin/forms/supplier/draft", {"yaml": text}).status_code == 302
    assert "name: rating" in api.get("/admin/forms/supplier/edit").text  # the draft comes back
    assert "rating" not in api.get("/admin/forms/supplier/export").text  # not live
    exported = api.get("/admin/forms/supplier/export")
    assert exported.headers["Content-Disposition"] == "attachment; filename=supplier.yaml"
    assert api.get("/admin/forms/").status_code == 200


@pytest.mark.parametrize("name", ["Bad-Name", "supplier"])
def test_new_form_names_are_checked(api, name):
    response = api.form("/admin/forms/new", {"name": name, "yaml": COLD_CHAIN})
    assert response.status_code == 422


@pytest.mark.parametrize("name", ["item", "location", "lot", "unit", "user"])
def test_a_new_form_may_not_take_a_built_in_records_name(api, name):
    text = COLD_CHAIN.replace("name: cold_chain_log", f"name: {name}", 1)
    response = api.form("/admin/forms/new", {"name": name, "yaml": text})
    assert response.status_code == 422
    assert "is taken by a built-in record" in response.get_data(as_text=True)


def test_a_published_text_that_no_longer_loads_keeps_the_last_good_forms(api, lab_app):
    from app.meta.models import FormVersion
    from app.meta.versions import _bump_generation

    with lab_app.extensions["lianku.db"].transaction() as session:
        session.add(FormVersion(form="supplier", version=9, status="published",
                                yaml_text="name: supplier\nfields: oops\n"))  # fmt: skip
        _bump_generation(session)
    response = api.post(SUPPLIER, json=supplier_body("S1"))
    assert response.status_code == 201


def test_a_removed_line_field_keeps_its_values_through_edits(api, lab_app, org):
    from app.meta.models import Record
    from tests.web.test_forms_api import URL, valid

    created = api.post(URL, json=valid(org)).json
    text = lab_app.extensions["lianku.registry"].form("field_lab").yaml_text
    removed = text.replace(
        "      - {name: item, type: text, label: {zh_CN: 品名, en: Item}, required: true}\n", ""
    )
    assert removed != text and publish(api, "field_lab", removed).status_code == 302
    body = {"version": created["version"], "lines": [{"quantity": "5", "unit_price": "1"}]}
    assert api.put(f"{URL}/{created['id']}", json=body).status_code == 200
    with lab_app.extensions["lianku.db"].session() as session:
        lines = session.get(Record, created["id"]).data["lines"]
    assert lines[0]["item"] == "Gloves" and lines[0]["quantity"] == "5"


def test_a_new_formula_is_filled_in_on_the_records_saved_before(api, lab_app, org, db, monkeypatch):
    from app.kernel import jobs
    from app.kernel.audit import AuditEntry
    from app.meta.models import Record
    from tests.web.test_forms_api import URL, valid

    settings = lab_app.config["LIANKU"]
    monkeypatch.setenv("LIANKU_METADATA_DIR", settings.metadata_dir.as_posix())
    monkeypatch.setenv("LIANKU_WORKFLOWS_DIR", settings.workflows_dir.as_posix())
    saved = api.post(URL, json=valid(org)).json  # weight 1.250; one line of 2 × 1.105
    text = lab_app.extensions["lianku.registry"].form("field_lab").yaml_text
    amount = "      - {name: amount, type: formula"
    double = (
        "      - {name: double, type: formula, formula: quantity * 2, label: {zh_CN: 双, en: D}}\n"
    )
    heavy = "  - {name: heavy, type: formula, formula: weight * 2, label: {zh_CN: 重, en: Heavy}}\n"
    edited = (
        text.replace(amount, double + amount)
        .replace("sections:", heavy + "sections:")
        # the total's rule changes too: a stored total is what was saved, and stays
        .replace("formula: \"sum(lines, 'amount')\"", "formula: \"sum(lines, 'amount') * 10\"")
    )
    assert edited.count("heavy") == 1 and "* 10" in edited
    assert publish(api, "field_lab", edited).status_code == 302
    with db.session() as session:
        [queued] = session.query(jobs.Job).filter_by(kind="formula_backfill").all()
        assert queued.params["form"] == "field_lab"
    finished = jobs.run_next(db)
    assert finished.status == "done", finished.error
    assert finished.result == {"filled": {"field_lab": 1}}
    with db.session() as session:
        data = session.get(Record, saved["id"]).data
        assert data["heavy"] == "2.500" and data["lines"][0]["double"] == "4"
        assert data["total"] == saved["data"]["total"]  # not recomputed by the new rule
        [entry] = session.query(AuditEntry).filter_by(action="backfill").all()
        assert entry.entity_id == str(saved["id"]) and set(entry.changes) == {"heavy", "lines"}
    # the record's history names the entry in words, not by its code
    history = api.get(f"/forms/field_lab/{saved['id']}").text
    assert "<strong>Formulas recomputed</strong>" in history and ">backfill<" not in history
    # nothing is left to fill: a second run (as cron's, for every form) writes nothing
    with db.transaction() as session:
        jobs.enqueue(session, "formula_backfill")
    assert jobs.run_next(db).result == {"filled": {}}


def test_a_form_may_be_written_in_json(api, org):
    """The editor reads JSON as it reads YAML (JSON is YAML): an integrator pastes what their
    generator wrote."""
    import json

    import yaml

    text = json.dumps(yaml.safe_load(COLD_CHAIN), ensure_ascii=False, indent=2)
    assert api.form("/admin/forms/new", {"name": "cold_chain_log", "yaml": text}).status_code == 302
    url = "/api/v1/forms/cold_chain_log/records"
    warm = api.post(url, json={"location": org["s1"], "temperature": "9.5"})
    assert warm.status_code == 422 and warm.json["errors"]["temperature"]


def test_publishing_the_live_text_again_makes_no_version(api, lab_app):
    """A version is a change: the same text published again is refused saying so, and the
    history does not grow by a copy."""
    text = lab_app.extensions["lianku.registry"].form("supplier").yaml_text
    again = publish(api, "supplier", text)
    assert again.status_code == 409
    assert "nothing changed: version 1 of supplier is this text already" in again.text
    assert "v2" not in api.get("/admin/forms/supplier/versions").text
