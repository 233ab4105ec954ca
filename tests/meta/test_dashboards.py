"""Dashboards: cards must name real reports and their real parameters."""

import shutil
from pathlib import Path

import pytest

import app.workflow  # noqa: F401
from app.meta import MetadataInvalid, load_metadata

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_dashboards_are_valid():
    metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")
    assert {"oversight", "store", "hq"} <= set(metadata.dashboards)


def test_bad_cards_are_load_time_errors(tmp_path):
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    (tmp_path / "metadata" / "dashboards" / "broken.yaml").write_text(
        "name: broken\n"
        "label: {zh_CN: 坏, en: Broken}\n"
        "roles: [admin, janitor]\n"
        "cards:\n"
        "  - {report: no_such_report, chart: bar}\n"
        "  - {report: audit_trail, chart: table,\n"
        "     params: {colour: red, period_from: '2026-01-01'}}\n"
    )
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(tmp_path / "metadata", ROOT / "workflows")
    assert [str(issue) for issue in raised.value.issues] == [
        "dashboards/broken.yaml:3 roles[1]: unknown role 'janitor'",
        "dashboards/broken.yaml:5 cards[0].report: unknown report 'no_such_report'",
        "dashboards/broken.yaml:7 cards[1].params.colour: unknown parameter 'colour'",
    ]
