"""The workflow engine's tables: each record's timeline, e-signatures and the in-app inbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class WorkflowEvent(Base):
    """One fired transition of a record: the timeline shows who did what, when and why."""

    __tablename__ = "workflow_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    transition: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Signature(Base):
    """An electronic signature: who signed, meaning what, and a hash of what they saw."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("workflow_events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    full_name: Mapped[str] = mapped_column(String(128))
    meaning: Mapped[str] = mapped_column(String(32))
    content_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboxMessage(Base):
    """A message for one user about one record (``notify`` action, CC).

    A system message is written in both languages, ``message`` (Chinese) and ``message_en``,
    and read in the reader's (``text``): whoever reads it, whenever, in the language they have
    chosen then. Build one with ``inbox_message``."""

    __tablename__ = "inbox_messages"
    __table_args__ = (Index("ix_inbox_messages_user_read", "user_id", "read"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(String(500))
    message_en: Mapped[str | None] = mapped_column(String(500))
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="notify")
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def text(self, language: str) -> str:
        """The message in ``language`` (``en`` or ``zh_CN``), as far as it was written in it."""
        return self.message_en if language == "en" and self.message_en else self.message


def inbox_message(user_id: int, record_id: int | None, text, **more) -> InboxMessage:
    """A message to ``user_id``: ``text`` is ``{zh_CN, en}`` (a label, as the metadata writes
    them) or one text for both; ``more``: ``kind``, ``sender_id``."""
    if isinstance(text, dict):
        chinese = text.get("zh_CN") or text.get("en") or ""
        english = text.get("en") or chinese
    else:
        chinese = english = str(text)
    return InboxMessage(
        user_id=user_id,
        record_id=record_id,
        message=chinese[:500],
        message_en=english[:500],
        **more,
    )


class ApprovalTask(Base):
    """One approver's part in one level of a record's approval (会签/或签 tasks).

    ``status``: ``pending`` (theirs to decide now), ``waiting`` (activates once ``waits_for`` is
    approved — added approvers), ``approved``, ``rejected``, ``returned``, ``cancelled`` (the level
    was decided by someone else, or the approval went back).
    """

    __tablename__ = "approval_tasks"
    __table_args__ = (
        Index("ix_approval_tasks_approver_status", "approver_id", "status"),
        Index("ix_approval_tasks_record", "record_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    transition: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    level_name: Mapped[str] = mapped_column(String(64))
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The approver this task was meant for, when a delegation handed it to ``approver_id``.
    on_behalf_of: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    waits_for: Mapped[int | None] = mapped_column(ForeignKey("approval_tasks.id"))
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Delegation(Base):
    """While ``from_user`` is away (``starts_at`` to ``ends_at``), ``to_user`` approves for them."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
