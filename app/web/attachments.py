"""Uploading and downloading the files of attachment fields; the rules live in
``app.meta.attachments`` (who may use a file) and ``app.meta.records`` (who may read a record)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_file, url_for
from flask_login import current_user, login_required

from app.i18n import _
from app.meta import access, records
from app.meta.access import PermissionDenied
from app.meta.attachments import Attachment, AttachmentRejected, path_of, store
from app.meta.models import Record
from app.meta.records import RecordError
from app.web.forms_api import api_auth, idempotent
from app.web.forms_common import registry
from app.web.session import db_session

bp = Blueprint("attachments", __name__)


def _files_dir() -> Path:
    return Path(current_app.instance_path)


@bp.post("/api/v1/attachments")
@api_auth
@idempotent
def upload():
    """Multipart ``file``: keeps it and answers its id, to put in an attachment field."""
    if not (access.can(current_user, "create") or access.can(current_user, "update")):
        raise PermissionDenied("create")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return jsonify(error=_("Choose a file."), errors={"file": [_("Choose a file.")]}), 400
    try:
        attachment = store(db_session(), _files_dir(), current_user, upload.filename, upload.stream)
    except AttachmentRejected as exc:
        return jsonify(error=str(exc), errors={"file": [str(exc)]}), 400
    return jsonify(_describe(attachment)), 201


def _describe(attachment: Attachment) -> dict:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "sha256": attachment.sha256,
        "url": url_for("attachments.download", attachment_id=attachment.id),
    }


def _readable(attachment: Attachment) -> bool:
    """The uploader may read an unclaimed file; a claimed one is as private as its record."""
    if attachment.record_id is None:
        return attachment.uploaded_by == current_user.id
    session = db_session()
    record = session.get(Record, attachment.record_id)
    try:
        records.get(session, registry(), current_user, record.form, record.id)
    except (PermissionDenied, RecordError):
        return False
    return True


@bp.get("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    attachment = db_session().get(Attachment, attachment_id)
    if attachment is None or not _readable(attachment):
        abort(404)
    path = path_of(_files_dir(), attachment)
    if not path.is_file():
        abort(404)
    return send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
    )


@bp.get("/api/v1/attachments/<int:attachment_id>")
@api_auth
def describe(attachment_id: int):
    attachment = db_session().get(Attachment, attachment_id)
    if attachment is None or not _readable(attachment):
        return jsonify(error=_("Not found.")), 404
    return jsonify(_describe(attachment))
