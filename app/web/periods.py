"""The month-end close (期间结账): the page finance closes and reopens months on, and its API.

The rules are the kernel's and the metadata engine's (``app.kernel.periods``,
``app.meta.periods``); this module reads the request, asks them, and shows what they said — a
refused close lists the documents still to finish, each linked to its page.
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.i18n import _
from app.kernel import periods as kernel_periods
from app.kernel.periods import ClosedPeriod, PeriodNotClosable
from app.kernel.users import User
from app.meta import access
from app.meta import periods as meta_periods
from app.meta.records import locale
from app.web.forms_api import _body, api_auth
from app.web.forms_common import registry
from app.web.session import db_session

bp = Blueprint("periods", __name__)


def _require_reader() -> None:
    """Who closes months sees them, and so do auditors."""
    if not (access.can(current_user, "close_periods") or access.can(current_user, "audit")):
        access.require(current_user, "close_periods")


def _names(session, periods: list[ClosedPeriod]) -> dict[int, str]:
    ids = {p.closed_by for p in periods} | {p.reopened_by for p in periods}
    ids.discard(None)
    users = session.scalars(select(User).where(User.id.in_(ids))) if ids else []
    return {user.id: user.full_name for user in users}


def _as_json(period: ClosedPeriod, names: dict[int, str]) -> dict:
    return {
        "id": period.id,
        "month": period.month,
        "through": period.through.isoformat(),
        "closed_at": period.closed_at.isoformat(),
        "closed_by": names.get(period.closed_by),
        "reopened_at": period.reopened_at.isoformat() if period.reopened_at else None,
        "reopened_by": names.get(period.reopened_by),
        "reopen_reason": period.reopen_reason,
    }


def _unfinished_json(records) -> list[dict]:
    forms = registry()
    found = []
    for record in records:
        form = forms.form(record.form)
        found.append({
            "form": record.form, "id": record.id, "number": record.number,
            "state": form.state_label(record.state, locale()) if form else record.state,
            "url": url_for("forms.detail", form=record.form, record_id=record.id),
        })  # fmt: skip
    return found


def _refusal_json(exc: PeriodNotClosable):
    return jsonify(
        error=str(exc), message=str(exc), field=exc.field,
        unfinished=_unfinished_json(exc.unfinished),
    ), 409  # fmt: skip


# --- the page ------------------------------------------------------------------------------------


@bp.get("/periods")
@login_required
def index(refused: PeriodNotClosable | None = None):
    _require_reader()
    session = db_session()
    periods = kernel_periods.history(session)
    following = kernel_periods.next_to_close(session)
    return render_template(
        "periods.html",
        periods=periods,
        names=_names(session, periods),
        closed_through=kernel_periods.closed_through(session),
        next_month=following.strftime("%Y-%m") if following else "",
        may_close=access.can(current_user, "close_periods"),
        refused=refused,
        unfinished=_unfinished_json(refused.unfinished) if refused else [],
    ), (409 if refused else 200)  # fmt: skip


def _on_page(work, said):
    """Run ``work(session)`` (a close or reopening): refused, the page again with why; done,
    committed and ``said(period)`` flashed."""
    session = db_session()
    try:
        period = work(session)
    except PeriodNotClosable as exc:
        session.rollback()
        return index(refused=exc)
    session.commit()
    flash(said(period), "info")
    return redirect(url_for("periods.index"))


@bp.post("/periods/close")
@login_required
def close_page():
    month = request.form.get("month", "")
    return _on_page(
        lambda session: meta_periods.close_month(session, registry(), current_user, month),
        lambda period: _("%(month)s is closed.", month=period.month),
    )


@bp.post("/periods/reopen")
@login_required
def reopen_page():
    reason = request.form.get("reason", "")
    return _on_page(
        lambda session: meta_periods.reopen_month(session, current_user, reason),
        lambda period: _("%(month)s is open again.", month=period.month),
    )


# --- the API -------------------------------------------------------------------------------------


@bp.get("/api/v1/periods")
@api_auth
def list_api():
    """The closes, latest first (reopened ones too), the last closed day and the month next."""
    _require_reader()
    session = db_session()
    periods = kernel_periods.history(session)
    through = kernel_periods.closed_through(session)
    following = kernel_periods.next_to_close(session)
    names = _names(session, periods)
    return jsonify(
        closed_through=through.isoformat() if through else None,
        next_month=following.strftime("%Y-%m") if following else None,
        periods=[_as_json(period, names) for period in periods],
    )


def _by_api(work, status: int = 200):
    """Run ``work(session)``: the close as JSON, or 409 naming the field (and the documents)."""
    session = db_session()
    try:
        period = work(session)
    except PeriodNotClosable as exc:
        session.rollback()
        return _refusal_json(exc)
    return jsonify(_as_json(period, _names(session, [period]))), status


@bp.post("/api/v1/periods")
@api_auth
def close_api():
    """Close ``month`` (``YYYY-MM``): 201 with the close; 409 naming the field and, when
    documents keep the month open, listing them."""
    month = _body().get("month")
    return _by_api(
        lambda session: meta_periods.close_month(session, registry(), current_user, month), 201
    )


@bp.post("/api/v1/periods/reopen")
@api_auth
def reopen_api():
    """Reopen the latest closed month; the body's ``reason`` is required."""
    reason = _body().get("reason")
    return _by_api(lambda session: meta_periods.reopen_month(session, current_user, reason))
