"""A small chain with real coordinates for the order allocation tests (kernel and API).

HQ → region R-EAST → stores SH01 (上海人民广场), SZ01 (苏州), HZ01 (杭州), NC01 (no coordinates)
and warehouses WH-SH (上海嘉定) and WH-NJ (南京). Great-circle distances from SH01, worked out by
hand with the flat-earth approximation (1° of latitude = 111.195 km; 1° of longitude = 111.195 km
× cos of the mean latitude), which agrees with the haversine to 0.01 km at these distances:

============  ===================  =====================================  ========
location      lat, lon             Δnorth, Δeast from SH01 (km)           distance
============  ===================  =====================================  ========
SH01          31.2304, 121.4737    0, 0                                   0
WH-SH         31.3747, 121.2650    +0.1443° → 16.05; −0.2087° → −19.83     25.5
SZ01          31.2989, 120.5853    +0.0685° → 7.62; −0.8884° → −84.44      84.8
HZ01          30.2741, 120.1551    −0.9563° → −106.34; −1.3186° → −126.00  164.9
WH-NJ         32.0603, 118.7969    +0.8299° → 92.28; −2.6768° → −253.39    269.7
NC01          —                    —                                      unknown
============  ===================  =====================================  ========

(e.g. WH-SH: √(16.05² + 19.83²) = √(257.6 + 393.2) = √650.8 = 25.51 km.)

Glucose strips ``STRIP`` (lot-tracked) by lot — A expires in 100 days, B in 200, C in 400, X
expired 10 days ago — and pacemakers ``PACE`` (serial-tracked, lot P1) in stock:

=====  ===================  ==============
where  STRIP                PACE
=====  ===================  ==============
SH01   A 2, B 3  (5)        —
WH-SH  B 6, X 5 (expired)   P1: SN1, SN2
SZ01   C 10                 —
HZ01   A 4                  —
WH-NJ  C 30                 P1: SN3
NC01   C 50                 —
=====  ===================  ==============
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.kernel.items import add_item, get_or_create_lot, get_or_create_unit, gtin_check_digit
from app.kernel.locations import add_location
from app.kernel.stock import Movement, Reason, post_movements

#: code → (name, type, latitude, longitude)
PLACES = {
    "SH01": ("上海人民广场店", "store", "31.2304", "121.4737"),
    "WH-SH": ("上海嘉定仓", "warehouse", "31.3747", "121.2650"),
    "SZ01": ("苏州观前店", "store", "31.2989", "120.5853"),
    "HZ01": ("杭州西湖店", "store", "30.2741", "120.1551"),
    "WH-NJ": ("南京仓", "warehouse", "32.0603", "118.7969"),
    "NC01": ("无坐标店", "store", None, None),
}
#: lot → days to expiry
STRIP_LOTS = {"A": 100, "B": 200, "C": 400, "X": -10}
#: location → [(lot, quantity)]
STRIP_STOCK = {
    "SH01": [("A", 2), ("B", 3)],
    "WH-SH": [("B", 6), ("X", 5)],
    "SZ01": [("C", 10)],
    "HZ01": [("A", 4)],
    "WH-NJ": [("C", 30)],
    "NC01": [("C", 50)],
}
PACE_UNITS = {"WH-SH": ["SN1", "SN2"], "WH-NJ": ["SN3"]}
STRIP_GTIN = "0695099900001" + str(gtin_check_digit("0695099900001"))
PACE_GTIN = "0695099900002" + str(gtin_check_digit("0695099900002"))


def add_allocation_chain(session, today: dt.date) -> dict:
    """Create the chain with its stock; returns ids by code (locations, items, ``lot:A``…)."""
    hq = add_location(session, "HQ", "总部", "hq")
    region = add_location(session, "R-EAST", "华东区", "region", hq)
    places = {}
    for code, (name, kind, latitude, longitude) in PLACES.items():
        places[code] = add_location(
            session, code, name, kind, region,
            latitude=Decimal(latitude) if latitude else None,
            longitude=Decimal(longitude) if longitude else None,
        )  # fmt: skip
    strip = add_item(
        session, "STRIP", "血糖试纸", specification="50片/盒", gtin=STRIP_GTIN,
        registration_cert="国械注准20192220001", registration_expiry=today + dt.timedelta(900),
        device_class="II", tracking="lot",
    )  # fmt: skip
    pace = add_item(
        session, "PACE", "植入式心脏起搏器", specification="SR-200", gtin=PACE_GTIN,
        registration_cert="国械注准20193120002", registration_expiry=today + dt.timedelta(900),
        device_class="III", tracking="serial",
    )  # fmt: skip
    lots = {
        number: get_or_create_lot(session, strip, number, today + dt.timedelta(days))
        for number, days in STRIP_LOTS.items()
    }
    p1 = get_or_create_lot(session, pace, "P1", today + dt.timedelta(400))
    movements = [
        Movement(item=strip, quantity=Decimal(quantity), destination=places[code],
                 lot=lots[lot], reason=Reason.opening)
        for code, stock in STRIP_STOCK.items() for lot, quantity in stock
    ]  # fmt: skip
    for code, serials in PACE_UNITS.items():
        for serial in serials:
            unit = get_or_create_unit(session, pace, serial, p1)
            movements.append(Movement(item=pace, quantity=Decimal(1), destination=places[code],
                                      lot=p1, unit=unit, reason=Reason.opening))  # fmt: skip
    # the expired lot was received before it expired
    post_movements(session, movements, document="OPENING", today=today - dt.timedelta(30))
    ids = {code: place.id for code, place in places.items()}
    ids |= {"HQ": hq.id, "R-EAST": region.id, "STRIP": strip.id, "PACE": pace.id, "P1": p1.id}
    ids |= {f"lot:{number}": lot.id for number, lot in lots.items()}
    return ids
