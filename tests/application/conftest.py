import pytest

from app.db import clock_at
from tests.application.clock import SUITE_STARTED


@pytest.fixture(autouse=True)
def one_business_moment():
    """Every application test runs with the clock held at the suite's start (``clock.py``)."""
    with clock_at(SUITE_STARTED):
        yield
