"""The allocation chain (``tests/allocation_chain.py``) over the shipped metadata, with staff at
the ordering store SH01, at the store SZ01 and at both warehouses, signed in to the API.

The shipped rules (``metadata/forms/sales_order.yaml``): retail — own stock, nearest, split;
stores and warehouses within 200 km; other locations transfer to the store. Hospital — the same
within 400 km, shipped directly to the customer by a fulfilment order.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.kernel.items import Lot, business_today
from app.kernel.locations import Location
from app.kernel.reservations import Reservation
from app.meta import identity
from app.meta.models import Record
from tests.allocation_chain import add_allocation_chain
from tests.application.sales_fixtures import PASSWORD, Shop
from tests.forms_fixtures import ApiClient

STAFF = {  # username → (role, location code)
    "clerk": ("store_clerk", "SH01"),
    "clerk2": ("store_clerk", "SH01"),
    "manager": ("store_manager", "SH01"),
    "sz_clerk": ("store_clerk", "SZ01"),
    "wh_clerk": ("warehouse_clerk", "WH-SH"),
    "wh_supervisor": ("warehouse_supervisor", "WH-SH"),  # reviews what WH-SH ships (出库复核)
    "nj_clerk": ("warehouse_clerk", "WH-NJ"),
    "buyer": ("hq_manager", "HQ"),
    "qa": ("qa", "HQ"),
}
SO = "/api/v1/forms/sales_order/records"
TO = "/api/v1/forms/transfer_out/records"
TI = "/api/v1/forms/transfer_in/records"


@pytest.fixture
def chain(app, db) -> Shop:
    with db.transaction() as session:
        ids = add_allocation_chain(session, business_today())
        for username, (role, code) in STAFF.items():
            user = identity.create_user(
                session, username, f"{username} 全名", PASSWORD, roles=[role],
                location_ids=[ids[code]], locale="en",
            )  # fmt: skip
            ids[username] = user.id

    def make_client(username: str) -> ApiClient:
        return ApiClient(app.test_client()).login(username, PASSWORD)

    return Shop(ids=ids, make_client=make_client)


def held(db) -> list[tuple[str, int, str, str, str]]:
    """Every reservation: (document, line, location code, lot, quantity)."""
    with db.session() as session:
        rows = session.execute(
            select(Reservation, Location.code, Lot.lot_number)
            .join(Location, Location.id == Reservation.location_id)
            .outerjoin(Lot, Lot.id == Reservation.lot_id)
            .order_by(Reservation.document, Reservation.line, Reservation.lot_key)
        ).all()
        return [(r.document, r.line, code, lot, f"{r.quantity.normalize():f}")
                for r, code, lot in rows]  # fmt: skip


def records(db, form: str) -> list[Record]:
    with db.session() as session:
        return list(session.scalars(select(Record).where(Record.form == form).order_by(Record.id)))
