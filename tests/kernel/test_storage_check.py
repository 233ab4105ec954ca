"""What a storage check goes through: the lots a location holds (``queries.lots_held``) and GSP's
key items among them (``needs_close_care``: cold chain, class III, near expiry)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.kernel import queries
from app.kernel.items import DeviceClass, StorageCondition, needs_close_care
from tests.kernel.conftest import TODAY, receive


def test_the_lots_a_location_holds_available_by_item_and_expiry(db, world):
    receive(db, world.strips, 4, world.s1, world.late, today=TODAY)
    receive(db, world.strips, 2, world.s1, world.early, today=TODAY)
    receive(db, world.strips, 3, world.s1, world.late, status="nonconforming")
    receive(db, world.gloves, 7, world.s1)
    receive(db, world.strips, 9, world.s2, world.late)  # another store's
    with db.session() as session:
        held = [
            (item.code, lot.lot_number if lot else None, quantity)
            for item, lot, quantity in queries.lots_held(session, world.s1)
        ]
    assert held == [
        ("GLOVE", None, Decimal(7)),
        ("STRIP", "L-EARLY", Decimal(2)),
        ("STRIP", "L-LATE", Decimal(4)),
    ]


def test_key_items_are_cold_chain_class_iii_or_near_expiry(world):
    strips, early, late = world.strips, world.early, world.late  # 90-day threshold
    assert needs_close_care(strips, early, TODAY)  # 30 days left
    assert not needs_close_care(strips, late, TODAY)  # 400 days left
    assert needs_close_care(strips, world.old, TODAY)  # expired
    assert needs_close_care(strips, late, late.expiry_date - dt.timedelta(days=90))
    assert not needs_close_care(strips, late, late.expiry_date - dt.timedelta(days=91))
    assert not needs_close_care(world.gloves, None, TODAY)
    world.gloves.storage_condition = StorageCondition.cold_chain
    assert needs_close_care(world.gloves, None, TODAY)
    world.ecg.device_class = DeviceClass.III
    assert needs_close_care(world.ecg, world.ecg_lot, TODAY)  # a lot without expiry
