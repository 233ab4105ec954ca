"""The live set of compiled forms, workflows, reports, dashboards and option lists: shipped files
plus the admin's published edits.

Every worker keeps a ``Registry`` in memory. A publish bumps ``metadata_state.generation``; each
request compares it with the registry's (one primary-key read) and rebuilds when it changed, so
an edit is live in every gunicorn worker at its next request, with no restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.meta.checks import link_names
from app.meta.forms import FormDef, compile_form
from app.meta.loader import Metadata, load_metadata
from app.meta.models import (
    DashboardVersion,
    FormVersion,
    MetadataState,
    OptionListVersion,
    ReportVersion,
    RolesVersion,
    SettingsVersion,
    WorkflowVersion,
)
from app.meta.reports.definition import get_report
from app.meta.reports.model import Report
from app.meta.yamlsource import MetadataInvalid

log = logging.getLogger(__name__)

#: The version number of a form or report as shipped in ``metadata/``.
SHIPPED_VERSION = 1


@dataclass(frozen=True)
class Edited:
    """A kind of definition admins edit live: its folder and its versions. Forms and reports
    live in ``metadata/<folder>``; workflows in the workflows folder, each named by its form."""

    name: str  # form | report | workflow …: also the version table's column naming the definition
    folder: str  # "" for a single file at the top of metadata/ (roles.yaml)
    model: type
    #: the one definition of a single-file kind (``roles``), else None: any name
    only: str | None = None

    @property
    def key(self):
        """The version table's column holding the definition's name."""
        return getattr(self.model, self.name)

    def file(self, name: str) -> str:
        """The definition's file name as the loader knows it (``forms/supplier.yaml``)."""
        return f"{self.folder}/{name}.yaml" if self.folder else f"{name}.yaml"

    def directory(self, metadata_dir: Path, workflows_dir: Path) -> Path:
        """Where the shipped files of this kind are."""
        if self.folder == "workflows":
            return Path(workflows_dir)
        return Path(metadata_dir) / self.folder

    def shipped_files(self, metadata_dir: Path, workflows_dir: Path) -> dict[str, Path]:
        """The shipped definitions of this kind by name: YAML files, or JSON ones."""
        folder = self.directory(metadata_dir, workflows_dir)
        files = [*folder.glob("*.json"), *folder.glob("*.yaml")]
        return {path.stem: path for path in files if self.only in (None, path.stem)}


FORMS = Edited("form", "forms", FormVersion)
REPORTS = Edited("report", "reports", ReportVersion)
WORKFLOWS = Edited("workflow", "workflows", WorkflowVersion)
OPTION_LISTS = Edited("option_list", "options", OptionListVersion)
DASHBOARDS = Edited("dashboard", "dashboards", DashboardVersion)
ROLES = Edited("roles", "", RolesVersion, only="roles")
SETTINGS = Edited("settings", "", SettingsVersion, only="settings")
EDITED = (FORMS, REPORTS, WORKFLOWS, OPTION_LISTS, DASHBOARDS, ROLES, SETTINGS)


@dataclass
class Registry:
    metadata: Metadata
    forms: dict[str, FormDef]
    generation: int
    metadata_dir: Path
    workflows_dir: Path
    #: names of the definitions shipped as files, by kind (``form``, ``report``)
    shipped: dict[str, set[str]] = field(default_factory=dict)

    def form(self, name: str) -> FormDef | None:
        return self.forms.get(name)

    def shipped_field_names(self, form: str) -> frozenset[str] | None:
        """The top-level fields of ``form`` as shipped in ``metadata/forms`` — what the shipped
        print layouts know —, or None for a form an admin made."""
        if form not in self.shipped.get(FORMS.name, ()):
            return None
        path = FORMS.shipped_files(self.metadata_dir, self.workflows_dir)[form]
        return _field_names(str(path), path.stat().st_mtime_ns)

    def report(self, name: str) -> Report | None:
        return get_report(self.metadata, name)

    def card(self, target: str) -> tuple[str, str] | None:
        """(form, key) of the master form whose records are the cards of the kernel's
        ``target`` (``card_of`` on the item card: matched by ``code``), or None."""
        for form in self.forms.values():
            card = form.spec.get("card_of")
            if card and card["target"] == target:
                return form.name, card["key"]
        return None


def generation(session: Session) -> int:
    """The current metadata generation (0 before the first publish)."""
    return session.scalar(select(MetadataState.generation).where(MetadataState.id == 1)) or 0


def published(session: Session, kind: Edited = FORMS) -> dict:
    """The latest published version of every definition of ``kind`` edited in the database."""
    model = kind.model
    latest = (
        select(kind.key.label("name"), func.max(model.version).label("version"))
        .where(model.status == "published")
        .group_by(kind.key)
        .subquery()
    )
    rows = session.scalars(
        select(model).join(
            latest, (kind.key == latest.c.name) & (model.version == latest.c.version)
        )
    )
    return {getattr(row, kind.name): row for row in rows}


def build(
    metadata_dir: Path,
    workflows_dir: Path,
    session: Session | None = None,
    extra: dict[str, str] | None = None,
) -> Registry:
    """Load files plus published edits (plus ``extra`` texts by file name, for previews)."""
    overrides: dict[str, str] = {}
    versions: dict[str, int] = {}
    gen = 0  # the files alone are what a database holds before its first publish
    if session is not None:
        gen = generation(session)
        for kind in EDITED:
            for name, row in published(session, kind).items():
                overrides[kind.file(name)] = row.yaml_text
                if kind is FORMS:
                    versions[name] = row.version
    overrides.update(extra or {})
    shipped = {kind.name: set(kind.shipped_files(metadata_dir, workflows_dir)) for kind in EDITED}
    metadata = load_metadata(metadata_dir, workflows_dir, overrides)
    forms = {}
    for name, document in metadata.forms.items():
        workflow = metadata.workflows.get(name)
        forms[name] = compile_form(
            document.data,
            versions.get(name, SHIPPED_VERSION),
            metadata.form_texts[name],
            workflow.data if workflow else None,
            lambda target: link_names(metadata, target),
        )
    return Registry(metadata, forms, gen, Path(metadata_dir), Path(workflows_dir), shipped)


_lock = threading.Lock()


def refresh(registry: Registry, session: Session) -> Registry:
    """``registry`` itself when still current, else a rebuilt one (cheap check first)."""
    try:
        current = generation(session)
    except SQLAlchemyError:
        session.rollback()
        return registry
    if current == registry.generation:
        return registry
    with _lock:
        try:
            return build(registry.metadata_dir, registry.workflows_dir, session)
        except MetadataInvalid as exc:
            # e.g. a deployment changed a file under a published edit: keep serving what works
            log.error("published metadata no longer loads; keeping the current forms:\n%s", exc)
            registry.generation = current
            return registry


@lru_cache(maxsize=128)
def _field_names(path: str, _mtime: int) -> frozenset[str]:
    """The top-level field names of a shipped form file (read again when the file changes)."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    fields = spec.get("fields", [])
    return frozenset(str(raw.get("name")) for raw in fields if isinstance(raw, dict))
