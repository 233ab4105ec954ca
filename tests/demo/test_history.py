"""The history is real documents, fired by the right people, stamped with their simulated day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.db import utcnow
from app.kernel import audit, jobs
from app.kernel.items import business_timezone, business_today
from app.kernel.stock import LedgerEntry
from app.kernel.users import User
from app.meta.models import Record
from app.workflow.models import InboxMessage, WorkflowEvent
from tests.kernel.conftest import assert_balances_match_ledger


def _day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(business_timezone()).date()


def test_documents_and_ledger_carry_their_simulated_day(db, load_demo):
    summary = load_demo(stores=2, warehouses=1, items=12, days=10)
    today = business_today()
    first = today - dt.timedelta(days=9)
    assert (summary.as_result()["first_day"], summary.as_result()["last_day"]) == (
        first.isoformat(), today.isoformat(),
    )  # fmt: skip
    with db.session() as session:
        moments = list(session.scalars(select(LedgerEntry.at)))
        assert {_day(at) for at in moments} <= {first + dt.timedelta(n) for n in range(10)}
        assert _day(min(moments)) == first and max(moments) <= utcnow()
        by_form = {}
        for record in session.scalars(select(Record).order_by(Record.id)):
            by_form.setdefault(record.form, []).append(record)
        assert len(by_form["supplier"]) == 8
        for receipt in by_form["purchase_receipt"]:
            assert receipt.data["arrival_date"] == _day(receipt.created_at).isoformat()
            assert receipt.state == ("awaiting_inspection" if _day(receipt.created_at) == today
                                     else "done")  # fmt: skip
        assert {r.state for r in by_form["purchase_receipt"]} == {"done", "awaiting_inspection"}
        for sale in by_form["sales_order"]:
            assert sale.data["sale_date"] == _day(sale.created_at).isoformat()
        assert_balances_match_ledger(session)
        assert audit.verify(session) == []
        # the staff read their messages day by day: only today's are new
        messages = session.execute(select(InboxMessage.created_at, InboxMessage.read)).all()
        assert any(read for _at, read in messages)
        assert all(read == (_day(at) < today) for at, read in messages)


def test_each_step_is_fired_by_the_role_that_does_it(db, load_demo):
    load_demo(stores=2, warehouses=1, items=12, days=3)
    with db.session() as session:
        rows = session.execute(
            select(WorkflowEvent.transition, User)
            .join(User, User.id == WorkflowEvent.user_id)
            .join(Record, Record.id == WorkflowEvent.record_id)
            .where(Record.form == "purchase_receipt")
        ).all()
        roles = {}
        for transition, user in rows:
            roles.setdefault(transition, set()).update(user.role_names)
        assert roles == {
            "receive": {"store_clerk", "warehouse_clerk"},
            "inspect": {"store_manager", "warehouse_supervisor"},
        }
        creators = session.scalars(
            select(User).join(Record, Record.created_by == User.id)
            .where(Record.form == "sales_order")
        ).all()  # fmt: skip
        assert {role for user in creators for role in user.role_names} == {"store_clerk"}


def test_the_demo_runs_as_a_job_with_progress(db):
    import app.demo.job  # noqa: F401  (registers the job kind, as the worker does)

    params = {"stores": 1, "warehouses": 1, "items": 5, "days": 2, "seed": 3}
    with db.transaction() as session:
        job_id = jobs.enqueue(session, "demo", params).id
    assert jobs.run_until_empty(db) == 1
    with db.session() as session:
        job = session.get(jobs.Job, job_id)
        assert (job.status, job.progress, job.error) == ("done", 100, None)
        assert job.result["users"] == 12 and job.result["items"] == 5
        assert job.result["documents"]["item_master"] == {"approved": 5}
        assert job.message == business_today().isoformat()
        assert session.scalar(select(func.count()).select_from(User)) == 12
    with db.transaction() as session:
        again = jobs.enqueue(session, "demo", params).id
    jobs.run_until_empty(db)
    with db.session() as session:
        refused = session.get(jobs.Job, again)
        assert refused.status == "failed" and "without users" in refused.error
        assert session.scalar(select(func.count()).select_from(User)) == 12


def test_a_demo_job_with_bad_parameters_fails_and_writes_nothing(db):
    import app.demo.job  # noqa: F401

    with db.transaction() as session:
        job_id = jobs.enqueue(session, "demo", {"stores": 0}).id
    jobs.run_until_empty(db)
    with db.session() as session:
        job = session.get(jobs.Job, job_id)
        assert job.status == "failed" and "--stores must be at least 1" in job.error
        assert session.scalar(select(func.count()).select_from(User)) == 0
