"""Approval steps: sequential levels of approvers a transition passes through before it lands.

A transition with an ``approval:`` block does not move the record to its ``to`` state at once:
the record waits in the ``pending`` state while each level in turn decides::

    approval:
      pending: in_approval        # where the record waits
      reject_to: draft            # where a rejection sends it (a state, or a level's name)
      cc: {roles: [finance]}      # who gets an inbox copy once approved
      on_pending: [...]           # actions run as the record starts waiting (optional)
      on_reject: [...]            # actions run as a rejection sends it back to a state
      levels:
        - name: manager
          approvers: {manager: true}          # roles / users / manager / expr
          mode: any                            # any = 或签, all = 会签
          time_limit_hours: 24                 # reminder, then escalation to the managers
        - name: region
          approvers: {manager: region}         # the region's manager (区域经理)
          when: amount > 5000                  # a conditional level
        - name: hq
          approvers: {roles: [hq_manager]}
          mode: all
          when: amount > 50000

Each approver of the current level gets an ``ApprovalTask``. They approve, reject (驳回: back to
``reject_to`` with the reason), return (退回: to an earlier level of their choice) or add an
approver before or after themselves (加签). While someone is away, a ``Delegation`` hands their
new tasks to a stand-in. The record's creator is never their own approver unless a level says
``allow_creator: true``; a manager who asks is approved by the manager above them (a location's
managers, where none is left, are those of the nearest location above it that has some). When the
last level approves, the transition's actions run and the record moves to ``to`` — all in the
caller's transaction, like any transition. ``on_pending`` and ``on_reject`` actions tell the
kernel what the waiting means (a count in review takes no more count sheets) and that it is over
(back to counting).

A task names its level by ``level_name``: a record already waiting keeps going when an admin
changes the levels, with the levels of the workflow as it is now. A level added before the one it
waits at is not asked (that part of the chain is behind it); a level removed while a task waits
at it is still decided by that task's approver — approve moves on to the levels after the last
one approved, reject sends the record back as the approval's ``reject_to`` says — so a changed
workflow never leaves a record stuck.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.i18n import _
from app.kernel import jobs
from app.kernel.errors import KernelError
from app.kernel.users import User, UserRole
from app.meta import access, records
from app.meta.expressions import Context, ExpressionError, compile_expression
from app.meta.forms import FormDef, label_text
from app.meta.models import Record
from app.meta.records import RecordError, ValidationFailed
from app.workflow.actions import ActionError
from app.workflow.errors import (
    SignatureRefused,
    SigningLocked,
    TaskNotFound,
    TransitionNotAllowed,
    TransitionRefused,
)
from app.workflow.models import (
    ApprovalTask,
    Delegation,
    InboxMessage,
    WorkflowEvent,
    inbox_message,
)

OPEN = ("pending", "waiting")
#: What an approver may do with their task; all but approve need a comment.
DECISIONS = ("approve", "reject", "return", "comment")


class ApprovalError(TransitionRefused):
    """An approval cannot go on (nobody to approve, task already decided)."""


class NotYourTask(TransitionNotAllowed):
    def __init__(self, message=None):
        super().__init__(message or _("This approval task is not yours to decide."))


# --- definitions -----------------------------------------------------------------------------


def levels_of(transition: dict) -> list[dict]:
    return transition.get("approval", {}).get("levels", [])


def _names_of(transition: dict) -> list[str]:
    return [level["name"] for level in levels_of(transition)]


def level_of(transition: dict, name: str) -> dict:
    """The level called ``name`` as the workflow defines it now. A level removed since its
    tasks were opened is a bare one — one approver's yes closes it, no signature, no level
    ``reject_to`` — so the people it waits on can still decide it."""
    for level in levels_of(transition):
        if level["name"] == name:
            return level
    return {"name": name}


@cache
def _expression(text: str, names: frozenset[str]):
    return compile_expression(text, names)


def _names(form: FormDef) -> frozenset[str]:
    from app.workflow.engine import condition_names

    return condition_names(form.spec)


def needed(form: FormDef, record: Record, transition: dict) -> bool:
    """Whether any level of the transition's approval applies to the record as it is: a sale
    within its price limits is confirmed at once, with no approval to show in its history."""
    return any(_applies(form, record, level) for level in levels_of(transition))


def _applies(form: FormDef, record: Record, level: dict) -> bool:
    if "when" not in level:
        return True
    try:
        values = records.record_values(form, record)
        return bool(_expression(level["when"], _names(form)).evaluate(values, Context()))
    except ExpressionError as exc:
        raise ApprovalError(str(exc)) from None


# --- who approves ----------------------------------------------------------------------------


def _active(session: Session, ids) -> list[User]:
    users = [session.get(User, user_id) for user_id in sorted(set(ids))]
    return [user for user in users if user is not None and user.is_active]


def resolve_approvers(
    session: Session, form: FormDef, record: Record, spec: dict, skip: frozenset[int] = frozenset()
) -> list[User]:
    """The users a level's ``approvers`` names: by role (within their data scope), by user name,
    the managers of the record's location (``manager: true``) or of its region (``manager:
    region``) — the nearest ones above when the post is vacant or held only by someone in
    ``skip`` — or an expression giving user ids."""
    ids: set[int] = set()
    if spec.get("roles"):
        holders = _active(
            session,
            session.scalars(select(UserRole.user_id).where(UserRole.role.in_(spec["roles"]))),
        )
        # (within the scope of the role the level asks for, not of another role they hold)
        ids |= {
            u.id for u in holders if access.in_scope(session, u, record.location_id, spec["roles"])
        }
    if spec.get("users"):
        ids |= set(session.scalars(select(User.id).where(User.username.in_(spec["users"]))))
    if spec.get("manager") and record.location_id is not None:
        ids |= set(
            access.managers_of(
                session, record.location_id, from_region=spec["manager"] == "region", skip=skip
            )
        )
    if spec.get("expr"):
        values = records.record_values(form, record)
        try:
            result = _expression(spec["expr"], _names(form)).evaluate(values, Context())
        except ExpressionError as exc:
            raise ApprovalError(str(exc)) from None
        for value in result if isinstance(result, list | tuple) else [result]:
            if value is not None and str(value).isdigit():
                ids.add(int(value))
    return _active(session, ids)


def delegate_of(session: Session, user_id: int, now: dt.datetime | None = None) -> int | None:
    """Who stands in for ``user_id`` now, if they delegated their approvals."""
    now = now or utcnow()
    return session.scalar(
        select(Delegation.to_user_id)
        .where(
            Delegation.from_user_id == user_id,
            Delegation.starts_at <= now,
            Delegation.ends_at > now,
        )
        .order_by(Delegation.id.desc())
        .limit(1)
    )


def _why_not_approver(session: Session, other: User, form: FormDef, location_id) -> str | None:
    """Why ``other`` could never act on a task of ``form`` at ``location_id`` (None: they can).
    A task given to someone who cannot open the record is stuck, and so is whoever waits on it."""
    if not other.is_active:
        return _("%(user)s is not an active user.", user=other.full_name)
    if not access.can(other, "read", form.name):
        return _("%(user)s may not see %(form)s.", user=other.full_name, form=form.label(None))
    if not access.in_scope(session, other, location_id):
        return _("%(user)s cannot see records of this location.", user=other.full_name)
    return None


def _covers_scope(session: Session, stand_in: User, user) -> bool:
    """Does ``stand_in`` see every location ``user`` sees (so each of user's tasks opens)?"""
    theirs = access.visible_location_ids(session, stand_in)
    mine = access.visible_location_ids(session, user)
    return theirs is None or (mine is not None and mine <= theirs)


def delegate(session: Session, user, to_user_id: int, starts_at, ends_at) -> Delegation:
    """``user`` is away from ``starts_at`` to ``ends_at``: their new tasks go to ``to_user_id``,
    who must be active and see every location ``user`` sees, or those tasks would be stuck."""
    if access.writes_nothing(user):
        raise access.PermissionDenied("delegate")
    stand_in = session.get(User, to_user_id)
    if to_user_id == user.id or stand_in is None:
        raise ValidationFailed({"to_user": [_("Choose another user to stand in for you.")]})
    if not stand_in.is_active:
        why = _("%(user)s is not an active user.", user=stand_in.full_name)
        raise ValidationFailed({"to_user": [why]})
    if not _covers_scope(session, stand_in, user):
        why = _("%(user)s cannot see every location you approve for.", user=stand_in.full_name)
        raise ValidationFailed({"to_user": [why]})
    if ends_at <= starts_at:
        raise ValidationFailed({"ends_at": [_("The end must be after the start.")]})
    row = Delegation(from_user_id=user.id, to_user_id=to_user_id, starts_at=starts_at,
                     ends_at=ends_at)  # fmt: skip
    session.add(row)
    session.flush()
    records.audit_as(
        session,
        user,
        "delegate",
        "delegation",
        row.id,
        changes={"to_user": to_user_id, "starts_at": starts_at, "ends_at": ends_at},
    )
    return row


# --- running the levels ------------------------------------------------------------------------


def _event(session, record, name, from_state, user, comment) -> WorkflowEvent:
    event = WorkflowEvent(record_id=record.id, transition=name, from_state=from_state,
                          to_state=record.state, user_id=getattr(user, "id", None),
                          comment=comment)  # fmt: skip
    session.add(event)
    session.flush()
    return event


def _nobody_approves(level: dict) -> str:
    """Why a level has no approver, and — where it names roles — what would give it one."""
    here = records.locale()
    name = label_text(level.get("label"), here) or level["name"]
    known = access.role_definitions()
    roles = [
        label_text(known[role].get("label"), here) if role in known else role
        for role in (level.get("approvers") or {}).get("roles") or []
    ]
    if not roles:
        return _("Nobody can approve level '%(level)s' of this record.", level=name)
    return _(
        "Nobody can approve level '%(level)s' of this record: its creator may not, and no one "
        "else holds the role %(roles)s for it. Ask an administrator to give someone the role.",
        level=name,
        roles=" / ".join(roles),
    )


def _open_level(session, form, record, transition, index, user) -> bool:
    """Create the tasks of the first applicable level from ``index`` on; False when none left."""
    levels = levels_of(transition)
    while index < len(levels) and not _applies(form, record, levels[index]):
        index += 1
    if index >= len(levels):
        return False
    level = levels[index]
    creator = frozenset() if level.get("allow_creator") else frozenset({record.created_by})
    approvers = resolve_approvers(session, form, record, level.get("approvers", {}), creator)
    approvers = [approver for approver in approvers if approver.id not in creator]
    if not approvers:
        raise ApprovalError(_nobody_approves(level))
    hours = level.get("time_limit_hours")
    due = utcnow() + dt.timedelta(hours=hours) if hours else None
    for approver in approvers:
        stand_in = delegate_of(session, approver.id)
        session.add(
            ApprovalTask(
                record_id=record.id, transition=transition["name"], level=index,
                level_name=level["name"], approver_id=stand_in or approver.id,
                on_behalf_of=approver.id if stand_in else None, status="pending", due_at=due,
            )
        )  # fmt: skip
    session.flush()
    return True


def start(session, registry, form: FormDef, record: Record, transition: dict, user, comment):
    """The transition was fired and a level applies (``needed``): wait in ``pending`` and open
    the first applicable level."""
    old = record.state
    record.state = transition["approval"]["pending"]
    record.updated_at, record.updated_by = utcnow(), getattr(user, "id", None)
    session.flush()
    event = _event(session, record, transition["name"], old, user, comment)
    _run_hook(session, registry, record, transition, "on_pending", user, comment)
    _open_level(session, form, record, transition, 0, user)
    return event


def _run_hook(session, registry, record, transition, hook: str, user, comment) -> None:
    """Run the approval's ``on_pending`` / ``on_reject`` actions, if it has any."""
    steps = transition.get("approval", {}).get(hook)
    if steps:
        from app.workflow.engine import run_actions

        run_actions(session, registry, record, transition, user, comment, steps, record.state)


def _complete(session, registry, form, record, transition, user, comment) -> None:
    """Every level approved: run the transition's actions and move the record to ``to``."""
    from app.workflow.engine import run_actions

    run_actions(session, registry, record, transition, user, comment)
    old = record.state
    record.state = transition["to"]
    record.updated_at = utcnow()
    session.flush()
    _event(session, record, "approved", old, user, comment)
    cc = transition.get("approval", {}).get("cc")
    if cc:
        for target in resolve_approvers(session, form, record, cc):
            number = record.number or record.id
            text = {"zh_CN": f"{number}: 已审批通过", "en": f"{number}: approved"}
            session.add(inbox_message(target.id, record.id, text, kind="cc",
                                      sender_id=getattr(user, "id", None)))  # fmt: skip
        session.flush()


def _tasks(session, record: Record, transition: str, statuses=OPEN) -> list[ApprovalTask]:
    return list(
        session.scalars(
            select(ApprovalTask)
            .where(ApprovalTask.record_id == record.id, ApprovalTask.transition == transition,
                   ApprovalTask.status.in_(statuses))
            .order_by(ApprovalTask.id)
        )
    )  # fmt: skip


def _close_open(session, record, transition) -> None:
    for task in _tasks(session, record, transition):
        task.status, task.decided_at = "cancelled", utcnow()
    session.flush()


def abandon(session, record: Record, left: str, transitions: list[dict]) -> None:
    """The record left ``left``, a state an approval waits in, by a step of its own (an order
    cancelled while its prices await approval, a count aborted in review): the approval is over
    undecided, and its open tasks are closed so that no inbox keeps asking for it."""
    for transition in transitions:
        if transition.get("approval", {}).get("pending") == left:
            _close_open(session, record, transition["name"])


def submission(session: Session, form: FormDef, record: Record):
    """The approval ``record`` waits for now and the event that started it (who submitted it,
    from which state) as ``(transition, event)``; None when it waits for none."""
    for transition in (form.workflow or {}).get("transitions", []):
        waiting_here = (transition.get("approval") or {}).get("pending") == record.state
        if not waiting_here or not _tasks(session, record, transition["name"]):
            continue
        event = session.scalar(
            select(WorkflowEvent)
            .where(WorkflowEvent.record_id == record.id,
                   WorkflowEvent.transition == transition["name"],
                   WorkflowEvent.to_state == record.state)
            .order_by(WorkflowEvent.id.desc())
            .limit(1)
        )  # fmt: skip
        if event is not None:
            return transition, event
    return None


def may_withdraw(session: Session, form: FormDef, record: Record, user) -> bool:
    """Whether ``user`` submitted the approval ``record`` waits for, and its flow lets them take
    it back (``withdraw: false`` on the approval says no)."""
    found = submission(session, form, record)
    return (
        found is not None
        and found[0]["approval"].get("withdraw", True)
        and found[1].user_id == getattr(user, "id", None)
    )


def withdraw(session: Session, registry, record: Record, user, comment: str | None = None):
    """撤回: whoever submitted a record takes it back while it still waits for its approvers —
    to correct it, or because it is no longer wanted. Its open tasks close and their approvers
    are told; the approval's ``on_reject`` actions undo what the waiting meant, as a rejection's
    do; the record is back in the state it was submitted from. ``record`` is locked by the
    caller."""
    form = registry.form(record.form)
    found = submission(session, form, record)
    if found is None:
        raise ApprovalError(_("This record is not waiting for an approval."))
    transition, submitted = found
    if transition["approval"].get("withdraw", True) is False:
        raise TransitionNotAllowed(
            _("Its flow does not let a submission be withdrawn: ask an approver to reject it.")
        )
    if submitted.user_id != getattr(user, "id", None):
        raise TransitionNotAllowed(_("Only whoever submitted it may withdraw it."))
    comment = (comment or "").strip() or None
    asked = _tasks(session, record, transition["name"], ("pending",))
    old = record.state

    def back_to_where_it_was_submitted_from():
        _close_open(session, record, transition["name"])
        record.state = submitted.from_state
        _run_hook(session, registry, record, transition, "on_reject", user, comment)

    _all_or_nothing(session, back_to_where_it_was_submitted_from)
    record.updated_at, record.updated_by = utcnow(), user.id
    event = _event(session, record, "withdrawn", old, user, comment)
    number = record.number or record.id
    text = {"zh_CN": f"{number}: 提交人已撤回，无需再审批",
            "en": f"{number}: withdrawn by its submitter, nothing to approve"}  # fmt: skip
    for approver_id in sorted({task.approver_id for task in asked}):
        session.add(inbox_message(approver_id, record.id, text, kind="withdrawn",
                                  sender_id=user.id))  # fmt: skip
    session.flush()
    records.audit_as(session, user, "approval.withdraw", "record", record.id,
                     changes={"transition": transition["name"], "state": record.state},
                     reason=comment)  # fmt: skip
    return event


def _my_task(session: Session, registry, task_id: int, user, lock: bool = True):
    """The task, its record (locked, unless only read), form and transition — or a typed
    refusal."""
    task = session.get(ApprovalTask, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    query = select(Record).where(Record.id == task.record_id)
    record = session.scalar(query.with_for_update() if lock else query)
    if task.approver_id != getattr(user, "id", None) or not access.in_scope(
        session, user, record.location_id
    ):
        raise TaskNotFound(task_id)  # someone else's: unseen
    if task.status != "pending":
        raise ApprovalError(_("This approval task is already decided."))
    form = registry.form(record.form)
    from app.workflow.engine import transition_named

    transition = transition_named(form, task.transition)
    level = level_of(transition, task.level_name)
    if record.created_by == user.id and not level.get("allow_creator"):
        raise NotYourTask(_("You created this record, so someone else must approve it."))
    return task, record, form, transition, level


def decide(
    session: Session,
    registry,
    task_id: int,
    user,
    decision: str,
    comment: str | None = None,
    return_to: str | None = None,
    signature: dict | None = None,
    verify=None,
) -> ApprovalTask:
    """``approve``, ``reject`` (驳回) or ``return`` (退回 to an earlier level) a task.
    ``verify()`` checks ``signature`` (once for a whole batch: ``decide_many``)."""
    from app.workflow.engine import check_signature

    verify = verify or (lambda: check_signature(session, user, signature))
    task, record, form, transition, level = _my_task(session, registry, task_id, user)
    comment = (comment or "").strip() or None
    if decision not in DECISIONS:
        raise ValidationFailed({"decision": [_("Choose approve, reject, return or comment.")]})
    if decision != "approve" and comment is None:
        raise ValidationFailed({"comment": [_("Please give a reason in the comment.")]})
    signer = meaning = None
    if level.get("signature") and decision == "approve":
        signer, meaning = verify()
    _all_or_nothing(session, lambda: _apply_decision(
        session, registry, task, record, form, transition, level, user, decision, comment,
        return_to, signer, meaning if signer else None,
    ))  # fmt: skip
    return task


def _all_or_nothing(session: Session, step) -> None:
    """Run ``step`` in a savepoint: what an action or the kernel refuses undoes all of it and is
    the transition's refusal (409, naming the field it is about)."""
    savepoint = session.begin_nested()
    try:
        step()
    except (ActionError, KernelError) as exc:
        savepoint.rollback()
        raise TransitionRefused(str(exc), getattr(exc, "field", None)) from None
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()


#: The most tasks one batch decides (批量审批): a page of an inbox.
BATCH = 100


def decide_many(
    session: Session, registry, task_ids, user, comment=None, signature=None, decision="approve"
) -> dict[int, str | None]:
    """批量审批: approve (or, ``decision="reject"``, reject with the one reason ``comment``
    gives: 批量驳回) each of ``task_ids`` as ``decide`` would, one after the other; a task that
    cannot be decided (decided already, its action refused, a signature the level needs and none
    was given) is left as it was, with the reason: task id → None (decided) or why not. The
    signature is checked once, and a wrong password approves nothing (audited by the caller, as
    for one task)."""
    from app.workflow.engine import check_signature

    if decision not in ("approve", "reject"):
        raise ValidationFailed({"decision": [_("Choose approve or reject.")]})
    if decision == "reject" and not (comment or "").strip():
        raise ValidationFailed({"comment": [_("Please give a reason in the comment.")]})
    if (
        not isinstance(task_ids, list)
        or not task_ids
        or len(task_ids) > BATCH
        or not all(type(task_id) is int and 0 < task_id < 2**63 for task_id in task_ids)
    ):
        raise ValidationFailed(
            {"tasks": [_("Choose from 1 to %(most)s approval tasks.", most=BATCH)]}
        )
    verify = cache(lambda: check_signature(session, user, signature))
    outcome: dict[int, str | None] = {}
    for task_id in dict.fromkeys(task_ids):
        try:
            decide(session, registry, task_id, user, decision, comment, verify=verify)
            outcome[task_id] = None
        except (SignatureRefused, SigningLocked):
            raise
        except ValidationFailed as exc:
            outcome[task_id] = "; ".join(m for messages in exc.errors.values() for m in messages)
        except RecordError as exc:
            outcome[task_id] = str(exc)
    return outcome


def task_of(session: Session, task_id: int) -> ApprovalTask | None:
    return session.get(ApprovalTask, task_id)


def _apply_decision(session, registry, task, record, form, transition, level, user, decision,
                    comment, return_to, signer, meaning) -> None:  # fmt: skip
    from app.workflow.engine import sign

    if decision == "comment":  # a remark on the timeline; the task stays open
        _event(session, record, f"comment:{task.level_name}", record.state, user, comment)
        return
    task.comment, task.decided_at = comment, utcnow()
    if decision == "approve":
        task.status = "approved"
        _after_approval(session, registry, form, record, transition, task, user, comment)
        event = _event(session, record, f"approve:{task.level_name}", record.state, user, comment)
        if signer is not None:
            sign(session, record, event, signer, meaning)
    elif decision == "reject":
        task.status = "rejected"
        _close_open(session, record, transition["name"])
        target = level.get("reject_to") or transition.get("approval", {}).get("reject_to")
        target = target or workflow_initial(form)
        old = record.state
        names = _names_of(transition)
        if target in names:
            _open_level(session, form, record, transition, names.index(target), user)
        else:
            record.state = target
            _run_hook(session, registry, record, transition, "on_reject", user, comment)
        _event(session, record, f"reject:{task.level_name}", old, user, comment)
    else:
        names = _names_of(transition)
        earlier = names[: _position(session, record, transition, task.level_name)]
        if return_to not in earlier:
            raise ValidationFailed(
                {"return_to": [_("Choose an earlier step: %(steps)s.",
                                 steps=", ".join(earlier) or "-")]}
            )  # fmt: skip
        task.status = "returned"
        _close_open(session, record, transition["name"])
        _open_level(session, form, record, transition, names.index(return_to), user)
        _event(session, record, f"return:{return_to}", record.state, user, comment)
    record.updated_at, record.updated_by = utcnow(), user.id
    session.flush()
    records.audit_as(session, user, f"approval.{decision}", "record", record.id,
                     changes={"task": task.id, "level": task.level_name, "state": record.state},
                     reason=comment)  # fmt: skip


def workflow_initial(form: FormDef) -> str:
    return (form.workflow or {}).get("initial", form.initial_state)


def _after_approval(session, registry, form, record, transition, task, user, comment) -> None:
    """或签: an original approver's yes closes the others' tasks of the level (added approvers
    still decide); then whoever waited for this task is up; a level with nothing open is done."""
    level = level_of(transition, task.level_name)
    if level.get("mode", "any") == "any" and task.added_by is None:
        for other in _tasks(session, record, transition["name"], ("pending",)):
            if (
                other.level_name == task.level_name
                and other.added_by is None
                and other.id != task.id
            ):
                other.status, other.decided_at = "cancelled", utcnow()
    for waiting in _tasks(session, record, transition["name"], ("waiting",)):
        if waiting.waits_for == task.id:
            waiting.status = "pending"
    session.flush()
    if any(t.level_name == task.level_name for t in _tasks(session, record, transition["name"])):
        return  # the level is still open
    names = _names_of(transition)
    if task.level_name in names:
        following = names.index(task.level_name) + 1
    else:
        following = _position(session, record, transition, task.level_name)
    if not _open_level(session, form, record, transition, following, user):
        _complete(session, registry, form, record, transition, user, comment)


def _position(session, record: Record, transition: dict, level_name: str) -> int:
    """Where ``level_name`` stands among the transition's levels now. A level removed from the
    workflow stands just after the last level approved since the record started waiting (or
    was last rejected or returned to a level), so the levels after it are still asked."""
    names = _names_of(transition)
    if level_name in names:
        return names.index(level_name)
    approved = [
        names.index(name) for name in _approved_since_round(session, record, transition)
        if name in names
    ]  # fmt: skip
    return max(approved) + 1 if approved else 0


def _approved_since_round(session, record: Record, transition: dict) -> set[str]:
    """The level names approved since the record last started waiting or went back a level."""
    events = session.scalars(
        select(WorkflowEvent.transition)
        .where(WorkflowEvent.record_id == record.id)
        .order_by(WorkflowEvent.id)
    ).all()
    approved: set[str] = set()
    for name in events:
        if name == transition["name"] or name.startswith(("reject:", "return:")):
            approved = set()
        elif name.startswith("approve:"):
            approved.add(name.removeprefix("approve:"))
    return approved


def _other_approver(session: Session, record: Record, form: FormDef, user, other_id) -> User:
    """The colleague ``other_id`` names, if they could decide a task on ``record``: not me,
    not its creator, active, able to see it."""
    other = session.get(User, other_id) if type(other_id) is int and 0 < other_id < 2**63 else None
    if other is None or other.id in (user.id, record.created_by):
        raise ValidationFailed({"user": [_("Choose another active user.")]})
    why = _why_not_approver(session, other, form, record.location_id)
    if why is not None:
        raise ValidationFailed({"user": [why]})
    return other


def add_approver(session: Session, registry, task_id: int, user, other_id, position: str):
    """加签: ``other_id`` approves before me (my task waits) or after me (theirs waits)."""
    task, record, form, _transition, _level = _my_task(session, registry, task_id, user)
    other = _other_approver(session, record, form, user, other_id)
    if position not in ("before", "after"):
        raise ValidationFailed({"position": [_("Choose before or after.")]})
    added = ApprovalTask(
        record_id=record.id, transition=task.transition, level=task.level,
        level_name=task.level_name, approver_id=other.id, added_by=user.id,
        status="pending" if position == "before" else "waiting",
        waits_for=None if position == "before" else task.id, due_at=task.due_at,
    )  # fmt: skip
    session.add(added)
    session.flush()
    if position == "before":
        task.status, task.waits_for = "waiting", added.id
    session.flush()
    records.audit_as(
        session,
        user,
        "approval.add_approver",
        "record",
        record.id,
        changes={"task": task.id, "added": other.id, "position": position},
    )
    return added


#: How many users a hand-over search reads to find those who could take the task.
CANDIDATES_SCANNED = 200


def hand_over_candidates(session: Session, registry, task_id: int, user, q: str = "",
                         limit: int = 20) -> list[User]:  # fmt: skip
    """Whom my task may be handed to, matching ``q`` (user name or name): active colleagues who
    can see the record, not its creator, without this step open already — wherever they work
    (the region's or HQ's manager too), not only those I may see."""
    task, record, form, transition, _level = _my_task(session, registry, task_id, user, lock=False)
    holding = _holding(session, record, transition, task.level_name)
    query = select(User).where(User.active.is_(True), User.id.not_in(
        {user.id, *holding} | ({record.created_by} if record.created_by else set())))  # fmt: skip
    if q.strip():
        pattern = f"%{q.strip()}%"
        query = query.where(or_(User.username.ilike(pattern), User.full_name.ilike(pattern)))
    found = []
    for other in session.scalars(query.order_by(User.full_name).limit(CANDIDATES_SCANNED)):
        if _why_not_approver(session, other, form, record.location_id) is None:
            found.append(other)
        if len(found) == limit:
            break
    return found


def _holding(session: Session, record: Record, transition: dict, level_name: str) -> set[int]:
    """Who has the level ``level_name`` open on ``record`` (to decide now or after someone)."""
    return {task.approver_id for task in _tasks(session, record, transition["name"])
            if task.level_name == level_name}  # fmt: skip


def hand_over(session: Session, registry, task_id: int, user, other_id, comment=None):
    """转交: my task goes to ``other_id``, who decides it in my place (as a stand-in would: on
    behalf of whom it was for); whoever waited for mine waits for theirs. Mine is closed as
    handed over, with the reason, on the record's timeline."""
    task, record, form, transition, _level = _my_task(session, registry, task_id, user)
    other = _other_approver(session, record, form, user, other_id)
    if other.id in _holding(session, record, transition, task.level_name):
        raise ValidationFailed(
            {"user": [_("%(user)s already has this step to decide.", user=other.full_name)]}
        )
    comment = (comment or "").strip() or None
    taken = ApprovalTask(
        record_id=record.id, transition=task.transition, level=task.level,
        level_name=task.level_name, approver_id=other.id, added_by=task.added_by,
        on_behalf_of=task.on_behalf_of or task.approver_id, status="pending", due_at=task.due_at,
    )  # fmt: skip
    session.add(taken)
    session.flush()
    task.status, task.decided_at, task.comment = "handed_over", utcnow(), comment
    for waiting in _tasks(session, record, transition["name"], ("waiting",)):
        if waiting.waits_for == task.id:
            waiting.waits_for = taken.id
    _event(session, record, f"handover:{task.level_name}", record.state, user, comment)
    records.audit_as(session, user, "approval.handover", "record", record.id,
                     changes={"task": task.id, "to": other.id, "level": task.level_name},
                     reason=comment)  # fmt: skip
    return taken


# --- inbox -------------------------------------------------------------------------------------


def _waiting(session: Session, user, *columns):
    """``columns`` of the user's pending tasks joined to their records, within the user's data
    scope (a task on a record the user may no longer see does not wait for them)."""
    query = (
        select(*columns)
        .select_from(ApprovalTask)
        .join(Record, Record.id == ApprovalTask.record_id)
        .where(ApprovalTask.approver_id == user.id, ApprovalTask.status == "pending")
    )
    scope = access.visible_location_ids(session, user)
    return query if scope is None else query.where(Record.location_id.in_(scope))


def waiting_for(
    session: Session, user, form: str | None = None, offset: int = 0, limit: int | None = None
) -> list[tuple[ApprovalTask, Record]]:
    """The user's pending tasks with their records, the oldest first: of ``form`` only when
    given, ``limit`` of them from ``offset`` (one page of the inbox)."""
    query = _waiting(session, user, ApprovalTask, Record)
    if form:
        query = query.where(Record.form == form)
    query = query.order_by(ApprovalTask.created_at, ApprovalTask.id).offset(offset).limit(limit)
    return [tuple(row) for row in session.execute(query)]


def waiting_by_form(session: Session, user) -> dict[str, int]:
    """How many of the user's pending tasks wait on each form's records."""
    query = _waiting(session, user, Record.form, func.count()).group_by(Record.form)
    return {form: count for form, count in session.execute(query)}


def my_tasks_on(session: Session, user, record: Record) -> list[ApprovalTask]:
    """The user's pending tasks on ``record`` (the approve/reject form of its page)."""
    return list(
        session.scalars(
            select(ApprovalTask).where(
                ApprovalTask.record_id == record.id,
                ApprovalTask.approver_id == getattr(user, "id", None),
                ApprovalTask.status == "pending",
            )
        )
    )


def submitted_by(session: Session, user, limit: int = 50) -> list[Record]:
    """Records the user created that have approval tasks (open or decided), newest first."""
    ids = select(ApprovalTask.record_id)
    return list(
        session.scalars(
            select(Record)
            .where(Record.created_by == user.id, Record.id.in_(ids))
            .order_by(Record.updated_at.desc())
            .limit(limit)
        )
    )


def messages_for(session: Session, user, limit: int = 50) -> list[tuple[InboxMessage, Record]]:
    """The user's latest messages, each with the record it is about (``None`` when none: a
    location's duty falling due), so the inbox can open it."""
    return [
        tuple(row)
        for row in session.execute(
            select(InboxMessage, Record)
            .outerjoin(Record, Record.id == InboxMessage.record_id)
            .where(InboxMessage.user_id == user.id)
            .order_by(InboxMessage.id.desc())
            .limit(limit)
        )
    ]


def attention(session: Session, user) -> int:
    """How many things wait for the user in the inbox — approval tasks to decide and messages
    not seen yet: the number beside Inbox on every page."""
    unread = session.scalar(
        select(func.count())
        .select_from(InboxMessage)
        .where(InboxMessage.user_id == user.id, InboxMessage.read.is_(False))
    )
    return session.scalar(_waiting(session, user, func.count())) + unread


def mark_read(session: Session, user, message_ids) -> None:
    """The user has seen these messages: the inbox shows a message as new once."""
    if message_ids:
        session.execute(
            update(InboxMessage)
            .where(InboxMessage.user_id == user.id, InboxMessage.id.in_(message_ids))
            .values(read=True)
        )


# --- reminders and escalation ------------------------------------------------------------------


def send_reminders(session: Session, now: dt.datetime | None = None) -> int:
    """Remind each approver whose task is past its time limit, once, and escalate to the
    managers of the record's location (those above it when the late approver is its manager)."""
    now = now or utcnow()
    overdue = session.scalars(
        select(ApprovalTask).where(
            ApprovalTask.status == "pending",
            ApprovalTask.due_at.is_not(None),
            ApprovalTask.due_at < now,
            ApprovalTask.reminded_at.is_(None),
        )
    ).all()
    for task in overdue:
        record = session.get(Record, task.record_id)
        label = record.number or record.id
        overdue_text = {"zh_CN": f"{label}: 审批已超时", "en": f"{label}: approval overdue"}
        session.add(inbox_message(task.approver_id, record.id, overdue_text, kind="reminder"))
        if record.location_id is None:
            managers = []
        else:
            managers = access.managers_of(session, record.location_id, skip={task.approver_id})
        for manager_id in managers:
            escalated = {"zh_CN": f"{label}: {task.level_name} 审批已超时",
                         "en": f"{label}: approval overdue ({task.level_name})"}  # fmt: skip
            session.add(inbox_message(manager_id, record.id, escalated, kind="escalation"))
        task.reminded_at = now
    session.flush()
    return len(overdue)


@jobs.handler("approval_reminders")
def _reminders_job(run: jobs.JobRun) -> dict:
    with run.database.transaction() as session:
        return {"reminded": send_reminders(session)}
