"""What a workflow edit must not break: the records already under way, and the people it names.

An admin publishes a workflow the way a form is published (``app.meta.versions``); the loader
has checked the text and everything that refers to it. What the files cannot show is the
company's data: a state that records are in, or an approval that records wait on, cannot go —
those records would have no state to be shown in and no transition to leave it by. Renaming a
state or dropping an approval is refused while it is in use, with the count, so the admin moves
the records on first (or keeps the state). Nor can the files show who works here: an approver,
a copy or a message for a username no active user has would leave documents waiting on nobody.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.i18n import _
from app.kernel.users import User
from app.meta import versions
from app.meta.forms import FormDef
from app.meta.models import Record
from app.meta.registry import WORKFLOWS
from app.workflow.approvals import OPEN
from app.workflow.checks import steps_of
from app.workflow.models import ApprovalTask


def records_by_state(session: Session, form: str) -> dict[str, int]:
    """How many records of ``form`` are in each state (the editor shows it next to each)."""
    counts = session.execute(
        select(Record.state, func.count())
        .where(Record.form == form)
        .group_by(Record.state)
        .order_by(Record.state)
    )
    return {state: count for state, count in counts}


@versions.refuses(WORKFLOWS)
def states_in_use(session: Session, registry, new: FormDef) -> list[str]:
    """A state that records are in must stay."""
    return [
        _(
            "%(count)s records are in state '%(state)s', which this version removes; keep the "
            "state or move those records on first",
            count=count,
            state=state,
        )
        for state, count in records_by_state(session, new.name).items()
        if state not in new.workflow["states"]
    ]


@versions.refuses(WORKFLOWS)
def approvals_in_use(session: Session, registry, new: FormDef) -> list[str]:
    """A transition that records wait on the approval of must stay, with its approval."""
    approving = {t["name"] for t in new.workflow.get("transitions", []) if t.get("approval")}
    waiting = session.execute(
        select(ApprovalTask.transition, func.count(func.distinct(ApprovalTask.record_id)))
        .join(Record, Record.id == ApprovalTask.record_id)
        .where(Record.form == new.name, ApprovalTask.status.in_(OPEN))
        .group_by(ApprovalTask.transition)
        .order_by(ApprovalTask.transition)
    )
    return [
        _(
            "%(count)s records wait for approval of '%(transition)s'; this version must keep "
            "that transition and its approval until they are decided",
            count=count,
            transition=transition,
        )
        for transition, count in waiting
        if transition not in approving
    ]


@versions.refuses(WORKFLOWS)
def unknown_users(session: Session, registry, new: FormDef) -> list[str]:
    """Approvers, copies and messages name active users: a level whose only approver does not
    exist holds every document that reaches it, and a message to nobody is lost unseen."""
    named: dict[str, str] = {}
    for transition in new.workflow.get("transitions", []):
        approval = transition.get("approval") or {}
        for level in approval.get("levels", []):
            for username in level["approvers"].get("users", []):
                named.setdefault(username, transition["name"])
        for username in (approval.get("cc") or {}).get("users", []):
            named.setdefault(username, transition["name"])
        for _where, step in steps_of(transition):
            if step.get("action") == "notify":
                for username in (step.get("params") or {}).get("users", []):
                    named.setdefault(username, transition["name"])
    if not named:
        return []
    active = set(
        session.scalars(select(User.username).where(User.username.in_(named), User.active))
    )
    return [
        _(
            "no active user has the username '%(user)s' (named in transition '%(transition)s')",
            user=username,
            transition=transition,
        )
        for username, transition in sorted(named.items())
        if username not in active
    ]
