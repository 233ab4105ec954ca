"""``lianku audit verify``: OK with the count, or the first entry that does not match and exit 1."""

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from app.cli import main
from app.kernel import audit
from app.kernel.audit import AuditContext, AuditEntry
from tests.kernel.test_audit import behind_the_trigger


@pytest.fixture
def runner(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
    monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path / "instance"))
    return CliRunner()


def _fill(db):
    with db.transaction() as session:
        for number in range(4):
            audit.record(session, "update", "item", number, context=AuditContext(username="qa"))
        for number in range(2):
            audit.record(session, "post", "movement", number, chain="location:3")


def test_verify_reports_the_count_when_intact(runner, db):
    _fill(db)
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "audit trail OK: 6 entries in 2 chains" in result.output


def test_verify_on_an_empty_trail(runner, db):
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0
    assert "audit trail OK: 0 entries in 0 chains" in result.output


def test_verify_names_the_altered_entry_and_fails(runner, db):
    _fill(db)
    with behind_the_trigger(db) as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == "main", AuditEntry.seq == 3)
            .values(username="someone else")
        )
    with db.session() as session:
        altered = session.scalar(
            select(AuditEntry.id).where(AuditEntry.chain == "main", AuditEntry.seq == 3)
        )
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"chain main, entry #{altered} (seq 3): content does not match its hash" in result.output
    assert "location:3" not in result.output


def test_user_add_creates_the_first_admin_and_audits_it(runner, db):
    from app.kernel.users import User
    from tests.chain import load_locations

    with db.transaction() as session:
        load_locations(session)
    result = runner.invoke(
        main,
        ["user", "add", "boss", "--full-name", "Boss", "--role", "admin", "--location", "HQ",
         "--password", "a long enough secret"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.session() as session:
        boss = session.scalar(select(User).where(User.username == "boss"))
        assert boss.role_names == ["admin"]
        assert [loc.code for loc in boss.locations] == ["HQ"]
        entries = audit.history(session, "user", boss.id)
        assert {entry.username for entry in entries} == {entries[0].username}
        assert entries[0].username.startswith("cli:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "overlord", "--password", "a long enough secret"], "overlord"),
        (["--role", "admin", "--location", "XX", "--password", "a long enough secret"], "XX"),
        (["--role", "admin", "--password", "short"], "at least 10 characters"),
    ],
)
def test_user_add_refuses_bad_input(runner, db, args, message):
    result = runner.invoke(main, ["user", "add", "boss", "--full-name", "Boss", *args])
    assert result.exit_code == 1
    assert message in result.output
