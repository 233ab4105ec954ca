"""A permission holds only within the scope of the role that grants it.

A store manager of S2 who is also given the read-only, chain-wide ``finance`` role reads S1's
documents, and must still create, change, pass and approve only S2's."""

from __future__ import annotations

import pytest

from app.kernel.users import User
from app.meta.identity import update_user
from app.meta.models import Record
from app.workflow import approvals
from tests.workflow.test_engine import URL, fire, new_receipt


@pytest.fixture
def reader_elsewhere(wf_app, wf_org):
    """manager2 (store manager at S2) also holds ``finance`` (read-only, every location)."""
    database = wf_app.extensions["lianku.db"]
    with database.transaction() as session:
        user = session.get(User, wf_org["manager2"])
        update_user(session, user, roles=["store_manager", "finance"], location_ids=[wf_org["S2"]])
    return database


def test_a_read_only_role_widens_what_one_reads_not_where_one_writes(
    wf_api, wf_org, reader_elsewhere
):
    record = new_receipt(wf_api("clerk"), wf_org)  # at S1
    assert fire(wf_api("clerk"), record, "receive").status_code == 200
    manager2 = wf_api("manager2")
    assert manager2.get(f"{URL}/{record['id']}").status_code == 200  # finance reads S1
    changed = manager2.put(
        f"{URL}/{record['id']}", json={"amount": "1.00", "version": record["version"] + 1}
    )
    assert changed.status_code == 403
    deleted = manager2.delete(f"{URL}/{record['id']}?version={record['version'] + 1}")
    assert deleted.status_code == 403
    rejected = fire(manager2, record, "reject", comment="not my store")
    assert rejected.status_code == 403 and "not allowed" in rejected.json["error"]
    created = manager2.post(URL, json={**_body(wf_org), "location": wf_org["S1"]})
    assert created.status_code == 422 and "location" in created.json["errors"]
    # ... and in their own store, the store manager's role still does all of it
    assert manager2.post(URL, json={**_body(wf_org), "location": wf_org["S2"]}).status_code == 201
    with reader_elsewhere.session() as session:
        assert session.get(Record, record["id"]).state == "received"


def test_an_approver_by_role_is_one_where_that_role_reaches(
    wf_app, wf_api, wf_org, reader_elsewhere
):
    record = new_receipt(wf_api("clerk"), wf_org)  # at S1
    registry = wf_app.extensions["lianku.registry"]
    with reader_elsewhere.session() as session:
        row = session.get(Record, record["id"])
        form = registry.form("cold_receipt")
        found = approvals.resolve_approvers(session, form, row, {"roles": ["store_manager"]})
    assert {user.username for user in found} == {"manager", "deputy"}  # not manager2


def _body(org) -> dict:
    return {
        "amount": "10.00",
        "arrival_temp": "5",
        "lines": [{"item": org["item"], "lot": "L2", "expiry_date": "2030-01-31", "quantity": "1"}],
    }
