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
        "  - {report: till_deposits, chart: kpi, measure: cash}\n"
        "  - {report: till_deposits, chart: kpi, measure: store}\n"
    )
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(tmp_path / "metadata", ROOT / "workflows")
    assert [str(issue) for issue in raised.value.issues] == [
        "dashboards/broken.yaml:3 roles[1]: unknown role 'janitor'",
        "dashboards/broken.yaml:5 cards[0].report: unknown report 'no_such_report'",
        "dashboards/broken.yaml:7 cards[1].params.colour: unknown parameter 'colour'",
        "dashboards/broken.yaml:8 cards[2].measure: 'cash' is not one of the report's figures"
        " (a column of numbers it shows)",
        "dashboards/broken.yaml:9 cards[3].measure: 'store' is not one of the report's figures"
        " (a column of numbers it shows)",
    ]


def test_an_untitled_card_is_titled_by_its_report(tmp_path):
    from app.meta.dashboards import dashboard_for

    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    (tmp_path / "metadata" / "dashboards" / "aaa.yaml").write_text(
        "name: aaa\nlabel: {zh_CN: 甲, en: A}\nroles: [auditor]\n"
        "cards:\n  - {report: audit_trail, chart: table}\n"
        "  - {report: audit_trail, chart: table, title: {zh_CN: 审计, en: Audit}}\n"
    )
    metadata = load_metadata(tmp_path / "metadata", ROOT / "workflows")
    board = dashboard_for(metadata, ["auditor"], lambda name: True)
    assert [card["title"] for card in board["cards"]] == [
        metadata.reports["audit_trail"].data["label"],
        {"zh_CN": "审计", "en": "Audit"},
    ]
