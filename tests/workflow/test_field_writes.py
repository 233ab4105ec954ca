"""What an action writes into a record is one of its form's fields, with a value that field can
hold: ``set_field`` naming no field, or "very hot" for a decimal, is refused when the workflow is
checked (``lianku check``, the workflow editor) naming file, line and path; at run time the
value is checked again, and a plugin writing a key its form does not declare is refused rather
than kept where nobody sees it."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from app.cli import main
from app.kernel.users import User
from app.meta.models import Record
from app.plugins.set_field import SetField
from app.workflow.actions import ActionContext, ActionError
from app.workflow.engine import FieldNotWritable, RecordsInterface
from tests.conftest import PROJECT_ROOT
from tests.web.test_forms_api import URL, valid
from tests.workflow import fake_plugins

#: the field_lab test bed with the ERP plugin installed (fixtures)
fake_plugin, lab_app = fake_plugins.fake_plugin, fake_plugins.lab_app

ADMIN = "/admin/workflows"

#: field_lab's flow, closing with the given steps.
FLOW = """form: field_lab
label: {zh_CN: 字段实验流程, en: Field lab flow}
initial: open
states:
  open: {label: {zh_CN: 进行中, en: Open}, editable: true}
  closed: {label: {zh_CN: 已关闭, en: Closed}, final: true}
transitions:
  - name: close
    from: open
    to: closed
    label: {zh_CN: 关闭, en: Close}
    roles: [admin]
    actions:
"""

BAD_STEPS = """      - action: set_field
        params: {field: no_such_field, value: 1}
      - action: set_field
        params: {field: weight, value: very hot}
      - action: set_field
        params: {field: priority, value: urgent}
      - action: set_field
        params: {field: weight, user: true}
"""


def test_check_refuses_a_field_not_of_the_form_and_a_value_not_of_its_type_in_the_real_file(
    tmp_path, monkeypatch
):
    """The QA pass's two steps on the sales order passed ``lianku check``; they are refused now,
    each with its line and path, in the file where it is — not ``workflows/…`` when the folder
    is elsewhere."""
    elsewhere = tmp_path / "flows"
    shutil.copytree(PROJECT_ROOT / "workflows", elsewhere)
    sales_order = elsewhere / "sales_order.yaml"
    text = sales_order.read_text(encoding="utf-8")
    step = "      - action: set_field\n        params: {field: review_scans, value: []}\n"
    assert step in text
    added = (
        "      - action: set_field\n        params: {field: no_such_field, value: 1}\n"
        "      - action: set_field\n"
        '        params: {field: departure_temperature, value: "very hot"}\n'
    )
    sales_order.write_text(text.replace(step, step + added, 1), encoding="utf-8")
    lines = sales_order.read_text(encoding="utf-8").splitlines()
    unknown = lines.index("        params: {field: no_such_field, value: 1}") + 1
    monkeypatch.setenv("LIANKU_WORKFLOWS_DIR", str(elsewhere))

    result = CliRunner().invoke(main, ["check"])

    assert result.exit_code == 1, result.output
    where = f"{sales_order}:{unknown} transitions[3].actions[1].params"
    assert (
        f"{where}.field: unknown field 'no_such_field' of sales_order: an action writes only the "
        "form's own fields" in result.output
    )
    assert (
        f"{sales_order}:{unknown + 2} transitions[3].actions[2].params.value: 'very hot' does not "
        "fit departure_temperature (decimal): Not a valid number." in result.output
    )
    assert "2 problem(s) found" in result.output
    assert "workflows/sales_order.yaml" not in result.output


def test_the_workflow_editor_refuses_what_set_field_cannot_write_as_it_is_typed(api, lab_app):
    shipped = lab_app.extensions["lianku.registry"].metadata.workflows["field_lab"].text
    check = api.form(f"{ADMIN}/field_lab/check", {"yaml": FLOW + BAD_STEPS}).text
    assert (
        "field_lab.yaml:15 transitions[0].actions[0].params.field: unknown field "
        "&#39;no_such_field&#39; of field_lab" in check
    )
    assert (
        "field_lab.yaml:17 transitions[0].actions[1].params.value: &#39;very hot&#39; does not "
        "fit weight (decimal): Not a valid number." in check
    )
    assert (
        "field_lab.yaml:19 transitions[0].actions[2].params.value: &#39;urgent&#39; does not fit "
        "priority (select): Not one of the allowed choices." in check
    )
    assert (
        "field_lab.yaml:21 transitions[0].actions[3].params.user: &#39;weight&#39; is not a link "
        "to user" in check
    )
    refused = api.form(f"{ADMIN}/field_lab/publish", {"yaml": FLOW + BAD_STEPS})
    assert refused.status_code == 422
    assert api.get(f"{ADMIN}/field_lab/export").text == shipped  # nothing published


def test_set_field_writes_its_value_as_the_field_holds_it(api, lab_app, org):
    """A numeric text in a decimal is its number, ``yes`` a boolean, the firing user a link to
    user: as a clerk's save would store them, and as the API then shows them."""
    steps = (
        "      - action: set_field\n        params: {field: weight, value: '2.5'}\n"
        "      - action: set_field\n        params: {field: urgent, value: 'yes'}\n"
        "      - action: set_field\n        params: {field: owner, user: true}\n"
    )
    published = api.form(f"{ADMIN}/field_lab/publish", {"yaml": FLOW + steps})
    assert published.status_code == 302, published.text
    created = api.post(URL, json=valid(org))
    assert created.status_code == 201, created.json
    closed = api.post(f"{URL}/{created.json['id']}/transitions/close", json={})
    assert closed.status_code == 200, closed.json
    data = closed.json["data"]
    assert data["weight"] == "2.5" and data["urgent"] is True
    assert data["owner"] == org["admin"]  # whoever closed it, not the clerk named


def test_a_value_the_field_cannot_hold_is_refused_when_the_action_runs(api, lab_app, org):
    """Defence in depth behind the load-time check (which no published workflow passes by):
    ``set_field`` run on a live record refuses, naming the field, and writes nothing."""
    created = api.post(URL, json=valid(org)).json
    database = lab_app.extensions["lianku.db"]
    registry = lab_app.extensions["lianku.registry"]
    with database.transaction() as session:
        admin = session.get(User, org["admin"])
        record = session.get(Record, created["id"])
        before = dict(record.data)
        records = RecordsInterface(session, registry, admin)

        def set_field(**params):
            context = ActionContext(session=session, record=record, user=admin, params=params,
                                    transition="close", records=records)  # fmt: skip
            SetField().run(context)

        refusal = "cannot hold 'very hot': Not a valid number."
        with pytest.raises(FieldNotWritable, match=refusal) as refused:
            set_field(field="weight", value="very hot")
        assert refused.value.field == "weight"
        with pytest.raises(ActionError, match="has no field 'erp_reference' to write"):
            set_field(field="erp_reference", value="ERP-1")
        with pytest.raises(FieldNotWritable, match="it is computed"):
            set_field(field="total", value="1")
        assert record.data == before  # nothing half-written
        set_field(field="count", value="7")
        assert record.data == {**before, "count": 7}
        session.rollback()


def test_a_plugin_writing_a_key_its_form_does_not_declare_is_refused(api, lab_app, org):
    """An ERP reference written under a key the form does not have would be kept in the record
    yet shown by neither the API nor the pages: the transition is refused instead, naming the
    action and the key, and nothing of it is kept."""
    steps = "      - action: erp_stamp\n"
    assert api.form(f"{ADMIN}/field_lab/publish", {"yaml": FLOW + steps}).status_code == 302
    created = api.post(URL, json=valid(org)).json
    refused = api.post(f"{URL}/{created['id']}/transitions/close", json={})
    assert refused.status_code == 409
    assert "The action erp_stamp wrote erp_reference, which" in refused.json["error"]
    with lab_app.extensions["lianku.db"].session() as session:
        record = session.get(Record, created["id"])
        assert record.state == "open" and "erp_reference" not in record.data
