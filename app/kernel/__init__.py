"""The inventory kernel: typed tables and plain functions that must never be wrong.

It knows nothing about forms, YAML or HTTP; the engines above call it and it raises typed errors.
"""

from app.kernel import audit, jobs, tokens
from app.kernel.locations import Location, LocationType, add_location, descendants, region_of
from app.kernel.tokens import ApiToken
from app.kernel.users import User

__all__ = [
    "ApiToken",
    "Location",
    "LocationType",
    "User",
    "add_location",
    "audit",
    "descendants",
    "jobs",
    "region_of",
    "tokens",
]
