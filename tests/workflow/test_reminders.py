"""The daily reminders from the shipped metadata (the weekly storage check), through the job
queue and the cron command: an active store or warehouse that never recorded one is due and its
staff are told, once a day; a closed location, HQ and the regions are not."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.kernel import jobs
from app.kernel.items import business_today
from app.kernel.locations import add_location
from app.kernel.users import User
from app.meta.identity import update_user
from app.workflow.models import InboxMessage


def _world(db) -> dict[str, int]:
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        region = add_location(session, "R1", "华东区", "region", hq)
        store = add_location(session, "S1", "一号店", "store", region)
        closed = add_location(session, "S2", "二号店", "store", region)
        closed.active = False
        warehouse = add_location(session, "W1", "中心仓", "warehouse", region)
        people = {"clerk": ("store_clerk", store), "old": ("store_clerk", closed),
                  "keeper": ("warehouse_clerk", warehouse), "qa": ("qa", hq),
                  "finance": ("finance", warehouse)}  # fmt: skip
        ids = {}
        for username, (role, location) in people.items():
            user = User(username=username, full_name=username, password_hash="x")
            session.add(user)
            session.flush()
            update_user(session, user, roles=[role], location_ids=[location.id])
            ids[username] = user.id
        return ids


def _inbox(db) -> dict[int, list[str]]:
    with db.session() as session:
        found: dict[int, list[str]] = {}
        for message in session.scalars(select(InboxMessage).order_by(InboxMessage.id)):
            assert message.kind == "duty"
            found.setdefault(message.user_id, []).extend([message.message, message.text("en")])
        return found


def test_the_job_names_each_location_due_and_tells_its_staff_once(db):
    ids = _world(db)
    with db.transaction() as session:
        jobs.enqueue(session, "reminders", {"day": "2026-12-07"})
        jobs.enqueue(session, "reminders", {"day": "2026-12-07"})
    first, again = jobs.run_next(db), jobs.run_next(db)
    assert first.status == jobs.JobStatus.done, first.error
    assert first.result == {"day": "2026-12-07", "notified": 2, "deadlines": {},
                            "due": {"maintenance_check": {"S1": None, "W1": None}}}  # fmt: skip
    assert again.result["notified"] == 0
    assert _inbox(db) == {  # not the closed store's clerk, nor QA or finance
        ids["clerk"]: ["[2026-12-07] maintenance_check S1 一号店: 养护检查到期，每 7 天一次"
                       "（从未记录）",
                       "[2026-12-07] maintenance_check S1 一号店: Storage check due, every 7 days"
                       " (never recorded)"],
        ids["keeper"]: ["[2026-12-07] maintenance_check W1 中心仓: 养护检查到期，每 7 天一次"
                        "（从未记录）",
                        "[2026-12-07] maintenance_check W1 中心仓: Storage check due, every 7 "
                        "days (never recorded)"],
    }  # fmt: skip


def test_cron_command_runs_the_reminders_for_today(db, monkeypatch, database_url, tmp_path):
    ids = _world(db)
    monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
    monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["enqueue", "reminders", "--run"])
    assert result.exit_code == 0, result.output
    assert "queued (reminders)" in result.output and "1 job(s) run" in result.output
    [message, _in_english] = _inbox(db)[ids["clerk"]]
    assert message.startswith(f"[{business_today().isoformat()}] maintenance_check S1 ")
