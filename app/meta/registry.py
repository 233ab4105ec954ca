"""The live set of compiled forms: shipped files plus the admin's published edits.

Every worker keeps a ``Registry`` in memory. A publish bumps ``metadata_state.generation``; each
request compares it with the registry's (one primary-key read) and rebuilds when it changed, so
an edit is live in every gunicorn worker at its next request, with no restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.meta.checks import link_names
from app.meta.forms import FormDef, compile_form
from app.meta.loader import Metadata, load_metadata
from app.meta.models import FormVersion, MetadataState
from app.meta.yamlsource import MetadataInvalid

log = logging.getLogger(__name__)

#: The version number of a form as shipped in ``metadata/forms/``.
SHIPPED_VERSION = 1


@dataclass
class Registry:
    metadata: Metadata
    forms: dict[str, FormDef]
    generation: int
    metadata_dir: Path
    workflows_dir: Path
    shipped: set[str] = field(default_factory=set)

    def form(self, name: str) -> FormDef | None:
        return self.forms.get(name)


def generation(session: Session) -> int:
    """The current metadata generation (0 before the first publish)."""
    return session.scalar(select(MetadataState.generation).where(MetadataState.id == 1)) or 0


def published(session: Session) -> dict[str, FormVersion]:
    """The latest published version of every form edited in the database."""
    latest = (
        select(FormVersion.form, func.max(FormVersion.version).label("version"))
        .where(FormVersion.status == "published")
        .group_by(FormVersion.form)
        .subquery()
    )
    rows = session.scalars(
        select(FormVersion).join(
            latest,
            (FormVersion.form == latest.c.form) & (FormVersion.version == latest.c.version),
        )
    )
    return {row.form: row for row in rows}


def build(
    metadata_dir: Path,
    workflows_dir: Path,
    session: Session | None = None,
    extra: dict[str, str] | None = None,
) -> Registry:
    """Load files plus published edits (plus ``extra`` texts by form name, for previews)."""
    overrides: dict[str, str] = {}
    versions: dict[str, int] = {}
    gen = -1
    if session is not None:
        gen = generation(session)
        for name, row in published(session).items():
            overrides[f"forms/{name}.yaml"] = row.yaml_text
            versions[name] = row.version
    for name, text in (extra or {}).items():
        overrides[f"forms/{name}.yaml"] = text
    shipped = {path.stem for path in Path(metadata_dir).glob("forms/*.yaml")}
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
