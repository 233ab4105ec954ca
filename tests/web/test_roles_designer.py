"""The roles designer over HTTP: one role's rights as a grid of ticks; a tick taken away comes
back as YAML that, published, refuses the right at the next request; a new role is added; a bad
name is refused on its input; only admins use it."""

from __future__ import annotations

import re
from html import unescape

import yaml

from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_api import URL, valid
from tests.web.test_forms_designer import new_yaml
from tests.web.test_roles_admin import shipped

DESIGN = "/admin/roles/roles/design"


def ticked(response) -> dict[str, str]:
    """The inputs of the role form as the browser would send them (ticked boxes, not disabled)."""
    form = re.search(r'<form id="role-form".*?</form>', response.text, re.S).group(0)
    values = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    values |= {
        name: unescape(value)
        for name, value in re.findall(r'<input class="form-control[^"]*" id="[^"]+" name="(\w+)" '
                                      r'value="([^"]*)"', form)
    }  # fmt: skip
    values["scope"] = re.search(r'name="scope">.*?<option value="(\w+)" selected', form, re.S)[1]
    for box in re.findall(r'<input class="form-check-input" type="checkbox"[^>]*>', form):
        if " checked" in box and " disabled" not in box:
            values[re.search(r'name="([^"]+)"', box)[1]] = "1"
    return values


def test_the_editor_opens_on_the_grid_of_the_first_role(api, lab_app):
    assert 'id="design-tab"' in api.get("/admin/roles/roles/edit").text
    grid = api.form(DESIGN, {"yaml": shipped(lab_app)})
    assert grid.status_code == 200 and new_yaml(grid) is None
    assert 'id="designer-state" name="role" value="admin"' in grid.text
    clerk = api.form(DESIGN, {"yaml": shipped(lab_app), "role": "store_clerk"})
    assert 'data-form="field_lab"' in clerk.text and 'value="store_clerk"' in clerk.text
    assert ticked(clerk)["right:*:create"] == "1"


def clerk_rights(text: str, form: str) -> list[str]:
    """The store clerk's rights on ``form`` in the roles ``text`` (however its lines wrap)."""
    return yaml.safe_load(text)["roles"]["store_clerk"]["forms"][form]


def test_a_right_untaken_in_the_grid_is_refused_once_published(api, lab_app, org):
    clerk_client = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk_client.post(URL, json=valid(org)).status_code == 201
    text = shipped(lab_app)
    grid = api.form(DESIGN, {"yaml": text, "role": "store_clerk"})
    own = new_yaml(api.form(DESIGN, {"yaml": text, **ticked(grid), "own:field_lab": "1"}))
    assert clerk_rights(own, "field_lab") == ["read", "create", "update"]
    grid = api.form(DESIGN, {"yaml": own, "role": "store_clerk"})
    values = ticked(grid)
    del values["right:field_lab:create"]
    read_only = new_yaml(api.form(DESIGN, {"yaml": own, **values}))
    assert clerk_rights(read_only, "field_lab") == ["read", "update"]
    assert api.form("/admin/roles/roles/publish", {"yaml": read_only}).status_code == 302
    assert clerk_client.post(URL, json=valid(org, title="Beta")).status_code == 403
    assert clerk_client.get(URL).status_code == 200


def test_a_role_is_added_and_a_bad_name_refused(api, lab_app):
    text = shipped(lab_app)
    trainee = {"name": "trainee", "label_zh": "实习生", "label_en": "Trainee", "scope": "own"}
    added = api.form(DESIGN, {"yaml": text, "op": "add", **trainee})
    assert "  trainee:\n    label: {zh_CN: 实习生, en: Trainee}" in new_yaml(added)
    assert 'id="designer-state" name="role" value="trainee"' in added.text  # shown at once
    refused = api.form(DESIGN, {"yaml": text, "op": "add", "name": "store_clerk", "scope": "own"})
    assert new_yaml(refused) is None and "is-invalid" in refused.text
    assert 'value="store_clerk"' in refused.text  # kept for a retry
    removed = api.form(DESIGN, {"yaml": text, "op": "remove", "role": "auditor"})
    assert "auditor:" not in new_yaml(removed)


def test_yaml_that_does_not_parse_and_only_admins(api, lab_app):
    response = api.form(DESIGN, {"yaml": "roles: [\n"})
    assert 'id="designer-message"' in response.text and 'id="role-form"' not in response.text
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.form(DESIGN, {"yaml": shipped(lab_app)}).status_code == 403
