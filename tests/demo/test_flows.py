"""The demo's business steps one at a time, on a hand-made shelf: what a whole history reaches
only with some seeds (the default chain's did, and stopped `make run`)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import select

from app.db import utcnow
from app.demo import flows
from app.demo.master import Chain
from app.kernel import Movement, Reason, StockStatus, add_item, get_or_create_lot, post_movements
from app.kernel.items import business_today
from app.kernel.locations import Location
from app.kernel.stock import StockBalance
from app.meta.models import Record
from tests.application import purchasing_fixtures as purchasing
from tests.chain import PASSWORD

STAFF = {
    "keeper": ("warehouse_clerk", "WH-SH", "zh_CN"),
    "supervisor": ("warehouse_supervisor", "WH-SH", "zh_CN"),
    "qa": ("qa", "HQ", "zh_CN"),
}


def test_qa_releases_a_damaged_carton_only_of_a_lot_still_in_date(app, db, monkeypatch):
    """The first warehouse's storage check sets a carton apart and QA now and then releases it:
    the carton is of a lot still in date, never of the expired one listed first (which the
    kernel, rightly, would not take back into available stock)."""
    monkeypatch.setattr(flows, "SIGNATURE", {"password": PASSWORD, "meaning": "verified"})
    bed = purchasing.make_bed(app, db, STAFF)
    today = business_today()
    with db.transaction() as session:
        gauze = add_item(session, "GAU-1", "医用纱布", tracking="lot", near_expiry_days=90)
        expired = get_or_create_lot(session, gauze, "L-OLD", today - dt.timedelta(days=3))
        soon = get_or_create_lot(session, gauze, "L-SOON", today + dt.timedelta(days=30))
        warehouse = session.get(Location, bed.loc("WH-SH"))
        post_movements(
            session,
            [Movement(item=gauze, quantity=Decimal(5), destination=warehouse, lot=lot,
                      destination_status=StockStatus.available) for lot in (expired, soon)],
            reason=Reason.purchase_receipt, document="PR-1", today=today - dt.timedelta(days=10),
        )  # fmt: skip
        gauze_id = gauze.id
    chain = Chain(
        locations=dict(bed.locations),
        warehouses=["WH-SH"],
        users={(role, code): bed.users[name] for name, (role, code, _) in STAFF.items()},
        item_by_id={gauze_id: SimpleNamespace(tracking="lot")},
    )
    with db.transaction() as session:
        now = utcnow()
        day = flows.Day(
            session, app.extensions["lianku.registry"], chain, random.Random(1), today,
            flows.Clock(now, now + dt.timedelta(hours=1), 10), {},
        )  # fmt: skip
        flows.storage_check(day, "WH-SH", outcome="release")
    with db.session() as session:
        (check,) = session.scalars(select(Record).where(Record.form == "maintenance_check"))
        assert check.state == "released"  # QA released it
        damaged = [line for line in check.data["lines"] if Decimal(line.get("set_apart") or 0)]
        assert [line["lot"] for line in damaged] == ["L-SOON"]
        nonconforming = session.scalars(
            select(StockBalance.on_hand).where(StockBalance.status == "nonconforming")
        ).all()
        assert all(quantity == 0 for quantity in nonconforming)  # back on sale
