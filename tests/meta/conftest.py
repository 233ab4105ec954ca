"""Fixtures of the metadata tests."""

from pathlib import Path

import pytest

from app.meta import load_metadata

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def metadata():
    """The shipped metadata, loaded and checked."""
    return load_metadata(ROOT / "metadata", ROOT / "workflows")
