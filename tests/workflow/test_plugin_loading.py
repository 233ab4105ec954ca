"""An installed plugin whose entry point is broken is one problem, said in one line — which
entry point, of which distribution, what went wrong — not a traceback: ``lianku check`` lists
it and exits 1, and the application refuses to start with that line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.workflow import fake_plugins
from tests.workflow.fake_plugins import ERP_MODULE

fake_plugin = fake_plugins.fake_plugin  # (fixture)


@pytest.fixture
def cli(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
    monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path / "instance"))
    return CliRunner()


def test_check_lists_a_plugin_whose_module_is_missing_as_one_problem(fake_plugin, cli):
    fake_plugin("lianku-erp", {"erp_push": "lianku_erp.actions:ErpPush"}, {})
    result = cli.invoke(main, ["check"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "plugin lianku-erp 0.3, entry point erp_push = lianku_erp.actions:ErpPush: cannot load "
        "it: ModuleNotFoundError: No module named 'lianku_erp'",
        "1 problem(s) found",
    ]


def test_check_names_an_entry_point_registered_under_another_name_than_its_action(fake_plugin, cli):
    fake_plugin("lianku-erp", {"erp_sync": "lianku_erp:ErpPush"}, {"lianku_erp": ERP_MODULE})
    result = cli.invoke(main, ["check"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "plugin lianku-erp 0.3, entry point erp_sync = lianku_erp:ErpPush: the action calls "
        "itself 'erp_push': the entry point must have the action's name",
        "1 problem(s) found",
    ]


def test_the_app_refuses_to_start_naming_the_broken_plugin_in_a_line(fake_plugin, cli, db):
    fake_plugin("lianku-erp", {"erp_push": "lianku_erp.actions:ErpPush"}, {})
    result = cli.invoke(main, ["run", "--no-worker"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (
        "plugin lianku-erp 0.3, entry point erp_push = lianku_erp.actions:ErpPush: cannot load "
        "it: ModuleNotFoundError: No module named 'lianku_erp'" in result.output
    )
    assert "Traceback" not in result.output
