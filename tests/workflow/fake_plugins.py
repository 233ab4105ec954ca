"""An integrator's plugin package, installed for one test: a distribution (``*.dist-info`` with
its ``entry_points.txt``) and its modules in a folder put on ``sys.path``, found through the
``lianku.actions`` entry points as any installed package is. Also how a broken one looks: an
entry point whose module is missing, or whose name is not its action's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app import create_app
from app.workflow.actions import installed_actions

#: A plugin with an effect outside the database (it "calls the ERP": appends to ``SENT``), which
#: it skips on a preview, and an action that writes a key its form does not declare.
ERP_MODULE = """
from app.workflow import Action

SEEN = []  # (transition, preview) of each run
SENT = []  # what reached the "ERP": only what a real firing sent


class ErpPush(Action):
    name = "erp_push"

    def run(self, context):
        SEEN.append((context.transition, context.preview))
        if context.preview:
            return
        SENT.append(context.record.id)


class ErpStamp(Action):
    name = "erp_stamp"

    def run(self, context):
        context.record.data = {**context.record.data, "erp_reference": "ERP-0001"}
"""


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch):
    """``fake_plugin("lianku-erp", {"erp_push": "lianku_erp:ErpPush"}, {"lianku_erp": code})``
    installs that distribution (version 0.3) for the test; the installed actions are read anew
    before and after."""
    folder = tmp_path / "site"
    added: list[str] = []

    def install(distribution: str, entry_points: dict[str, str], modules: dict[str, str]):
        info = folder / f"{distribution.replace('-', '_')}-0.3.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.3\n", encoding="utf-8"
        )
        lines = [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text(
            "[lianku.actions]\n" + "\n".join(lines) + "\n", encoding="utf-8"
        )
        for module, code in modules.items():
            Path(folder / f"{module}.py").write_text(code, encoding="utf-8")
            added.append(module)
        monkeypatch.syspath_prepend(str(folder))
        installed_actions.cache_clear()

    yield install
    for module in added:
        sys.modules.pop(module, None)
    monkeypatch.undo()
    installed_actions.cache_clear()


@pytest.fixture
def lab_app(db, lab_config, fake_plugin):
    """The ``field_lab`` test bed of ``tests.forms_fixtures`` (its ``org`` and ``api`` too),
    with the ``lianku-erp`` plugin installed before the application starts."""
    fake_plugin(
        "lianku-erp",
        {"erp_push": "lianku_erp:ErpPush", "erp_stamp": "lianku_erp:ErpStamp"},
        {"lianku_erp": ERP_MODULE},
    )
    application = create_app(lab_config)
    application.config["TESTING"] = True
    yield application
    application.extensions["lianku.db"].dispose()
