"""Attachments: files uploaded for a record's ``attachment`` fields (licences, inspection photos,
destruction records).

A file is uploaded first (``store``) and belongs to its uploader until a record that names it in
an attachment field is saved; the record then claims it (``claim``) and from that moment the file
is as private as the record: whoever may read the record may download it, nobody else. Files are
kept under the instance folder, named by their SHA-256, so the same file uploaded twice is stored
once and a file on disk can always be checked against the hash on record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.i18n import _

#: What may be uploaded: documents and pictures a regulator or a clerk needs, nothing a browser
#: would execute (no HTML, no SVG, no scripts).
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The record that claimed it (None until a record naming it is saved).
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)


class AttachmentRejected(ValueError):
    """An upload that cannot be kept; the message says why (type, size, empty file)."""


def _clean_name(filename: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name[:255] or "file"


def store(
    session: Session, files_dir: Path, user, filename: str, stream: BinaryIO, max_bytes=MAX_BYTES
) -> Attachment:
    """Keep an uploaded file: check its type and size, hash it while writing, record it."""
    name = _clean_name(filename)
    extension = Path(name).suffix.lower()
    if extension not in CONTENT_TYPES:
        raise AttachmentRejected(
            _("Files of type %(type)s cannot be attached; allowed: %(allowed)s",
              type=extension or "?", allowed=", ".join(sorted(CONTENT_TYPES)))
        )  # fmt: skip
    folder = files_dir / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as temporary:
        try:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise AttachmentRejected(
                        _("The file is larger than %(max)s MB.", max=max_bytes // (1024 * 1024))
                    )
                digest.update(chunk)
                temporary.write(chunk)
        except BaseException:
            os.unlink(temporary.name)
            raise
    if size == 0:
        os.unlink(temporary.name)
        raise AttachmentRejected(_("The file is empty."))
    sha256 = digest.hexdigest()
    os.replace(temporary.name, folder / sha256)  # same content, same file: stored once
    attachment = Attachment(
        sha256=sha256,
        filename=name,
        content_type=CONTENT_TYPES[extension],
        size=size,
        uploaded_by=getattr(user, "id", None),
    )
    session.add(attachment)
    session.flush()
    return attachment


def path_of(files_dir: Path, attachment: Attachment) -> Path:
    return files_dir / "attachments" / attachment.sha256


def usable_by(session: Session, user, attachment_id, record_id: int | None) -> bool:
    """May a record (``record_id``; None while creating) saved by ``user`` name this file?
    Yes for the user's own unclaimed upload, or a file this same record already holds."""
    try:
        attachment = session.get(Attachment, int(attachment_id))
    except (TypeError, ValueError):
        return False
    if attachment is None:
        return False
    if attachment.record_id is None:
        return attachment.uploaded_by == getattr(user, "id", None)
    return record_id is not None and attachment.record_id == record_id


def claim(session: Session, attachment_ids: list[int], record_id: int) -> None:
    """Bind the named files to the record that now holds them."""
    for attachment_id in attachment_ids:
        attachment = session.get(Attachment, int(attachment_id))
        if attachment is not None and attachment.record_id is None:
            attachment.record_id = record_id
    session.flush()
