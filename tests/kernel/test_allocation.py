"""The allocation planner on the small chain of ``tests/allocation_chain.py``: each expected plan
is worked out by hand from the stock table and the distances in that module's docstring."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D

import pytest

from app.kernel import AllocationImpossible, open_stock_lock, reserve
from app.kernel.allocation import Rule, Rules, distance_km, plan
from app.kernel.items import Item, Lot
from app.kernel.locations import Location, LocationType, add_location
from app.kernel.stock import Movement, Reason, post_movements
from tests.allocation_chain import add_allocation_chain
from tests.kernel.conftest import TODAY

DEFAULT = Rules()  # own_location, nearest, split; stores and warehouses; no distance limit
WITHIN_200 = dataclasses.replace(DEFAULT, max_distance_km=200)


@pytest.fixture
def chain(db):
    with db.transaction() as session:
        return add_allocation_chain(session, TODAY)


def planned(db, chain, quantity, at="SH01", rules=DEFAULT, item="STRIP", taken=None):
    with db.session() as session:
        result = plan(session, session.get(Item, chain[item]), quantity,
                      session.get(Location, chain[at]), rules, TODAY, taken)  # fmt: skip
        picks = [(pick.location.code, pick.lot.lot_number if pick.lot else None, pick.quantity,
                  None if pick.distance_km is None else round(pick.distance_km, 1))
                 for pick in result.picks]  # fmt: skip
        return result.rule, picks, result.reason


def test_distances_are_great_circle_from_the_coordinates(db, chain):
    with db.session() as session:
        sh01 = session.get(Location, chain["SH01"])
        km = {code: distance_km(sh01, session.get(Location, chain[code]))
              for code in ("WH-SH", "SZ01", "HZ01", "WH-NJ", "NC01")}  # fmt: skip
    assert {code: round(value, 1) for code, value in km.items() if value is not None} == {
        "WH-SH": 25.5, "SZ01": 84.8, "HZ01": 164.9, "WH-NJ": 269.7,
    }  # fmt: skip
    assert km["NC01"] is None


def test_own_stock_first_fefo(db, chain):
    # SH01 holds A 2 (100 days) and B 3 (200 days): 4 come from here, A first
    assert planned(db, chain, 4) == (
        Rule.own_location,
        [("SH01", "A", D(2), 0.0), ("SH01", "B", D(2), 0.0)],
        "本店库存 / own stock",
    )


def test_nearest_single_location_that_fills_the_whole_line(db, chain):
    # 8: SH01 has 5, WH-SH (25.5 km) 6 — neither fills it; SZ01 (84.8 km) has 10 and does;
    # WH-NJ and NC01 have more but are farther / unmeasured
    assert planned(db, chain, 8) == (
        Rule.nearest,
        [("SZ01", "C", D(8), 84.8)],
        "最近有货 SZ01（84.8 km）/ nearest with stock: SZ01 (84.8 km)",
    )


def test_split_nearest_first_within_the_distance_limit(db, chain):
    # 20 within 200 km: no single location has 20 (WH-NJ at 269.7 km and NC01 without
    # coordinates are out); split nearest first: SH01 5 (A 2, B 3) + WH-SH 6 (B; X is expired)
    # + SZ01 9 of its 10 = 20
    rule, picks, reason = planned(db, chain, 20, rules=WITHIN_200)
    assert rule == Rule.split
    assert picks == [
        ("SH01", "A", D(2), 0.0), ("SH01", "B", D(3), 0.0),
        ("WH-SH", "B", D(6), 25.5), ("SZ01", "C", D(9), 84.8),
    ]  # fmt: skip
    assert reason == (
        "拆分：SH01 5 + WH-SH 6（25.5 km） + SZ01 9（84.8 km）"
        " / split: SH01 5 + WH-SH 6 (25.5 km) + SZ01 9 (84.8 km)"
    )


def test_without_a_limit_the_far_warehouse_fills_the_line_alone(db, chain):
    # 20 with no limit: WH-NJ (269.7 km, 30) is the nearest that can fill all 20
    assert planned(db, chain, 20)[:2] == (Rule.nearest, [("WH-NJ", "C", D(20), 269.7)])


def test_locations_without_coordinates_rank_last_and_say_so(db, chain):
    # 25: WH-NJ (30, measured) before NC01 (50, unmeasured); 40: only NC01 has that many
    assert planned(db, chain, 25)[1] == [("WH-NJ", "C", D(25), 269.7)]
    assert planned(db, chain, 40) == (
        Rule.nearest,
        [("NC01", "C", D(40), None)],
        "最近有货 NC01（无坐标，距离未知）/ nearest with stock: NC01 (no coordinates, distance "
        "unknown)",
    )


def test_an_ordering_location_without_coordinates_ranks_the_others_by_code(db, chain):
    # at NC01 (50 of its own), 60: nobody else is measurable, so by code: HZ01 4, SH01 5 (A, B),
    # SZ01 1 of 10 → 50 + 4 + 5 + 1
    rule, picks, reason = planned(db, chain, 60, at="NC01")
    assert rule == Rule.split
    assert [(code, quantity) for code, _lot, quantity, _km in picks] == [
        ("NC01", D(50)), ("HZ01", D(4)), ("SH01", D(2)), ("SH01", D(3)), ("SZ01", D(1)),
    ]  # fmt: skip
    assert reason.startswith("拆分：NC01 50 + HZ01 4（无坐标，距离未知） + SH01 5（无坐标")


def test_only_the_allowed_location_types(db, chain):
    # warehouses only, 8: WH-SH has 6, WH-NJ 30 → WH-NJ; stores SZ01/NC01 are not asked
    warehouses = dataclasses.replace(DEFAULT, location_types=(LocationType.warehouse,))
    assert planned(db, chain, 8, rules=warehouses)[1] == [("WH-NJ", "C", D(8), 269.7)]


def test_rules_are_tried_in_their_order(db, chain):
    # split first: 8 = SH01 5 + WH-SH 3, although SZ01 could fill it alone
    split_first = dataclasses.replace(DEFAULT, order=(Rule.split, Rule.nearest))
    assert planned(db, chain, 8, rules=split_first)[1] == [
        ("SH01", "A", D(2), 0.0), ("SH01", "B", D(3), 0.0), ("WH-SH", "B", D(3), 25.5),
    ]  # fmt: skip
    own_only = Rules(order=(Rule.own_location,))
    with pytest.raises(AllocationImpossible) as refused:
        planned(db, chain, 8, rules=own_only)
    assert (refused.value.requested, refused.value.available) == (D(8), D(5))


def test_nothing_anywhere_names_the_item_requested_and_available(db, chain):
    # within 200 km: SH01 5 + WH-SH 6 + SZ01 10 + HZ01 4 = 25 at most
    with pytest.raises(AllocationImpossible) as refused:
        planned(db, chain, 30, rules=WITHIN_200)
    assert (refused.value.requested, refused.value.available) == (D(30), D(25))
    message = str(refused.value)
    assert "STRIP" in message and "30" in message and "25" in message


def test_shelf_life_reserved_stock_closed_and_counted_locations_are_not_offered(db, chain):
    # min 150 days: lot A (100 days) is out, so SH01 offers only B 3 and HZ01 nothing
    long_dated = dataclasses.replace(WITHIN_200, min_shelf_life_days=150)
    assert planned(db, chain, 3, rules=long_dated)[1] == [("SH01", "B", D(3), 0.0)]
    assert planned(db, chain, 4, rules=long_dated)[1] == [("WH-SH", "B", D(4), 25.5)]
    with db.transaction() as session:
        strip = session.get(Item, chain["STRIP"])
        lot_b = session.get(Lot, chain["lot:B"])
        reserve(session, "SO-OTHER", 1, strip, 4, session.get(Location, chain["WH-SH"]),
                lot=lot_b, today=TODAY)  # fmt: skip
    # WH-SH has 6 − 4 reserved = 2 free now; 4 come from SZ01
    assert planned(db, chain, 4, rules=long_dated)[1] == [("SZ01", "C", D(4), 84.8)]
    with db.transaction() as session:
        open_stock_lock(session, session.get(Location, chain["SZ01"]))
        session.get(Location, chain["HZ01"]).active = False
    # SZ01 is being counted, HZ01 is closed: 10 within 200 km = SH01 5 + WH-SH 2 … and no more
    with pytest.raises(AllocationImpossible) as refused:
        planned(db, chain, 10, rules=WITHIN_200)
    assert refused.value.available == D(7)


def test_ties_go_by_location_code(db, chain):
    # WH-AA stands exactly where WH-SH does, with 6 of lot B: same distance, its code first
    with db.transaction() as session:
        wh_sh = session.get(Location, chain["WH-SH"])
        twin = add_location(session, "WH-AA", "同址仓", "warehouse", wh_sh.parent,
                            latitude=wh_sh.latitude, longitude=wh_sh.longitude)  # fmt: skip
        post_movements(session, [Movement(item=session.get(Item, chain["STRIP"]), quantity=D(6),
                                          destination=twin, lot=session.get(Lot, chain["lot:B"]),
                                          reason=Reason.opening)], today=TODAY)  # fmt: skip
    assert planned(db, chain, 6)[1] == [("WH-AA", "B", D(6), 25.5)]


def test_what_earlier_lines_took_is_not_offered_again(db, chain):
    # another line of the order took 5 of SZ01's 10: 8 more now come from WH-NJ
    taken = {(chain["SZ01"], chain["lot:C"]): D(5)}
    assert planned(db, chain, 8, taken=taken)[1] == [("WH-NJ", "C", D(8), 269.7)]


def test_serial_devices_are_planned_by_lot(db, chain):
    # PACE: none at SH01; WH-SH (25.5 km) has 2 units, WH-NJ 1: 3 = split WH-SH 2 + WH-NJ 1
    assert planned(db, chain, 2, item="PACE")[1] == [("WH-SH", "P1", D(2), 25.5)]
    assert planned(db, chain, 3, item="PACE")[:2] == (
        Rule.split, [("WH-SH", "P1", D(2), 25.5), ("WH-NJ", "P1", D(1), 269.7)],
    )  # fmt: skip


def test_shelf_life_counts_from_the_day_planned(db, chain):
    # planned tomorrow, lot A has 99 days left: with 100 days minimum SH01 offers B only
    rules = dataclasses.replace(DEFAULT, min_shelf_life_days=100)
    with db.session() as session:
        result = plan(session, session.get(Item, chain["STRIP"]), 2,
                      session.get(Location, chain["SH01"]), rules,
                      TODAY + dt.timedelta(days=1))  # fmt: skip
        assert [(p.lot.lot_number, p.quantity) for p in result.picks] == [("B", D(2))]
