"""Great-circle distance between two points of the earth, for "nearest location first".

Replenishment and order allocation rank locations by how far apart they are, from the latitude
and longitude each location carries. The haversine formula on a sphere of the earth's mean radius
is exact enough for ranking stores and warehouses (its error is below 0.5 %); a distance is a
float in km, the one non-Decimal figure the kernel hands out.
"""

from __future__ import annotations

import math
from decimal import Decimal

#: The earth's mean radius (IUGG), in km.
EARTH_RADIUS_KM = 6371.0088

Degrees = float | Decimal | None


def great_circle_km(lat1: Degrees, lon1: Degrees, lat2: Degrees, lon2: Degrees) -> float | None:
    """The great-circle distance in km between two points given in degrees (haversine); ``None``
    when a coordinate is missing, so that callers rank such locations last."""
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    phi1, phi2 = math.radians(float(lat1)), math.radians(float(lat2))
    d_phi = phi2 - phi1
    d_lambda = math.radians(float(lon2) - float(lon1))
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
