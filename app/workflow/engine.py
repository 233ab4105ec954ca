"""Firing a workflow transition: check, run the actions, move the record, write the timeline.

``fire`` is the one way a record changes state. In order it checks that the transition exists
from the record's current state (409), that the user may fire it (403: the transition's
``roles`` when declared, else ``transition:<name>`` in ``roles.yaml``; the data scope; and
segregation of duties — whoever created a record may not pass it beyond its first state unless
the transition says ``allow_creator: true``), that its ``condition`` holds (409), that a required
comment is there (422) and that the e-signature's password is right (403). Then its actions run in
order, in the caller's transaction, under a savepoint: if one refuses (``ActionError``) or the
kernel refuses (``KernelError``), nothing of the transition is kept and the action's message is
the answer. Last the state moves, the version goes up, and a timeline event, the signature and an
audit entry are written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db import utcnow
from app.i18n import _, _l
from app.kernel import audit, users
from app.kernel.errors import KernelError
from app.kernel.items import wall_clock
from app.kernel.periods import PeriodClosed
from app.kernel.users import User
from app.meta import access, accounts, periods, recall, records
from app.meta.checks import SYSTEM_NAMES
from app.meta.expressions import Context, ExpressionError, compile_expression
from app.meta.form_sources import extract
from app.meta.forms import FormDef, label_text
from app.meta.models import Record
from app.meta.records import StaleRecord, ValidationFailed
from app.meta.registry import Registry
from app.workflow import approvals, field_values, side_effects
from app.workflow.actions import ActionContext, ActionError, installed_actions
from app.workflow.errors import (  # noqa: F401  (re-exported)
    SignatureRefused,
    SigningLocked,
    TokenCannotSign,
    TransitionNotAllowed,
    TransitionRefused,
    UnknownTransition,
)
from app.workflow.models import Signature, WorkflowEvent

#: What a signer may declare their signature means; pages show it as ``_(meaning)``, so each is
#: marked here for the translation catalogue.
SIGNATURE_MEANINGS = {
    "approved": _l("approved"),
    "reviewed": _l("reviewed"),
    "responsible": _l("responsible"),
    "verified": _l("verified"),
    "authored": _l("authored"),
}


@dataclass
class RecordsInterface:
    """What actions may do with records without importing the metadata engine."""

    session: Session
    registry: Registry
    user: object
    #: The record and transition whose action creates (``"transfer_request TR-… → approve"``),
    #: kept as the creation's reason in the audit trail
    origin: str | None = None

    def create(self, form: str, data: dict) -> Record:
        return records.create(
            self.session, self.registry, self.user, form, data, by_action=True, origin=self.origin
        )

    def read(self, form: str, record_id) -> Record | None:
        """A record of ``form`` as the rules see it, whatever the user may read: a check such as
        a supplier's licence must hold even for a clerk who cannot open the supplier's card."""
        try:
            record = self.session.get(Record, int(record_id))
        except (TypeError, ValueError):
            return None
        return record if record is not None and record.form == form else None

    def definition(self, form: str) -> dict:
        """The live definition of ``form`` (e.g. its ``allocation`` rules), ``{}`` if none."""
        found = self.registry.form(form)
        return found.spec if found is not None else {}

    def field_label(self, form: str, name: str) -> str:
        """The label of ``form``'s field ``name`` — a line's as ``lines.unit_cost`` — in the
        user's language (``name`` if unknown), for an action's message."""
        found = self.registry.form(form)
        table, _dot, leaf = name.rpartition(".")
        field = found.field(table or leaf) if found is not None else None
        if field is not None and table:
            field = next((child for child in field.fields if child.name == leaf), None)
        return field.label(records.locale()) if field is not None else leaf

    def referring(self, record: Record, form: str, open_only: bool = False) -> list[Record]:
        """The records of ``form`` that name ``record`` in an ``indexed`` field (the count
        sheets of a stocktake), oldest first; ``open_only``: those not yet in a final state."""
        found = self.registry.form(form)
        states = workflow_of(found)["states"] if found is not None else {}
        return [
            other
            for other in records.referring(self.session, self.registry, record)
            if other.form == form and not (open_only and states.get(other.state, {}).get("final"))
        ]

    def owed(self, party: Record) -> Decimal:
        """What ``party`` (a customer's or supplier's card) owes on its account now, as the
        account reports count it (``app/meta/accounts.py``)."""
        return accounts.owed_by(self.session, self.registry.metadata, party)

    def total(
        self, form: str, field: str, *, equal: dict, states: list[str], exclude: int | None = None
    ) -> Decimal:
        """The sum of ``field`` over the records of ``form`` in ``states`` whose fields hold the
        values of ``equal`` (``{"customer": 12}``), less the record ``exclude``: what a
        customer's other open orders come to."""
        data = Record.__table__.c.data
        query = select(func.coalesce(func.sum(extract(data, field, "decimal")), 0)).where(
            Record.form == form, Record.state.in_(states), Record.id != (exclude or 0),
            *[extract(data, name, "integer" if isinstance(value, int) else "text") == value
              for name, value in equal.items()],
        )  # fmt: skip
        return Decimal(self.session.scalar(query))

    def by_number(self, form: str, number, for_update: bool = False) -> Record | None:
        """The record of ``form`` numbered ``number``, whatever the user may read (locked for
        a change with ``for_update``)."""
        if not number:
            return None
        query = select(Record).where(Record.form == form, Record.number == str(number))
        return self.session.scalar(query.with_for_update() if for_update else query)

    def locked(self, form: str, ids: list[int]) -> dict[int, Record]:
        """The records of ``form`` among ``ids``, by id, locked for a change in id order (two
        transactions locking the same records wait for each other instead of deadlocking)."""
        query = select(Record).where(Record.form == form, Record.id.in_(ids)).order_by(Record.id)
        return {record.id: record for record in self.session.scalars(query.with_for_update())}

    def state_label(self, record: Record, state: str | None = None) -> str:
        """The name of ``record``'s state (or another ``state`` of its form) in the user's
        language (the state itself if unknown)."""
        found, state = self.registry.form(record.form), state or record.state
        return found.state_label(state, records.locale()) if found else state

    def recompute(self, record: Record, lines: bool | Collection[str] = False) -> None:
        """Store ``record``'s header formulas anew after an action changed the fields they read
        (a receipt's ``uninvoiced`` once an invoice counted on it); one that cannot be computed
        keeps its stored value. ``lines``: its tables' formulas too (a price change's prices
        before, read again when it takes effect) — ``True`` for every table, or the names of
        the tables (a delivery's rows, not the order lines' prices)."""
        form = self.registry.form(record.form)
        values, failed = records.recomputed(self.session, self.registry, self.user, form, record)
        values = audit.jsonable(values)
        data = dict(record.data or {})
        for field in form.fields:
            if field.type == "formula" and field.name not in failed:
                data[field.name] = values.get(field.name)
            elif field.type == "table" and (lines is True or (lines and field.name in lines)):
                data[field.name] = [
                    _with_formulas(field, index, stored, values[field.name][index], failed)
                    for index, stored in enumerate(data.get(field.name) or [])
                ]
        record.data = data

    def value_for(self, form: str, name: str, value):
        """``value`` as the header field ``name`` of ``form`` stores it (a decimal as its text, a
        date as ISO, as a save through the form would), for an action to write into the record;
        ``FieldNotWritable`` (an ``ActionError`` naming the field) when the form has no such
        field, it is computed, or it cannot hold the value."""
        found = self.registry.form(form)
        field = found.field(name) if found is not None else None
        if field is None:
            shown = found.label(records.locale()) if found is not None else form
            raise FieldNotWritable(
                name, _("%(form)s has no field '%(name)s' to write.", form=shown, name=name)
            )
        try:
            return field_values.fitted(field.spec, value)
        except field_values.ValueRefused as exc:
            raise FieldNotWritable(name, _(
                "%(field)s cannot hold %(value)s: %(reason)s",
                field=field.label(records.locale()), value=_shown(value), reason=exc,
            )) from None  # fmt: skip

    def fire(self, record: Record, transition_name: str, comment: str | None = None) -> None:
        """Fire a transition of another record as a consequence of this one, on this action's
        authority: e.g. cancelling the documents an order's allocation made. Its state and
        condition are checked (and its own actions run), not who may fire it."""
        form = self.registry.form(record.form)
        transition = transition_named(form, transition_name)
        problem = _state_refusal(form, record, transition)
        if problem is not None:
            raise problem
        _apply(self.session, self.registry, form, record, transition, self.user, comment)

    def recall_trace(self, item, lots, units=None) -> list[dict]:
        """The trace of recalled goods with sale documents resolved to their customers."""
        return recall.recall_trace(self.session, item, lots, units)


class FieldNotWritable(ActionError):
    """An action would write a value a field cannot hold, or a field the form does not have;
    ``field`` names it, for the page to mark."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field)


def _shown(value) -> str:
    """A value as a refusal quotes it: text in quotes, anything else as JSON writes it."""
    return f"'{value}'" if isinstance(value, str) else json.dumps(audit.jsonable(value))


#: ``session.info`` key: set while ``fire`` previews a transition, so that every action run in it
#: — approval hooks and the transitions actions fire on other records included — is told so.
PREVIEWING = "lianku.previewing_transition"


# --- reading the definition ----------------------------------------------------------------


def _with_formulas(table, index: int, stored: dict, computed: dict, failed) -> dict:
    """A stored line with its formulas as computed anew (one that failed keeps its value)."""
    fresh = {
        child.name: computed.get(child.name)
        for child in table.fields
        if child.type == "formula" and f"{table.name}[{index}].{child.name}" not in failed
    }
    return {**stored, **fresh}


def workflow_of(form: FormDef) -> dict:
    return form.workflow or {"initial": form.initial_state, "states": {}, "transitions": []}


def _sources(transition: dict) -> list[str]:
    sources = transition["from"]
    return [sources] if isinstance(sources, str) else list(sources)


def transition_named(form: FormDef, name: str) -> dict:
    for transition in workflow_of(form)["transitions"]:
        if transition["name"] == name:
            return transition
    raise UnknownTransition(form.name, name)


def transition_label(form: FormDef, name: str, locale: str | None = None) -> str:
    """What users call transition ``name``: its label in their language (``name`` if unknown)."""
    for transition in workflow_of(form)["transitions"]:
        if transition["name"] == name:
            return label_text(transition.get("label"), locale or records.locale()) or name
    return name


def level_label(form: FormDef, name: str, locale: str | None = None) -> str:
    """What users call approval level ``name``: its label in their language."""
    locale = locale or records.locale()
    for transition in workflow_of(form)["transitions"]:
        for level in approvals.levels_of(transition):
            if level["name"] == name:
                return label_text(level.get("label"), locale) or name
    return name


#: How the timeline names an approval step (``approve:<level>`` …) and the audit an action.
_STEPS = {
    "approve": _l("Approved: %(level)s"),
    "reject": _l("Rejected: %(level)s"),
    "return": _l("Returned to: %(level)s"),
    "comment": _l("Comment: %(level)s"),
    "handover": _l("Handed over: %(level)s"),
}
#: Every action audited on a record (``entity="record"``) but a fired transition's, which reads
#: as the transition: the record's history shows these words, never the code.
_AUDIT_ACTIONS = {
    "create": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "backfill": _l("Formulas recomputed"),  # app.meta.backfill, after a form gained formulas
    "signature_refused": _l("Signature refused (wrong password)"),
    "approval.approve": _l("Approval: approved"),
    "approval.reject": _l("Approval: rejected"),
    "approval.return": _l("Approval: returned"),
    "approval.comment": _l("Approval: comment"),
    "approval.add_approver": _l("Approval: approver added"),
    "approval.withdraw": _l("Approval: withdrawn by its submitter"),
    "approval.handover": _l("Approval: handed over"),
}


def step_label(form: FormDef, step: str, locale: str | None = None) -> str:
    """A timeline event's ``transition`` as users read it: the transition's label, or the
    approval step and its level's label (``approve:manager`` → 已审批：店长审批)."""
    locale = locale or records.locale()
    if step == "approved":
        return str(_("Approval complete"))
    if step == "withdrawn":
        return str(_("Withdrawn by its submitter"))
    kind, _sep, level = step.partition(":")
    if level and kind in _STEPS:
        return str(_STEPS[kind]) % {"level": level_label(form, level, locale)}
    return transition_label(form, step, locale)


def history_label(form: FormDef, entry, locale: str | None = None) -> str:
    """An audit entry's ``action`` on a record as users read it; a fired transition shows its
    label (``transition`` with ``changes.transition = issue`` → 下达召回)."""
    if entry.action == "transition" and isinstance(entry.changes, dict):
        return transition_label(form, str(entry.changes.get("transition")), locale)
    if entry.action in _AUDIT_ACTIONS:
        return str(_AUDIT_ACTIONS[entry.action])
    return transition_label(form, entry.action, locale)


@cache
def _condition(text: str, names: frozenset[str]):
    return compile_expression(text, names)


def condition_names(form_spec: dict) -> frozenset[str]:
    """The names a transition's ``condition`` may read: the form's fields and system names."""
    return frozenset({field["name"] for field in form_spec["fields"]} | set(SYSTEM_NAMES))


# --- the checks ----------------------------------------------------------------------------


def firing_roles(user, form: FormDef, transition: dict) -> list[str]:
    """The roles of ``user`` that may fire ``transition`` somewhere: the workflow's ``roles``
    decide when declared (never a read_only role); else roles.yaml's ``transition:<name>``."""
    roles = transition.get("roles")
    if roles is None:
        return access.granting(user, f"transition:{transition['name']}", form.name)
    definitions = access.role_definitions()
    return [
        name
        for name in getattr(user, "role_names", ())
        if name in roles and not definitions.get(name, {}).get("read_only")
    ]


def _may_fire_by_role(session: Session, user, form: FormDef, record: Record, transition) -> bool:
    """``firing_roles``, only where the record lies in the scope of a role that allows it:
    another role of the user's that lets them see the record does not let them pass it."""
    firing = firing_roles(user, form, transition)
    if not firing:
        return False
    return not form.location_field or access.in_scope(session, user, record.location_id, firing)


def _creator_barred(form: FormDef, record: Record, user, transition: dict) -> bool:
    """Segregation of duties: past the first state, the creator may not pass their own record."""
    if transition.get("allow_creator") or record.state == workflow_of(form)["initial"]:
        return False
    return record.created_by is not None and record.created_by == getattr(user, "id", None)


def refusal(session: Session, form: FormDef, record: Record, user, transition: dict):
    """Why ``user`` may not fire ``transition`` on ``record`` now (an error), or ``None``."""
    if record.state not in _sources(transition):
        return _state_refusal(form, record, transition)
    if not _may_fire_by_role(session, user, form, record, transition):
        return TransitionNotAllowed(
            _(
                "You are not allowed to do '%(transition)s' on this record.",
                transition=transition_label(form, transition["name"]),
            )
        )
    if _creator_barred(form, record, user, transition):
        return TransitionNotAllowed(
            _(
                "You created this record, so someone else must do '%(transition)s'.",
                transition=transition_label(form, transition["name"]),
            )
        )
    return _state_refusal(form, record, transition) or _period_refusal(
        session, form, record, transition
    )


def _changes_the_books(form: FormDef, record: Record, transition: dict) -> bool:
    """Does ``transition`` change what the record counts for in its month: into a void state,
    or into or out of the states its counterparty account counts it in (a confirmed payment
    voided, goods inspected)?"""
    if workflow_of(form)["states"].get(transition["to"], {}).get("void"):
        return True
    if not accounts.counts_on_account(form, record.data):
        return False
    counted = form.spec["account"]["states"]
    return (record.state in counted) != (transition["to"] in counted)


def _period_refusal(session: Session, form: FormDef, record: Record, transition: dict):
    """Undoing a document of a closed month, or counting it only now, would change that month's
    figures: its correction is a new document dated now (a red-letter invoice, a return)."""
    if not _changes_the_books(form, record, transition):
        return None
    try:
        periods.require_open(session, form, record.data, record)
    except PeriodClosed as exc:
        return TransitionRefused(str(exc), exc.field)
    return None


def _state_refusal(form: FormDef, record: Record, transition: dict):
    """Why ``transition`` cannot be fired on ``record`` in its state (with its data), or None."""
    if record.state not in _sources(transition):
        return TransitionRefused(
            _(
                "'%(transition)s' cannot be done from state '%(state)s'.",
                transition=transition_label(form, transition["name"]),
                state=form.state_label(record.state, records.locale()),
            )
        )
    if "condition" in transition:
        expression = _condition(transition["condition"], condition_names(form.spec))
        values = records.record_values(form, record)
        try:
            passed = bool(expression.evaluate(values, Context()))
        except ExpressionError as exc:
            return TransitionRefused(str(exc))
        if not passed:
            return TransitionRefused(
                _(
                    "'%(transition)s' is not possible now: %(reason)s",
                    transition=transition_label(form, transition["name"]),
                    reason=label_text(transition.get("condition_message"), records.locale())
                    or _("its conditions are not met."),
                )
            )
    return None


def submit_rule_errors(
    session: Session, registry: Registry, user, form: FormDef, record: Record
) -> dict[str, list[str]]:
    """The current state's ``submit_rules`` the record breaks, as field errors: a rule's messages
    go under its ``field`` (``_schema`` when it names none); a rule with ``each: <table>`` is
    checked on every line (the line's fields and the record's alike in reach) and reported under
    ``<table>[i].<field>``, so a clerk sees which line lacks what."""
    state = workflow_of(form)["states"].get(record.state, {})
    rules = state.get("submit_rules", [])
    if not rules:
        return {}
    # the rules reach the database as a field's do (lookup, free_stock, ...)
    context = records.expression_context(session, registry, user, form, record)
    values = records.record_values(form, record)
    language, names = records.locale(), condition_names(form.spec)
    broken: dict[str, list[str]] = {}
    for rule in rules:
        text = label_text(rule["message"], language)
        field, table = rule.get("field"), rule.get("each")
        if table is None:
            if not _holds(_condition(rule["expr"], names), values, context):
                broken.setdefault(field or "_schema", []).append(text)
            continue
        expression = _condition(rule["expr"], names | {f.name for f in form.field(table).fields})
        for index, line in enumerate(values.get(table) or []):
            if not _holds(expression, {**values, **line}, context):
                path = f"{table}[{index}]" + (f".{field}" if field else "")
                broken.setdefault(path, []).append(text)
    return broken


def _holds(expression, values: dict, context: Context) -> bool:
    try:
        return bool(expression.evaluate(values, context))
    except ExpressionError:
        return False


def available(session: Session, form: FormDef, record: Record, user) -> list[dict]:
    """The transitions ``user`` may fire on ``record`` now (the buttons of its page)."""
    return [
        transition
        for transition in workflow_of(form)["transitions"]
        if refusal(session, form, record, user, transition) is None
    ]


def done_by_others(session: Session, form: FormDef, record: Record, user) -> list[tuple]:
    """What others may do on ``record`` now and ``user`` may not: each transition its state and
    data allow, with the definitions of the roles that may fire it, and whether it is only
    segregation of duties that stops ``user`` (they created the record). The page says it under
    its buttons, so the clerk who picked a hospital's goods reads that a manager reviews them
    next, and the creator whom segregation of duties bars reads why another passes it on."""
    definitions = access.role_definitions()
    others = []
    for transition in workflow_of(form)["transitions"]:
        if record.state not in _sources(transition) or _state_refusal(form, record, transition):
            continue
        by_role = _may_fire_by_role(session, user, form, record, transition)
        barred = _creator_barred(form, record, user, transition)
        if by_role and not barred:
            continue  # the user's own button
        permission = f"transition:{transition['name']}"
        names = transition.get("roles") or [
            name
            for name, role in definitions.items()
            if access.role_allows(role, permission, form.name)
        ]
        roles = [definitions[name] for name in names
                 if name in definitions and not definitions[name].get("read_only")]  # fmt: skip
        if roles:
            others.append((transition, roles, by_role and barred))
    return others


# --- signatures ------------------------------------------------------------------------------


def content_hash(record: Record) -> str:
    """SHA-256 of the record's canonical content: what the signer saw when signing."""
    canonical = json.dumps(
        {"form": record.form, "number": record.number, "state": record.state,
         "data": audit.jsonable(record.data or {})},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )  # fmt: skip
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_signature(session: Session, user, signature) -> tuple[User, str]:
    """The signer and the meaning they chose, once their password is confirmed. An API token
    is refused first, whatever it sends: it cannot sign, and its refusal is no wrong password."""
    if getattr(user, "is_api_token", False):
        raise TokenCannotSign()
    if not isinstance(signature, dict):
        signature = {}
    errors: dict[str, list[str]] = {}
    password = signature.get("password")
    meaning = signature.get("meaning")
    if not password:
        errors["signature.password"] = [_("Enter your password to sign.")]
    if meaning not in SIGNATURE_MEANINGS:
        errors["signature.meaning"] = [
            _(
                "Choose what your signature means: %(choices)s.",
                choices=", ".join(_meaning(code) for code in SIGNATURE_MEANINGS),
            )
        ]
    if errors:
        raise ValidationFailed(errors)
    signer = session.get(User, getattr(user, "id", None)) if isinstance(user, User) else None
    if signer is not None and signer.is_locked():
        raise SigningLocked(signer.locked_until)
    if signer is None or not signer.check_password(str(password)):
        raise SignatureRefused()
    users.signed_rightly(signer)
    return signer, meaning


def _meaning(code: str) -> str:
    """A meaning as a caller sends it, with what it means in the reader's language (批准)."""
    label = str(SIGNATURE_MEANINGS[code])
    return code if label == code else f"{code} = {label}"


def sign(session: Session, record: Record, event: WorkflowEvent, signer: User, meaning: str):
    """Store the signature of ``signer`` on ``event`` with the hash of the record's content."""
    session.add(
        Signature(
            record_id=record.id, event_id=event.id, user_id=signer.id,
            full_name=signer.full_name or signer.username, meaning=meaning,
            content_sha256=content_hash(record),
        )
    )  # fmt: skip
    session.flush()


def audit_refused_signature(session: Session, user, form: str, record_id: int, transition: str):
    """Audit a wrong signing password (in a transaction of its own, after the rollback) and
    count it against the signer's account, as a wrong sign-in is."""
    records.audit_as(
        session, user, "signature_refused", "record", record_id,
        changes={"form": form, "transition": transition},
    )  # fmt: skip
    users.count_failed_signature(session, user.id)


# --- firing ----------------------------------------------------------------------------------


def fire(
    session: Session,
    registry: Registry,
    record: Record,
    transition_name: str,
    user,
    comment: str | None = None,
    signature: dict | None = None,
    version=None,
    preview: bool = False,
) -> WorkflowEvent:
    """Fire ``transition_name`` on ``record`` (locked by the caller, e.g. ``records.get(...,
    for_update=True)``) inside the caller's transaction; raise a typed error and write nothing
    when it is refused. A ``preview`` (rolled back by the caller) neither asks for nor checks
    the e-signature: only a real signing may try a password, and every wrong one is audited."""
    form = registry.form(record.form)
    if form is None:
        raise records.FormNotFound(record.form)
    transition = transition_named(form, transition_name)
    if form.location_field:  # chain-wide master data (a customer card) is everyone's to see
        access.require_location(session, user, record.location_id)
    if version is not None:
        _check_version(session, record, version)
    problem = refusal(session, form, record, user, transition)
    if problem is not None:
        raise problem
    broken = (
        {} if transition.get("skip_submit_rules")
        else submit_rule_errors(session, registry, user, form, record)
    )  # fmt: skip
    if broken:
        raise ValidationFailed(broken)
    if comment is not None and not isinstance(comment, str):
        raise ValidationFailed({"comment": [_("Write the comment as text.")]})
    comment = (comment or "").strip() or None
    if transition.get("comment") == "required" and comment is None:
        raise ValidationFailed({"comment": [_("Please give a reason in the comment.")]})
    signer = meaning = None
    if transition.get("signature") and not preview:
        signer, meaning = check_signature(session, user, signature)
    savepoint = session.begin_nested()
    if preview:
        session.info[PREVIEWING] = True
    try:
        if "approval" in transition and approvals.needed(form, record, transition):
            event = approvals.start(session, registry, form, record, transition, user, comment)
        else:
            event = _apply(session, registry, form, record, transition, user, comment)
        if signer is not None:
            sign(session, record, event, signer, meaning)
    except (ActionError, KernelError) as exc:
        savepoint.rollback()
        raise TransitionRefused(str(exc), getattr(exc, "field", None)) from None
    except StaleDataError:
        savepoint.rollback()
        raise StaleRecord(record, None) from None
    except BaseException:
        savepoint.rollback()
        raise
    finally:
        if preview:
            session.info.pop(PREVIEWING, None)
    savepoint.commit()
    return event


def _check_version(session: Session, record: Record, version) -> None:
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationFailed({"version": [_("Not a valid number.")]}) from None
    if version != record.version:
        saver = session.get(User, record.updated_by) if record.updated_by else None
        raise StaleRecord(record, saver.full_name if saver else None)


def run_actions(
    session, registry, record, transition: dict, user, comment, steps=None, target_state=None
) -> ActionContext:
    """Run the transition's actions (or the given ``steps`` of it, e.g. its approval's
    ``on_pending``) in order, each only where its ``when`` holds on the record; the first refusal
    raises and stops the rest. On a preview (``fire(preview=True)``) the actions are told so
    (``context.preview``): they skip what they would do outside the database."""
    registry_of_actions = installed_actions()
    form = registry.form(record.form)
    origin = _origin(record, transition)
    context = ActionContext(
        session=session, record=record, user=user, params={}, transition=transition["name"],
        comment=comment,
        records=RecordsInterface(session, registry, user, origin=origin),
        target_state=target_state or transition["to"],
        preview=bool(session.info.get(PREVIEWING)),
    )  # fmt: skip
    with side_effects.audited(session, user, record, origin):
        for step in transition.get("actions", []) if steps is None else steps:
            if "when" in step and not _step_applies(form, record, step["when"]):
                continue
            context.params = dict(step.get("params", {}))
            keys = set(record.data or {})
            try:
                registry_of_actions.get(step["action"]).run(context)
            except KernelError as refused:
                _name_the_field(refused, context.params, form)
                raise
            _refuse_undeclared_keys(form, record, keys, step["action"])
    return context


def _refuse_undeclared_keys(form: FormDef, record: Record, before: set, action: str) -> None:
    """An action wrote a header key its form does not declare: kept in ``records.data`` but
    shown by neither the API nor the pages, it would be lost silently (a plugin's ERP
    reference); refused instead, for whoever installed the plugin to fix it or the form."""
    written = set(record.data or {}) - before - {field.name for field in form.fields}
    if written:
        raise ActionError(_(
            "The action %(action)s wrote %(names)s, which %(form)s does not have as a field: it "
            "would be kept but never shown. Ask an administrator to add the field to the form or "
            "to correct the action.",
            action=action, names=", ".join(sorted(written)), form=form.label(records.locale()),
        ))  # fmt: skip


def _name_the_field(refused: KernelError, params: dict, form: FormDef) -> None:
    """A kernel refusal names the form's field the step maps the kernel's ``field`` to, where
    the page marks it and an integration reads it: one line's — ``lines[2].quantity`` — when the
    step posts a table that has the field, else the header's. The kernel names the line of any
    movement it refuses, also for what the whole posting shares: a transfer in received at a
    location being counted is refused on its header's ``to_location``, its lines have none."""
    table, name = params.get("lines"), params.get(refused.field or "")
    if not isinstance(name, str):
        return
    lines = form.field(table) if isinstance(table, str) else None
    if refused.line and lines is not None and any(f.name == name for f in lines.fields):
        refused.field = f"{table}[{refused.line - 1}].{name}"
    elif form.field(name) is not None:
        refused.field = name


def _origin(record: Record, transition: dict) -> str:
    """Which record's transition made a record, for its creation's audit entry: language-neutral
    (form, number and transition names), as the audit trail keeps it (``origin_label`` reads it
    back)."""
    return f"{record.form} {record.number or record.id} → {transition['name']}"


def origin_label(registry: Registry, reason: str, locale: str | None = None) -> str:
    """A creation's ``_origin`` as users read it: "made by Transfer request TQ-S1-… (Submit)";
    any other reason as written."""
    head, arrow, transition = reason.partition(" → ")
    name, _space, number = head.partition(" ")
    form = registry.form(name) if arrow and number else None
    if form is None:
        return reason
    locale = locale or records.locale()
    return _(
        "made by %(form)s %(number)s (%(transition)s)",
        form=form.label(locale),
        number=number,
        transition=transition_label(form, transition, locale),
    )


def _step_applies(form: FormDef, record: Record, text: str) -> bool:
    """Whether an action's ``when`` holds on the record as the actions before it left it."""
    expression = _condition(text, condition_names(form.spec))
    try:
        return bool(expression.evaluate(records.record_values(form, record), Context()))
    except ExpressionError as exc:
        raise ActionError(str(exc)) from None


def _apply(session, registry, form, record, transition, user, comment) -> WorkflowEvent:
    run_actions(session, registry, record, transition, user, comment)
    old_state = record.state
    record.state = transition["to"]
    states = workflow_of(form)["states"]
    void = bool(states.get(record.state, {}).get("void"))
    if void != bool(states.get(old_state, {}).get("void")):
        records.hold_unique_values(session, form, record, holds=not void)
    approvals.abandon(session, record, old_state, workflow_of(form)["transitions"])
    record.updated_at = utcnow()
    record.updated_by = getattr(user, "id", None)
    session.flush()
    event = WorkflowEvent(
        record_id=record.id, transition=transition["name"], from_state=old_state,
        to_state=record.state, user_id=getattr(user, "id", None), comment=comment,
    )  # fmt: skip
    session.add(event)
    session.flush()
    records.audit_as(
        session, user, "transition", "record", record.id,
        changes={"state": [old_state, record.state], "transition": transition["name"],
                 "data": record.data},
        reason=comment,
    )  # fmt: skip
    return event


def timeline(session: Session, record: Record) -> list[tuple[WorkflowEvent, User | None, list]]:
    """Every fired step of ``record``, oldest first, with who fired it and its signatures."""
    events = session.scalars(
        select(WorkflowEvent)
        .where(WorkflowEvent.record_id == record.id)
        .order_by(WorkflowEvent.at, WorkflowEvent.id)
    ).all()
    signatures: dict[int, list[Signature]] = {}
    for signature in session.scalars(select(Signature).where(Signature.record_id == record.id)):
        signatures.setdefault(signature.event_id, []).append(signature)
    return [
        (event, session.get(User, event.user_id) if event.user_id else None,
         signatures.get(event.id, []))
        for event in events
    ]  # fmt: skip


def _kept_as_signed(session: Session, record: Record) -> str | None:
    """A signed record is not deleted: its signatures are evidence an inspector reads, and
    deleting the record would delete them with it."""
    first = session.scalar(
        select(Signature).where(Signature.record_id == record.id).order_by(Signature.id).limit(1)
    )
    if first is None:
        return None
    return _(
        "%(name)s signed this record at %(time)s: a signed record is kept; cancel or deactivate "
        "it instead.",
        name=first.full_name,
        time=wall_clock(first.signed_at),
    )


records.DELETE_GUARDS.append(_kept_as_signed)
