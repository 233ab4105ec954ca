"""The one business moment the application tests run at (``conftest.py`` holds the clock there).

The fixtures build licences, expiry dates and arrival dates from ``TODAY`` when they are
imported, and the services stamp what they save with the clock: without one moment for both, a
suite that runs across midnight in the business time zone compares yesterday's fixture dates
with today's saves and fails for no fault of the code.
"""

from app.db import utcnow
from app.kernel.items import business_timezone

SUITE_STARTED = utcnow()
TODAY = SUITE_STARTED.astimezone(business_timezone()).date()
