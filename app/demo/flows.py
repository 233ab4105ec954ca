"""One small function per document flow of the demo history, each run as the right user.

A flow gets a ``Day``: the session, the registry, the chain's master data, the seeded random
source, the business date and the clock (every document is stamped with the simulated moment).
It creates records through the record service and fires transitions through the workflow
engine — stock only ever moves through the workflows' actions, never by writing stock rows.

Phase 1 (what is on main): purchase receipts (receive → inspect, lots with expiry dates, serial
units) and sales orders (no workflow yet). Transfers go through the kernel's ``ship``/``receive``
until the transfer forms exist; then ``transfer`` and ``receive_transfer`` become documents too.
"""

from __future__ import annotations

import datetime as dt
import random
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.db import clock_at
from app.demo.catalogue import ItemSpec
from app.demo.master import SIGNATURE, Chain
from app.kernel.items import Item, Lot, LotStatus, Unit, UnitStatus
from app.kernel.stock import StockBalance, StockStatus
from app.kernel.transfers import ReceiveLine, ShipLine, receive, ship, transfer_lines
from app.meta import records
from app.meta.registry import Registry
from app.workflow import engine


class Clock:
    """The simulated moments of one business day, in order, never later than ``limit``."""

    def __init__(self, start: dt.datetime, end: dt.datetime, steps: int):
        self.now, self.end = start, max(start, end)
        self.step = (self.end - start) / max(steps, 1)

    def tick(self) -> dt.datetime:
        self.now = min(self.now + self.step, self.end)
        return self.now


@dataclass
class Day:
    session: Session
    registry: Registry
    chain: Chain
    rng: random.Random
    date: dt.date
    clock: Clock
    volume: dict

    def moment(self) -> AbstractContextManager:
        """Run the block at the next moment of the day (documents, ledger and audit carry it)."""
        return clock_at(self.clock.tick())

    def between(self, bounds: list) -> int:
        return self.rng.randint(int(bounds[0]), int(bounds[1]))


def _is_store(chain: Chain, code: str) -> bool:
    return code in chain.supplied_by


def _staff(day: Day, code: str) -> tuple:
    """(clerk, the person who inspects) of a store or warehouse."""
    session, chain = day.session, day.chain
    if _is_store(chain, code):
        return chain.user(session, "store_clerk", code), chain.user(session, "store_manager", code)
    return (
        chain.user(session, "warehouse_clerk", code),
        chain.user(session, "warehouse_supervisor", code),
    )


# --- purchasing --------------------------------------------------------------------------------


def purchasable(day: Day) -> list[ItemSpec]:
    """Items whose registration certificate is valid on the day (class I filings never lapse)."""
    return [
        spec
        for spec in day.chain.items
        if spec.registration_expiry is None or spec.registration_expiry >= day.date
    ]


def qualified_suppliers(day: Day) -> list[dict]:
    """Suppliers whose licences are valid on the day."""
    return [
        supplier
        for supplier in day.chain.suppliers
        if all(
            supplier.get(name) is None or supplier[name] >= day.date
            for name in ("licence_expiry", "business_licence_expiry")
        )
    ]


def purchase(day: Day, location: str, line_count: int) -> int | None:
    """A purchase receipt at ``location`` from a qualified supplier, received by the clerk:
    the goods land as awaiting inspection. Returns the receipt's id (None: nothing to buy)."""
    items, suppliers = purchasable(day), qualified_suppliers(day)
    if not items or not suppliers:
        return None
    clerk, _inspector = _staff(day, location)
    picked = day.rng.sample(items, min(line_count, len(items)))
    scale = 4 if _is_store(day.chain, location) else 1
    lines = [line for spec in picked for line in _receipt_lines(day, spec, scale)]
    payload = {
        "location": day.chain.locations[location],
        "supplier": day.rng.choice(suppliers)["id"],
        "arrival_date": day.date.isoformat(),
        "lines": lines,
    }
    with day.moment():
        record = records.create(day.session, day.registry, clerk, "purchase_receipt", payload)
        engine.fire(day.session, day.registry, record, "receive", clerk)
    return record.id


def inspect(day: Day, location: str, receipt_id: int) -> None:
    """The store manager or warehouse supervisor accepts the goods (signed): now available."""
    _clerk, inspector = _staff(day, location)
    with day.moment():
        record = records.get(
            day.session, day.registry, inspector, "purchase_receipt", receipt_id, for_update=True
        )
        engine.fire(day.session, day.registry, record, "inspect", inspector, signature=SIGNATURE)


def _quantity(spec: ItemSpec, rng: random.Random, scale: int) -> int:
    """Cheap consumables come by the case, devices by the few."""
    price = spec.purchase_price
    low, high = (20, 200) if price < 20 else (5, 40) if price < 200 else (2, 10)
    if price >= 2000:
        low, high = 1, 3
    return max(1, rng.randint(low, high) // scale)


def _receipt_lines(day: Day, spec: ItemSpec, scale: int) -> list[dict]:
    """The lines of one item: a lot with its expiry date, and one line per serial-numbered unit.

    A share of lots arrives short-dated (10–120 days left): over the history they become the
    near-expiry and expired lots the expiry views and FEFO show.
    """
    rng = day.rng
    line: dict = {"item": day.chain.item_ids[spec.code], "unit_cost": str(spec.purchase_price)}
    produced = day.date - dt.timedelta(days=rng.randint(15, 90))
    if spec.tracking != "none":
        line["lot"] = f"{produced:%y%m%d}{rng.randint(1, 99):02d}"
    if spec.shelf_life_days:
        if Decimal(rng.randint(0, 99)) / 100 < Decimal(day.volume["short_dated_share"]):
            expiry = day.date + dt.timedelta(days=rng.randint(10, 120))
        else:
            expiry = produced + dt.timedelta(days=spec.shelf_life_days)
        line["expiry_date"] = expiry.isoformat()
    if spec.tracking != "serial":
        return [{**line, "quantity": str(_quantity(spec, rng, scale))}]
    prefix = f"{spec.serial_prefix}{produced:%y%m}"
    return [
        {**line, "quantity": "1", "serial": f"{prefix}{day.chain.next_serial():06d}"}
        for _ in range(day.between(day.volume["serials_per_item"]))
    ]


# --- what a location holds ----------------------------------------------------------------------


def sellable_stock(day: Day, location: str) -> list[tuple[int, Lot | None, Decimal]]:
    """(item id, lot, free quantity) available at ``location``: lot released, not expired."""
    query = (
        select(StockBalance.item_id, Lot, StockBalance.on_hand - StockBalance.reserved)
        .outerjoin(Lot, Lot.id == StockBalance.lot_id)
        .where(
            StockBalance.location_id == day.chain.locations[location],
            StockBalance.status == StockStatus.available,
            StockBalance.on_hand > StockBalance.reserved,
            or_(
                StockBalance.lot_id.is_(None),
                and_(
                    Lot.status == LotStatus.released,
                    or_(Lot.expiry_date.is_(None), Lot.expiry_date >= day.date),
                ),
            ),
        )
        .order_by(StockBalance.item_id, StockBalance.lot_key)
    )
    return [tuple(row) for row in day.session.execute(query)]


def _units(day: Day, location: str, item_id: int, lot: Lot | None, count: int) -> list[Unit]:
    query = (
        select(Unit)
        .where(
            Unit.item_id == item_id,
            Unit.location_id == day.chain.locations[location],
            Unit.status == UnitStatus.in_stock,
            Unit.lot_id == (lot.id if lot is not None else None),
        )
        .order_by(Unit.id)
        .limit(count)
    )
    return list(day.session.scalars(query))


# --- sales ---------------------------------------------------------------------------------------


def sell(day: Day, store: str, line_count: int) -> int | None:
    """A sales order at ``store`` by its clerk, from what the store holds, at retail prices;
    most to the walk-in customer. Returns its id (None: nothing to sell)."""
    specs = day.chain.item_by_id
    stock = [row for row in sellable_stock(day, store) if specs[row[0]].tracking != "serial"]
    if not stock:
        return None
    lines = []
    for item_id, lot, free in day.rng.sample(stock, min(line_count, len(stock))):
        quantity = min(free, Decimal(day.rng.randint(1, 3)))
        line = {"item": item_id, "quantity": str(quantity),
                "unit_price": str(specs[item_id].retail_price)}  # fmt: skip
        if lot is not None:
            line["lot"] = lot.lot_number
        lines.append(line)
    customers = day.chain.customers_named()
    payload = {
        "location": day.chain.locations[store],
        "sale_date": day.date.isoformat(),
        "customer": customers[0] if day.rng.randint(0, 9) else day.rng.choice(customers),
        "lines": lines,
    }
    clerk = day.chain.user(day.session, "store_clerk", store)
    with day.moment():
        return records.create(day.session, day.registry, clerk, "sales_order", payload).id


# --- transfers (the kernel's, until the transfer forms are merged) -------------------------------


def transfer(day: Day, warehouse: str, store: str, line_count: int) -> str | None:
    """Ship part of what ``warehouse`` holds to ``store``: the goods go in transit."""
    stock = sellable_stock(day, warehouse)
    if not stock:
        return None
    session, lines = day.session, []
    for item_id, lot, free in day.rng.sample(stock, min(line_count, len(stock))):
        item = session.get(Item, item_id)
        if item.tracking == "serial":
            lines += [ShipLine(item, Decimal(1), lot=lot, unit=unit)
                      for unit in _units(day, warehouse, item_id, lot, 1)]  # fmt: skip
        else:
            lines.append(ShipLine(item, max(Decimal(1), (free / 4).to_integral_value()), lot=lot))
    if not lines:
        return None
    document = f"DEMO-TO-{day.date:%Y%m%d}-{store}"
    clerk = day.chain.user(session, "warehouse_clerk", warehouse)
    with day.moment():
        ship(
            session, document, day.chain.location(session, warehouse),
            day.chain.location(session, store), lines, user=clerk,
        )  # fmt: skip
    return document


def receive_transfer(day: Day, store: str, document: str) -> None:
    """The store books everything that arrived as available."""
    session = day.session
    clerk = day.chain.user(session, "store_clerk", store)
    arrived = [ReceiveLine(line.line, received=line.outstanding)
               for line in transfer_lines(session, document)]  # fmt: skip
    with day.moment():
        receive(session, document, arrived, user=clerk)
