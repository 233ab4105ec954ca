"""The metadata engine's tables: generic records, their keys, numbering, idempotency, versions
(of forms and of reports).

A record of any metadata-defined form is one ``records`` row; its field values live in ``data``
(JSONB on PostgreSQL), child lines of table fields inside it as arrays. Values of fields declared
``unique`` or ``indexed`` are copied to ``record_keys`` so that lookups by them use an ordinary
index on both databases and uniqueness is enforced by the database, not by a racy check alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

JSONData = JSON().with_variant(JSONB(), "postgresql")


class Record(Base):
    """One record (document or master data) of a metadata-defined form."""

    __tablename__ = "records"
    __table_args__ = (
        Index("ix_records_form_location", "form", "location_id"),
        Index("ix_records_form_number", "form", "number"),
        # a document by its number alone: what the ledger and the GSP books name (0030)
        Index("ix_records_number", "number"),
        Index("ix_records_form_created", "form", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64), default="draft")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    meta_version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict] = mapped_column(JSONData, default=dict)

    __mapper_args__ = {"version_id_col": version}


class RecordKey(Base):
    """The value of a ``unique`` or ``indexed`` field of a record, for indexed lookups."""

    __tablename__ = "record_keys"
    __table_args__ = (
        Index("ix_record_keys_lookup", "form", "field", "value"),
        Index(
            "uq_record_keys_unique",
            "form",
            "field",
            "value",
            unique=True,
            postgresql_where=text("is_unique"),
            sqlite_where=text("is_unique"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    form: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(255))
    is_unique: Mapped[bool] = mapped_column(Boolean, default=False)


class NumberSequence(Base):
    """The last number handed out per key (form, location, month); its row lock serialises."""

    __tablename__ = "number_sequences"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed on repeats."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class VersionColumns:
    """What every version table of an edited kind of definition holds (see ``registry.Edited``):
    an admin's edit, a draft or a published version — the highest published one is live. Each
    table adds the column naming the definition (``form``, ``report``, …)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    yaml_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FormVersion(VersionColumns, Base):
    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form", "version"),)
    form: Mapped[str] = mapped_column(String(64), index=True)


class ReportVersion(VersionColumns, Base):
    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("report", "version"),)
    report: Mapped[str] = mapped_column(String(64), index=True)


class WorkflowVersion(VersionColumns, Base):
    """Named by the form whose workflow it is."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow", "version"),)
    workflow: Mapped[str] = mapped_column(String(64), index=True)


class OptionListVersion(VersionColumns, Base):
    __tablename__ = "option_list_versions"
    __table_args__ = (UniqueConstraint("option_list", "version"),)
    option_list: Mapped[str] = mapped_column(String(64), index=True)


class DashboardVersion(VersionColumns, Base):
    __tablename__ = "dashboard_versions"
    __table_args__ = (UniqueConstraint("dashboard", "version"),)
    dashboard: Mapped[str] = mapped_column(String(64), index=True)


class SettingsVersion(VersionColumns, Base):
    """``metadata/settings.yaml``: one definition, named ``settings``."""

    __tablename__ = "settings_versions"
    __table_args__ = (UniqueConstraint("settings", "version"),)
    settings: Mapped[str] = mapped_column(String(64), index=True)


class RolesVersion(VersionColumns, Base):
    """``metadata/roles.yaml``: one definition, named ``roles``."""

    __tablename__ = "roles_versions"
    __table_args__ = (UniqueConstraint("roles", "version"),)
    roles: Mapped[str] = mapped_column(String(64), index=True)


class MetadataState(Base):
    """One row: a counter bumped on every publish, so each worker sees cheaply when to reload."""

    __tablename__ = "metadata_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
