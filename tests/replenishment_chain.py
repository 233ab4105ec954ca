"""A small chain with real coordinates for the replenishment tests (kernel and application).

HQ → region East: warehouse WH-SH (Shanghai, no policy), stores S-SH (Shanghai), S-SZ (Suzhou),
S-HZ (Hangzhou), warehouse WH-NJ (Nanjing, no policy); region North: store S-BJ (Beijing).
Great-circle distances (km): S-SH–WH-SH 1.7; S-SZ–WH-SH 84.8, S-SZ–S-HZ 121.1,
S-SZ–WH-NJ 189.2; S-BJ is ~1 000 km from all.

Items: STRIP (near-expiry threshold 90 days), GAUZE (30 days). Sales in the last 28 days give the
velocities; every figure of the expected plans is worked out in the tests that use it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Integer, literal, select, union_all

from app.db import Quantity
from app.kernel.items import add_item, business_today, get_or_create_lot
from app.kernel.locations import add_location
from app.kernel.stock import Movement, Reason, post_movements

COORDINATES = {
    "WH-SH": ("warehouse", "East", "31.2304", "121.4737"),
    "S-SH": ("store", "East", "31.2222", "121.4581"),
    "S-SZ": ("store", "East", "31.2989", "120.5853"),
    "S-HZ": ("store", "East", "30.2741", "120.1551"),
    "WH-NJ": ("warehouse", "East", "32.0603", "118.7969"),
    "S-BJ": ("store", "North", "39.9042", "116.4074"),
}
#: (location, item) → (safety stock, reorder point, max stock)
POLICIES = {
    ("S-SH", "STRIP"): (10, 20, 45),
    ("S-SZ", "STRIP"): (10, 20, 60),
    ("S-HZ", "STRIP"): (2, 5, 15),
    ("S-SH", "GAUZE"): (2, 5, 30),
    ("S-SZ", "GAUZE"): (2, 5, 20),
    ("S-BJ", "GAUZE"): (1, 2, 10),
}
#: units sold in the last 28 days: velocity = sold / 28
SALES = {
    ("S-SH", "STRIP"): 84,  # 3 a day
    ("S-SZ", "STRIP"): 56,  # 2 a day
    ("S-HZ", "STRIP"): 28,  # 1 a day
    ("S-SH", "GAUZE"): 56,  # 2 a day
    ("S-SZ", "GAUZE"): 28,  # 1 a day
    ("S-BJ", "GAUZE"): 14,  # 0.5 a day
}
#: (location, item, lot, days to expiry, quantity): the stock on hand today
STOCK = [
    ("WH-SH", "STRIP", "E95", 95, 5),
    ("WH-SH", "STRIP", "A100", 100, 30),
    ("WH-SH", "STRIP", "B300", 300, 20),
    ("S-SZ", "STRIP", "F400", 400, 10),
    ("S-HZ", "STRIP", "H400", 400, 20),
    ("WH-NJ", "STRIP", "C500", 500, 8),
    ("S-BJ", "GAUZE", "N20", 20, 40),
    ("S-SH", "GAUZE", "M25", 25, 20),
    ("S-SZ", "GAUZE", "P200", 200, 10),
]


def build(session, today: dt.date | None = None) -> dict:
    """The chain, its stock (received as purchase receipts ``PR-<location>``) and its sales;
    returns ids by code (locations, items) and ``lot:<number>``."""
    today = today or business_today()
    hq = add_location(session, "HQ", "总部", "hq")
    regions = {
        "East": add_location(session, "EAST", "华东区", "region", hq),
        "North": add_location(session, "NORTH", "华北区", "region", hq),
    }
    places = {
        code: add_location(
            session, code, code, kind, regions[region],
            latitude=Decimal(latitude), longitude=Decimal(longitude),
        )
        for code, (kind, region, latitude, longitude) in COORDINATES.items()
    }  # fmt: skip
    items = {
        "STRIP": add_item(session, "STRIP", "血糖试纸", near_expiry_days=90),
        "GAUZE": add_item(session, "GAUZE", "纱布", near_expiry_days=30),
    }
    ids = {code: place.id for code, place in places.items()}
    ids.update({code: item.id for code, item in items.items()})
    ids["HQ"], ids["EAST"], ids["NORTH"] = hq.id, regions["East"].id, regions["North"].id
    for location, item, number, days, quantity in STOCK:
        lot = get_or_create_lot(session, items[item], number, today + dt.timedelta(days=days))
        ids[f"lot:{number}"] = lot.id
        post_movements(
            session,
            [Movement(item=items[item], quantity=Decimal(quantity), lot=lot,
                      destination=places[location], unit_cost=Decimal("5"))],
            reason=Reason.purchase_receipt, document=f"PR-{location}",
        )  # fmt: skip
    for (location, item), sold in SALES.items():
        lot = get_or_create_lot(
            session, items[item], f"SOLD-{location}", today + dt.timedelta(days=900)
        )
        moved = {"item": items[item], "quantity": Decimal(sold), "lot": lot}
        place = places[location]
        post_movements(
            session, [Movement(**moved, destination=place)], reason=Reason.opening,
            document="OPENING",
        )  # fmt: skip
        post_movements(
            session, [Movement(**moved, source=place)], reason=Reason.sale,
            document=f"SALES-{location}",
        )  # fmt: skip
    session.flush()
    return ids


def rows_select(rows: list[dict], types: dict):
    """A SELECT of literal rows (``UNION ALL``), the same on both databases."""
    selects = [
        select(*[literal(row[name], types[name]).label(name) for name in types]) for row in rows
    ]
    return union_all(*selects) if len(selects) > 1 else selects[0]


POLICY_TYPES = {
    "location_id": Integer(),
    "item_id": Integer(),
    "safety_stock": Quantity,
    "reorder_point": Quantity,
    "max_stock": Quantity,
}
COMMITMENT_TYPES = {
    "location_id": Integer(),
    "item_id": Integer(),
    "incoming": Quantity,
    "outgoing": Quantity,
}


def policies(ids: dict, chosen=POLICIES):
    return rows_select(
        [
            {"location_id": ids[location], "item_id": ids[item], "safety_stock": Decimal(safety),
             "reorder_point": Decimal(reorder), "max_stock": Decimal(maximum)}
            for (location, item), (safety, reorder, maximum) in chosen.items()
        ],
        POLICY_TYPES,
    )  # fmt: skip
