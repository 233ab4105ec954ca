"""Recurring duties (周期性任务): what each location must record on a schedule, and who is told.

A form declares ``recurring`` in its metadata — GSP's weekly storage check does: every store and
warehouse records one at least every 7 days. The daily job finds each active location of the
duty's types whose last record (by the duty's date field, in a state that counts) is that old, or
that has none, and leaves one inbox message a day for each user holding a ``remind`` role there.
Running it again the same day tells nobody twice, so cron and an on-demand run may both fire it.

Cron runs it as ``lianku enqueue recurring_reminders --run``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.i18n import _l
from app.kernel import jobs
from app.kernel.items import business_today
from app.kernel.locations import Location
from app.kernel.users import UserRole, user_locations
from app.meta.forms import FormDef
from app.meta.models import Record
from app.meta.registry import Registry
from app.workflow.models import InboxMessage

KIND = "recurring"
DEFAULT_LOCATION_TYPES = ("store", "warehouse")


@dataclass(frozen=True)
class Due:
    """A location whose duty is due: its last record's date (``None``: never recorded)."""

    form: FormDef
    location: Location
    last: dt.date | None

    @property
    def every_days(self) -> int:
        return self.form.spec["recurring"]["every_days"]


def find_due(session: Session, registry: Registry, today: dt.date) -> list[Due]:
    """Every active location of each recurring form's types whose duty is due on ``today``."""
    due = []
    for form in sorted(registry.forms.values(), key=lambda f: f.name):
        duty = form.spec.get("recurring")
        if duty is None:
            continue
        last = _last_dates(session, form, duty)
        types = duty.get("location_types", DEFAULT_LOCATION_TYPES)
        locations = session.scalars(
            select(Location)
            .where(Location.active.is_(True), Location.type.in_(types))
            .order_by(Location.code)
        )
        for location in locations:
            seen = last.get(location.id)
            if seen is None or (today - seen).days >= duty["every_days"]:
                due.append(Due(form, location, seen))
    return due


def _last_dates(session: Session, form: FormDef, duty: dict) -> dict[int, dt.date]:
    """Each location's latest record of the duty, by its date field (ISO text sorts as dates)."""
    day = Record.data[duty["date_field"]].as_string()
    query = (
        select(Record.location_id, func.max(day))
        .where(Record.form == form.name, day.is_not(None))
        .group_by(Record.location_id)
    )
    if duty.get("states"):
        query = query.where(Record.state.in_(duty["states"]))
    return {
        location_id: dt.date.fromisoformat(text[:10])
        for location_id, text in session.execute(query)
        if location_id is not None and text
    }


def remind(session: Session, registry: Registry, today: dt.date | None = None) -> dict:
    """Find what is due and tell each location's ``remind`` roles once a day; returns, per
    form, each due location's last date (``None`` when never), and how many were told."""
    today = today or business_today()
    result: dict = {"day": today.isoformat(), "due": {}, "notified": 0}
    for due in find_due(session, registry, today):
        last = due.last.isoformat() if due.last else None
        result["due"].setdefault(due.form.name, {})[due.location.code] = last
        result["notified"] += _notify(session, due, today)
    session.flush()
    return result


def _notify(session: Session, due: Due, today: dt.date) -> int:
    roles = due.form.spec["recurring"]["remind"]
    users = set(
        session.scalars(
            select(UserRole.user_id)
            .join(user_locations, user_locations.c.user_id == UserRole.user_id)
            .where(UserRole.role.in_(roles), user_locations.c.location_id == due.location.id)
        )
    )
    prefix = f"[{today.isoformat()}] {due.form.name} {due.location.code} "
    told = set(
        session.scalars(
            select(InboxMessage.user_id).where(
                InboxMessage.kind == KIND,
                InboxMessage.user_id.in_(users),
                InboxMessage.message.startswith(prefix),
            )
        )
    )
    text = (prefix + _message(due))[:500]
    for user_id in sorted(users - told):
        session.add(InboxMessage(user_id=user_id, kind=KIND, message=text))
    return len(users - told)


def _message(due: Due) -> str:
    """Bilingual, like every stored inbox message: it is read in either language later."""
    every = due.every_days
    if due.last:
        last = f"上次 {due.last.isoformat()} / last {due.last.isoformat()}"
    else:
        last = "从未记录 / never recorded"
    return (
        f"{due.location.name}: {due.form.label('zh_CN')}到期，每 {every} 天一次（{last}） / "
        f"{due.form.label('en')} due, every {every} days"
    )


@jobs.handler("recurring_reminders", label=_l("Recurring duty reminders"))
def _recurring_job(run: jobs.JobRun) -> dict:
    from app.config import load_settings
    from app.meta.registry import build

    settings = load_settings()
    day = run.params.get("day")
    with run.database.transaction() as session:
        registry = build(settings.metadata_dir, settings.workflows_dir, session)
        return remind(session, registry, dt.date.fromisoformat(day) if day else None)
