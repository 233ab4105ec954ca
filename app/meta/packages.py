"""A company's customizations as one package: what its admins published — forms, workflows,
reports, dashboards, option lists, roles — exported as a zip laid out like the repository
(``metadata/forms/x.yaml``, ``workflows/x.yaml``, ``metadata/roles.yaml``) and imported elsewhere
in one go: test to production, one company's setup to a new one's.

An import is checked as a whole, together with everything already live (a new option list and
the form naming it arrive together), refused as a whole (each kind's refusals: data loss, records
under way, roles people hold) and published together, one new version per definition that
changed; identical texts are left alone.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from app.db import utcnow
from app.i18n import _
from app.meta import versions
from app.meta.registry import EDITED, WORKFLOWS, Edited, published
from app.meta.versions import ChangeRefused

#: Bounds of what an import reads: a package is a few hundred small texts, not a zip bomb.
MAX_ENTRIES, MAX_ENTRY_BYTES = 1000, 1_000_000
MANIFEST = "lianku-package.json"


class PackageInvalid(ChangeRefused):
    """The file is not a package this version reads; says which entry and why."""


@dataclass(frozen=True)
class Imported:
    kind: str
    name: str
    version: int


def entry_name(kind: Edited, name: str) -> str:
    """Where a definition sits in a package: as in the repository."""
    return kind.file(name) if kind is WORKFLOWS else f"metadata/{kind.file(name)}"


def _definition_of(entry: str) -> tuple[Edited, str] | None:
    """(kind, name) of a package entry, or None for a path no kind lives at."""
    path = PurePosixPath(entry)
    if path.suffix not in (".yaml", ".json"):
        return None
    for kind in EDITED:
        at_its_place = entry_name(kind, path.stem) == str(path.with_suffix(".yaml"))
        if at_its_place and kind.only in (None, path.stem):
            return kind, path.stem
    return None


def export_package(session: Session, registry) -> bytes:
    """Every definition with a published version, at its live version, plus a manifest."""
    buffer = io.BytesIO()
    listed = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for kind in EDITED:
            for name, row in sorted(published(session, kind).items()):
                package.writestr(entry_name(kind, name), row.yaml_text)
                listed.append({"kind": kind.name, "name": name, "version": row.version})
        manifest = {"exported_at": utcnow().isoformat(), "definitions": listed}
        package.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    return buffer.getvalue()


def read_package(data: bytes) -> dict[tuple[Edited, str], str]:
    """The definitions a package holds, by (kind, name); ``PackageInvalid`` naming what is not."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise PackageInvalid(_("This is not a package: not a zip file.")) from None
    entries = [info for info in package.infolist() if not info.is_dir()]
    if len(entries) > MAX_ENTRIES:
        raise PackageInvalid(_("A package holds at most %(n)s files.", n=MAX_ENTRIES))
    texts = {}
    for info in entries:
        if info.filename == MANIFEST:
            continue
        found = _definition_of(info.filename)
        if found is None:
            raise PackageInvalid(
                _("%(entry)s: not a definition a package may hold", entry=info.filename)
            )
        if info.file_size > MAX_ENTRY_BYTES:
            raise PackageInvalid(_("%(entry)s: larger than 1 MB", entry=info.filename))
        try:
            texts[found] = package.read(info).decode("utf-8")
        except UnicodeDecodeError:
            raise PackageInvalid(_("%(entry)s: not UTF-8 text", entry=info.filename)) from None
    return texts


def _live_text(session: Session, registry, kind: Edited, name: str) -> str | None:
    version = versions.current_version(session, registry, name, kind)
    return versions.text_of(session, registry, name, version, kind) if version else None


def import_package(session: Session, registry, user, data: bytes, note: str | None = None):
    """Publish what ``data`` brings that differs from what is live: all of it or nothing.
    Returns the new versions (empty when nothing changed)."""
    changed = {
        key: text
        for key, text in read_package(data).items()
        if text != _live_text(session, registry, *key)
    }
    if not changed:
        return []
    rows = versions.publish_all(session, registry, user, changed, note)
    return [
        Imported(kind.name, name, row.version)
        for (kind, name), row in zip(changed, rows, strict=True)
    ]
