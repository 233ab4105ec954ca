"""The one business moment the application tests run at (``conftest.py`` holds the clock there).

The fixtures build licences, expiry dates and arrival dates from ``TODAY`` when they are
imported, and the services stamp what they save with the clock: without one moment for both, a
suite that runs across midnight in the business time zone compares yesterday's fixture dates
with today's saves and fails for no fault of the code.
"""

import datetime as dt

from app.db import clock_at, utcnow
from app.kernel.items import business_timezone

SUITE_STARTED = utcnow()
TODAY = SUITE_STARTED.astimezone(business_timezone()).date()


def days_ahead(days: int):
    """The clock ``days`` after the suite's moment (none before it): a sale dated a day ahead is
    made on that day, as a document cannot be dated after today."""
    return clock_at(SUITE_STARTED + dt.timedelta(days=max(days, 0)))
