"""Filling in the formula fields a record was saved without (补算公式字段).

A record's formulas are computed when it is saved. When an admin adds a formula field to a form
(a line's amount, a document's total), the records saved before have no value for it, and every
list, report and account that reads it sees a blank. As Odoo does for a new stored computed
field, ``fill_formulas`` computes the missing values of the existing records by the form's current
rules. Only a value a record lacks is written: a stored value, however old, is what was saved and
approved, and stays. Each record filled is audited like an edit (action ``backfill``).

The ``formula_backfill`` job does it: queued when a published form version adds formula fields
(``app.meta.versions.publish``), and by hand for every form (``lianku enqueue formula_backfill
--run``) after a shipped form gained one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.i18n import _, _l
from app.kernel import audit, jobs
from app.kernel.users import User
from app.meta import access, records
from app.meta.forms import FormDef
from app.meta.models import Record
from app.meta.registry import Registry

#: Records read and filled per batch (one statement each).
BATCH = 500


def _recalculator() -> access.JobActor:
    """Who fills formulas when no person started it (cron, the CLI): an admin over the whole
    chain, so a formula's ``lookup`` sees what it saw when the record was saved."""
    return access.JobActor("backfill", "补算公式 / formula backfill", "admin")


def formula_paths(form: FormDef) -> set[str]:
    """The form's formula fields: ``total``, and ``lines.amount`` for a line's."""
    paths = {field.name for field in form.fields if field.type == "formula"}
    for table in form.fields:
        if table.type == "table":
            paths |= {f"{table.name}.{f.name}" for f in table.fields if f.type == "formula"}
    return paths


def lacking(form: FormDef, data: dict) -> bool:
    """Whether a record's data has no value stored for one of the form's formulas."""
    for path in formula_paths(form):
        table, _dot, name = path.rpartition(".")
        if not table and name not in data:
            return True
        if table and any(name not in line for line in data.get(table) or []):
            return True
    return False


def fill_record(session: Session, registry: Registry, user, form: FormDef, record: Record) -> bool:
    """Store the formula values ``record`` lacks; whether any was."""
    stored = record.data or {}
    if not lacking(form, stored):
        return False
    values, failed = records.recomputed(session, registry, user, form, record)
    values = audit.jsonable(values)
    new, changes = dict(stored), {}
    for path in sorted(formula_paths(form)):
        table, _dot, name = path.rpartition(".")
        if not table:
            if name not in stored and name not in failed and values.get(name) is not None:
                new[name] = values[name]
                changes[name] = [None, values[name]]
            continue
        lines = [dict(line) for line in new.get(table) or []]
        computed = values.get(table) or []
        for index, line in enumerate(lines):
            value = computed[index].get(name) if index < len(computed) else None
            if name not in line and f"{table}[{index}].{name}" not in failed and value is not None:
                line[name] = value
        if lines != (new.get(table) or []):
            changes[table] = [new.get(table), lines]
            new[table] = lines
    if not changes:
        return False
    record.data = new
    records.audit_as(session, user, "backfill", "record", record.id, changes=changes)
    return True


def fill_formulas(session: Session, registry: Registry, user, form_name: str) -> int:
    """Fill the formulas the records of ``form_name`` lack (the caller commits); how many
    records were filled."""
    form = registry.form(form_name)
    if form is None:
        raise records.FormNotFound(form_name)
    if not formula_paths(form):
        return 0
    filled, after = 0, 0
    while True:
        batch = session.scalars(
            select(Record)
            .where(Record.form == form_name, Record.id > after)
            .order_by(Record.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return filled
        filled += sum(fill_record(session, registry, user, form, record) for record in batch)
        session.flush()
        after = batch[-1].id


@jobs.handler("formula_backfill", label=_l("Formula backfill"), time_limit=3600)
def backfill_job(run: jobs.JobRun) -> dict:
    """Fill the formulas the records of ``form`` (every form when none is named) lack, as the
    person who started it, each form in a transaction of its own."""
    from app.config import load_settings
    from app.meta.registry import build

    settings = load_settings()
    with run.database.session() as session:  # the live definitions
        registry = build(settings.metadata_dir, settings.workflows_dir, session)
    names = [run.params["form"]] if run.params.get("form") else sorted(registry.forms)
    filled = {}
    for index, name in enumerate(names):
        run.progress(100 * index // len(names), name)
        with run.database.transaction() as session:
            user_id = run.params.get("user_id")
            user = session.get(User, user_id) if user_id else _recalculator()
            if user is None:
                raise jobs.JobFailed(_("The user who started this no longer exists."))
            count = fill_formulas(session, registry, user, name)
        if count:
            filled[name] = count
    run.progress(100, _("%(count)s records filled.", count=sum(filled.values())))
    return {"filled": filled}
