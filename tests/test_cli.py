"""The ``lianku`` command as an operator or cron runs it."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.kernel.users import User

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def runner(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
    monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path / "instance"))
    return CliRunner()


def test_check_passes_on_shipped_metadata(runner):
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert "metadata OK" in result.output


def test_check_lists_every_problem_and_fails(runner, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    bad = ROOT / "tests" / "meta" / "bad" / "forms"
    for name in ("bad_type.yaml", "unknown_link.yaml"):
        shutil.copy(bad / name, tmp_path / "metadata" / "forms" / name)
    monkeypatch.setenv("LIANKU_METADATA_DIR", str(tmp_path / "metadata"))
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1
    assert "forms/bad_type.yaml:9 fields[1].type: 'txt' is not allowed" in result.output
    assert (
        "forms/unknown_link.yaml:7 fields[0].link: unknown link target 'suplier'" in result.output
    )
    assert "2 problem(s) found" in result.output


def test_init_is_idempotent(runner, db):
    for _ in range(2):
        result = runner.invoke(main, ["init"])
        assert result.exit_code == 0, result.output
        assert "database at revision" in result.output


def test_demo_if_empty_loads_once_and_prints_logins(runner, db):
    small = ["--stores", "1", "--warehouses", "1", "--items", "5", "--days", "1"]
    first = runner.invoke(main, ["demo", "--if-empty", *small])
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output
    second = runner.invoke(main, ["demo", "--if-empty", *small])
    assert "not loaded again" in second.output
    assert "sh01_clerk" in second.output
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 6 + 2 + 2


def test_cron_enqueues_and_runs_the_approval_reminders(runner, db):
    result = runner.invoke(main, ["enqueue", "approval_reminders", "--run"])
    assert result.exit_code == 0, result.output
    assert "queued (approval_reminders)" in result.output
    assert "1 job(s) run" in result.output
    unknown = runner.invoke(main, ["enqueue", "no_such_job"])
    assert unknown.exit_code == 2
    assert "approval_reminders" in unknown.output


def test_the_worker_writes_each_jobs_messages_in_the_language_of_who_started_it(runner, db):
    """Job errors are stored as text and read on /jobs by whoever started the job: a zh_CN
    user reads them in Chinese, an en user in English, cron's jobs in the default (Chinese)."""
    from app.demo import job  # noqa: F401  (registers the demo job kind)
    from app.kernel import jobs
    from app.kernel.jobs import Job

    with db.transaction() as session:
        starters = {}
        for name, locale in (("wang", "zh_CN"), ("smith", "en")):
            user = User(username=name, full_name=name, locale=locale)
            user.set_password("correct horse battery")
            session.add(user)
            session.flush()
            starters[name] = user.id
        queued = {
            who: jobs.enqueue(session, "demo", user_id=starters.get(who)).id
            for who in ("wang", "smith", "cron")
        }
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "3 job(s) run" in result.output
    with db.session() as session:
        errors = {who: session.get(Job, job_id).error for who, job_id in queued.items()}
    assert errors == {
        "wang": "演示连锁只能载入尚无用户的数据库。",
        "smith": "The demo chain loads only into a database without users.",
        "cron": "演示连锁只能载入尚无用户的数据库。",
    }
