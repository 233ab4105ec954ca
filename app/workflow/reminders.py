"""The daily reminders (提醒): duties each location does on a schedule, and deadlines records carry.

Both are declared in a form's metadata and reach users through their inbox, once a day each, so
cron and an on-demand run may both fire the job (``lianku enqueue reminders --run``):

* ``recurring`` — GSP's weekly storage check: every active location of the duty's types records
  one at least every ``every_days`` days. A location whose last record (by the duty's date field,
  in a state that counts) is that old, or that has none, is due; the users holding a ``remind``
  role there are told.
* ``deadline`` — a suspected adverse event's report date, a recall task's deadline: a record
  still open (``states``, ``open_if``) whose date falls within ``days_before`` days, or has
  passed, is told to the users holding a ``remind`` role at its location or above it.
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
from app.kernel.users import holding
from app.meta import records as record_service
from app.meta.checks import SYSTEM_NAMES
from app.meta.expressions import Context, compile_expression
from app.meta.forms import FormDef
from app.meta.models import Record
from app.meta.registry import Registry
from app.workflow.models import InboxMessage, inbox_message

DEFAULT_LOCATION_TYPES = ("store", "warehouse")


def remind(session: Session, registry: Registry, today: dt.date | None = None) -> dict:
    """Tell whoever must hear of what is due on ``today``; returns, per form, each due
    location's last date (``None``: never) and each record near or past its deadline, and how
    many messages were left."""
    today = today or business_today()
    result: dict = {"day": today.isoformat(), "due": {}, "deadlines": {}, "notified": 0}
    for form in sorted(registry.forms.values(), key=lambda f: f.name):
        if "recurring" in form.spec:
            for due in duties_due(session, form, today):
                last = due.last.isoformat() if due.last else None
                result["due"].setdefault(form.name, {})[due.location.code] = last
                result["notified"] += _tell(session, "duty", due.location, form.spec["recurring"],
                                            due.key(today), due.message())  # fmt: skip
        if "deadline" in form.spec:
            for record, date in deadlines_near(session, registry, form, today):
                name = record.number or str(record.id)
                result["deadlines"].setdefault(form.name, {})[name] = date.isoformat()
                place = session.get(Location, record.location_id) if record.location_id else None
                key = f"[{today.isoformat()}] {form.name} {name} "
                result["notified"] += _tell(session, "deadline", place, form.spec["deadline"], key,
                                            _deadline_message(form, name, date, today),
                                            record.id)  # fmt: skip
    session.flush()
    return result


# --- recurring duties --------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A location whose duty is due: its last record's date (``None``: never recorded)."""

    form: FormDef
    location: Location
    last: dt.date | None

    def key(self, today: dt.date) -> str:
        return f"[{today.isoformat()}] {self.form.name} {self.location.code} "

    def message(self) -> dict:
        """In both languages: each reader reads their own (``InboxMessage.text``)."""
        every = self.form.spec["recurring"]["every_days"]
        last = self.last.isoformat() if self.last else None
        return {
            "zh_CN": f"{self.location.name}: {self.form.label('zh_CN')}到期，每 {every} 天一次"
            f"（{f'上次 {last}' if last else '从未记录'}）",
            "en": f"{self.location.name}: {self.form.label('en')} due, every {every} days "
            f"({f'last {last}' if last else 'never recorded'})",
        }


def duties_due(session: Session, form: FormDef, today: dt.date) -> list[Due]:
    """Every active location of the form's duty types whose duty is due on ``today``."""
    duty = form.spec["recurring"]
    last = _last_dates(session, form, duty)
    locations = session.scalars(
        select(Location)
        .where(
            Location.active.is_(True),
            Location.type.in_(duty.get("location_types", DEFAULT_LOCATION_TYPES)),
        )
        .order_by(Location.code)
    )
    return [
        Due(form, location, last.get(location.id))
        for location in locations
        if location.id not in last or (today - last[location.id]).days >= duty["every_days"]
    ]


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


# --- deadlines ---------------------------------------------------------------------------------


def deadlines_near(
    session: Session, registry: Registry, form: FormDef, today: dt.date
) -> list[tuple[Record, dt.date]]:
    """The form's open records whose deadline is within its ``days_before`` of ``today`` or
    past, soonest first."""
    deadline = form.spec["deadline"]
    horizon = today + dt.timedelta(days=deadline.get("days_before", 0))
    day = Record.data[deadline["date_field"]].as_string()
    query = select(Record, day).where(
        Record.form == form.name, day.is_not(None), day <= horizon.isoformat()
    )
    if deadline.get("states"):
        query = query.where(Record.state.in_(deadline["states"]))
    open_if = None
    if deadline.get("open_if"):
        names = {field.name for field in form.fields} | set(SYSTEM_NAMES)
        open_if = compile_expression(deadline["open_if"], names)
    found = []
    for record, text in session.execute(query.order_by(day, Record.id)):
        if open_if is not None:
            values = record_service.typed_values(form.fields, record.data)
            if not open_if.evaluate(values, Context(today=lambda: today)):
                continue
        found.append((record, dt.date.fromisoformat(text[:10])))
    return found


def _deadline_message(form: FormDef, name: str, date: dt.date, today: dt.date) -> dict:
    """In both languages: each reader reads their own (``InboxMessage.text``)."""
    left = (date - today).days
    days = f"{abs(left)} day" + ("s" if abs(left) != 1 else "")
    if left < 0:
        zh, en = f"已逾期 {-left} 天", f"{days} overdue"
    elif left == 0:
        zh, en = "今日到期", "due today"
    else:
        zh, en = f"还有 {left} 天", f"due in {days}"
    return {
        "zh_CN": f"{form.label('zh_CN')}期限 {date.isoformat()}，{zh}",
        "en": f"{form.label('en')} deadline {date.isoformat()}, {en}",
    }


# --- telling -----------------------------------------------------------------------------------


def _tell(
    session: Session, kind: str, place: Location | None, spec: dict, key: str, text: dict,
    record_id: int | None = None,
) -> int:  # fmt: skip
    """One message to each user with a ``remind`` role at ``place`` or above it, unless they
    were told under ``key`` (today's date and what it is about) already."""
    users = holding(session, spec["remind"], place)
    return tell_once(session, kind, users, key, text, record_id)


def tell_once(
    session: Session, kind: str, users, key: str, text: dict, record_id: int | None = None
) -> int:
    """Leave ``text`` ({zh_CN, en}), after ``key``, to each of ``users`` not yet told under
    ``key`` in messages of ``kind``: how a daily job tells nobody twice a day."""
    told = set(
        session.scalars(
            select(InboxMessage.user_id).where(
                InboxMessage.kind == kind,
                InboxMessage.user_id.in_(users),
                InboxMessage.message.startswith(key),
            )
        )
    )
    fresh = sorted(set(users) - told)
    keyed = {language: key + line for language, line in text.items()}
    for user_id in fresh:
        session.add(inbox_message(user_id, record_id, keyed, kind=kind))
    return len(fresh)


@jobs.handler("reminders", label=_l("Reminders"))
def _reminders_job(run: jobs.JobRun) -> dict:
    from app.config import load_settings
    from app.meta.registry import build

    settings = load_settings()
    day = run.params.get("day")
    with run.database.transaction() as session:
        registry = build(settings.metadata_dir, settings.workflows_dir, session)
        return remind(session, registry, dt.date.fromisoformat(day) if day else None)
