"""The ``lianku`` command as an operator or cron runs it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import app.demo.job  # noqa: F401  (registers the demo job kind)
from app.cli import main
from app.kernel import jobs
from app.kernel.jobs import Job, JobStatus
from app.kernel.users import User
from app.worker import EXIT_JOB_OVERDUE
from tests.conftest import eventually

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
    assert "sh01_clerk" in second.output and "r_east_manager" in second.output
    with db.session() as session:  # HQ's 7, the store's and warehouse's 2, their region's 1
        assert session.scalar(select(func.count()).select_from(User)) == 7 + 2 + 2 + 1


def test_finance_closes_and_reopens_months_from_the_command_line(runner, db):
    from app.kernel.periods import next_to_close
    from app.meta import identity
    from app.meta.models import Record

    with db.transaction() as session:
        identity.create_user(session, "cashier", "出纳", "pw-123456789", roles=["finance"])
        identity.create_user(session, "clerk", "店员", "pw-123456789", roles=["store_clerk"])
        month = f"{next_to_close(session):%Y-%m}"
        session.add(Record(form="supplier_payment", state="draft", number="FK-1",
                           data={"payment_date": f"{month}-01"}))  # fmt: skip
    assert "no month is closed" in runner.invoke(main, ["period", "list"]).output
    refused = runner.invoke(main, ["period", "close", "--as", "clerk"])
    assert refused.exit_code == 1 and "您无权" in refused.output  # the operator's language
    refused = runner.invoke(main, ["period", "close", "--as", "cashier"])
    assert refused.exit_code == 1 and "FK-1" in refused.output  # the draft keeps it open
    with db.transaction() as session:
        session.query(Record).update({"state": "confirmed"})
    closed = runner.invoke(main, ["period", "close", "--as", "cashier"])
    assert closed.exit_code == 0, closed.output
    assert f"{month} closed" in closed.output
    again = runner.invoke(main, ["period", "close", "--as", "cashier"])
    assert again.exit_code == 1 and "没有" in again.output  # no month has ended since
    reopened = runner.invoke(main, ["period", "reopen", "--as", "cashier", "--reason", "补录"])
    assert reopened.exit_code == 0 and f"{month} reopened" in reopened.output
    listed = runner.invoke(main, ["period", "list"]).output
    assert f"{month}  closed" in listed and "reopened: 补录" in listed


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


@pytest.fixture
def slow_worker(db, database_url, tmp_path):
    """A ``lianku worker`` process that knows a job kind sleeping ``params.seconds``, and a
    queued job of that kind; yields (process, job id) once the worker has started the job."""
    code = (
        "import time\n"
        "from app.kernel import jobs\n"
        "@jobs.handler('test_sleep')\n"
        "def sleep(run):\n"
        "    run.progress(10, 'asleep')\n"
        "    time.sleep(run.params['seconds'])\n"
        "    return {'slept': run.params['seconds']}\n"
        "from app.cli import main\n"
        "main(['worker', '--poll', '0.1'])\n"
    )

    def start(seconds: float, time_limit: int = 3600):
        jobs.handler("test_sleep")(lambda run: None)
        with db.transaction() as session:
            job_id = jobs.enqueue(session, "test_sleep", {"seconds": seconds}).id
        env = {
            **os.environ,
            "LIANKU_DATABASE_URL": database_url,
            "LIANKU_INSTANCE_PATH": str(tmp_path / "instance"),
            "LIANKU_JOB_TIME_LIMIT": str(time_limit),
        }
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.PIPE
        )
        started.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.session() as session:
                if session.get(Job, job_id).progress == 10:
                    return process, job_id
            time.sleep(0.1)
        raise AssertionError("the worker did not start the job within 60 s")

    started: list = []
    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
    jobs.HANDLERS.pop("test_sleep", None)
    jobs.LABELS.pop("test_sleep", None)


def test_a_stopped_worker_finishes_the_job_under_way_first(db, slow_worker):
    process, job_id = slow_worker(seconds=2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert b"stopping after the job under way" in stderr
    with db.session() as session:
        job = session.get(Job, job_id)
    assert (job.status, job.result) == (JobStatus.done, {"slept": 2})


def test_a_worker_stopped_twice_stops_at_once_and_the_next_fails_its_job(db, slow_worker):
    process, job_id = slow_worker(seconds=600)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 1
    assert eventually(lambda: jobs.fail_abandoned(db)) == [job_id]
    with db.session() as session:
        job = session.get(Job, job_id)
    assert job.status is JobStatus.failed
    assert "(at 10%)" in job.error


def test_a_job_past_its_time_limit_is_failed_and_its_worker_exits_for_a_fresh_one(db, slow_worker):
    process, job_id = slow_worker(seconds=600, time_limit=2)
    process.communicate(timeout=60)
    assert process.returncode == EXIT_JOB_OVERDUE
    with db.session() as session:
        job = session.get(Job, job_id)
    assert job.status is JobStatus.failed
    assert job.error == (  # cron's job: the installation's language
        "任务运行超过了时限 2 秒，已被停止（进度 10%）。请先核对它已完成的部分，再重新启动。"
    )
    assert jobs.fail_abandoned(db) == []  # nothing left for the next worker to clean up
    if db.dialect == "sqlite":  # nor its worker's lock file (the lock went with the process)
        assert not Path(f"{db.engine.url.database}.job-{job_id}.lock").exists()


def test_a_package_moves_customizations_to_another_database(runner, db, tmp_path, monkeypatch):
    """Export from one company's database, import into a fresh one: the option list edited in
    the first is live in the second; importing it again changes nothing."""
    from app.meta import versions
    from app.meta.models import OptionListVersion
    from app.meta.registry import OPTION_LISTS, build

    shipped = (ROOT / "metadata" / "options" / "transport_modes.yaml").read_text()
    drone = "  - {value: drone, label: {zh_CN: 无人机, en: Drone}}\n"
    with db.transaction() as session:
        live = build(ROOT / "metadata", ROOT / "workflows", session)
        versions.publish(session, live, None, "transport_modes", shipped + drone,
                         kind=OPTION_LISTS)  # fmt: skip
    package = tmp_path / "setup.zip"
    result = runner.invoke(main, ["package", "export", str(package)])
    assert result.exit_code == 0, result.output

    other = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("LIANKU_DATABASE_URL", other)
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["package", "import", str(package), "--note", "from test"])
    assert result.exit_code == 0, result.output
    assert "published option_list transport_modes v2" in result.output
    again = runner.invoke(main, ["package", "import", str(package)])
    assert "changes nothing" in again.output

    from app.db import Database

    elsewhere = Database(other)
    with elsewhere.session() as session:
        [row] = session.query(OptionListVersion).all()
        assert row.yaml_text.endswith(drone) and row.note == "from test"
    elsewhere.dispose()
