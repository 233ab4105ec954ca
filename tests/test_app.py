"""The app factory refuses invalid metadata instead of serving a half-valid application."""

import shutil
from pathlib import Path

import pytest

from app import create_app
from app.meta import MetadataInvalid

ROOT = Path(__file__).resolve().parent.parent


def test_app_refuses_to_start_on_invalid_metadata(app_config, tmp_path):
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    (tmp_path / "metadata" / "forms" / "broken.yaml").write_text("name: broken\nfields: []\n")
    with pytest.raises(MetadataInvalid) as raised:
        create_app({**app_config, "METADATA_DIR": str(tmp_path / "metadata")})
    assert "forms/broken.yaml:1: missing required key 'label'" in str(raised.value)
