"""The API described as OpenAPI 3.1 from the live metadata: a valid document; what it says a
record looks like is what the API really takes and gives; each caller sees the forms they may
read; an admin's edit shows at once."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.meta import access
from app.workflow import engine
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_api import URL, valid

SPEC = "/api/v1/openapi.json"


def schema_validator(document: dict, name: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/<name>``, its references resolved in the document."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=registry)


@pytest.fixture
def document(api):
    response = api.get(SPEC)
    assert response.status_code == 200
    return response.json


def test_the_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/forms/field_lab/records" in document["paths"]
    # (an admin fires the transitions the flows give no roles of their own: not the sale's)
    fire = "/api/v1/forms/{form}/records/{{id}}/transitions/{{transition}}"
    assert fire.format(form="field_lab") in document["paths"]
    assert fire.format(form="sales_order") not in document["paths"]


def test_a_record_is_what_the_description_says(api, org, document):
    body = valid(org)
    assert not list(schema_validator(document, "field_lab_data").iter_errors(body))
    created = api.post(URL, json=body)
    assert created.status_code == 201, created.json
    errors = list(schema_validator(document, "field_lab_record").iter_errors(created.json))
    assert not errors, [(error.json_path, error.message) for error in errors]
    listed = api.get(URL).json["items"]
    assert not list(schema_validator(document, "field_lab_record").iter_errors(listed[0]))

    refused = dict(body, priority="urgent", count=102)  # the API refuses both; so does the schema
    assert api.post(URL, json=refused).status_code == 422
    data = schema_validator(document, "field_lab_data")
    assert {error.json_path for error in data.iter_errors(refused)} == {"$.priority", "$.count"}


def test_fields_read_as_the_form_defines_them(document):
    data = document["components"]["schemas"]["field_lab_data"]
    fields = data["properties"]
    assert "title" in data["required"] and "location" in data["required"]
    assert fields["count"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 100}
    assert "send it as a string" in fields["weight"]["description"]
    assert fields["priority"]["anyOf"][0]["enum"] == ["low", "high"]
    assert "low = Low; high = High" in fields["priority"]["description"]
    assert fields["lines"]["items"]["properties"]["amount"]["readOnly"] is True
    assert "location" in fields["location"]["description"]
    transport = document["components"]["schemas"]["sales_order_data"]["properties"]
    assert transport["transport_mode"]["anyOf"][0]["enum"][0] == "refrigerated_vehicle"
    fire = document["paths"]["/api/v1/forms/field_lab/records/{id}/transitions/{transition}"]
    assert fire["parameters"][1]["schema"]["enum"] == ["close"]
    # not required of every caller: what a default fills, what only some records show
    schemas = document["components"]["schemas"]
    assert not {"location", "sale_date"} & set(schemas["sales_order_data"]["required"])
    assert "original_invoice" not in schemas["sales_invoice_data"]["required"]
    assert "customer" in schemas["sales_invoice_data"]["required"]


def test_every_endpoint_an_integration_uses_is_described(document):
    """Scans, imports, makes, previews, add-an-approver, delegations, attachments, report files
    and (to an admin) the token admin: each endpoint the API has is in the document."""
    validate(document)
    paths = document["paths"]
    lab = "/api/v1/forms/field_lab"
    assert paths[f"{lab}/scan"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]["field"]["enum"] == ["scan"]  # fmt: skip
    assert "multipart/form-data" in paths[f"{lab}/import"]["post"]["requestBody"]["content"]
    make = paths["/api/v1/forms/purchase_order/records/{id}/make/{target}"]
    assert make["parameters"][1]["schema"]["enum"] == ["purchase_receipt"]
    assert "/api/v1/forms/field_lab/records/{id}/transitions/{transition}/preview" in paths
    for shared in (
        "/api/v1/approval-tasks/{id}/approvers",
        "/api/v1/delegations",
        "/api/v1/attachments",
        "/api/v1/attachments/{id}",
        "/api/v1/admin/tokens",
        "/api/v1/admin/tokens/{id}",
        "/api/v1/reports/stock_on_hand/export.{fmt}",
        "/api/v1/periods/reopen",
    ):
        assert shared in paths, shared  # fmt: skip
    assert set(paths["/api/v1/periods"]) == {"get", "post"}  # an admin closes months


def test_a_caller_sees_only_the_operations_it_may_use(lab_app, org):
    """A clerk who may not delete sees no DELETE, no token admin; transitions their role may
    not fire are not offered."""
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD).get(SPEC).json
    validate(clerk)
    paths = clerk["paths"]
    assert "delete" not in paths["/api/v1/forms/field_lab/records/{id}"]
    assert "/api/v1/admin/tokens" not in paths
    assert "/api/v1/periods" not in paths  # not the clerk's to close
    with lab_app.extensions["lianku.db"].session() as session:
        from app.kernel.users import User

        user = session.get(User, org["clerk"])
        for path, item in paths.items():
            if path.endswith("/transitions/{transition}"):
                form = path.split("/")[4]
                definition = lab_app.extensions["lianku.registry"].form(form)
                for name in item["parameters"][1]["schema"]["enum"]:
                    transition = engine.transition_named(definition, name)
                    assert engine.firing_roles(user, definition, transition), (form, name)


def test_each_caller_sees_the_forms_they_may_read(lab_app, org, api, document):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    theirs = clerk.get(SPEC).json
    forms = {path.split("/")[4] for path in theirs["paths"] if path.startswith("/api/v1/forms/")}
    with lab_app.extensions["lianku.db"].session() as session:
        from app.kernel.users import User

        user = session.get(User, org["clerk"])
        expected = {
            name for name in lab_app.extensions["lianku.registry"].forms
            if access.can(user, "read", name)
        }  # fmt: skip
    assert forms == expected and len(forms) < len(
        {path.split("/")[4] for path in document["paths"] if path.startswith("/api/v1/forms/")}
    )
    assert lab_app.test_client().get(SPEC).status_code == 401


def test_an_edit_shows_at_once(api, lab_app):
    text = lab_app.extensions["lianku.registry"].form("supplier").yaml_text
    edited = text.replace(
        "list:", "  - name: rating\n    type: integer\n    label: {zh_CN: 评级, en: Rating}\nlist:"
    )
    assert api.form("/admin/forms/supplier/publish", {"yaml": edited}).status_code == 302
    fields = api.get(SPEC).json["components"]["schemas"]["supplier_data"]["properties"]
    assert fields["rating"]["description"].startswith("Rating")


def test_the_reference_page_loads_its_assets(api):
    page = api.get("/api/docs")
    assert page.status_code == 200 and 'data-spec="/api/v1/openapi.json"' in page.text
    assert api.get("/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    assert api.get("/vendor/swagger-ui-dist/package.json").status_code == 404


def test_each_report_the_caller_may_run_is_described_with_its_parameters(api, lab_app, org):
    reports = api.get(SPEC).json["paths"]
    stock = reports["/api/v1/reports/stock_on_hand"]["get"]
    params = {param["name"]: param for param in stock["parameters"]}
    assert "location" in params and params["page"]["schema"] == {"type": "integer"}
    assert set(stock["responses"]) == {"200", "400", "401", "404"}  # 400: what the API answers
    sales = reports["/api/v1/reports/sales_record"]["get"]["parameters"]
    period = next(param for param in sales if param["name"] == "period")
    assert period["schema"]["pattern"].startswith(r"^(\d{4}-")
    assert "period_from" in period["description"]
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD).get(SPEC).json["paths"]
    assert "/api/v1/reports/stock_on_hand" in clerk
    assert "/api/v1/reports/audit_trail" not in clerk  # not the clerk's to run
    assert api.get("/api/v1/reports/stock_on_hand?location=mine").status_code == 200
