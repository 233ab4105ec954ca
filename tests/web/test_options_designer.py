"""The option-list designer over HTTP: the choices as a table; a relabelled choice comes back as
YAML that publishes; dropping a value records hold is still refused at publish; a taken value is
refused on its input."""

from __future__ import annotations

import re

from tests.web.test_forms_designer import new_yaml

DESIGN = "/admin/options/transport_modes/design"


def live(app) -> str:
    return app.extensions["lianku.registry"].metadata.option_lists["transport_modes"].text


def test_the_choices_are_a_table_and_a_change_publishes(api, lab_app):
    text = live(lab_app)
    shown = api.form(DESIGN, {"yaml": text})
    assert re.findall(r'<tr id="choice-\d" data-value="(\w+)"', shown.text) == [
        "refrigerated_vehicle", "cold_box", "insulated_box", "ambient"
    ]  # fmt: skip
    ambient = {"value": "ambient", "label_zh": "常温", "label_en": "Ambient"}
    changed = new_yaml(api.form(DESIGN, {"yaml": text, "op": "update", "path": "3", **ambient}))
    assert "{value: ambient, label: {zh_CN: 常温, en: Ambient}}" in changed
    assert api.form("/admin/options/transport_modes/publish", {"yaml": changed}).status_code == 302
    api.get("/admin/options/")
    assert "常温" in live(lab_app)


def test_a_taken_value_is_refused_on_its_input(api, lab_app):
    text = live(lab_app)
    refused = api.form(DESIGN, {"yaml": text, "op": "add", "value": "cold_box"})
    assert new_yaml(refused) is None and "is-invalid" in refused.text
    assert 'id="add-choice-value" name="value" value="cold_box"' in refused.text
    stale = api.form(DESIGN, {"yaml": text, "op": "remove", "path": "9"})
    assert 'id="designer-message"' in stale.text
