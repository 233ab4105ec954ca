"""Approval tasks over HTTP: the ``/inbox`` page and the JSON endpoints behind it.

Deciding, adding an approver and delegating are engine calls (``app.workflow.approvals``); this
module only parses requests, renders and maps typed errors to statuses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.i18n import _
from app.kernel.users import User
from app.meta.access import PermissionDenied
from app.meta.models import Record
from app.meta.records import RecordError, RecordNotFound, ValidationFailed
from app.meta.records import locale as records_locale
from app.web.forms_api import _body, api_auth, idempotent
from app.web.forms_common import MAX_PAGE, comment_text, registry, whole_number
from app.web.forms_pages import Display
from app.web.session import db_session
from app.workflow import approvals, engine

bp = Blueprint("approvals", __name__)
#: How many waiting tasks the inbox shows at a time, the oldest first.
PAGE_SIZE = 50


@dataclass
class Waiting:
    """The caller's waiting tasks as the inbox shows them: those of ``form`` (or all), one page,
    with how many wait per form for the filter (an HQ approver's list runs to hundreds)."""

    tasks: list
    by_form: list[tuple[str, str, int]]  # (form, label, tasks waiting)
    total: int
    form: str
    page: int
    #: the tasks of ``form`` (all when none), over every page
    matching: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.matching // PAGE_SIZE))


def _waiting() -> Waiting:
    """What ``?form=`` and ``?page=`` ask of the caller's waiting tasks (422 naming a bad page)."""
    page = whole_number(request.args.get("page"), "page", 1, highest=MAX_PAGE)
    form = request.args.get("form", "").strip()
    session = db_session()
    counts = approvals.waiting_by_form(session, current_user)
    forms = registry()
    by_form = sorted(
        ((name, forms.form(name).label(records_locale()) if forms.form(name) else name, count)
         for name, count in counts.items()),
        key=lambda row: (-row[2], row[1]),
    )  # fmt: skip
    total = sum(counts.values())
    tasks = approvals.waiting_for(
        session, current_user, form or None, (page - 1) * PAGE_SIZE, PAGE_SIZE
    )
    return Waiting(tasks, by_form, total, form, page, counts.get(form, 0) if form else total)


def _task_json(task) -> dict:
    return {
        "id": task.id, "record_id": task.record_id, "transition": task.transition,
        "level": task.level_name, "approver_id": task.approver_id,
        "on_behalf_of": task.on_behalf_of, "status": task.status, "comment": task.comment,
        "decided_at": task.decided_at.isoformat() if task.decided_at else None,
    }  # fmt: skip


def _signature(data) -> dict | None:
    """The e-signature a decision carries: the API's ``signature`` object, or a page's
    ``password`` and ``meaning`` fields."""
    signature = data.get("signature")
    if signature is None and data.get("password"):
        signature = {"password": data.get("password"), "meaning": data.get("meaning")}
    return signature


def _decide(task_id: int, data) -> object:
    session = db_session()
    signature = _signature(data)
    try:
        return approvals.decide(
            session, registry(), task_id, current_user, str(data.get("decision", "")),
            comment=comment_text(data.get("comment")), return_to=data.get("return_to") or None,
            signature=signature,
        )  # fmt: skip
    except engine.SignatureRefused:
        session.rollback()
        task = approvals.task_of(session, task_id)
        engine.audit_refused_signature(session, current_user, "approval", task.record_id,
                                       task.transition)  # fmt: skip
        session.commit()
        raise


def _decide_many(task_ids, data) -> dict:
    """``decide_many`` as the API and the inbox ask it (``decision``: approve, the default, or
    reject); a wrong password approves nothing and is audited as a single decision's is."""
    session = db_session()
    signature = _signature(data)
    try:
        return approvals.decide_many(
            session, registry(), task_ids, current_user, comment_text(data.get("comment")),
            signature, data.get("decision") or "approve",
        )  # fmt: skip
    except engine.SignatureRefused:
        session.rollback()
        task = approvals.task_of(session, task_ids[0])
        engine.audit_refused_signature(session, current_user, "approval",
                                       task.record_id if task else None, "approve")  # fmt: skip
        session.commit()
        raise


@bp.post("/api/v1/approval-tasks/decisions")
@api_auth
@idempotent
def decide_many():
    """批量审批 — JSON: ``tasks`` (ids), ``decision`` (approve, the default, or reject with a
    ``comment`` saying why), ``comment``, ``signature``: each ``approved`` (or ``rejected``) or
    ``refused`` with why."""
    body = _body()
    outcome = _decide_many(body.get("tasks"), body)
    done = "rejected" if body.get("decision") == "reject" else "approved"
    return jsonify({
        done: [task_id for task_id, why in outcome.items() if why is None],
        "refused": {str(task_id): why for task_id, why in outcome.items() if why is not None},
    })  # fmt: skip


@bp.post("/api/v1/approval-tasks/<int:task_id>/decision")
@api_auth
@idempotent
def decide(task_id):
    """JSON: ``decision`` (approve/reject/return), ``comment``, ``return_to``, ``signature``."""
    return jsonify(_task_json(_decide(task_id, _body()))), 200


@bp.post("/api/v1/approval-tasks/<int:task_id>/approvers")
@api_auth
@idempotent
def add_approver(task_id):
    """加签 — JSON: ``user`` (id), ``position`` (before/after)."""
    body = _body()
    added = approvals.add_approver(
        db_session(), registry(), task_id, current_user, body.get("user"),
        str(body.get("position", "")),
    )  # fmt: skip
    return jsonify(_task_json(added)), 201


@bp.get("/api/v1/approval-tasks/<int:task_id>/candidates")
@api_auth
def hand_over_candidates(task_id):
    """Whom the caller's task may be handed to, as a picker reads them (``q``: name)."""
    found = approvals.hand_over_candidates(
        db_session(), registry(), task_id, current_user, request.args.get("q", "")
    )
    return jsonify(results=[{"value": u.id, "label": u.full_name} for u in found])


@bp.post("/api/v1/approval-tasks/<int:task_id>/handover")
@api_auth
@idempotent
def hand_over(task_id):
    """转交 — JSON: ``user`` (id), ``comment``."""
    body = _body()
    taken = approvals.hand_over(
        db_session(), registry(), task_id, current_user, body.get("user"),
        comment_text(body.get("comment")),
    )  # fmt: skip
    return jsonify(_task_json(taken)), 201


def _when(value, name: str) -> dt.datetime:
    """An ISO 8601 moment, in UTC; one outside the years 1–9999 once in UTC is refused too."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
        return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        raise ValidationFailed({name: [_("Not a valid date and time.")]}) from None


@bp.post("/api/v1/delegations")
@api_auth
@idempotent
def delegate():
    """While I am away: JSON ``to_user`` (id), ``starts_at``, ``ends_at`` (ISO 8601)."""
    body = _body()
    to_user = body.get("to_user")
    if type(to_user) is not int or not 0 < to_user < 2**63:
        raise ValidationFailed({"to_user": [_("Choose another user to stand in for you.")]})
    row = approvals.delegate(
        db_session(), current_user, to_user,
        _when(body.get("starts_at"), "starts_at"), _when(body.get("ends_at"), "ends_at"),
    )  # fmt: skip
    return jsonify(id=row.id), 201


@bp.get("/api/v1/inbox")
@api_auth
def inbox_api():
    """What the inbox page shows, for a phone app or an integration: the approval tasks waiting
    for the caller (with what each is about: the form, the values its list shows, who asked) —
    of ``?form=`` only, ``PAGE_SIZE`` a ``?page=`` —, how many wait per form, the caller's
    latest messages with ``read``, and ``count`` (tasks + unread, as beside Inbox). Reading it
    marks nothing read: ``POST /api/v1/inbox/read`` does."""
    session = db_session()
    shown_tasks, waiting = _waiting(), []
    for task, record in shown_tasks.tasks:
        form_label, shown, creator = _summary(record)
        waiting.append({
            **_task_json(task), "form": record.form, "number": record.number,
            "form_label": form_label, "asked_by": creator,
            "summary": [{"label": label, "value": value} for label, value in shown],
        })  # fmt: skip
    messages = [
        {
            "id": message.id, "kind": message.kind, "message": message.text(records_locale()),
            "read": message.read, "created_at": message.created_at.isoformat(),
            "record_id": message.record_id, "form": record.form if record else None,
            "number": record.number if record else None,
        }
        for message, record in approvals.messages_for(session, current_user)
    ]  # fmt: skip
    return jsonify(
        waiting=waiting, messages=messages, count=approvals.attention(session, current_user),
        waiting_by_form=[{"form": form, "label": label, "count": count}
                         for form, label, count in shown_tasks.by_form],
        page=shown_tasks.page, pages=shown_tasks.pages,
    )  # fmt: skip


@bp.post("/api/v1/inbox/read")
@api_auth
def mark_read():
    """JSON ``ids``: the caller's messages they have seen (another user's ids change nothing)."""
    ids = _body().get("ids")
    if not isinstance(ids, list) or not all(type(i) is int and 0 < i < 2**63 for i in ids):
        raise ValidationFailed(
            {"ids": [_("Give the ids of the messages read, as a list of numbers.")]}
        )
    session = db_session()
    approvals.mark_read(session, current_user, ids)
    session.commit()
    return jsonify(count=approvals.attention(session, current_user)), 200


@bp.get("/inbox")
@login_required
def inbox():
    """Waiting for me, CC (and other messages) to me — those not seen before marked unread this
    once — and I submitted."""
    session = db_session()
    forms = registry().forms
    messages = approvals.messages_for(session, current_user)
    new = {message.id for message, _record in messages if not message.read}
    approvals.mark_read(session, current_user, new)
    session.commit()
    return render_template(
        "inbox.html",
        waiting=_waiting(),
        summary=_summary,
        submitted=approvals.submitted_by(session, current_user),
        messages=messages,
        language=records_locale(),
        new=new,
        level_label=lambda record, name: (
            engine.level_label(forms[record.form], name) if record.form in forms else name
        ),
        state_label=lambda record: (
            forms[record.form].state_label(record.state, records_locale())
            if record.form in forms
            else record.state
        ),
    )


def _summary(record: Record) -> tuple[str, list[tuple[str, str]], str]:
    """What an approver reads of a record before opening it: its form, the values its list shows
    (the order's customer and total, the transfer's amount…) and who made it."""
    form = registry().form(record.form)
    if form is None:
        return record.form, [], ""
    show, locale = Display(form), records_locale()
    shown = [
        (field.label(locale), show(field, record.data.get(name)))
        for name in form.list_columns
        if (field := form.field(name)) is not None and record.data.get(name) not in (None, "")
    ]
    creator = db_session().get(User, record.created_by) if record.created_by else None
    return form.label(locale), shown, creator.full_name if creator else ""


@bp.get("/inbox/count")
@login_required
def inbox_count():
    """The inbox count in its places on the page, for a page that stays open (a form being
    filled): htmx asks every minute and swaps them in."""
    count = approvals.attention(db_session(), current_user)
    return render_template("_inbox_count.html", count=count)


@bp.post("/inbox/tasks/<int:task_id>/decision")
@login_required
def decide_from_page(task_id):
    return _from_page(task_id, lambda: _decide(task_id, request.form))


@bp.post("/inbox/decisions")
@login_required
def decide_many_from_page():
    """The inbox's 'approve (or reject) the ticked ones': how many were, and why the others
    not."""
    session = db_session()
    task_ids = [_chosen(value) for value in request.form.getlist("task")]
    try:
        outcome = _decide_many([task_id for task_id in task_ids if task_id], request.form)
        session.commit()
    except RecordError as exc:
        session.rollback()
        _flash_refusal(exc)
        return redirect(url_for("approvals.inbox"))
    rejecting = request.form.get("decision") == "reject"
    done = len([task_id for task_id, why in outcome.items() if why is None])
    if rejecting:
        flash(_("Rejected: %(count)s.", count=done), "info")
    else:
        flash(_("Approved: %(count)s.", count=done), "info")
    for task_id, why in outcome.items():
        if why is not None:
            task = approvals.task_of(session, task_id)
            record = session.get(Record, task.record_id) if task else None
            name = (record.number or f"#{record.id}") if record else f"#{task_id}"
            if rejecting:
                flash(_("%(record)s not rejected: %(why)s", record=name, why=why), "error")
            else:
                flash(_("%(record)s not approved: %(why)s", record=name, why=why), "error")
    return redirect(url_for("approvals.inbox"))


@bp.post("/inbox/tasks/<int:task_id>/handover")
@login_required
def hand_over_from_page(task_id):
    """The record page's 转交: the colleague chosen in the picker."""
    return _from_page(task_id, lambda: approvals.hand_over(
        db_session(), registry(), task_id, current_user, _chosen(request.form.get("user", "")),
        request.form.get("comment"),
    ))  # fmt: skip


def _chosen(value: str) -> int | None:
    """The user id a picker sent (nothing chosen: None, refused by the engine by name)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def _flash_refusal(exc: RecordError) -> None:
    """A refusal on the page it came from: each field's reasons, or the refusal itself."""
    if isinstance(exc, ValidationFailed):
        flash("; ".join(m for messages in exc.errors.values() for m in messages), "error")
    else:
        flash(str(exc), "error")


def _from_page(task_id: int, act):
    """Do ``act`` on a task from a page, then back to the record (``next=record``) or inbox."""
    session = db_session()
    try:
        act()
        session.commit()
    except RecordNotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except RecordError as exc:
        session.rollback()
        _flash_refusal(exc)
    else:
        flash(_("Done."), "info")
    task = approvals.task_of(session, task_id)
    if request.form.get("next") == "record" and task is not None:
        record = session.get(Record, task.record_id)
        return redirect(url_for("forms.detail", form=record.form, record_id=record.id))
    return redirect(url_for("approvals.inbox"))
