"""A preview (``POST …/transitions/<t>/preview``) runs the transition's actions and rolls the
database back; nothing else is rolled back, so the actions are told (``context.preview``) and an
integrator's action calling out (an ERP) skips the call — on the preview only."""

from __future__ import annotations

import sys

from tests.web.test_forms_api import URL, valid
from tests.workflow import fake_plugins
from tests.workflow.test_field_writes import ADMIN, FLOW

#: the field_lab test bed with the ERP plugin installed (fixtures)
fake_plugin, lab_app = fake_plugins.fake_plugin, fake_plugins.lab_app


def test_a_preview_tells_the_actions_so_and_a_plugin_makes_no_external_call(api, lab_app, org):
    erp = sys.modules["lianku_erp"]  # the plugin's module, as the application loaded it
    steps = "      - action: erp_push\n"
    published = api.form(f"{ADMIN}/field_lab/publish", {"yaml": FLOW + steps})
    assert published.status_code == 302, published.text
    record = api.post(URL, json=valid(org)).json

    previewed = api.post(f"{URL}/{record['id']}/transitions/close/preview", json={})
    assert previewed.status_code == 200, previewed.json
    assert previewed.json["state"] == "closed"  # what closing would do…
    assert erp.SEEN == [("close", True)] and erp.SENT == []  # …without calling the ERP

    closed = api.post(f"{URL}/{record['id']}/transitions/close", json={})
    assert closed.status_code == 200, closed.json
    assert erp.SEEN == [("close", True), ("close", False)]
    assert [record["id"]] == erp.SENT  # the real firing calls it
