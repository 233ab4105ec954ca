"""The generated REST API, driven with every field type and rule of ``field_lab``."""

from __future__ import annotations

import json

import pytest

from app.meta.models import Record

URL = "/api/v1/forms/field_lab/records"
SCAN = "(01)04012345678901(17)271231(10)LOT7(21)SN9"


def valid(org, **changes):
    body = {
        "location": org["s1"],
        "title": "Alpha",
        "count": 4,
        "weight": "1.250",
        "price": "9.99",
        "at": "2026-05-01T08:30:00+08:00",
        "priority": "high",
        "tags": ["a", "b"],
        "owner": org["clerk"],
        "scan": SCAN,
        "barcode": "6901234567892",
        "photo": None,
        "lines": [
            {"item": "Gloves", "quantity": "2", "unit_price": "1.105"},
            {"item": "Masks", "quantity": "3.5", "unit_price": "2"},
        ],
    }
    body.update(changes)
    return body


def test_create_read_every_field_type(api, org):
    response = api.post(URL, json=valid(org))
    assert response.status_code == 201, response.json
    record = response.json
    data = record["data"]
    assert record["number"].startswith("FL-S1-")
    assert record["number"].endswith("-00001")
    assert record["state"] == "open"  # the workflow's initial state
    assert record["location_id"] == org["s1"]
    assert data["weight"] == "1.250" and data["price"] == "9.99"
    assert data["discount"] == "0"  # default
    assert data["due"]  # default_expr today() + days(7)
    assert data["at"] == "2026-05-01T00:30:00+00:00"
    assert data["lot"] == "LOT7" and data["serial"] == "SN9" and data["expiry"] == "2027-12-31"
    assert [line["amount"] for line in data["lines"]] == ["2.21", "7.00"]
    assert data["total"] == "9.21"
    assert data["seq"] == 1
    assert data["entered_by"] == org["admin"]
    assert data["entered_at"]
    assert data["code"] == "FIXED"
    assert data["location_code"] == "S1"  # lookup() of a kernel table's column
    again = api.get(f"{URL}/{record['id']}")
    assert again.status_code == 200 and again.json == record


@pytest.mark.parametrize(
    ("changes", "path", "reason"),
    [
        ({"title": None}, "title", "required"),
        ({"title": "alpha"}, "title", "expected format"),
        ({"title": "A" * 21}, "title", "At most 20 characters"),
        ({"count": "x"}, "count", "valid number"),
        ({"count": 101}, "count", "between 0 and 100"),
        ({"count": 3}, "count", "Count must be even"),
        ({"weight": "1.2345"}, "weight", "3 decimal places"),
        ({"price": "-1"}, "price", "at least 0"),
        ({"discount": "101"}, "discount", "at most 100"),
        ({"due": "2026-13-01"}, "due", "valid date"),
        ({"at": "yesterday"}, "at", "date and time"),
        ({"urgent": True}, "reason", "required"),
        ({"priority": "medium"}, "priority", "allowed choices"),
        ({"tags": ["a", "z"]}, "tags[1]", "allowed choices"),
        ({"owner": 99999}, "owner", "outside your scope"),
        ({"location": 99999}, "location", "outside your scope"),
        ({"supplier": 424242}, "supplier", "outside your scope"),
        ({"scan": "nonsense"}, "scan", "not a GS1 UDI"),
        ({"expiry": "2019-12-31", "scan": None}, "expiry", "at least 2020-01-01"),
        ({"lines": [{"item": "X", "quantity": "0"}]}, "lines[0].quantity", "at least 0.0001"),
        ({"price": "NaN"}, "price", "valid number"),
        ({"price": "Infinity"}, "price", "valid number"),
        ({"price": "99999999999999999999"}, "price", "too large"),
        ({"price": "1.23456"}, "price", "4 decimal places"),  # the columns' scale
        ({"lines": [{"item": "X", "quantity": "1E+30"}]}, "lines[0].quantity", "too large"),
        ({"lines": [{"item": "X", "quantity": "0.00001"}]}, "lines[0].quantity", "4 decimal"),
        (
            {"lines": [{"item": "X", "quantity": "12345678901234.56789"}]},
            "lines[0].quantity",
            "4 decimal places",
        ),
        (
            {"lines": [{"item": "X", "quantity": "9999999999999", "unit_price": "99"}]},
            "lines[0].amount",
            "too large",
        ),
        ({"lines": [{"quantity": "1"}]}, "lines[0].item", "required"),
        ({"lines": [{"item": "X", "quantity": "1", "bogus": 1}]}, "lines[0].bogus", "Unknown"),
        ({"nonsense": 1}, "nonsense", "Unknown field"),
    ],
)
def test_every_rule_names_the_field_and_reason(api, org, changes, path, reason):
    response = api.post(URL, json=valid(org, **changes))
    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    assert path in errors, errors
    assert any(reason.lower() in message.lower() for message in errors[path]), errors


def test_reason_not_required_when_hidden_and_unique_title(api, org):
    assert api.post(URL, json=valid(org, urgent=False)).status_code == 201
    response = api.post(URL, json=valid(org, urgent=True, reason="Patient waiting"))
    assert response.status_code == 422
    assert "already used" in response.json["errors"]["title"][0]
    assert (
        api.post(URL, json=valid(org, title="Beta", urgent=True, reason="Now")).status_code == 201
    )


def test_links_to_other_forms_and_lookup(api, org):
    supplier = api.post(
        "/api/v1/forms/supplier/records",
        json={
            "code": "SUP1",
            "name": "Acme Medical",
            "licence_number": "L-1",
            "licence_expiry": "2030-01-01",
        },
    )
    assert supplier.status_code == 201, supplier.json
    response = api.post(URL, json=valid(org, supplier=supplier.json["id"]))
    assert response.status_code == 201, response.json
    assert response.json["data"]["supplier_name"] == "Acme Medical"
    found = api.get("/api/v1/lookup/supplier?q=acme").json["results"]
    assert found == [{"value": supplier.json["id"], "label": "Acme Medical"}]
    locations = api.get("/api/v1/lookup/location?q=S2").json["results"]
    assert [c["value"] for c in locations] == [org["s2"]]


def test_read_only_fields_from_the_client_are_ignored_on_create(api, org):
    """As on update: a clerk may not write what only the server fills (a transfer's number, a
    recall's trace); the field keeps its default instead."""
    response = api.post(URL, json=valid(org, code="FORGED"))
    assert response.status_code == 201, response.json
    assert response.json["data"]["code"] == "FIXED"
    preview = api.post("/api/v1/forms/field_lab/evaluate", json=valid(org, code="FORGED"))
    assert preview.json["values"]["code"] == "FIXED"


def test_a_read_only_field_changed_on_update_is_refused_and_sent_back_as_read_is_not(api, org, db):
    from sqlalchemy import func, select

    from app.kernel.audit import AuditEntry

    created = api.post(URL, json=valid(org)).json
    url = f"{URL}/{created['id']}"
    with db.session() as session:
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
    refused = api.put(url, json={"version": created["version"], "code": "FORGED"})
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        "code": ["Filled in by the system: it cannot be changed here."]
    }
    as_read = api.put(url, json={"version": created["version"], "code": "FIXED"})
    assert as_read.status_code == 200, as_read.json
    assert as_read.json["version"] == created["version"]  # nothing changed: no new version
    with db.session() as session:  # nor an empty entry in the audit trail
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited
    changed = api.put(url, json={"version": created["version"], "code": "FIXED", "count": 10})
    assert changed.status_code == 200 and changed.json["version"] == created["version"] + 1


def test_decimals_are_stored_as_people_write_them(api, org):
    body = valid(org, price="1e3", discount="-0")
    response = api.post(URL, json=body)
    assert response.status_code == 201, response.json
    assert response.json["data"]["price"] == "1000" and response.json["data"]["discount"] == "0"
    # an amount copied from an invoice, with its thousands separators
    grouped = api.post(URL, json=valid(org, title="Grouped", price=" 12,000.50 "))
    assert grouped.status_code == 201, grouped.json
    assert grouped.json["data"]["price"] == "12000.50"
    for unclear in ("12,5", "1,00", "12,000,0", ",500"):  # a decimal comma? a slip? refused
        refused = api.post(URL, json=valid(org, title="Unclear", price=unclear))
        assert refused.status_code == 422 and list(refused.json["errors"]) == ["price"], unclear


def test_not_found_names_the_form_by_its_label(api):
    response = api.get(f"{URL}/999999")
    assert response.status_code == 404
    assert response.json["error"] == "Record 999999 of Field lab was not found."  # admin: en


def test_update_with_version_and_stale_save(api, org):
    created = api.post(URL, json=valid(org)).json
    url = f"{URL}/{created['id']}"
    first = api.put(url, json={"version": created["version"], "count": 6})
    assert first.status_code == 200, first.json
    assert first.json["data"]["count"] == 6 and first.json["version"] == created["version"] + 1
    stale = api.put(url, json={"version": created["version"], "count": 8})
    assert stale.status_code == 409
    assert "Admin User" in stale.json["error"]
    assert "UTC" not in stale.json["error"]  # the shops' wall clock, as every page shows time
    assert api.get(url).json["data"]["count"] == 6


def test_list_filter_search_sort_paginate(api, org):
    for index, title in enumerate(["Alpha", "Bravo", "Charlie"]):
        api.post(URL, json=valid(org, title=title, count=index * 2))
    page = api.get(f"{URL}?sort=title&per_page=2").json
    assert page["total"] == 3 and [i["data"]["title"] for i in page["items"]] == ["Alpha", "Bravo"]
    page2 = api.get(f"{URL}?sort=title&per_page=2&page=2").json
    assert [i["data"]["title"] for i in page2["items"]] == ["Charlie"]
    assert [i["data"]["title"] for i in api.get(f"{URL}?title=Bravo").json["items"]] == ["Bravo"]
    assert [i["data"]["title"] for i in api.get(f"{URL}?q=harl").json["items"]] == ["Charlie"]
    assert [i["data"]["count"] for i in api.get(f"{URL}?sort=-count").json["items"]] == [4, 2, 0]
    bogus = api.get(f"{URL}?sort=bogus")  # refused on the parameter given
    assert bogus.status_code == 422
    assert bogus.json["errors"] == {"sort": ["Unknown field: bogus."]}
    assert len(api.get(f"{URL}?owner={org['clerk']}").json["items"]) == 3
    assert [i["data"]["title"] for i in api.get(f"{URL}?count=2").json["items"]] == ["Bravo"]
    assert len(api.get(f"{URL}?price=9.99&urgent=false&priority=high").json["items"]) == 3
    assert api.get(f"{URL}?urgent=true").json["items"] == []
    assert api.get(f"{URL}?count=abc").status_code == 422


def test_delete_where_allowed(api, org):
    created = api.post(URL, json=valid(org)).json
    assert api.delete(f"{URL}/{created['id']}?version=1").status_code == 204
    assert api.get(f"{URL}/{created['id']}").status_code == 404


def test_a_record_another_links_to_is_not_deleted(api, org):
    """Deleting a supplier a record names — in its header or on a line — would leave that
    record naming nobody: refused with the record that names it, nothing deleted."""
    suppliers = "/api/v1/forms/supplier/records"
    ids = [
        api.post(suppliers, json={"code": code, "name": code, "licence_number": "L-1",
                                  "licence_expiry": "2030-01-01"}).json["id"]
        for code in ("SUP1", "SUP2", "SUP3")
    ]  # fmt: skip
    header = api.post(URL, json=valid(org, supplier=ids[0])).json
    line = {"item": "Gloves", "quantity": "1", "vendor": ids[1]}
    on_line = api.post(URL, json=valid(org, title="Beta", lines=[line])).json
    for supplier_id, linking in ((ids[0], header), (ids[1], on_line)):
        refused = api.delete(f"{suppliers}/{supplier_id}?version=1")
        assert refused.status_code == 409, refused.json
        assert refused.json["message"] == (
            f"Field lab {linking['number'] or linking['id']} refers to this record, so it cannot "
            "be deleted: cancel or deactivate it instead."
        )
        assert api.get(f"{suppliers}/{supplier_id}").status_code == 200
    assert api.delete(f"{suppliers}/{ids[2]}?version=1").status_code == 204  # named by none
    assert api.delete(f"{URL}/{header['id']}?version=1").status_code == 204
    assert api.delete(f"{suppliers}/{ids[0]}?version=1").status_code == 204


def test_delete_needs_the_version_and_versions_are_whole_numbers(api, org):
    created = api.post(URL, json=valid(org)).json
    url = f"{URL}/{created['id']}"
    missing = api.delete(url)
    assert missing.status_code == 422 and "version" in missing.json["errors"]
    for bad in (1.9, True, "1.0", "x"):
        response = api.put(url, json={"version": bad, "count": 6})
        assert response.status_code == 422 and "version" in response.json["errors"], bad
    assert api.get(url).json["version"] == 1  # nothing deleted, nothing saved
    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 204


def test_idempotency_key_replays_and_writes_nothing(api, org, lab_app):
    headers = {"Idempotency-Key": "abc-123"}
    first = api.post(URL, json=valid(org), headers=headers)
    second = api.post(URL, json=valid(org), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    assert second.headers["Idempotent-Replayed"] == "true"
    with lab_app.extensions["lianku.db"].session() as session:
        assert session.query(Record).filter_by(form="field_lab").count() == 1


def test_a_token_acts_under_its_own_account_never_a_persons(api, org, lab_app):
    """A token's id is also some user's id (here the admin's): what the token does is named by
    its account, so the admin's idempotency key and records stay the admin's."""
    from app.meta import identity

    database = lab_app.extensions["lianku.db"]
    with database.transaction() as session:
        token, plaintext = identity.issue_token(session, "erp", "store_clerk", [org["s1"]], None)
        token_id, account_id = token.id, token.user_id
    assert token_id == org["admin"] and account_id not in (org["admin"], org["clerk"])
    by_token = api.client.application.test_client().post(
        URL,
        json=valid(org),
        headers={"Authorization": f"Bearer {plaintext}", "Idempotency-Key": "order-1"},
    )
    assert by_token.status_code == 201 and by_token.json["created_by"] == account_id
    by_admin = api.post(URL, json=valid(org, title="Beta"), headers={"Idempotency-Key": "order-1"})
    assert by_admin.status_code == 201 and "Idempotent-Replayed" not in by_admin.headers
    assert by_admin.json["created_by"] == org["admin"] and by_admin.json["data"]["title"] == "Beta"


def test_an_idempotency_key_reused_for_another_request_is_refused(api, org, lab_app):
    headers = {"Idempotency-Key": "k-1"}
    created = api.post(URL, json=valid(org), headers=headers)
    assert created.status_code == 201
    other_body = api.post(URL, json=valid(org, title="Beta"), headers=headers)
    assert other_body.status_code == 422
    assert "Idempotency-Key" in other_body.json["field"]
    assert "Idempotent-Replayed" not in other_body.headers
    other_path = api.post(f"{URL}/{created.json['id']}/transitions/close", json={},
                          headers=headers)  # fmt: skip
    assert other_path.status_code == 422 and f"{URL}" in other_path.json["error"]
    with lab_app.extensions["lianku.db"].session() as session:
        assert session.query(Record).filter_by(form="field_lab").count() == 1
    again = api.post(URL, json=valid(org), headers=headers)  # the very same request replays
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"


def test_json_numbers_for_money_and_quantities_are_kept_exactly(api, org):
    body = valid(
        org, price="PRICE", lines=[{"item": "Gloves", "quantity": "QTY", "unit_price": "2"}]
    )
    raw = (
        json.dumps(body)
        .replace('"PRICE"', "99999999999999.99")  # a float reads 99999999999999.98
        .replace('"QTY"', "12345678901234.5678")  # a float reads 12345678901234.568
    )
    response = api.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert data["price"] == "99999999999999.99"
    assert data["lines"][0]["quantity"] == "12345678901234.5678"


def test_a_refusal_names_the_action_in_words_and_the_form_by_its_label(api, org, lab_app):
    from tests.forms_fixtures import PASSWORD, ApiClient

    created = api.post(URL, json=valid(org)).json
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)  # reads English
    refused = clerk.delete(f"{URL}/{created['id']}?version=1")
    assert refused.status_code == 403
    assert refused.json["message"] == "You are not allowed to delete Field lab."


def test_api_errors_are_json(lab_app, org, api):
    anonymous = lab_app.test_client()
    assert anonymous.get(URL).status_code == 401
    assert anonymous.get(URL).is_json
    assert api.get("/api/v1/forms/nope/records").status_code == 404
    assert api.get(f"{URL}/999").status_code == 404
    no_csrf = api.client.post(URL, json=valid(org))
    assert no_csrf.status_code == 400


HUGE = 10**30


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("get", f"{URL}?page={HUGE}", None, "page"),
        ("get", f"{URL}?page=0", None, "page"),
        ("get", f"{URL}?per_page=abc", None, "per_page"),
        ("get", "/api/v1/lookup/supplier?limit=abc", None, "limit"),
        ("get", "/api/v1/lookup/supplier?limit=1.5", None, "limit"),
        ("get", "/api/v1/lookup/supplier?limit=-1", None, "limit"),
        ("get", "/api/v1/lookup/location?limit=abc", None, "limit"),
        ("post", "/api/v1/forms/field_lab/evaluate", {"data": {}, "id": {"a": 1}}, "id"),
        ("post", "/api/v1/forms/field_lab/evaluate", {"data": {}, "id": HUGE}, "id"),
        ("post", URL, "LINES_PLACE", "lines[0].place"),
    ],
)
def test_bad_numbers_in_requests_are_4xx_naming_the_parameter(api, org, method, url, body, field):
    if body == "LINES_PLACE":
        body = valid(org, lines=[{"item": "Gloves", "quantity": "1", "place": HUGE}])
    response = getattr(api, method)(url, json=body) if body else getattr(api, method)(url)
    assert response.status_code == 422, response.data
    assert field in response.json["errors"] and response.json["message"]


@pytest.mark.parametrize("per_page", ["-1", "0", "501"])
def test_a_page_size_out_of_range_names_the_real_range(api, org, per_page):
    """A list page holds at most 500 records: the refusal says so, not "1 to 9223372036854775807"
    (a larger size was cut to 500 without a word)."""
    response = api.get(f"{URL}?per_page={per_page}")
    assert response.status_code == 422
    assert response.json["errors"]["per_page"] == ["Give a whole number from 1 to 500."]
    assert api.get(f"{URL}?per_page=500").json["per_page"] == 500


def test_ids_too_large_for_the_database_are_not_found(api, org):
    for url in (f"{URL}/{HUGE}", f"/api/v1/stock/items/{HUGE}", f"/api/v1/attachments/{HUGE}"):
        response = api.get(url)
        assert response.status_code == 404 and response.is_json, url
    response = api.post(f"/api/v1/approval-tasks/{HUGE}/decision", json={"decision": "approve"})
    assert response.status_code == 404


def test_list_filters_compare_as_the_fields_type_whatever_is_typed(api, org):
    api.post(URL, json=valid(org))
    assert api.get(f"{URL}?supplier={HUGE}").json["items"] == []  # no such id: nothing
    for bad in ("count=abc", "weight=NaN", "price=Infinity"):
        refused = api.get(f"{URL}?{bad}")
        assert refused.status_code == 422, bad
        assert list(refused.json["errors"]) == [bad.split("=")[0]]


def test_a_lookup_never_answers_more_than_a_hundred_choices(api, org):
    assert api.get("/api/v1/lookup/location?limit=100").status_code == 200
    refused = api.get("/api/v1/lookup/location?limit=1000")  # said, not silently cut
    assert refused.status_code == 422
    assert refused.json["errors"] == {"limit": ["Give a whole number from 1 to 100."]}


def test_an_anonymous_api_write_is_401_and_framework_errors_speak_the_users_language(
    lab_app, org, api
):
    anonymous = lab_app.test_client()
    response = anonymous.post(URL, json=valid(org))
    assert response.status_code == 401 and response.json["error"] == "unauthorized"
    no_csrf = api.client.post(URL, json=valid(org), headers={"Accept-Language": "zh-CN"})
    assert no_csrf.status_code == 400 and "The CSRF token" not in no_csrf.json["message"]
    not_allowed = api.put(URL, json={})
    assert not_allowed.status_code == 405 and not_allowed.json["error"] == "method_not_allowed"
    assert "PUT" in not_allowed.json["message"]


def test_an_unexpected_failure_is_json_in_the_users_language(lab_app, org, api, monkeypatch):
    from app.meta import records

    def broken(*args, **kwargs):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(records, "get", broken)
    monkeypatch.setitem(lab_app.config, "PROPAGATE_EXCEPTIONS", False)
    response = api.get(f"{URL}/1")
    assert response.status_code == 500 and response.is_json
    assert response.json["error"] == "error" and "administrator" in response.json["message"]


def test_scan_endpoint_fills_siblings(api):
    response = api.post("/api/v1/forms/field_lab/scan", json={"field": "scan", "value": SCAN})
    assert response.status_code == 200, response.json
    assert response.json["fills"] == {"lot": "LOT7", "expiry": "2027-12-31", "serial": "SN9"}
    bad = api.post("/api/v1/forms/field_lab/scan", json={"field": "scan", "value": "x"})
    assert bad.status_code == 422 and "scan" in bad.json["errors"]


def test_every_path_goes_through_access(api, org, lab_app, monkeypatch):
    """With a scope of store S1 only (the identity branch fills access in), records, link values
    and lookups outside it are invisible; a denied action is a JSON 403."""
    from app.meta import access

    assert api.post(URL, json=valid(org, title="Mine")).status_code == 201
    assert api.post(URL, json=valid(org, title="Theirs", location=org["s2"])).status_code == 201
    monkeypatch.setattr(
        access, "visible_location_ids", lambda session, user, roles=None: frozenset([org["s1"]])
    )
    titles = [item["data"]["title"] for item in api.get(URL).json["items"]]
    assert titles == ["Mine"]
    outside = api.post(URL, json=valid(org, title="Sneaky", location=org["s2"]))
    assert (
        outside.status_code == 422 and "outside your scope" in outside.json["errors"]["location"][0]
    )
    assert [c["value"] for c in api.get("/api/v1/lookup/location").json["results"]] == [org["s1"]]
    theirs = api.get(f"{URL}?title=Theirs").json["items"]
    assert theirs == []

    monkeypatch.setattr(access, "can", lambda user, action, form=None: action == "read")
    denied = api.post(URL, json=valid(org, title="Denied"))
    assert denied.status_code == 403 and denied.is_json
    assert api.get("/forms/field_lab/new").status_code == 403


def test_a_record_past_its_editable_states_cannot_change(api, org, lab_app):
    created = api.post(URL, json=valid(org)).json
    with lab_app.extensions["lianku.db"].transaction() as session:
        session.get(Record, created["id"]).state = "closed"
    response = api.put(f"{URL}/{created['id']}", json={"version": 2, "count": 6})
    assert response.status_code == 409 and "'Closed'" in response.json["error"]  # (its label)
    assert api.delete(f"{URL}/{created['id']}?version=2").status_code == 409


def test_messages_follow_the_users_language(api, org, lab_app):
    from app.kernel.users import User

    with lab_app.extensions["lianku.db"].transaction() as session:
        session.get(User, org["admin"]).locale = "zh_CN"
    errors = api.post(URL, json=valid(org, title=None, count=3)).json["errors"]
    assert errors["title"] == ["此字段必填。"]
    assert errors["count"] == ["件数必须为偶数"]


@pytest.mark.postgres_only
def test_concurrent_repeats_of_one_idempotency_key_create_one_record(lab_app, org):
    import threading

    from tests.forms_fixtures import PASSWORD, ApiClient

    clients = [ApiClient(lab_app.test_client()).login("admin", PASSWORD) for _ in range(4)]
    results = []

    def send(client):
        response = client.post(URL, json=valid(org), headers={"Idempotency-Key": "same"})
        results.append((response.status_code, response.json["id"]))

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and {status for status, _ in results} == {201}
    assert len({record_id for _, record_id in results}) == 1
    with lab_app.extensions["lianku.db"].session() as session:
        assert session.query(Record).filter_by(form="field_lab").count() == 1


def add_supplier(api, code, licence="L-1"):
    body = {"code": code, "name": code, "licence_number": licence, "licence_expiry": "2030-01-01"}
    return api.post("/api/v1/forms/supplier/records", json=body).json["id"]


def test_link_filter_limits_what_a_link_may_point_at(api, org):
    good, bad = add_supplier(api, "GOOD"), add_supplier(api, "BAD", "REVOKED")
    assert api.post(URL, json=valid(org, supplier=good)).status_code == 201
    refused = api.post(URL, json=valid(org, title="Other", supplier=bad))
    assert refused.status_code == 422 and "supplier" in refused.json["errors"]
    # it exists and may be seen: the refusal says it cannot be chosen, not that it is missing
    assert "cannot be chosen here" in refused.json["errors"]["supplier"][0]
    picker = "/api/v1/lookup/supplier?form=field_lab&field=supplier"
    assert [c["value"] for c in api.get(picker).json["results"]] == [good]
    assert len(api.get("/api/v1/lookup/supplier").json["results"]) == 2


def test_line_links_are_checked_together_and_each_refusal_names_its_line(lab_app, api, org):
    """The lines' links are looked up in one query per field; what each line may point at is
    unchanged: inside the user's scope, passing the link filter, existing."""
    from sqlalchemy import event

    from tests.forms_fixtures import PASSWORD, ApiClient

    good, other = add_supplier(api, "G"), add_supplier(api, "O", "L-2")
    revoked = add_supplier(api, "R", "REVOKED")
    s1, s2 = org["s1"], org["s2"]

    def line(n, place=s1, vendor=good):
        return {"item": f"I{n}", "quantity": "1", "place": place, "vendor": vendor}

    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    lines = [line(0), line(1, place=s2), line(2, vendor=revoked), line(3, 999999, 999999)]
    refused = clerk.post(URL, json=valid(org, title="Lines", lines=lines))
    assert refused.status_code == 422
    assert sorted(refused.json["errors"]) == [
        "lines[1].place", "lines[2].vendor", "lines[3].place", "lines[3].vendor",
    ]  # fmt: skip
    assert "outside your scope" in refused.json["errors"]["lines[1].place"][0]
    assert "cannot be chosen here" in refused.json["errors"]["lines[2].vendor"][0]
    assert "outside your scope" in refused.json["errors"]["lines[3].vendor"][0]

    statements = []
    engine = lab_app.extensions["lianku.db"].engine
    count = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", count)
    try:
        sizes = {}
        for size in (2, 40):
            statements.clear()
            body = [line(n, vendor=(good, other)[n % 2]) for n in range(size)]
            response = clerk.post(URL, json=valid(org, title=f"L{size}", lines=body))
            assert response.status_code == 201, response.json
            sizes[size] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sizes[40] == sizes[2]  # 40 lines cost the queries of 2


def test_a_user_link_offers_only_colleagues(lab_app, org):
    """A clerk of S1 may name a colleague of S1, not staff elsewhere (here: the HQ admin)."""
    from tests.forms_fixtures import PASSWORD, ApiClient

    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    refused = clerk.post(URL, json=valid(org, title="Clerk", owner=org["admin"]))
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["owner"]
    assert "outside your scope" in refused.json["errors"]["owner"][0]
    assert clerk.post(URL, json=valid(org, title="Clerk")).status_code == 201
