"""A small chain with stock, sales and purchases for report tests (see test_report_sources).

Built through the kernel's ``post_movements``/``ship`` and the record service, never raw inserts.
"""

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from app.kernel.items import TrackingMode, add_item, get_or_create_lot
from app.kernel.stock import Movement, Reason, post_movements
from app.kernel.transfers import ShipLine, ship
from app.kernel.users import User
from app.meta import identity, records
from app.meta.models import Record
from tests.chain import PASSWORD, make_chain

TODAY = dt.date(2026, 11, 25)
D = Decimal


def _post(session, movements, reason, document, today=TODAY):
    post_movements(session, movements, reason=reason, document=document, today=today)


def make_report_chain(app, db):
    """The stock above, two sales orders per store, two purchase receipts; users per role."""
    chain = make_chain(db, ("admin", "clerk_a", "clerk_b", "manager_a"), token_b=False)
    registry = app.extensions["lianku.registry"]
    with db.transaction() as session:
        extra = {
            "manager_b": ("store_manager", "BJ01"),
            "hq": ("hq_manager", "HQ"),
            "finance": ("finance", "HQ"),
        }
        for username, (role, code) in extra.items():
            user = identity.create_user(session, username, username, PASSWORD, roles=[role],
                                        location_ids=[chain.loc(code)])  # fmt: skip
            chain.users[username] = user.id
        sh, bj = chain.locations["SH01"], chain.locations["BJ01"]
        sh, bj = session.merge(sh), session.merge(bj)
        strips = add_item(session, "STRIP", "血糖试纸", tracking=TrackingMode.lot,
                          expiry_required=True, near_expiry_days=90)  # fmt: skip
        gloves = add_item(session, "GLOVE", "检查手套", tracking=TrackingMode.none,
                          expiry_required=False)  # fmt: skip
        early = get_or_create_lot(session, strips, "L-EARLY", TODAY + dt.timedelta(days=30))
        old = get_or_create_lot(session, strips, "L-OLD", TODAY - dt.timedelta(days=1))
        late = get_or_create_lot(session, strips, "L-LATE", TODAY + dt.timedelta(days=400))
        session.flush()
        receipt = Reason.purchase_receipt
        _post(
            session,
            [
                Movement(
                    item=strips, quantity=D(10), destination=sh, lot=early, unit_cost=D("1.50")
                ),
                Movement(item=strips, quantity=D(2), destination=sh, lot=old, unit_cost=D("1.50")),
                Movement(item=gloves, quantity=D(100), destination=sh, unit_cost=D("0.25")),
            ],
            receipt,
            "PR-SH",
            today=TODAY - dt.timedelta(days=2),
        )  # L-OLD was still good then
        _post(session, [
            Movement(item=strips, quantity=D(1), destination=bj, lot=early, unit_cost=D("1.50")),
            Movement(item=strips, quantity=D(5), destination=bj, lot=late, unit_cost=D("2.00")),
        ], receipt, "PR-BJ")  # fmt: skip
        _post(session, [Movement(item=strips, quantity=D(3), source=sh, lot=early)],
              Reason.sale, "SO-1")  # fmt: skip
        ship(session, "TR-1", sh, bj, [ShipLine(strips, D(4), lot=early)], today=TODAY)
        chain.items = {"STRIP": strips.id, "GLOVE": gloves.id}
    with app.test_request_context(), db.transaction() as session:
        admin = session.get(User, chain.users["admin"])
        supplier = records.create(session, registry, admin, "supplier", {
            "code": "SUP-1", "name": "鱼跃医疗", "licence_number": "L-1",
            "licence_expiry": "2030-01-01",
        })  # fmt: skip
        sales = [
            ("SH01", "2026-10-05", [("STRIP", "2", "0.05"), ("GLOVE", "1", "0.20")]),
            ("SH01", "2026-11-20", [("STRIP", "1", "12.55")]),
            ("BJ01", "2026-11-02", [("STRIP", "4", "0.10")]),
            ("BJ01", "2025-01-01", [("STRIP", "9", "9.00")]),  # outside the default year
        ]
        chain.sales = []
        for code, day, lines in sales:
            record = records.create(session, registry, admin, "sales_order", {
                "location": chain.loc(code), "sale_date": day,
                "lines": [{"item": chain.items[item], "quantity": qty, "unit_price": price}
                          for item, qty, price in lines],
            })  # fmt: skip
            record.state = "delivered"  # sold: a draft is not a sale in the reports
            chain.sales.append(record.id)
        for code, quantity in (("SH01", "10"), ("BJ01", "6")):
            records.create(session, registry, admin, "purchase_receipt", {
                "location": chain.loc(code), "supplier": supplier.id,
                "arrival_date": "2026-11-20",
                "lines": [{"item": chain.items["STRIP"], "quantity": quantity,
                           "unit_cost": "1.50"}, {"item": chain.items["GLOVE"], "quantity": "1",
                                                  "unit_cost": "0.25"}],
            })  # fmt: skip
    return chain


def inspect_receipts(db):
    """The chain's two purchase receipts, inspected with every unit accepted: only inspected
    goods were bought (``purchases_by_supplier``)."""
    with db.transaction() as session:
        for receipt in session.scalars(select(Record).where(Record.form == "purchase_receipt")):
            lines = [{**line, "accepted_quantity": line["quantity"], "rejected_quantity": "0"}
                     for line in receipt.data["lines"]]  # fmt: skip
            receipt.data = {**receipt.data, "lines": lines}
            receipt.state = "done"
