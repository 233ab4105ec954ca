"""The generated REST API: one set of endpoints serves every metadata-defined form.

Authentication is Flask-Login's ``current_user`` (session cookie; Bearer tokens arrive through
the identity branch's request loader). Errors are JSON — 401, 403, 404, 409, 422 — never an HTML
redirect. CSRF: session-authenticated POST/PUT/PATCH/DELETE calls send the ``X-CSRFToken``
header (the token is in every page's ``<meta name="csrf-token">``), as Flask-WTF checks it.

Every POST honours ``Idempotency-Key``: a repeat with the same key (per user) returns the first
(successful) response and writes nothing; the key used for another request is refused (422).
"""

from __future__ import annotations

import hashlib
import json
from functools import wraps
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.i18n import _
from app.kernel import audit
from app.kernel.errors import LotMismatch, UnknownItem
from app.kernel.jobs import Job
from app.kernel.retry import retrying
from app.kernel.udi import UDIError, check_udi, parse_udi
from app.meta import access, idempotency, imports, links, makes, records
from app.meta.access import PermissionDenied
from app.meta.expressions import this_names
from app.meta.records import RecordError, ValidationFailed
from app.web.auth import unauthorized
from app.web.forms_common import (
    MAX_PAGE,
    MAX_PER_PAGE,
    comment_text,
    edited_version,
    json_error,
    lookup_limit,
    picker_field,
    record_id,
    registry,
    too_large_numbers,
    whole_number,
)
from app.web.session import db_session
from app.workflow import approvals, engine

bp = Blueprint("forms_api", __name__, url_prefix="/api/v1")


def api_auth(view):
    """JSON 401 for anonymous callers; typed errors become JSON responses; a successful write
    commits once, at the end, so the change and its stored idempotent response go together."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthorized()  # the same answer as every other endpoint's 401
        session = db_session()

        def once():
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code < 400 and request.method != "GET":
                session.commit()
            return response

        try:
            # PostgreSQL broke a deadlock (or a serialization conflict) by aborting this
            # request's transaction: it is safe to run again from the start, a few times
            return retrying(once, rollback=session.rollback)
        except (PermissionDenied, RecordError) as exc:
            session.rollback()
            return json_error(exc)

    return wrapper


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed({"_schema": [_("Send a JSON object.")]})
    too_large = too_large_numbers(data)
    if too_large:
        raise ValidationFailed(too_large)
    return data


def _optional_body() -> dict:
    """The JSON object of a request whose body may be left out (a transition's): ``{}`` if
    there is none."""
    data = request.get_json(silent=True)
    return _body() if isinstance(data, dict) else {}


def idempotent(view):
    """Replay the first response of a repeated ``Idempotency-Key``; store it with the change."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return view(*args, **kwargs)
        if len(key) > idempotency.MAX_KEY_LENGTH:
            return _plain_error(_("The Idempotency-Key header is too long.")), 400
        session = db_session()
        signature = idempotency.request_signature(
            request.method, request.full_path.rstrip("?"), _signed_body()
        )
        stored = idempotency.replay(session, current_user.id, key)
        if stored is not None:
            idempotency.check_same_request(stored, request.method, signature)
            return _replayed(stored)
        try:
            claimed = idempotency.claim(session, current_user.id, key, request.method, signature)
        except IntegrityError:
            session.rollback()  # an attempt with this key finished first: replay it
            stored = idempotency.replay(session, current_user.id, key)
            if stored is not None:
                idempotency.check_same_request(stored, request.method, signature)
            if stored is None or stored.status == 0:
                return _plain_error(_("This request is already being processed.")), 409
            return _replayed(stored)
        response = current_app.make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300:
            idempotency.complete(
                session, claimed, response.status_code, response.get_data(as_text=True)
            )
        return response

    return wrapper


def _signed_body() -> bytes:
    """The body a key is bound to. An upload's is its fields and each file's name and digest,
    not its bytes: a client that sends the same file again encodes it with a new multipart
    boundary, and must be answered as the first time."""
    if request.mimetype != "multipart/form-data":
        return request.get_data()
    parts = [f"{name}={value}".encode() for name, value in sorted(request.form.items(multi=True))]
    for name, upload in sorted(request.files.items(multi=True), key=lambda part: part[0]):
        digest = hashlib.sha256()
        while chunk := upload.stream.read(1 << 16):
            digest.update(chunk)
        upload.stream.seek(0)  # the view reads it next
        parts.append(f"{name}={upload.filename}#{digest.hexdigest()}".encode())
    return b"\0".join(parts)


def _plain_error(message: str):
    return jsonify(error=message, message=message)


def _replayed(stored) -> Response:
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _page_args() -> dict:
    args = request.args
    reserved = {"q", "sort", "page", "per_page"}
    page = whole_number(args.get("page"), "page", 1, highest=MAX_PAGE)
    per_page = whole_number(args.get("per_page"), "per_page", 0, highest=MAX_PER_PAGE) or None
    return {
        "filters": {key: value for key, value in args.items() if key not in reserved},
        "q": args.get("q"),
        "sort": args.get("sort"),
        "page": page,
        "per_page": per_page,
    }


@bp.get("/forms/<form>/records")
@api_auth
def list_records(form):
    reg = registry()
    page = records.list_records(db_session(), reg, current_user, form, **_page_args())
    definition = reg.form(form)
    return jsonify(
        items=[records.to_json(definition, record) for record in page.items],
        total=page.total,
        page=page.page,
        per_page=page.per_page,
    )


def _dump(form: str, record, status: int):
    return jsonify(records.to_json(registry().form(form), record)), status


@bp.post("/forms/<form>/records")
@api_auth
@idempotent
def create_record(form):
    record = records.create(db_session(), registry(), current_user, form, _body(), from_client=True)
    return _dump(form, record, 201)


@bp.post("/forms/<form>/import")
@api_auth
@idempotent
def import_records(form):
    """Multipart ``file`` (.xlsx, the template's columns), ``keep_valid`` (keep the valid rows
    when some are refused; default: all or none): 201 with what was created, or — for a file of
    more than ``DIRECT_ROWS`` rows — 202 with the job importing it (``GET /api/v1/jobs/<id>``)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed({"file": [_("Choose a file.")]})
    upload.stream.seek(0)  # a retried attempt reads the file again from its start
    data = upload.stream.read(imports.MAX_BYTES + 1)
    keep_valid = request.form.get("keep_valid", "").lower() in ("1", "true", "yes", "on")
    outcome = imports.start(
        db_session(), registry(), current_user, form, data, keep_valid=keep_valid,
        files_dir=Path(current_app.instance_path), language=records.locale(),
    )  # fmt: skip
    if isinstance(outcome, Job):
        return jsonify(job=outcome.id), 202
    return jsonify(
        created=len(outcome.records),
        ids=[record.id for record in outcome.records],
        errors=outcome.errors,
    ), 201


@bp.get("/forms/<form>/records/<int:record_id>")
@api_auth
def get_record(form, record_id):
    reg = registry()
    record = records.get(db_session(), reg, current_user, form, record_id)
    return jsonify(records.to_json(reg.form(form), record))


@bp.get("/forms/<form>/records/<int:record_id>/make/<target>")
@api_auth
def make_record(form, record_id, target):
    """The draft of a ``target`` record made from this one (``makes`` in the form's metadata),
    to complete and POST to ``target``'s records: nothing is saved here."""
    reg = registry()
    session = db_session()
    record = records.get(session, reg, current_user, form, record_id)
    draft = makes.make(session, reg, current_user, reg.form(form), record, target)
    return jsonify({"form": target, "data": draft})


@bp.route("/forms/<form>/records/<int:record_id>", methods=["PUT", "PATCH"])
@api_auth
def update_record(form, record_id):
    body = _body()
    version = edited_version(body.pop("version", request.headers.get("If-Match")))
    data = body.pop("data", body)
    record = records.update(db_session(), registry(), current_user, form, record_id, data, version)
    return _dump(form, record, 200)


@bp.delete("/forms/<form>/records/<int:record_id>")
@api_auth
def delete_record(form, record_id):
    version = edited_version(request.args.get("version") or request.headers.get("If-Match"), False)
    if version is None:  # a record out of reach is not found, whatever the request lacks
        records.get(db_session(), registry(), current_user, form, record_id)
        edited_version(None)
    records.delete(db_session(), registry(), current_user, form, record_id, version)
    return "", 204


@bp.post("/forms/<form>/evaluate")
@api_auth
def evaluate(form):
    """Recompute formulas, visibility and errors for unsaved input (nothing is written)."""
    body = _body()
    result = records.evaluate(
        db_session(), registry(), current_user, form, body.get("data", body),
        record_id(body.get("id"), "id"),
    )  # fmt: skip
    db_session().rollback()
    return jsonify(
        values=audit.jsonable(result.values), errors=result.errors, visible=result.visible
    )


@bp.post("/forms/<form>/scan")
@api_auth
def scan(form):
    """Parse a UDI scan for ``field`` and say which sibling fields it fills with what. A scan that
    fills an item must name one on record (its GTIN), and its dates must be those of its lot when
    the lot is on record: the clerk hears it at the scan, not at the save."""
    reg = registry()
    definition = reg.form(form)
    if definition is None:
        raise records.FormNotFound(form)
    access.require(current_user, "read", form)
    body = _body()
    path = str(body.get("field", ""))
    table, _dot, name = path.rpartition(".")
    fields = definition.field(table).fields if table and definition.field(table) else None
    field = next((f for f in (fields or definition.fields) if f.name == name), None)
    if field is None or field.type != "udi":
        raise ValidationFailed({"field": [_("Not a UDI field.")]})
    try:
        parsed = parse_udi(str(body.get("value", "")))
        if "item" in (field.get("fills") or {}):
            check_udi(db_session(), parsed)
    except (UDIError, UnknownItem, LotMismatch) as exc:
        raise ValidationFailed({path: [str(exc)]}) from None
    fills = {}
    for part, target in (field.get("fills") or {}).items():
        value = records.resolve_udi_part(db_session(), current_user, parsed, part)
        if value is not None:
            fills[target] = value
    return jsonify(fills=audit.jsonable(fills), gtin=parsed.gtin)


def _link_filter(form_name: str | None, path: str | None):
    """The ``link_filter`` of the field the picker serves (``?form=…&field=lines.item``), with
    the header values the page sends for its ``this('field')`` (``&this.supplier=7``)."""
    field = picker_field(form_name, path)
    condition = field.expressions.get("link_filter") if field else None
    sent = {name: request.args.get(f"this.{name}") for name in this_names(condition)}
    return links.bound(condition, records.header_values(registry().form(form_name), sent))


@bp.get("/lookup/<target>")
@api_auth
def lookup(target):
    """Search-as-you-type choices for link pickers, inside the user's data scope."""
    reg = registry()
    if target not in links.LINK_TARGETS and target not in reg.forms:
        raise records.FormNotFound(target)
    referring = request.args.get("form")
    serving = picker_field(referring, request.args.get("field"))
    if not links.may_pick(current_user, reg.form(referring or ""), serving, target):
        access.require(current_user, "read", target)
    form = reg.form(target)
    choices = links.search(
        db_session(),
        current_user,
        target,
        request.args.get("q", ""),
        limit=lookup_limit(),
        title_field=form.title_field if form else None,
        searchable=form.search_fields if form else (),
        condition=_link_filter(request.args.get("form"), request.args.get("field")),
    )
    return Response(
        json.dumps(
            {"results": [{"value": c.value, "label": c.label} for c in choices]},
            ensure_ascii=False,
        ),
        mimetype="application/json",
    )


@bp.post("/forms/<form>/records/<int:record_id>/transitions/<transition>")
@api_auth
@idempotent
def fire_transition(form, record_id, transition):
    """Fire a workflow transition; JSON: ``comment``, ``version``, ``signature``."""
    body = _optional_body()
    session = db_session()
    reg = registry()
    record = records.get(session, reg, current_user, form, record_id, for_update=True)
    try:
        engine.fire(
            session, reg, record, transition, current_user,
            comment=body.get("comment"), signature=body.get("signature"),
            version=edited_version(body.get("version", request.headers.get("If-Match")), False),
        )  # fmt: skip
    except engine.SignatureRefused as exc:
        session.rollback()
        engine.audit_refused_signature(session, current_user, form, record_id, transition)
        session.commit()
        return json_error(exc)
    return _dump(form, record, 200)


@bp.post("/forms/<form>/records/<int:record_id>/withdraw")
@api_auth
@idempotent
def withdraw(form, record_id):
    """撤回: whoever submitted the record takes it back from its approvers; JSON ``comment``."""
    body = _optional_body()
    session = db_session()
    record = records.get(session, registry(), current_user, form, record_id, for_update=True)
    approvals.withdraw(session, registry(), record, current_user, comment_text(body.get("comment")))
    return _dump(form, record, 200)


@bp.post("/forms/<form>/records/<int:record_id>/transitions/<transition>/preview")
@api_auth
def preview_transition(form, record_id, transition):
    """What firing a transition would do, without doing it: e.g. where a sales order's goods
    would come from and why (``confirm``). The transition runs in full — every check and action
    — and the answer is the record as it would then be; then all of it is rolled back. A refusal
    answers as firing would (409 with the reason, 403, 422) — except for the e-signature, which
    is neither asked for nor checked here: a preview must not let anyone test a signer's password
    without the audit entry a refused signing leaves."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    session = db_session()
    reg = registry()
    record = records.get(session, reg, current_user, form, record_id)
    savepoint = session.begin_nested()
    try:
        engine.fire(
            session, reg, record, transition, current_user,
            comment=body.get("comment"), preview=True,
        )  # fmt: skip
        would_be = records.to_json(reg.form(form), record)
    finally:
        savepoint.rollback()
        session.rollback()
    return jsonify(would_be)
