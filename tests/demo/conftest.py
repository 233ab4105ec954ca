"""The demo chain under test: the shipped catalogue, small options, the CLI against the test DB."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app import demo
from tests.conftest import PROJECT_ROOT

#: The chain the CLI tests load: two stores, one warehouse, ten items, three days.
TINY = ["--stores", "2", "--warehouses", "1", "--items", "10", "--days", "3"]


@pytest.fixture
def runner(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
    monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path / "instance"))
    return CliRunner()


@pytest.fixture
def load_demo(db):
    """``load_demo(stores=..., days=...)`` loads a demo chain into the test database."""

    def _load(**options):
        return demo.load(
            db.transaction, PROJECT_ROOT / "metadata", PROJECT_ROOT / "workflows",
            demo.Options(**options),
        )  # fmt: skip

    return _load
