"""Report versions at the meta level: a published edit is what the registry compiles, a broken
one raises the loader's issues and writes nothing, a rollback publishes the old text again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

import app.workflow  # noqa: F401
from app.kernel.audit import AuditEntry
from app.meta import registry as meta_registry
from app.meta import versions
from app.meta.models import FormVersion, ReportVersion
from app.meta.registry import REPORTS
from app.meta.yamlsource import MetadataInvalid

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "metadata/reports/near_expiry.yaml").read_text("utf-8")


@pytest.fixture
def registry(db):
    """A worker's registry, loaded from the files and the (empty) published edits."""
    with db.session() as session:
        return meta_registry.build(ROOT / "metadata", ROOT / "workflows", session)


def edited(limit: int) -> str:
    assert "limit:" not in SHIPPED
    return SHIPPED.rstrip("\n") + f"\nlimit: {limit}\n"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_publish_rebuilds_the_registry_with_the_edit_and_rollback_restores(db, registry):
    with db.transaction() as session:
        row = versions.publish(session, registry, None, "near_expiry", edited(7), "cap", REPORTS)
        assert row.version == 2
    with db.session() as session:
        live = meta_registry.refresh(registry, session)
        assert live is not registry and live.report("near_expiry").limit == 7
        assert meta_registry.refresh(live, session) is live  # no publish since: no rebuild
        assert versions.current_version(session, live, "near_expiry", REPORTS) == 2
        assert count(session, FormVersion) == 0  # a report edit is not a form version
        assert "+limit: 7" in versions.diff(session, live, "near_expiry", 1, 2, REPORTS)
    with db.transaction() as session:
        versions.rollback(session, live, None, "near_expiry", 1, REPORTS)
    with db.session() as session:
        again = meta_registry.refresh(live, session)
        assert again.report("near_expiry").limit == registry.report("near_expiry").limit
        history = versions.history(session, again, "near_expiry", REPORTS)
        assert [(item.version, item.live) for item in history] == [
            (3, True),
            (2, False),
            (1, False),
        ]
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "report").order_by(AuditEntry.id)
        ).all()
        assert [(e.action, e.entity_id, e.changes) for e in audited] == [
            ("publish", "near_expiry", {"version": [1, 2]}),
            ("publish", "near_expiry", {"version": [2, 3]}),
        ]


def test_a_broken_report_raises_the_loaders_issues_and_writes_nothing(db, registry):
    broken = SHIPPED.replace("source: balances", "source: nowhere")
    with db.transaction() as session, pytest.raises(MetadataInvalid) as raised:
        versions.publish(session, registry, None, "near_expiry", broken, kind=REPORTS)
    assert [str(issue) for issue in raised.value.issues] == [
        f"reports/near_expiry.yaml:{line_of(broken, 'source:')} source: unknown source 'nowhere'"
    ]
    with db.session() as session:
        assert count(session, ReportVersion) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
        assert meta_registry.refresh(registry, session) is registry


def test_a_draft_is_kept_apart_from_the_live_version(db, registry):
    with db.transaction() as session:
        versions.save_draft(session, None, "near_expiry", edited(3), REPORTS)
    with db.session() as session:
        assert versions.draft_of(session, "near_expiry", REPORTS).yaml_text == edited(3)
        assert versions.current_version(session, registry, "near_expiry", REPORTS) == 1
        assert meta_registry.refresh(registry, session) is registry


def line_of(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))
