"""The daily expiry scan: expired and near-expiry lots per location (per-item threshold), one
inbox message a day per location manager, nothing twice; through the job and the cron command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.kernel import jobs
from app.kernel.errors import LotExpired
from app.kernel.items import Item, Lot, add_item, business_today, get_or_create_lot
from app.kernel.locations import Location, add_location
from app.kernel.stock import Movement, Reason, StockStatus, post_movements
from app.kernel.users import User
from app.meta.identity import update_user
from app.workflow import expiry
from app.workflow.models import InboxMessage

DAY = dt.date(2026, 11, 25)


def _user(session, username, role, location):
    user = User(username=username, full_name=username, password_hash="x")
    session.add(user)
    session.flush()
    update_user(session, user, roles=[role], location_ids=[location.id])
    return user.id


def stock_world(db, today):
    """S1 holds an expired lot (some nonconforming), one within 30 days and one far off; the
    gauze's threshold is 10 days, so its lot 20 days away is not near; W1 holds a near lot."""
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        s1 = add_location(session, "S1", "一号店", "store", hq)
        w1 = add_location(session, "W1", "中心仓", "warehouse", hq)
        ids = {
            "manager": _user(session, "manager", "store_manager", s1),
            "clerk": _user(session, "clerk", "store_clerk", s1),
            "super": _user(session, "super", "warehouse_supervisor", w1),
        }
        strip = add_item(session, "STRIP", "试纸", near_expiry_days=90)
        gauze = add_item(session, "GAUZE", "纱布", near_expiry_days=10)

        def lot(item, number, days):
            return get_or_create_lot(session, item, number, today + dt.timedelta(days=days))

        old, soon, far = lot(strip, "OLD", -1), lot(strip, "SOON", 30), lot(strip, "FAR", 200)
        gauze_lot = lot(gauze, "G20", 20)
        available, nonconforming = StockStatus.available, StockStatus.nonconforming
        stock = [
            (strip, old, s1, 4, available),
            (strip, old, s1, 1, nonconforming),
            (strip, soon, s1, 2, available),
            (strip, far, s1, 9, available),
            (gauze, gauze_lot, s1, 5, available),
            (strip, soon, w1, 7, available),
        ]
        post_movements(
            session,
            [Movement(item=item, quantity=Decimal(q), lot=lt, destination=where,
                      destination_status=status) for item, lt, where, q, status in stock],
            reason=Reason.opening, document="OPENING", today=today,
        )  # fmt: skip
        ids.update(s1=s1.id, strip=strip.id, old=old.id)
        return ids


def inbox(db) -> dict[int, list[tuple[str, str]]]:
    with db.session() as session:
        found: dict[int, list[str]] = {}
        for message in session.scalars(select(InboxMessage).order_by(InboxMessage.id)):
            assert message.kind == "expiry"
            found.setdefault(message.user_id, []).append((message.message, message.text("en")))
        return found


def test_scan_flags_per_location_and_notifies_managers_once_a_day(db):
    ids = stock_world(db, DAY)
    with db.transaction() as session:
        result = expiry.scan(session, DAY)
    assert result == {
        "day": "2026-11-25",
        "locations": {"S1": {"expired": 1, "near": 1}, "W1": {"expired": 0, "near": 1}},
        "notified": 2,
    }
    messages = inbox(db)
    assert set(messages) == {ids["manager"], ids["super"]}  # managers only, not the clerk
    assert messages[ids["manager"]] == [(  # each reader reads it in their own language
        "[2026-11-25] S1 一号店: 过期 1: STRIP OLD (2026-11-24) × 5. "
        "近效期 1: STRIP SOON (2026-12-25) × 2.",
        "[2026-11-25] S1 一号店: expired 1: STRIP OLD (2026-11-24) × 5. "
        "near expiry 1: STRIP SOON (2026-12-25) × 2.",
    )]  # fmt: skip
    with db.transaction() as session:  # the same day again: nobody is told twice
        assert expiry.scan(session, DAY)["notified"] == 0
    with db.transaction() as session:  # the next day is a new day
        assert expiry.scan(session, DAY + dt.timedelta(days=1))["notified"] == 2
    assert [len(texts) for texts in inbox(db).values()] == [2, 2]


def test_a_store_without_a_manager_has_its_findings_told_to_the_manager_above(db):
    """Nobody manages S1 now: its expiry findings go to the manager of the location above it
    (here HQ's), not to nobody; W1 still tells its own supervisor only."""
    ids = stock_world(db, DAY)
    with db.transaction() as session:
        hq = session.scalar(select(Location).where(Location.code == "HQ"))
        boss = _user(session, "boss", "hq_manager", hq)
        update_user(session, session.get(User, ids["manager"]), roles=["store_clerk"],
                    location_ids=[ids["s1"]])  # fmt: skip
        assert expiry.scan(session, DAY)["notified"] == 2
    messages = inbox(db)
    assert set(messages) == {boss, ids["super"]}
    assert messages[boss][0][1].startswith("[2026-11-25] S1 一号店: expired 1")


def test_expired_stock_stays_unsellable(db):
    ids = stock_world(db, DAY)
    with pytest.raises(LotExpired), db.transaction() as session:
        post_movements(
            session,
            [Movement(item=session.get(Item, ids["strip"]), quantity=Decimal(1),
                      source=session.get(Location, ids["s1"]), lot=session.get(Lot, ids["old"]))],
            reason=Reason.sale, document="SO-X", today=DAY,
        )  # fmt: skip


def test_job_runs_the_scan_for_the_day_it_is_given(db):
    stock_world(db, DAY)
    with db.transaction() as session:
        jobs.enqueue(session, "expiry_scan", {"day": "2026-11-25"})
    job = jobs.run_next(db)
    assert job.status == jobs.JobStatus.done
    assert job.result["locations"]["S1"] == {"expired": 1, "near": 1}


def test_cron_command_runs_the_scan(db, monkeypatch, database_url, tmp_path):
    ids = stock_world(db, business_today())
    monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
    monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["enqueue", "expiry_scan", "--run"])
    assert result.exit_code == 0, result.output
    assert "queued (expiry_scan)" in result.output and "1 job(s) run" in result.output
    assert len(inbox(db)[ids["manager"]]) == 1
