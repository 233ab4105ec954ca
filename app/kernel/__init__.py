"""The inventory kernel: typed tables and plain functions that must never be wrong.

It knows nothing about forms, YAML or HTTP; the engines above call it and it raises typed errors.
"""

from app.kernel import audit, jobs
from app.kernel.locations import Location, LocationType, add_location, descendants, region_of
from app.kernel.users import User

__all__ = [
    "Location",
    "LocationType",
    "User",
    "add_location",
    "audit",
    "jobs",
    "descendants",
    "region_of",
]
