"""Item prices (调价): which price change is in force where and when, and what the kernel refuses.

The world: HQ ▸ East region ▸ warehouse WH, stores S1 and S2; items STRIP and GLOVE.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.db import clock_at, utcnow
from app.kernel.audit import AuditEntry
from app.kernel.items import business_timezone
from app.kernel.prices import (
    ItemPrice,
    ItemTwice,
    NegativePrice,
    NoPrice,
    PriceAlreadyInForce,
    PriceInThePast,
    PriceLine,
    price_on,
    set_prices,
    withdraw_prices,
)

#: The moment these tests run at: the dates below are built from it when the module is imported,
#: and a run crossing midnight in the business time zone would otherwise date the changes
#: yesterday against the kernel's today (CI failed so at 00:00 Asia/Shanghai).
MOMENT = utcnow()
TODAY = MOMENT.astimezone(business_timezone()).date()


@pytest.fixture(autouse=True)
def one_business_day():
    with clock_at(MOMENT):
        yield


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def retail(db, item, location, on=TODAY):
    with db.session() as session:
        return price_on(session, item.id, location.id if location else None, on)


def wholesale(db, item, location, on=TODAY):
    with db.session() as session:
        return price_on(session, item.id, location.id if location else None, on, "wholesale")


def test_the_latest_change_covering_the_location_is_in_force(db, world):
    assert retail(db, world.strips, world.s1) is None  # no change: the card's list price applies
    with db.transaction() as session:
        strips = session.merge(world.strips)
        set_prices(session, [PriceLine(strips, D("20.00"), D("15.00"))], TODAY, "TJ-1")
        east, s1 = session.merge(world.east), session.merge(world.s1)
        set_prices(session, [PriceLine(strips, D("22.00"))], TODAY, "TJ-2", east)
        set_prices(session, [PriceLine(strips, D("23.50"))], TODAY, "TJ-3", s1)
    # the same day: the store's own over its region's over the chain's
    assert retail(db, world.strips, world.s1) == D("23.50")
    assert retail(db, world.strips, world.s2) == D("22.00")
    assert retail(db, world.strips, None) == D("20.00")  # no location: the chain's alone
    # only the chain's change set a wholesale price, and it holds everywhere
    assert wholesale(db, world.strips, world.s1) == D("15.00")
    assert wholesale(db, world.strips, world.wh) == D("15.00")
    assert retail(db, world.gloves, world.s1) is None  # another item: untouched


def test_a_later_chain_wide_change_overrides_an_earlier_store_price(db, world):
    with db.transaction() as session:
        strips, s1 = session.merge(world.strips), session.merge(world.s1)
        set_prices(session, [PriceLine(strips, D("23.50"))], TODAY, "TJ-1", s1)
        set_prices(session, [PriceLine(strips, D("19.90"))], day(3), "TJ-2")
    assert retail(db, world.strips, world.s1) == D("23.50")
    assert retail(db, world.strips, world.s1, day(2)) == D("23.50")  # not in force before its day
    assert retail(db, world.strips, world.s1, day(3)) == D("19.90")
    assert retail(db, world.strips, world.s2, day(2)) is None


def test_a_price_change_leaves_one_audit_entry_naming_every_price(db, world):
    with db.transaction() as session:
        strips, gloves = session.merge(world.strips), session.merge(world.gloves)
        lines = [PriceLine(strips, D("22.00")), PriceLine(gloves, None, D("0.80"))]
        set_prices(session, lines, day(1), "TJ-9", session.merge(world.east), world.clerk)
    with db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "price.set")).one()
    assert (entry.entity, entry.entity_id, entry.username) == ("price_change", "TJ-9", "clerk")
    assert entry.changes == {
        "valid_from": day(1).isoformat(),
        "location": "R-EAST",
        "prices": [["STRIP", "22.00", None], ["GLOVE", None, "0.80"]],
    }


@pytest.mark.parametrize(
    ("valid_from", "retail_price", "wholesale_price", "error", "field", "words"),
    [
        (day(-1), "22.00", None, PriceInThePast, "valid_from", "cannot change in the past"),
        (TODAY, None, None, NoPrice, "lines", "STRIP: give a new retail price"),
        (TODAY, "22.00", "-1", NegativePrice, "lines", "STRIP: a price cannot be negative (-1)"),
    ],
)
def test_a_refused_change_says_why_and_writes_nothing(
    db, world, valid_from, retail_price, wholesale_price, error, field, words
):
    prices = [D(p) if p is not None else None for p in (retail_price, wholesale_price)]
    with pytest.raises(error, match=re.escape(words)) as raised, db.transaction() as session:
        line = PriceLine(session.merge(world.strips), *prices)
        set_prices(session, [line], valid_from, "TJ-1")
    assert raised.value.field == field
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ItemPrice)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_an_item_on_two_lines_is_refused(db, world):
    with pytest.raises(ItemTwice, match="STRIP is on two lines"), db.transaction() as session:
        strips = session.merge(world.strips)
        lines = [PriceLine(strips, D("22.00")), PriceLine(strips, D("21.00"))]
        set_prices(session, lines, TODAY, "TJ-1")


def test_a_change_is_withdrawn_only_before_it_is_in_force(db, world):
    with db.transaction() as session:
        strips = session.merge(world.strips)
        set_prices(session, [PriceLine(strips, D("22.00"))], day(2), "TJ-LATER")
        set_prices(session, [PriceLine(strips, D("21.00"))], TODAY, "TJ-NOW")
    with db.transaction() as session:
        assert withdraw_prices(session, "TJ-LATER", reason="wrong price") == 1
    assert retail(db, world.strips, world.s1, day(2)) == D("21.00")
    in_force = f"in force since {TODAY.isoformat()}"
    with pytest.raises(PriceAlreadyInForce, match=in_force), db.transaction() as session:
        withdraw_prices(session, "TJ-NOW")
    assert retail(db, world.strips, world.s1) == D("21.00")  # still there
    with db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "price.withdrawn"))
        assert [(e.entity_id, e.reason) for e in entry] == [("TJ-LATER", "wrong price")]
