"""Generated pages: list, create, edit and detail of every metadata-defined form.

Templates come from ``form_templates/`` (a form may name its own with ``template:``); the page
recomputes formulas and visibility through ``/forms/<form>/evaluate`` (htmx) — the server decides.
"""

from __future__ import annotations

import io
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from app.i18n import _, _l
from app.kernel import queries
from app.kernel.audit import AuditEntry
from app.kernel.jobs import Job
from app.kernel.retry import retrying
from app.meta import access, imports, links, makes, records, versions
from app.meta.access import PermissionDenied
from app.meta.attachments import Attachment
from app.meta.forms import FormDef, label_text
from app.meta.records import RecordError, RecordNotFound, ValidationFailed
from app.web import barcodes
from app.web.flow_diagram import diagram
from app.web.forms_common import INDEXED_NAME, edited_version, payload_from_form, registry
from app.web.i18n import local_time
from app.web.session import db_session
from app.workflow import approvals, engine

bp = Blueprint("forms", __name__, url_prefix="/forms")

#: The stock statuses as a clerk reads them under a record's stock movements.
STOCK_STATUS = {
    "awaiting_inspection": _l("Awaiting inspection"),
    "available": _l("Available"),
    "nonconforming": _l("Nonconforming"),
    "in_transit": _l("In transit"),
}


def _form(name: str) -> FormDef:
    form = registry().form(name)
    if form is None:
        abort(404)
    return form


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _locale() -> str:
    return records.locale()


class Display:
    """Formats stored values for people: option labels (of any field that declares options),
    link labels (scoped), yes/no."""

    def __init__(self, form: FormDef):
        self.form, self.cache = form, {}

    def __call__(self, field, value) -> str:
        if value is None or value == "" or value == []:
            return ""
        if field.options:  # a select, or a formula giving codes (e.g. a sale's kind)
            labels = {o["value"]: o["label"] for o in field.options}
            values = value if isinstance(value, list) else [value]
            return ", ".join(label_text(labels.get(v), _locale()) or str(v) for v in values)
        if field.yes_no:
            return _("Yes") if value else _("No")
        if field.type in ("link", "current_user"):
            target = field.get("link") or "user"
            key = (target, str(value))
            if key not in self.cache:
                form = registry().form(target)
                choice = links.resolve(
                    db_session(),
                    current_user,
                    target,
                    value,
                    form.title_field if form else None,
                    everywhere=field.get("link_scope") == "all",
                )
                self.cache[key] = choice.label if choice else f"#{value}"
            return self.cache[key]
        if field.type in ("datetime", "current_time"):  # stored in UTC, read on the wall clock
            return local_time(value, seconds=True)
        if field.type == "attachment":
            attachment = db_session().get(Attachment, int(value))
            if attachment is None:
                return f"#{value}"
            url = url_for("attachments.download", attachment_id=attachment.id)
            return Markup('<a href="{}">{}</a>').format(url, attachment.filename)
        return str(value)


def _render(form: FormDef, template: str | list[str], **context):
    """Render ``template`` (or the first of a list that exists) for ``form``."""
    names = [form.spec["template"]] if form.spec.get("template") and template == "form.html" else []
    if template == "form.html" and "defaults" not in context:
        context["defaults"] = _defaults_shown(form, context.get("values") or {},
                                              context.get("record"))  # fmt: skip
    return render_template(
        [*names, *([template] if isinstance(template, str) else template)],
        form=form,
        locale=_locale(),
        display=Display(form),
        can=lambda action: access.can(current_user, action, form.name),
        **{"locked": set(), **context},
    )


def _defaults_shown(form: FormDef, values: dict, record) -> set[str]:
    """The inputs a form page opens marked as holding their defaults (``data-default``): they
    follow their inputs until the user types into them (``records._Run.forget_defaults``).
    Those whose value is its default for the values shown (a new record's first values, a draft
    reopened: ``records.holding_defaults``); on a refused save shown again, also those the page
    had marked, which the save computed again (what it shows is as sent)."""
    session = db_session()
    held = records.holding_defaults(session, registry(), current_user, form, values, record)
    return held | (_marked_defaults(request.form) if request.method == "POST" else set())


def _marked_defaults(data) -> set[str]:
    """The inputs the page sent marked as holding their defaults (``_defaults``)."""
    return {name.strip() for name in (data.get(records.DEFAULTS) or "").split(",")} - {""}


def _guard(action: str, form: str) -> None:
    try:
        access.require(current_user, action, form)
    except PermissionDenied:
        abort(403)


@bp.get("/<form>/")
@login_required
def list_view(form):
    definition = _form(form)
    _guard("read", form)
    args = request.args
    filters = {
        key: value
        for key, value in args.items()
        if key not in ("q", "sort", "page") and value != "" and definition.field(key)
    }
    try:
        page = records.list_records(
            db_session(),
            registry(),
            current_user,
            form,
            filters=filters,
            q=args.get("q") or None,
            sort=args.get("sort") or None,
            page=int(args.get("page", 1) or 1),
        )
    except (ValidationFailed, ValueError):
        abort(400)
    columns = definition.list_columns
    filterable = [
        f
        for f in definition.fields
        if f.type in ("select", "link", "boolean") and f.name in columns
    ]
    return _render(
        definition,
        "list.html",
        page=page,
        columns=columns,
        filters=filters,
        filterable=filterable,
        q=args.get("q", ""),
        sort=args.get("sort") or definition.default_sort,
    )


@bp.route("/<form>/new", methods=["GET", "POST"])
@login_required
def new(form):
    definition = _form(form)
    _guard("create", form)
    session = db_session()
    if request.method == "POST":
        payload = payload_from_form(definition, request.form)
        try:
            record = records.create(
                session, registry(), current_user, form, payload, from_client=True
            )
            session.commit()
        except ValidationFailed as exc:
            session.rollback()
            values, visible = _shown_again_refused(definition, payload)
            return _render(definition, "form.html", values=values, errors=exc.errors, record=None,
                           visible=visible), 422  # fmt: skip
        flash(_("Saved."), "info")
        return redirect(url_for("forms.detail", form=form, record_id=record.id))
    preview = records.evaluate(session, registry(), current_user, form, _made_draft(form))
    session.rollback()
    return _render(
        definition,
        "form.html",
        values=_jsonable(preview.values),
        errors={},
        record=None,
        visible=preview.visible,
    )


@bp.route("/<form>/import", methods=["GET", "POST"])
@login_required
def import_view(form):
    """Upload a filled-in template: every row a record, all or none unless the user keeps the
    valid rows; refusals by row and column. A big file is imported by a job."""
    definition = _form(form)
    _guard("create", form)
    errors = {}
    if request.method == "POST":
        session = db_session()
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValidationFailed({"file": [_("Choose a file.")]})
            outcome = imports.start(
                session, registry(), current_user, form,
                upload.stream.read(imports.MAX_BYTES + 1),
                keep_valid=bool(request.form.get("keep_valid")),
                files_dir=Path(current_app.instance_path), language=_locale(),
            )  # fmt: skip
            session.commit()
        except ValidationFailed as exc:
            session.rollback()
            errors = exc.errors
        else:
            if isinstance(outcome, Job):
                flash(_("The file is being imported by a job: its progress is shown here."), "info")
                return redirect(url_for("jobs.index"))
            errors = outcome.errors
            flash(_("%(count)s records imported.", count=len(outcome.records)), "info")
            if not errors:
                return redirect(url_for("forms.list_view", form=form))
    page = _render(
        definition,
        "import.html",
        columns=imports.importable_columns(definition),
        lines_hint=imports.LINES_HINT,
        refusals=imports.error_lines(definition, errors, _locale()),
        direct_rows=imports.DIRECT_ROWS,
        max_rows=imports.MAX_ROWS,
    )
    return page, 422 if errors and request.method == "POST" else 200


@bp.get("/<form>/import-template.xlsx")
@login_required
def import_template(form):
    definition = _form(form)
    _guard("create", form)
    return send_file(
        io.BytesIO(imports.template(definition, _locale())),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"{form}-import.xlsx",
    )


def _jsonable(values: dict) -> dict:
    from app.kernel.audit import jsonable

    return jsonable(values)


def _record(form: str, record_id: int):
    try:
        return records.get(db_session(), registry(), current_user, form, record_id)
    except RecordNotFound:
        abort(404)
    except PermissionDenied:
        abort(403)


def _made_draft(form: str) -> dict:
    """A new record made from another (``?from=purchase_order&record=7``): its draft, filled
    from the source by the source form's ``makes``; empty for a blank new record."""
    source, record_id = request.args.get("from"), request.args.get("record", type=int)
    if not source or record_id is None:
        return {}
    reg, session = registry(), db_session()
    try:
        record = records.get(session, reg, current_user, source, record_id)
        return makes.make(session, reg, current_user, reg.form(source), record, form)
    except RecordError as exc:
        abort(exc.status)
    except PermissionDenied:
        abort(403)


@bp.get("/by-number/<path:number>")
@login_required
def by_number(number):
    """The document a number names, opened on its form's page as the user may see it (the
    ledger, the stock card and the GSP books name documents by number); 404 if none."""
    record = records.by_number(db_session(), registry(), current_user, number)
    if record is None:
        abort(404)
    return redirect(url_for("forms.detail", form=record.form, record_id=record.id))


@bp.get("/<form>/<int:record_id>")
@login_required
def detail(form, record_id):
    definition = _form(form)
    record = _record(form, record_id)
    history = (
        db_session()
        .scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "record", AuditEntry.entity_id == str(record.id))
            .order_by(AuditEntry.id)
        )
        .all()
    )
    session = db_session()
    movements = queries.document_movements(session, record.number) if record.number else []
    linked = [
        (registry().form(other.form), other, _reachable(session, other))
        for other in records.referring(session, registry(), record)
    ]
    retired = [
        (" · ".join(label_text(part, _locale()) for part in label) if isinstance(label, tuple)
         else label_text(label, _locale()), values)
        for label, values in versions.retired_values(session, registry(), definition, record)
    ]  # fmt: skip
    return _render(
        definition, "detail.html", record=record, history=history, movements=movements,
        linked=linked, retired=retired,
        stock_status=STOCK_STATUS,
        values=records.visible_data(definition, record),
        transitions=engine.available(session, definition, record, current_user),
        done_by_others=engine.done_by_others(session, definition, record, current_user),
        makes=makes.offered(definition, record, current_user),
        may_edit=records.editable(definition, record, partial_allowed=True),
        may_delete=records.editable(definition, record),
        timeline=engine.timeline(session, record), meanings=engine.SIGNATURE_MEANINGS,
        step_label=engine.step_label, history_label=engine.history_label,
        origin_label=lambda reason: engine.origin_label(registry(), reason),
        label_text=label_text, my_tasks=approvals.my_tasks_on(session, current_user, record),
        may_withdraw=approvals.may_withdraw(session, definition, record, current_user),
        level_label=lambda task: engine.level_label(definition, task.level_name),
        diagram=diagram(definition) if definition.workflow else None, current=record.state,
    )  # fmt: skip


def _reachable(session, other) -> bool:
    """May the user open ``other`` (its form's read right and its location in scope)?"""
    return access.can(current_user, "read", other.form) and access.in_scope(
        session, current_user, other.location_id
    )


@bp.get("/<form>/<int:record_id>/print")
@login_required
def print_view(form, record_id):
    """A printable record with its e-signatures (meaning, signer, time, content hash) and
    barcodes; ``form_templates/print/<form>.html`` lays out a form's own document (delivery
    note, transfer note, receiving record), else the generic ``print.html``."""
    definition = _form(form)
    record = _record(form, record_id)
    values = records.visible_data(definition, record)
    return _render(
        definition, [f"print/{form}.html", "print.html"], record=record, values=values,
        added=_added_fields(definition, values),
        timeline=engine.timeline(db_session(), record), paper=_paper(),
        barcode=barcodes.code128, line_facts=barcodes.line_facts,
    )  # fmt: skip


def _added_fields(definition, values: dict) -> list:
    """The header fields an admin added to a shipped form (a vehicle plate on the transfer
    note): a form's own print layout names the fields it was made for, and prints these after
    them, so what a chain adds to its documents is on the paper too."""
    shipped = registry().shipped_field_names(definition.name)
    if shipped is None:
        return []
    return [
        field for field in definition.fields
        if field.name not in shipped and field.type != "table" and not field.get("hidden")
        and field.name in values
    ]  # fmt: skip


def _paper() -> str:
    """``?paper=80mm`` prints on a receipt printer's roll; anything else on A4."""
    return "80mm" if request.args.get("paper") == "80mm" else "a4"


@bp.post("/<form>/<int:record_id>/transitions/<transition>")
@login_required
def fire(form, record_id, transition):
    """A transition button of the detail page (comment, version, signature fields)."""
    _form(form)
    session = db_session()
    signature = {"password": request.form.get("password"),
                 "meaning": request.form.get("meaning")}  # fmt: skip

    def once():
        record = records.get(session, registry(), current_user, form, record_id, for_update=True)
        engine.fire(
            session, registry(), record, transition, current_user,
            comment=request.form.get("comment"), signature=signature,
            version=request.form.get("version"),
        )  # fmt: skip
        session.commit()

    try:
        # as the API does: a transition PostgreSQL aborted to break a deadlock is run again
        retrying(once, rollback=session.rollback)
    except RecordNotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except engine.SignatureRefused as exc:
        session.rollback()
        engine.audit_refused_signature(session, current_user, form, record_id, transition)
        session.commit()
        flash(str(exc), "error")
    except ValidationFailed as exc:
        session.rollback()
        flash("; ".join(_named_errors(registry().form(form), exc.errors)), "error")
    except RecordError as exc:
        session.rollback()
        if exc.status == 404:
            abort(404)
        flash(str(exc), "error")
    else:
        flash(_("Done."), "info")
    return redirect(url_for("forms.detail", form=form, record_id=record_id))


def _named_errors(form: FormDef, errors: dict[str, list[str]]) -> list[str]:
    """A refused transition's field errors as the page says them: each message after the field
    it is about (``Suggested lines 5 · Supplier: …``), so the clerk knows which line to fix."""
    said, locale = [], _locale()
    for path, messages in errors.items():
        match = INDEXED_NAME.match(path)
        table = form.field(match.group(1)) if match else None
        child = table.child(match.group(3)) if table else None
        field = form.field(path)
        if child is not None:
            line = int(match.group(2)) + 1
            where = f"{table.label(locale)} {line} · {child.label(locale)}: "
        elif field is not None:
            where = f"{field.label(locale)}: "
        else:
            where = ""
        said.extend(where + message for message in messages)
    return said


@bp.route("/<form>/<int:record_id>/edit", methods=["GET", "POST"])
@login_required
def edit(form, record_id):
    definition = _form(form)
    _guard("update", form)
    record = _record(form, record_id)
    session = db_session()
    locked = records.locked_fields(definition, record, current_user)
    if request.method == "POST":
        payload = _without_unsent(payload_from_form(definition, request.form), request.form, locked)
        try:
            records.update(
                session,
                registry(),
                current_user,
                form,
                record_id,
                payload,
                request.form.get("version"),
            )
            session.commit()
        except ValidationFailed as exc:
            session.rollback()
            typed, visible = _shown_again_refused(definition, _unlocked(payload, locked), record)
            return _render(definition, "form.html", values=typed, errors=exc.errors,
                           record=record, visible=visible, locked=locked), 422  # fmt: skip
        except RecordError as exc:  # a locked field changed (403) says which, in the flash
            session.rollback()
            flash(str(exc), "error")
            typed, visible = _shown_again_refused(definition, _unlocked(payload, locked), record)
            return _render(definition, "form.html", values=typed, errors={},
                           record=record, visible=visible, locked=locked), exc.status  # fmt: skip
        flash(_("Saved."), "info")
        return redirect(url_for("forms.detail", form=form, record_id=record_id))
    # the page opens with the fields the record's values show (a walk-in sale hides the
    # cold-chain transport), as the live recompute would after the first change
    shown = records.evaluate(session, registry(), current_user, form, {}, record_id).visible
    session.rollback()
    return _render(
        definition,
        "form.html",
        values=record.data,
        errors={},
        record=record,
        visible=shown,
        locked=locked,
    )


def _shown_again_refused(definition: FormDef, payload: dict, record=None) -> tuple[dict, dict]:
    """A refused save's page: every value as the user typed it (never replaced by what the server
    would fall back on), with what the server computes of them — formulas, totals, the fields
    the rules show or hide — as the live recompute had shown them before the save; and the
    visibility. (It was drawn from the typed values alone: totals blank, hidden fields shown.)"""
    session = db_session()
    record_id = record.id if record is not None else None
    preview = records.evaluate(session, registry(), current_user, definition.name, payload,
                               record_id)  # fmt: skip
    session.rollback()
    values = _jsonable(preview.values)
    typed = _jsonable(payload)
    for field in definition.fields:
        if field.type == "table" and field.name in typed:
            lines = values.get(field.name) or []
            values[field.name] = [
                {**(lines[index] if index < len(lines) else {}),
                 **{child.name: line[child.name] for child in field.fields
                    if not child.computed and child.name in line}}
                for index, line in enumerate(typed[field.name])
            ]  # fmt: skip
        elif not field.computed and field.name in typed:
            values[field.name] = typed[field.name]
    return values, preview.visible


def _without_unsent(payload: dict, data, locked: set[str]) -> dict:
    """``payload`` less the locked fields the page did not send: the edit page shows them as
    text, not inputs, so their absence (or the empty list ``payload_from_form`` gives a table
    without rows) says nothing. A locked field the request does carry — a page opened before the
    record changed state — stays, and the save refuses its change (403, naming the field) rather
    than dropping it and saying "Saved."."""
    sent = {key.split("[", 1)[0] for key in data}
    return {key: value for key, value in payload.items() if key not in locked or key in sent}


def _unlocked(payload: dict, locked: set[str]) -> dict:
    """A refused save's values to show again: the locked fields as the record holds them."""
    return {key: value for key, value in payload.items() if key not in locked}


@bp.post("/<form>/<int:record_id>/withdraw")
@login_required
def withdraw(form, record_id):
    """The detail page's 撤回 button: its submitter takes the record back from its approvers."""
    _form(form)
    session = db_session()
    try:
        record = records.get(session, registry(), current_user, form, record_id, for_update=True)
        approvals.withdraw(session, registry(), record, current_user, request.form.get("comment"))
        session.commit()
    except RecordNotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except RecordError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("Withdrawn: it is back with you."), "info")
    return redirect(url_for("forms.detail", form=form, record_id=record_id))


@bp.post("/<form>/<int:record_id>/delete")
@login_required
def delete(form, record_id):
    _form(form)
    _guard("delete", form)
    session = db_session()
    try:
        version = edited_version(request.form.get("version"))
        records.delete(session, registry(), current_user, form, record_id, version)
        session.commit()
    except RecordNotFound:
        abort(404)
    except RecordError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("forms.detail", form=form, record_id=record_id))
    flash(_("Deleted."), "info")
    return redirect(url_for("forms.list_view", form=form))


@bp.post("/<form>/evaluate")
@login_required
def evaluate(form):
    """htmx: recompute formulas and visibility of the form being typed; returns its fields."""
    definition = _form(form)
    _guard("read", form)
    record_id = request.form.get("_record_id", type=int)
    session = db_session()
    try:
        # an edit page's locked fields are text, not inputs: the record's values stand for them
        locked = _locked(definition, record_id)
        payload = _without_unsent(payload_from_form(definition, request.form), request.form,
                                  locked)  # fmt: skip
        result = records.evaluate(session, registry(), current_user, form, payload, record_id)
    except RecordError:
        abort(400)
    finally:
        session.rollback()
    values = _jsonable(result.values)
    submitted = _jsonable(payload)
    following = _marked_defaults(request.form)
    changed, refused = _changed(definition, submitted, values, result.errors, locked, following)
    # only a scan's error, and that of a value the server could not take, is said while typing
    # (the rest wait for the save, fields half-typed)
    said = {name: result.errors[name] for name, field, _value in changed
            if (field.type == "udi" or name in refused) and name in result.errors}  # fmt: skip
    # what a default filled comes back marked, to follow its inputs until the user types one
    defaults = {name for name, _field, _value in changed
                if name in result.defaulted and name not in refused}  # fmt: skip
    return _render(
        definition,
        "form_oob.html",
        changed=changed,
        errors=said,
        defaults=defaults,
        visible={k: v for k, v in result.visible.items() if _may_hide(definition, k)},
    )


def _may_hide(definition: FormDef, path: str) -> bool:
    """Whether the page shows or hides ``path`` as the live answer says: a header field, or a
    line's field that declares when it is shown (the rest of each line always is)."""
    if "[" not in path:
        return True
    table = definition.field(path.split("[", 1)[0])
    child = table.child(path.rsplit(".", 1)[1]) if table is not None else None
    return child is not None and "visible_if" in child.expressions


def _locked(definition: FormDef, record_id: int | None) -> set[str]:
    """The fields the edit page of ``record_id`` shows read-only to the user (none when new)."""
    if record_id is None:
        return set()
    record = records.get(db_session(), registry(), current_user, definition.name, record_id)
    return records.locked_fields(definition, record, current_user)


def _changed(
    definition: FormDef, submitted: dict, values: dict, errors: dict, locked: set, following: set
):
    """(input name, field, value) of every input the server computed or filled, and every scan
    typed (shown again with its error, or without the error of the scan before); and the names
    of the typed values the server refused (a discount of 120 %): shown again as typed, with
    their error, rather than replaced by what the server fell back on (the default, 0), which
    the page would then save without a word. Locked fields and read-only tables, which the page
    shows as text, are left out: they have no input to show again. A value sent as its default
    (``following``) was not typed: it is shown again as the server computed it, empty when it
    now has none (the item cleared)."""
    changed, refused = [], set()

    def answer(name: str, field, sent, value) -> None:
        if name not in following and _refused(field, sent, value, errors.get(name)):
            changed.append((name, field, sent))
            refused.add(name)
        elif _shown_again(field, sent, value) or (name in following and value is None):
            changed.append((name, field, value))

    for field in definition.fields:
        as_text = field.name in locked or (field.type == "table" and field.get("read_only"))
        if as_text and field.name not in submitted:
            continue
        if field.type == "table":
            typed_lines = values.get(field.name) or []
            sent_lines = submitted.get(field.name) or []
            for index, line in enumerate(typed_lines):
                sent = sent_lines[index] if index < len(sent_lines) else {}
                for child in field.fields:
                    name = f"{field.name}[{index}].{child.name}"
                    answer(name, child, sent.get(child.name), line.get(child.name))
        else:
            answer(field.name, field, submitted.get(field.name), values.get(field.name))
    return changed, refused


def _refused(field, sent, value, errors) -> bool:
    """A value typed in (not a scan's, shown again anyway) that the server did not keep, and
    said why."""
    typed = sent not in (None, "") and not field.computed and field.type != "udi"
    return bool(errors) and typed and (value is None or _differs(sent, value))


def _shown_again(field, sent, value) -> bool:
    """Computed, filled by the server, or a typed scan (shown with its error or without)."""
    scanned = field.type == "udi" and sent not in (None, "")
    return field.computed or scanned or _differs(sent, value)


def _differs(sent, value) -> bool:
    sent = None if sent == "" else sent
    return value is not None and str(sent) != str(value)
