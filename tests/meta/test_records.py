"""The record service at the Python surface: numbering under concurrency, keys, audit, scope."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.kernel.audit import AuditEntry
from app.kernel.users import User
from app.meta import records
from app.meta import registry as meta_registry
from app.meta.models import Record, RecordKey
from app.meta.records import ValidationFailed


def supplier(code, name="Acme"):
    return {"code": code, "name": name, "licence_number": "L", "licence_expiry": "2030-01-01"}


@pytest.fixture
def env(lab_app, org):
    database = lab_app.extensions["lianku.db"]
    registry = lab_app.extensions["lianku.registry"]
    with database.session() as session:
        admin = session.get(User, org["admin"])
    with lab_app.test_request_context():  # translations need an app context
        yield database, registry, admin


def test_unique_and_indexed_values_go_to_record_keys(env):
    database, registry, admin = env
    with database.transaction() as session:
        record = records.create(session, registry, admin, "supplier", supplier("S-1"))
        keys = session.scalars(select(RecordKey).where(RecordKey.record_id == record.id)).all()
        assert {(k.field, k.value, k.is_unique) for k in keys} == {
            ("code", "S-1", True),
            ("name", "Acme", False),
        }
        audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "record")).all()
        assert [entry.action for entry in audit] == ["create"]
    with database.transaction() as session:
        with pytest.raises(ValidationFailed) as raised:
            records.create(session, registry, admin, "supplier", supplier("S-1"))
        assert "code" in raised.value.errors


def test_server_callers_may_fill_read_only_fields_on_create(env, org):
    """Workflow actions, replenishment and the demo write read-only fields through the service."""
    database, registry, admin = env
    with database.transaction() as session:
        body = {"location": org["s1"], "title": "Server", "code": "BY-ACTION"}
        assert (
            records.create(session, registry, admin, "field_lab", body).data["code"] == "BY-ACTION"
        )
        body = {"location": org["s1"], "title": "Client", "code": "FORGED"}
        record = records.create(session, registry, admin, "field_lab", body, from_client=True)
        assert record.data["code"] == "FIXED"


@pytest.mark.postgres_only
def test_concurrent_creates_never_share_a_number(env, org):
    database, registry, admin = env
    numbers, failures = [], []

    def worker(thread: int):
        try:
            for index in range(5):
                with database.transaction() as session:
                    body = {"location": org["s1"], "title": f"T{thread}x{index}"}
                    record = records.create(session, registry, admin, "field_lab", body)
                    numbers.append(record.number)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(numbers) == 30 and len(set(numbers)) == 30
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, 31))
    with database.session() as session:
        seqs = session.scalars(select(Record.data["seq"].as_integer())).all()
        assert sorted(seqs) == list(range(1, 31))  # the autonumber field too


DOUBLED = """
name: doubled
label: {zh_CN: 双倍, en: Doubled}
fields:
  - {name: double_total, type: formula, formula: total * 2, label: {zh_CN: 双倍, en: Double}}
  - name: lines
    type: table
    label: {zh_CN: 明细, en: Lines}
    fields:
      - {name: twice, type: formula, formula: amount * 2, label: {zh_CN: 两倍, en: Twice}}
      - {name: quantity, type: decimal, label: {zh_CN: 数量, en: Quantity}}
      - {name: amount, type: formula, formula: quantity * 3, label: {zh_CN: 金额, en: Amount}}
  - {name: total, type: formula, formula: "sum(lines, 'amount')", label: {zh_CN: 合计, en: Total}}
"""


def test_a_formula_reads_a_formula_declared_below_it_as_computed(env, lab_app):
    """An admin may put a total's double above the total, a line's double above its amount:
    each formula is computed after those it reads, on create and on update alike."""
    database, _registry, admin = env
    settings = lab_app.config["LIANKU"]
    registry = meta_registry.build(settings.metadata_dir, settings.workflows_dir,
                                   extra={"forms/doubled.yaml": DOUBLED})  # fmt: skip
    with database.transaction() as session:
        record = records.create(session, registry, admin, "doubled",
                                {"lines": [{"quantity": "2"}]})  # fmt: skip
        assert record.data["lines"][0]["twice"] == "12"
        assert (record.data["total"], record.data["double_total"]) == ("6", "12")
        updated = records.update(session, registry, admin, "doubled", record.id,
                                 {"lines": [{"quantity": "5"}]})  # fmt: skip
        assert (updated.data["total"], updated.data["double_total"]) == ("15", "30")
