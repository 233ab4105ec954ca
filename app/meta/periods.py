"""Period close for documents: which day dates a record, what keeps a month from closing.

The kernel keeps the closed months and their closing stock (``app.kernel.periods``); this module
says what they mean for the records of metadata-defined forms. A document is dated by its form's
``period_date`` field (an invoice by its invoice date) or, without one, by the day it was
created. Master data (a customer card) is never closed, nor a document whose form says
``period_close: false`` (a complaint or an adverse event report: quality records, not the books).

A month closes only when none of its documents is still a draft (a state its workflow lets be
edited), waiting for approval, or — for a form that counts on a counterparty account — still on
its way to the states its account counts (an order not yet delivered, goods not yet inspected):
these would change the month's figures after it closed. They are what "未审核单据" means in the
suites finance knows, and are listed so they can be finished or cancelled first.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.i18n import _
from app.kernel import periods as kernel_periods
from app.kernel.items import business_timezone
from app.kernel.periods import ClosedPeriod, PeriodNotClosable
from app.meta import access, accounts
from app.meta.forms import FormDef
from app.meta.models import Record
from app.meta.registry import Registry

#: How many of a month's unfinished documents a refused close names.
NAMED = 50


def closes(form: FormDef) -> bool:
    """Do the records of ``form`` belong to the books a period close freezes?"""
    return form.kind == "document" and form.spec.get("period_close", True) is not False


def _as_day(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(business_timezone()).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def document_day(form: FormDef, data: dict | None, record: Record | None = None):
    """(the day that dates a record of ``form`` with ``data``, the field it comes from): the
    ``period_date`` field's value, else (none given) the day ``record`` was created — today for
    a new one. (None, None) for records no close reaches."""
    if not closes(form):
        return None, None
    day = _as_day((data or {}).get(form.period_date)) if form.period_date else None
    if day is not None:
        return day, form.period_date
    if record is not None and record.created_at is not None:
        return _as_day(record.created_at), None
    return None, None  # created now: never in a closed month


def require_open(session: Session, form: FormDef, data: dict | None, record=None) -> None:
    """Raise ``PeriodClosed`` when the record is dated in a closed month (its ``field`` the
    dating field, if the form has one)."""
    day, field = document_day(form, data, record)
    kernel_periods.require_open(session, day, field)


def _unfinished_states(form: FormDef) -> tuple[set[str], set[str]]:
    """(the states of any record still to be finished — drafts, waiting for approval —, those
    of a record still to reach its account's states: neither final nor counted)."""
    workflow = form.workflow or {}
    states = workflow.get("states", {})
    unfinished = {name for name, spec in states.items() if spec.get("editable")}
    for transition in workflow.get("transitions", []):
        if "approval" in transition:
            unfinished.add(transition["approval"]["pending"])
    counted = set(form.spec.get("account", {}).get("states", []))
    on_the_way = set()
    if counted:
        on_the_way = {name for name, spec in states.items() if not spec.get("final")} - counted
    return unfinished, on_the_way - unfinished


def _is_unfinished(form: FormDef, record: Record, unfinished: set, on_the_way: set) -> bool:
    return record.state in unfinished or (
        record.state in on_the_way and accounts.counts_on_account(form, record.data)
    )


def unfinished(session: Session, registry: Registry, through: dt.date) -> list[Record]:
    """The documents dated on or before ``through`` that are drafts, await approval or are still
    to count on their account, oldest first."""
    end = kernel_periods.end_of(through)
    found = []
    for form in registry.forms.values():
        unfinished, on_the_way = _unfinished_states(form) if closes(form) else (set(), set())
        if not unfinished | on_the_way:
            continue
        query = select(Record).where(
            Record.form == form.name, Record.state.in_(unfinished | on_the_way)
        )
        if not form.period_date:
            query = query.where(Record.created_at < end)
        for record in session.scalars(query.order_by(Record.id)):
            day, _field = document_day(form, record.data, record)
            if (
                day is not None
                and day <= through
                and _is_unfinished(form, record, unfinished, on_the_way)
            ):
                found.append(record)
    return sorted(found, key=lambda record: (record.created_at, record.id))


def close_month(session: Session, registry: Registry, user, month) -> ClosedPeriod:
    """Close ``month`` (``YYYY-MM``) for ``user`` (caller commits); ``PeriodNotClosable`` names
    the unfinished documents that keep it open."""
    access.require(user, "close_periods")
    through = kernel_periods.parse_month(month)
    kernel_periods.begin_close(session, through)
    left = unfinished(session, registry, through)
    if left:
        raise PeriodNotClosable(
            _(
                "%(count)s documents of %(month)s or earlier are not finished (drafts, waiting "
                "for approval, or not yet delivered or inspected): finish or cancel them before "
                "the month closes.",
                count=len(left),
                month=through.strftime("%Y-%m"),
            ),
            unfinished=left[:NAMED],
        )
    return kernel_periods.close(session, through, user)


def reopen_month(session: Session, user, reason) -> ClosedPeriod:
    """Reopen the latest closed month (反结账) for ``user``, who says why."""
    access.require(user, "close_periods")
    return kernel_periods.reopen(session, user, reason)
