"""The organisation tree: paths, descendants, regions."""

from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from app.kernel.locations import LocationType, add_location, descendants, region_of


@pytest.fixture
def tree(db):
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        east = add_location(session, "R-EAST", "华东区", "region", hq)
        north = add_location(session, "R-NORTH", "华北区", "region", hq)
        sh01 = add_location(
            session, "SH01", "上海徐汇店", "store", east,
            latitude=Decimal("31.188000"), longitude=Decimal("121.436000"),
        )  # fmt: skip
        bj01 = add_location(session, "BJ01", "北京朝阳店", "store", north)
        wh = add_location(session, "WH-SH", "上海中心仓", "warehouse", east)
    return {loc.code: loc.id for loc in (hq, east, north, sh01, bj01, wh)}


def test_paths_are_materialised_from_the_root(db, tree):
    from app.kernel.locations import Location

    with db.session() as session:
        sh01 = session.get(Location, tree["SH01"])
        assert sh01.path == f"/{tree['HQ']}/{tree['R-EAST']}/{tree['SH01']}/"
        assert sh01.type is LocationType.store
        assert sh01.holds_stock
        assert not session.get(Location, tree["R-EAST"]).holds_stock
        assert sh01.latitude == Decimal("31.188000")


def test_descendants_and_region(db, tree):
    from app.kernel.locations import Location

    with db.session() as session:
        east = session.get(Location, tree["R-EAST"])
        assert [loc.code for loc in descendants(session, east)] == ["R-EAST", "SH01", "WH-SH"]
        assert region_of(session, session.get(Location, tree["WH-SH"])).code == "R-EAST"
        assert region_of(session, session.get(Location, tree["HQ"])) is None


def test_location_codes_are_unique(db, tree):
    with pytest.raises(IntegrityError), db.transaction() as session:
        add_location(session, "SH01", "重复", "store")


def test_unknown_location_type_is_refused(db):
    with pytest.raises(ValueError), db.transaction() as session:
        add_location(session, "X", "X", "shop")
