"""One small function per document flow of the demo history, each step fired by the right user.

A flow gets a ``Day``: the session, the registry, the chain's master data, the seeded random
source, the business date and the clock (every document is stamped with the simulated moment).
It creates and edits records through the record service, fires transitions through the workflow
engine and decides approval tasks as the approver the engine picked — stock only ever moves
through the workflows' actions, never by writing stock rows.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.db import clock_at, plain_quantity
from app.demo.catalogue import ItemSpec
from app.demo.master import DEMO_PASSWORD, SIGNATURE, Chain
from app.kernel import queries
from app.kernel.items import Item, Lot, LotStatus, Unit, UnitStatus, needs_close_care
from app.kernel.locations import Location
from app.kernel.reservations import allocate
from app.kernel.stock import StockBalance, StockStatus
from app.kernel.users import User
from app.meta import records
from app.meta.models import Record
from app.meta.registry import Registry
from app.meta.reports.run import run_report
from app.workflow import approvals, engine
from app.workflow.models import ApprovalTask

#: What a demo approver's signature means (QA's approval of a scrap is signed).
APPROVAL_SIGNATURE = {"password": DEMO_PASSWORD, "meaning": "approved"}
#: Fields the record service computes; never sent back when a clerk edits the lines.
COMPUTED = {"uninspected", "amount", "short"}


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

    def chance(self, share: str | float) -> bool:
        return Decimal(self.rng.randint(0, 99)) / 100 < Decimal(str(share))

    def user(self, role: str, location: str = "HQ") -> User:
        return self.chain.user(self.session, role, location)

    def create(self, user: User, form: str, payload: dict) -> Record:
        return records.create(self.session, self.registry, user, form, payload)

    def update(self, user: User, record: Record, payload: dict) -> Record:
        return records.update(self.session, self.registry, user, record.form, record.id, payload)

    def fire(self, record: Record, transition: str, user: User, **extra) -> None:
        engine.fire(self.session, self.registry, record, transition, user, **extra)

    def submit(self, user: User, form: str, payload: dict, decide: bool = True) -> Record:
        """A new ``form`` record by ``user``, submitted and approved at every level its workflow
        asks for — or, unless ``decide``, left in its approvers' inboxes."""
        with self.moment():
            record = self.create(user, form, payload)
            self.fire(record, "submit", user)
            if decide:
                approve(self, record)
        return record


def _is_store(chain: Chain, code: str) -> bool:
    return code in chain.supplied_by


def _staff(day: Day, code: str) -> tuple[User, User]:
    """(clerk, manager) of a store, (clerk, supervisor) of a warehouse."""
    if _is_store(day.chain, code):
        return day.user("store_clerk", code), day.user("store_manager", code)
    return day.user("warehouse_clerk", code), day.user("warehouse_supervisor", code)


def approve(day: Day, record: Record, levels: int | None = None) -> None:
    """Each pending approval task of ``record`` decided ``approve`` by the approver the engine
    assigned (the location's manager, HQ, QA …), up to ``levels`` levels (all by default)."""
    decided = 0
    while levels is None or decided < levels:
        task = day.session.scalar(
            select(ApprovalTask)
            .where(ApprovalTask.record_id == record.id, ApprovalTask.status == "pending")
            .order_by(ApprovalTask.id)
            .limit(1)
        )
        if task is None:
            return
        approver = day.session.get(User, task.approver_id)
        approvals.decide(day.session, day.registry, task.id, approver, "approve",
                         signature=APPROVAL_SIGNATURE)  # fmt: skip
        decided += 1


def gs1(gtin: str, lot: str | None, expiry: str | None, serial: str | None = None) -> str:
    """What a scanner reads from a GS1 label, in its human-readable form."""
    text = f"(01){gtin}"
    if expiry:
        text += f"(17){dt.date.fromisoformat(expiry):%y%m%d}"
    if lot:
        text += f"(10){lot}"
    return text + (f"(21){serial}" if serial else "")


def _editable_lines(record: Record, table: str = "lines") -> list[dict]:
    return [
        {key: value for key, value in line.items() if key not in COMPUTED and value is not None}
        for line in record.data.get(table) or []
    ]


# --- purchasing --------------------------------------------------------------------------------


def purchasable(day: Day) -> list[ItemSpec]:
    """Items whose registration certificate is valid on the day (class I filings never lapse)."""
    return [
        spec
        for spec in day.chain.items
        if spec.registration_expiry is None or spec.registration_expiry >= day.date
    ]


def qualified(parties: list[dict], date: dt.date) -> list[dict]:
    """Suppliers or customers whose licences are valid on ``date``."""
    return [
        party
        for party in parties
        if all(
            party.get(name) is None or party[name] >= date
            for name in ("licence_expiry", "business_licence_expiry")
        )
    ]


def order(day: Day, location: str, line_count: int, decide: bool = True):
    """A purchase order by the location's clerk, submitted and — with ``decide`` — approved by the
    levels its total asks for (the manager, above 10 000 also HQ). Returns (order, the receipt
    lines the goods will arrive with), or None when nothing may be bought."""
    items, suppliers = purchasable(day), qualified(day.chain.suppliers, day.date)
    if not items or not suppliers:
        return None
    clerk, _manager = _staff(day, location)
    picked = day.rng.sample(items, min(line_count, len(items)))
    scale = 4 if _is_store(day.chain, location) else 1
    arriving = [line for spec in picked for line in _receipt_lines(day, spec, scale)]
    ordered: dict[int, Decimal] = defaultdict(Decimal)
    for line in arriving:
        ordered[line["item"]] += Decimal(line["quantity"])
    payload = {
        "location": day.chain.locations[location],
        "supplier": day.rng.choice(suppliers)["id"],
        "order_date": day.date.isoformat(),
        "expected_date": day.date.isoformat(),
        "lines": [
            {"item": item, "quantity": str(quantity),
             "unit_price": str(day.chain.item_by_id[item].purchase_price)}
            for item, quantity in ordered.items()
        ],
    }  # fmt: skip
    with day.moment():
        record = day.create(clerk, "purchase_order", payload)
        day.fire(record, "submit", clerk)
    if decide:
        with day.moment():
            approve(day, record)
    return record, arriving


def receive(day: Day, location: str, purchase_order: Record, arriving: list[dict]) -> Record:
    """The goods of an approved order arrive: the clerk scans each carton (GS1) into a receipt
    linked to the order and receives it (awaiting inspection); the order is then closed."""
    clerk, manager = _staff(day, location)
    payload = {
        "location": day.chain.locations[location],
        "supplier": purchase_order.data["supplier"],
        "purchase_order": purchase_order.id,
        "arrival_date": day.date.isoformat(),
        "lines": [_with_temperature(day, line) for line in arriving],
    }
    if any("arrival_temperature" in line for line in payload["lines"]):
        payload["transport_mode"] = day.rng.choice(["refrigerated_vehicle", "cold_box"])
    with day.moment():
        record = day.create(clerk, "purchase_receipt", payload)
        day.fire(record, "receive", clerk)
        day.fire(purchase_order, "close", manager)
    return record


def _with_temperature(day: Day, line: dict) -> dict:
    """A cold-chain line's temperature as the clerk reads it on arrival: 2–8 ℃, now and then
    a carton that warmed up on the road (the inspector rejects it)."""
    if day.chain.item_by_id[line["item"]].storage_condition != "cold_chain":
        return line
    warm = day.chance(day.volume["cold_chain_breach_share"])
    tenths = day.rng.randint(86, 105) if warm else day.rng.randint(30, 70)
    return {**line, "arrival_temperature": str(Decimal(tenths) / 10)}


def inspect(day: Day, location: str, receipt: Record) -> list[dict]:
    """The store manager or warehouse supervisor records the inspection — now and then part of a
    line is rejected (damaged packaging) — and signs it. Returns the rejected lines."""
    _clerk, inspector = _staff(day, location)
    lines, rejected = _editable_lines(receipt), []
    reject_at = day.rng.randrange(len(lines)) if day.chance(day.volume["rejected_share"]) else None
    for number, line in enumerate(lines):
        quantity = Decimal(line["quantity"])
        refused = quantity // 4 if number == reject_at and quantity >= 4 else Decimal(0)
        reason = "外包装破损"
        if Decimal(line.get("arrival_temperature") or 5) > 8:  # the demo's cards keep 2–8 ℃
            refused, reason = quantity, f"到货温度 {line['arrival_temperature']} ℃，超出 2–8 ℃"
        conclusion = "rejected" if refused == quantity else "partly_rejected"
        line.update(accepted_quantity=str(quantity - refused), rejected_quantity=str(refused),
                    conclusion=conclusion if refused else "accepted")  # fmt: skip
        if refused:
            line["reject_reason"] = reason
            rejected.append({**line, "quantity": str(refused)})
    payload = {"lines": lines, "inspector": inspector.id, "inspected_at": day.date.isoformat()}
    with day.moment():
        receipt = day.update(inspector, receipt, payload)
        day.fire(receipt, "inspect", inspector, signature=SIGNATURE)
    return rejected


def return_to_supplier(day: Day, location: str, receipt: Record, rejected: list[dict]) -> None:
    """The goods rejected at inspection go back to the supplier: a store's manager ships them; a
    warehouse's clerk picks them and its supervisor scans them again (出库复核) and ships them."""
    clerk, manager = _staff(day, location)
    payload = {
        "location": day.chain.locations[location],
        "supplier": receipt.data["supplier"],
        "purchase_receipt": receipt.id,
        "return_date": day.date.isoformat(),
        "reason": "nonconforming",
        "note": "验收不合格，退回供应商",
        "lines": [
            {key: line[key] for key in ("item", "lot", "quantity") if line.get(key)}
            for line in rejected
        ],  # fmt: skip
    }
    with day.moment():
        if _is_store(day.chain, location):
            day.fire(day.create(manager, "supplier_return", payload), "ship", manager)
            return
        record = day.create(clerk, "supplier_return", payload)
        day.fire(record, "finish_picking", clerk)
        record = day.update(manager, record, {"review_scans": payload["lines"]})
        day.fire(record, "review_ship", manager)


def _quantity(spec: ItemSpec, rng: random.Random, scale: int) -> int:
    """Cheap consumables come by the case, devices by the few."""
    price = spec.purchase_price
    low, high = (20, 200) if price < 20 else (5, 40) if price < 200 else (2, 10)
    if price >= 2000:
        low, high = 1, 3
    return max(1, rng.randint(low, high) // scale)


def _receipt_lines(day: Day, spec: ItemSpec, scale: int) -> list[dict]:
    """The lines of one item as scanned: a lot with its expiry date (GS1 label), one line per
    serial-numbered unit; an untracked item is entered by hand.

    A share of lots arrives short-dated (10–120 days left): over the history they become the
    near-expiry and expired lots the expiry views and FEFO show.
    """
    rng = day.rng
    item_id = day.chain.item_ids[spec.code]
    line: dict = {"item": item_id, "unit_cost": str(spec.purchase_price)}
    if spec.tracking == "none":
        return [{**line, "quantity": str(_quantity(spec, rng, scale))}]
    produced = day.date - dt.timedelta(days=rng.randint(15, 90))
    lot, expiry = f"{produced:%y%m%d}{rng.randint(1, 99):02d}", None
    if spec.shelf_life_days:
        if day.chance(day.volume["short_dated_share"]):
            expiry = (day.date + dt.timedelta(days=rng.randint(10, 120))).isoformat()
        else:
            expiry = (produced + dt.timedelta(days=spec.shelf_life_days)).isoformat()
    line.update(lot=lot, expiry_date=expiry)
    if spec.tracking != "serial":
        return [{**line, "scan": gs1(spec.gtin, lot, expiry),
                 "quantity": str(_quantity(spec, rng, scale))}]  # fmt: skip
    prefix = f"{spec.serial_prefix}{produced:%y%m}"
    serials = [f"{prefix}{day.chain.next_serial():06d}"
               for _ in range(day.between(day.volume["serials_per_item"]))]  # fmt: skip
    return [{**line, "serial": serial, "scan": gs1(spec.gtin, lot, expiry, serial),
             "quantity": "1"} for serial in serials]  # fmt: skip


# --- what a location holds ----------------------------------------------------------------------


def sellable_stock(day: Day, location: str) -> list[tuple[int, Lot | None, Decimal]]:
    """(item id, lot, free quantity) available at ``location``: lot released, not expired, the
    item's registration valid."""
    valid = {day.chain.item_ids[spec.code] for spec in purchasable(day)}
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
    return [tuple(row) for row in day.session.execute(query) if row[0] in valid]


def _free_by_item(day: Day, location: str) -> dict[int, Decimal]:
    free: dict[int, Decimal] = defaultdict(Decimal)
    for item_id, _lot, quantity in sellable_stock(day, location):
        free[item_id] += quantity
    return dict(free)


def _units(day: Day, location: str, item_id: int, lot_id: int | None, count: int) -> list[Unit]:
    query = (
        select(Unit)
        .where(
            Unit.item_id == item_id,
            Unit.location_id == day.chain.locations[location],
            Unit.status == UnitStatus.in_stock,
            Unit.lot_id == lot_id,
        )
        .order_by(Unit.id)
        .limit(count)
    )
    return list(day.session.scalars(query))


def held(day: Day, location: str, status: StockStatus) -> list[tuple[int, Lot | None, Decimal]]:
    """(item id, lot, on hand) of ``status`` at ``location`` (untracked and lot items only)."""
    query = (
        select(StockBalance.item_id, Lot, StockBalance.on_hand - StockBalance.reserved)
        .outerjoin(Lot, Lot.id == StockBalance.lot_id)
        .where(
            StockBalance.location_id == day.chain.locations[location],
            StockBalance.status == status,
            StockBalance.on_hand > StockBalance.reserved,
        )
        .order_by(StockBalance.item_id, StockBalance.lot_key)
    )
    serial = {day.chain.item_ids[s.code] for s in day.chain.items if s.tracking == "serial"}
    return [tuple(row) for row in day.session.execute(query) if row[0] not in serial]


# --- sales ---------------------------------------------------------------------------------------


def sell(day: Day, store: str, line_count: int, business: bool = False) -> Record | None:
    """A sales order at ``store`` by its clerk at the prices in force, confirmed (FEFO reservation):
    to the walk-in customer (散客), or with ``business`` to a hospital or clinic whose licences
    are valid, which may also buy serial-numbered devices. None: nothing to sell."""
    customer = _customer(day, business)
    specs, free = day.chain.item_by_id, _free_by_item(day, store)
    candidates = [item for item in free if business or specs[item].tracking != "serial"]
    if customer is None or not candidates:
        return None
    lines = []
    for item_id in day.rng.sample(candidates, min(line_count, len(candidates))):
        quantity = min(free[item_id], Decimal(day.rng.randint(1, 3)))
        # the line starts at the price in force: a hospital's agreed price, else the last price
        # change's there, else the item card's
        lines.append(
            {"item": item_id, "quantity": str(quantity), "discount": "5" if business else "0"}
        )
    payload = {"location": day.chain.locations[store], "sale_date": day.date.isoformat(),
               "customer": customer["id"], "lines": lines}  # fmt: skip
    clerk = day.user("store_clerk", store)
    with day.moment():
        record = day.create(clerk, "sales_order", payload)
        day.fire(record, "confirm", clerk)
    return record


def sell_from_elsewhere(day: Day, store: str) -> Record | None:
    """A walk-in customer asks ``store`` for one more of an item than it has free, which its
    warehouse holds: confirming allocates the rest by the rules (the nearest location that has
    it, or a split), and a transfer out waits at that location for its clerk to ship it. None:
    nothing to ask for, or the rules find nothing near enough (the order is then not kept)."""
    at_store, at_warehouse = (
        _free_by_item(day, store),
        _free_by_item(day, day.chain.supplied_by[store]),
    )
    specs = day.chain.item_by_id
    items = sorted(item for item in at_warehouse if specs[item].tracking != "serial")
    if not items:
        return None
    item = day.rng.choice(items)
    line = {"item": item, "quantity": str(at_store.get(item, Decimal(0)) + 1)}
    payload = {"location": day.chain.locations[store], "sale_date": day.date.isoformat(),
               "customer": day.chain.customers[0]["id"], "lines": [line]}  # fmt: skip
    clerk = day.user("store_clerk", store)
    with day.moment():
        savepoint = day.session.begin_nested()
        try:
            record = day.create(clerk, "sales_order", payload)
            day.fire(record, "confirm", clerk)
        except engine.TransitionRefused:
            savepoint.rollback()
            return None
        savepoint.commit()
    return record


def _customer(day: Day, business: bool) -> dict | None:
    if not business:
        return day.chain.customers[0]  # 散客
    kinds = ("hospital", "clinic")
    able = [c for c in qualified(day.chain.customers, day.date) if c["kind"] in kinds]
    return day.rng.choice(able) if able else None


#: One pick of an allocation: ``LOT (2027-03-31) × 2`` with ``: SN1, SN2`` for serial units.
PICK = re.compile(
    r"^(?P<lot>.+?) \((?P<expiry>[^)]*)\) × (?P<quantity>[0-9.]+)(?:: (?P<serials>.+))?$"
)


#: How walk-in customers pay, in turn (no draw of the seeded random: the history stays as it was).
PAID_BY = ("wechat", "alipay", "wechat", "cash", "alipay", "bank_card", "wechat",
           "medical_insurance")  # fmt: skip


def deliver(day: Day, store: str, sale: Record) -> None:
    """The clerk scans what the confirmation reserved — each lot's carton, each serial unit — and
    hands it over; a hospital's or clinic's goods are first scanned again by the store's manager,
    who reviews and delivers them (出库复核)."""
    specs = day.chain.item_by_id
    deliveries = []
    for line in sale.data["lines"]:
        gtin = specs[line["item"]].gtin
        if not line.get("allocation"):
            deliveries.append({"item": line["item"], "quantity": str(line["quantity"])})
            continue
        for text in line["allocation"].split("; "):
            pick = PICK.match(text)
            expiry = None if pick["expiry"] == "-" else pick["expiry"]
            if pick["serials"]:
                deliveries += [{"scan": gs1(gtin, pick["lot"], expiry, serial), "quantity": "1"}
                               for serial in pick["serials"].split(", ")]  # fmt: skip
            else:
                deliveries.append({"scan": gs1(gtin, pick["lot"], expiry),
                                   "quantity": pick["quantity"]})  # fmt: skip
    scanned = {"deliveries": deliveries}
    business = sale.data.get("sale_kind") != "retail"
    if business:  # a hospital's cold goods travel in a cold box
        scanned |= _cold_departure(day, sale)
    else:  # a walk-in customer pays at the counter, mostly by phone
        scanned["payment_method"] = PAID_BY[sale.id % len(PAID_BY)]
    clerk = day.user("store_clerk", store)
    with day.moment():
        sale = day.update(clerk, sale, scanned)
        if not business:
            day.fire(sale, "deliver", clerk)
            return
        day.fire(sale, "finish_picking", clerk)
        manager = day.user("store_manager", store)  # not the clerk who made the order
        sale = day.update(manager, sale, {"review_scans": [dict(row) for row in deliveries]})
        day.fire(sale, "review_deliver", manager)


def customer_return(day: Day, store: str, sale: Record) -> None:
    """A customer brings back one unit of the first delivered row; the clerk receives it, the
    manager checks it (signed): mostly fine and back on sale, sometimes faulty — or expired since
    it was sold — and nonconforming."""
    scanned = sale.data["deliveries"][0]
    line = {key: scanned[key] for key in ("item", "lot", "serial") if scanned.get(key)}
    line["quantity"] = "1"
    clerk, manager = _staff(day, store)
    payload = {
        "location": day.chain.locations[store], "sales_order": sale.id,
        "return_date": day.date.isoformat(), "reason": "顾客退货", "lines": [line],
    }  # fmt: skip
    if sale.data.get("sale_kind") != "retail":  # a credit sale: the unit comes off its account
        price = _unit_price(sale, scanned["item"])
        if price:
            payload["credit_amount"] = str(price)
    expired = scanned.get("expiry_date") and scanned["expiry_date"] < day.date.isoformat()
    faulty = day.chance("0.3") or expired
    with day.moment():
        record = day.create(clerk, "customer_return", payload)
        day.fire(record, "receive", clerk)
        checked = {**line, "accepted_quantity": "0" if faulty else "1",
                   "rejected_quantity": "1" if faulty else "0"}  # fmt: skip
        if faulty:
            checked["reject_reason"] = "已过有效期" if expired else "功能异常"
        record = day.update(manager, record, {"lines": [checked]})
        day.fire(record, "inspect", manager, signature=SIGNATURE)


def _unit_price(sale: Record, item_id: int) -> Decimal | None:
    """What one unit of ``item_id`` cost the customer on ``sale`` (its first line of the item)."""
    for line in sale.data.get("lines", []):
        if line.get("item") == item_id and line.get("quantity"):
            return (Decimal(str(line["amount"])) / Decimal(str(line["quantity"]))).quantize(
                Decimal("0.01")
            )
    return None


# --- prices --------------------------------------------------------------------------------------


def change_prices(
    day: Day, region: str | None, count: int, valid_from: dt.date, decide: bool = True
) -> Record:
    """Finance's price change (调价单) of ``count`` items' retail prices, a few per cent down or
    up, from ``valid_from`` in ``region`` (the whole chain when None), approved by HQ — or left
    in HQ's inbox when ``decide`` is false."""
    specs = day.rng.sample(day.chain.items, min(count, len(day.chain.items)))
    lines = [
        {"item": day.chain.item_ids[spec.code], "new_retail_price": str(_moved(day, spec))}
        for spec in specs
    ]
    reason = "区域促销" if region else "厂家调价，全国统一零售价"
    payload = {"valid_from": valid_from.isoformat(), "reason": reason, "lines": lines}
    if region:
        payload["location"] = day.chain.locations[region]
    return day.submit(day.user("finance"), "price_change", payload, decide)


def _moved(day: Day, spec: ItemSpec) -> Decimal:
    """The item's retail price 3–8 % lower or 2–5 % higher, to the ten cents."""
    percent = day.rng.choice([-8, -6, -5, -3, 2, 3, 5])
    return (
        (spec.retail_price * (100 + percent) / 100)
        .quantize(Decimal("0.1"))
        .quantize(Decimal("0.01"))
    )


# --- transfers ------------------------------------------------------------------------------------


def request_transfer(day: Day, store: str, line_count: int, decide: bool = True) -> Record | None:
    """The store's clerk asks its warehouse for some of what the warehouse holds, at purchase
    price; with ``decide`` the store manager (and HQ above 10 000) approve, which creates the
    transfer out at the warehouse. None: the warehouse has nothing."""
    warehouse = day.chain.supplied_by[store]
    free = _free_by_item(day, warehouse)
    if not free:
        return None
    specs, lines = day.chain.item_by_id, []
    for item_id in day.rng.sample(sorted(free), min(line_count, len(free))):
        quantity = min(free[item_id], max(Decimal(1), (free[item_id] / 4).to_integral_value()))
        lines.append({"item": item_id, "quantity": str(quantity),
                      "unit_price": str(specs[item_id].purchase_price)})  # fmt: skip
    payload = {
        "to_location": day.chain.locations[store],
        "from_location": day.chain.locations[warehouse],
        "needed_by": (day.date + dt.timedelta(days=2)).isoformat(),
        "reason": "门店补货",
        "lines": lines,
    }
    return day.submit(day.user("store_clerk", store), "transfer_request", payload, decide)


def _made_from(day: Day, form: str, field: str, number: str) -> Record:
    """The record of ``form`` the workflow just created from document ``number`` (the newest)."""
    query = select(Record).where(Record.form == form).order_by(Record.id.desc()).limit(1)
    record = day.session.scalar(query)
    assert record.data[field] == number, (form, number)
    return record


def ship(day: Day, request: Record) -> Record:
    """The warehouse clerk picks the transfer out the approval created (FEFO lots, the first
    units in stock) and scans the picks onto its lines; the supervisor scans them again and
    ships (出库复核): the goods go in transit, the store gets its transfer in. Returns the
    transfer in."""
    out = _made_from(day, "transfer_out", "request_number", request.number)
    warehouse = next(code for code, id_ in day.chain.locations.items() if id_ == out.location_id)
    clerk = day.user("warehouse_clerk", warehouse)
    where = day.chain.location(day.session, warehouse)
    lines = []
    for line in out.data["lines"]:
        item = day.session.get(Item, line["item"])
        gtin = day.chain.item_by_id[item.id].gtin
        quantity = Decimal(str(line["quantity"]))
        if item.tracking == "none":
            lines.append({"item": item.id, "quantity": str(quantity)})
            continue
        for lot, take in allocate(day.session, item, quantity, where, today=day.date):
            expiry = lot.expiry_date.isoformat() if lot.expiry_date else None
            if item.tracking == "serial":
                units = _units(day, warehouse, item.id, lot.id, int(take))
                lines += [{"scan": gs1(gtin, lot.lot_number, expiry, unit.serial),
                           "quantity": "1"} for unit in units]  # fmt: skip
            else:
                lines.append({"scan": gs1(gtin, lot.lot_number, expiry), "quantity": str(take)})
    picked = {"lines": lines, "ship_date": day.date.isoformat()}
    with day.moment():
        out = day.update(clerk, out, picked | _cold_departure(day, out))
        if not out.data.get("needs_review"):
            day.fire(out, "ship", clerk)
        else:  # picked: the supervisor scans the goods again (出库复核) and ships them
            day.fire(out, "finish_picking", clerk)
            supervisor = day.user("warehouse_supervisor", warehouse)
            out = day.update(supervisor, out, {"review_scans": [dict(row) for row in lines]})
            day.fire(out, "review_ship", supervisor)
    return _made_from(day, "transfer_in", "transfer_number", out.number)


def _cold_departure(day: Day, document: Record) -> dict:
    """How a document's cold-chain goods leave: a refrigerated van or a cold box, pre-cooled to
    3–6 ℃ (drawn from the document's number, so the day's random stream stays as it was).
    Nothing when none of its lines is cold."""
    specs = day.chain.item_by_id
    conditions = {specs[line["item"]].storage_condition for line in document.data["lines"]}
    if "cold_chain" not in conditions:
        return {}
    box = random.Random(document.number)
    return {"transport_mode": box.choice(["refrigerated_vehicle", "cold_box"]),
            "departure_temperature": str(Decimal(box.randint(30, 60)) / 10)}  # fmt: skip


def receive_transfer(day: Day, store: str, incoming_id: int, short: bool = False) -> bool:
    """The store's clerk counts what arrived. Mostly all of it; with ``short`` one carton of the
    first line is missing and one damaged (if it shipped three or more): received in part, and the
    manager books the missing one back to the warehouse. Says whether it was short."""
    clerk, manager = _staff(day, store)
    incoming = day.session.get(Record, incoming_id)
    lines = _editable_lines(incoming)
    for line in lines:  # the cold box kept them at 2–8 ℃ on the road
        if day.chain.item_by_id[line["item"]].storage_condition == "cold_chain":
            line["arrival_temperature"] = str(Decimal(day.rng.randint(30, 70)) / 10)
    first = lines[0]
    shipped = Decimal(str(first["shipped"]))
    short = short and shipped >= 3
    if short:
        first.update(received=str(shipped - 2), damaged="1", discrepancy_note="一箱破损，一箱短少")
    with day.moment():
        incoming = day.update(
            clerk, incoming, {"lines": lines, "received_date": day.date.isoformat()}
        )
        day.fire(incoming, "receive_partial" if short else "receive", clerk)
        if short:
            day.fire(incoming, "return_remainder", manager, comment="短少一箱，物流确认丢失")
    return short


# --- corrections ----------------------------------------------------------------------------------


def adjust(day: Day, location: str) -> None:
    """A count finds one piece of a lot missing: the clerk enters the adjustment, the manager
    approves and it posts."""
    stock = held(day, location, StockStatus.available)
    if not stock:
        return
    item_id, lot, _free = day.rng.choice(stock)
    _submit_shortage(day, location, item_id, lot, Decimal(1), decide=True)


#: Above this a stock adjustment also waits for the region's manager (workflows/).
REGION_APPROVES_ABOVE = Decimal(2000)


def large_shortage(day: Day, location: str) -> Record | None:
    """A count finds more than 2,000 worth of one lot missing: its manager has approved, the
    region's manager is still to (their inbox); None when nothing held there is worth that."""
    priced = [
        (day.chain.item_by_id[item_id].purchase_price, item_id, lot, free)
        for item_id, lot, free in held(day, location, StockStatus.available)
    ]
    for price, item_id, lot, free in sorted(priced, key=lambda row: -row[0] * row[3]):
        missing = REGION_APPROVES_ABOVE // price + 1
        if missing <= free:
            record = _submit_shortage(day, location, item_id, lot, missing, decide=False)
            approve(day, record, levels=1)  # the manager's: the region's manager's is left
            return record
    return None


def _submit_shortage(day: Day, location: str, item_id: int, lot, missing: Decimal, decide: bool):
    spec = day.chain.item_by_id[item_id]
    line = {"item": item_id, "quantity": plain_quantity(-missing),
            "unit_cost": str(spec.purchase_price)}  # fmt: skip
    if lot is not None:
        line["lot"] = lot.lot_number
    clerk, _manager = _staff(day, location)
    payload = {"location": day.chain.locations[location], "reason": "count_shortage",
               "explanation": "月度盘点短少", "lines": [line]}  # fmt: skip
    return day.submit(clerk, "stock_adjustment", payload, decide=decide)


def scrap(day: Day, location: str) -> None:
    """Nonconforming and expired goods are destroyed: the clerk lists them, the manager and QA
    (signed) approve, the goods leave stock."""
    lines = []
    for status in (StockStatus.nonconforming, StockStatus.available):
        for item_id, lot, quantity in held(day, location, status):
            expired = lot is not None and lot.expiry_date and lot.expiry_date < day.date
            if status == StockStatus.available and not expired:
                continue
            line = {"item": item_id, "status": str(status), "quantity": plain_quantity(quantity),
                    "unit_cost": str(day.chain.item_by_id[item_id].purchase_price)}  # fmt: skip
            if lot is not None:
                line["lot"] = lot.lot_number
            lines.append(line)
    if not lines:
        return
    clerk, manager = _staff(day, location)
    payload = {
        "location": day.chain.locations[location], "explanation": "不合格及过期产品集中销毁",
        "destruction_method": "medical_waste", "destruction_date": day.date.isoformat(),
        "witnesses": f"{manager.full_name}，质管", "lines": lines,
    }  # fmt: skip
    day.submit(clerk, "scrap", payload)


def storage_check(day: Day, location: str, outcome: str | None = None, humid=False) -> None:
    """The storage check (养护): the clerk lists the key items the shelf holds (all of it where
    there are none) from stock and records the room's temperature and humidity — ``humid``: too
    damp, so the clerk says what was done (QA hears of it). With an ``outcome`` a carton of the
    first lot is damaged and set apart, and QA decides (signed): ``confirm`` it nonconforming, or
    ``release`` it back on sale."""
    place = day.session.get(Location, day.chain.locations[location])
    held = queries.lots_held(day.session, place)
    if not held:
        return
    key = any(needs_close_care(item, lot, day.date) for item, lot, _quantity in held)
    clerk, _manager = _staff(day, location)
    payload = {
        "location": place.id, "check_date": day.date.isoformat(), "focus": "key" if key else "all",
        "storage_temperature": str(Decimal(day.rng.randint(160, 240)) / 10),
        "storage_humidity": str(day.rng.randint(40, 65)),
    }  # fmt: skip
    if humid:  # the rainy season: 78 % against the 75 % allowed
        payload.update(storage_humidity="78", climate_measure="开启除湿机，两小时后复测 62%")
    with day.moment():
        record = day.create(clerk, "maintenance_check", payload)
        day.fire(record, "fill_from_stock", clerk)
        lines = _editable_lines(record)
        # a carton of a lot still in date (QA could not release an expired one back on sale)
        by_lot = [
            line for line in lines
            if day.chain.item_by_id[line["item"]].tracking != "serial"
            and (not line.get("expiry_date") or line["expiry_date"] > day.date.isoformat())
        ]  # fmt: skip
        damaged = by_lot[0] if outcome and by_lot else None
        if damaged is not None:  # (a serial-numbered unit would be named by its serial)
            damaged.update(
                finding="packaging_damaged", set_apart="1", measure="外箱破损，移入不合格品区"
            )
            record = day.update(clerk, record, {"lines": lines})
        day.fire(record, "set_apart" if damaged is not None else "finish", clerk)
        if damaged is not None and outcome == "release":
            day.fire(record, "release", day.user("qa"), signature=SIGNATURE,
                     comment="复检包装完好，恢复销售")  # fmt: skip
        elif damaged is not None:
            day.fire(record, "confirm", day.user("qa"), signature=SIGNATURE,
                     comment="外箱破损，内包装受压，确认不合格")  # fmt: skip


def _last_sold(day: Day, store: str) -> tuple[Record | None, dict | None]:
    """The store's last delivered sale and its first delivered row (what a customer comes back
    about), or ``(None, None)``."""
    delivered = select(Record).where(
        Record.form == "sales_order", Record.state == "delivered",
        Record.location_id == day.chain.locations[store],
    ).order_by(Record.id.desc())  # fmt: skip
    sale = day.session.scalars(delivered).first()
    if sale is None or not sale.data.get("deliveries"):
        return None, None
    return sale, sale.data["deliveries"][0]


def adverse_event(day: Day, store: str, report: bool) -> None:
    """A customer tells the store of harm a device it sold may have caused: the manager records it
    and submits it to QA; with ``report`` QA assesses it and reports it to the monitoring system
    the same day (signed)."""
    sale, sold = _last_sold(day, store)
    if sale is None:
        return
    _clerk, manager = _staff(day, store)
    payload = {
        "location": day.chain.locations[store], "item": sold["item"], "lot": sold.get("lot"),
        "serial": sold.get("serial"), "customer": sale.data.get("customer"),
        "patient": "顾客 女 58 岁", "occurred_on": (day.date - dt.timedelta(days=2)).isoformat(),
        "learned_on": day.date.isoformat(), "severity": "other",
        "description": "顾客反映使用后局部皮肤红肿，已停用",
        "measures": "建议就医，暂停该批次销售观察",
    }  # fmt: skip
    with day.moment():
        record = day.create(manager, "adverse_event", payload)
        day.fire(record, "submit", manager)
        if not report:
            return
        qa = day.user("qa")
        record = day.update(qa, record, {
            "assessment": "与产品关联性：可能有关；按一般不良事件上报",
            "reported_on": day.date.isoformat(),
            "report_number": f"{day.date:%Y%m%d}{record.id:06d}",
        })  # fmt: skip
        day.fire(record, "report", qa, signature=SIGNATURE)


def quality_complaint(day: Day, store: str, close: bool) -> None:
    """A customer complains about a device the store sold (its last sale's first delivery): the
    clerk records it and hands it to QA; with ``close`` QA investigates, answers the customer and
    closes it the same day (signed)."""
    sale, sold = _last_sold(day, store)
    if sale is None:
        return
    clerk, _manager = _staff(day, store)
    payload = {
        "location": day.chain.locations[store], "item": sold["item"], "lot": sold.get("lot"),
        "serial": sold.get("serial"), "customer": sale.data.get("customer"),
        "complainant": "顾客 王女士 139 0000 0000", "category": "quality",
        "received_on": day.date.isoformat(),
        "description": "顾客反映产品使用效果不佳，怀疑质量问题",
    }  # fmt: skip
    with day.moment():
        record = day.create(clerk, "quality_complaint", payload)
        day.fire(record, "submit", clerk)
        if not close:
            return
        qa = day.user("qa")
        record = day.update(qa, record, {
            "investigation": "留样复检合格，系使用方法不当", "conclusion": "not_justified",
            "measures": "电话指导正确使用方法，顾客认可", "replied_on": day.date.isoformat(),
        })  # fmt: skip
        day.fire(record, "close", qa, signature=SIGNATURE)


def draft_sale(day: Day, store: str) -> None:
    """A sales order the clerk started and has not confirmed yet (a draft in the list)."""
    free = _free_by_item(day, store)
    specs = day.chain.item_by_id
    items = [item for item in free if specs[item].tracking != "serial"]
    if not items:
        return
    item = day.rng.choice(items)
    line = {"item": item, "quantity": "1", "unit_price": str(specs[item].retail_price)}
    payload = {"location": day.chain.locations[store], "sale_date": day.date.isoformat(),
               "customer": day.chain.customers[0]["id"], "lines": [line]}  # fmt: skip
    with day.moment():
        day.create(day.user("store_clerk", store), "sales_order", payload)


#: What settles a document: (its settlement form, the document's state that counts, the invoice
#: form that bills it and the invoice line's field naming it).
SETTLING = {
    "sales_order": ("customer_receipt", "delivered", "sales_invoice", "sales_order"),
    "purchase_receipt": ("supplier_payment", "done", "purchase_invoice", "purchase_receipt"),
}


def _due(day: Day, form: str, party: str, date_field: str, since: dt.date, until: dt.date):
    """Each party's documents of ``form`` dated ``since``–``until`` that count on its account
    (delivered sales on credit, inspected purchase receipts): party id → [(record, what it
    still counts for)] — its total less the credit of the goods sent back against it
    (``returned``: an inspected customer return, a supplier return shipped), which the return
    already took off the account."""
    state = SETTLING[form][1]
    due: dict[int, list[tuple[Record, Decimal]]] = defaultdict(list)
    for record in day.session.scalars(
        select(Record).where(Record.form == form, Record.state == state).order_by(Record.id)
    ):
        data = record.data
        counts = form != "sales_order" or data.get("sale_kind") in ("hospital", "wholesale")
        if counts and data.get(party) and since <= dt.date.fromisoformat(data[date_field]) <= until:
            net = Decimal(str(data.get("total") or 0)) - Decimal(str(data.get("returned") or 0))
            due[data[party]].append((record, net))
    return due


def invoice(day: Day, form: str, party: str, date_field: str, since: dt.date, until: dt.date):
    """Finance registers one invoice per party billing its documents of ``form`` dated
    ``since``–``until`` in full (a supplier's invoice for the goods it delivered less what went
    back, the chain's invoice to a hospital), and confirms it; what came later waits for its
    invoice."""
    invoicing, line_field = SETTLING[form][2:]
    finance = day.user("finance")
    kind = "1" if form == "purchase_receipt" else "2"
    for party_id, documents in sorted(_due(day, form, party, date_field, since, until).items()):
        to_bill = [(record, Decimal(record.data.get("uninvoiced") or 0)) for record, _ in documents]
        lines = [{line_field: record.id, "amount": str(amount), "tax_rate": "13"}
                 for record, amount in to_bill if amount > 0]  # fmt: skip
        if not lines:
            continue
        number = f"{day.date:%Y%m%d}{party_id:04d}{kind}{len(lines):07d}"  # 20 digits, once a day
        with day.moment():
            record = day.create(finance, invoicing, {
                "location": day.chain.locations["HQ"], party: party_id, "invoice_number": number,
                "invoice_date": day.date.isoformat(), "lines": lines,
            })  # fmt: skip
            day.fire(record, "confirm", finance)


def return_invoiced_sale(day: Day) -> Record | None:
    """A hospital sends back a unit of a sale the chain has invoiced in full (the first such sale
    with nothing returned yet): its credit leaves the sale invoiced beyond what it may be."""
    sales = select(Record).where(Record.form == "sales_order", Record.state == "delivered")
    codes = {location_id: code for code, location_id in day.chain.locations.items()}
    for sale in day.session.scalars(sales.order_by(Record.id)):
        data = sale.data
        invoiced_in_full = data.get("invoiced") and Decimal(data.get("uninvoiced") or 0) == 0
        if invoiced_in_full and not data.get("returned") and data.get("deliveries"):
            customer_return(day, codes[data["location"]], sale)
            return sale
    return None


def reverse(day: Day, form: str, party: str) -> None:
    """Finance issues a red-letter invoice (红字发票) for each document of ``form`` invoiced beyond
    what it may be (goods returned after the invoice) against the invoice that billed it, for the
    excess, and confirms it."""
    state, invoicing, line_field = SETTLING[form][1], *SETTLING[form][2:]
    documents = select(Record).where(Record.form == form, Record.state == state)
    over = [doc for doc in day.session.scalars(documents.order_by(Record.id))
            if Decimal(doc.data.get("uninvoiced") or 0) < 0]  # fmt: skip
    if not over:
        return
    invoices = select(Record).where(Record.form == invoicing, Record.state == "confirmed")
    billing = {  # document id → the (last) regular invoice billing it
        line[line_field]: invoice
        for invoice in day.session.scalars(invoices.order_by(Record.id))
        if invoice.data.get("invoice_colour") != "red"
        for line in invoice.data["lines"]
    }
    finance = day.user("finance")
    for document in over:
        original = billing[document.id]
        number = f"{day.date:%Y%m%d}9{original.id:011d}"  # 20 digits, one per invoice reversed
        with day.moment():
            record = day.create(finance, invoicing, {
                "location": original.data["location"], "invoice_colour": "red",
                "original_invoice": original.id, "invoice_kind": original.data["invoice_kind"],
                party: original.data[party],
                "invoice_number": number, "invoice_date": day.date.isoformat(),
                "lines": [{line_field: document.id, "amount": document.data["uninvoiced"],
                           "tax_rate": "13"}],
            })  # fmt: skip
            day.fire(record, "confirm", finance)


def settle(day: Day, form: str, party: str, date_field: str, since: dt.date, until: dt.date) -> int:
    """Finance settles each party's documents of ``form`` dated ``since``–``until`` (delivered
    sales on credit, inspected purchase receipts) with one confirmed receipt or payment each, for
    what they still count for on its account: their totals less the goods sent back against
    them, and less any credit the party holds for goods returned after they were paid for —
    never for goods returned, never beyond what it owes for the documents up to ``until``. What
    came later stays owed, as in any chain's books. Returns the number of parties with
    documents due."""
    settlement = SETTLING[form][0]
    documents = _due(day, form, party, date_field, dt.date.min, until)
    settled: dict[int, Decimal] = defaultdict(Decimal)
    paid = select(Record).where(Record.form == settlement, Record.state == "confirmed")
    for record in day.session.scalars(paid):
        settled[record.data[party]] += Decimal(str(record.data["amount"]))
    owed = {}
    for party_id, counted in documents.items():
        due = [
            net
            for record, net in counted
            if dt.date.fromisoformat(record.data[date_field]) >= since
        ]
        if due:
            left = sum((net for _record, net in counted), Decimal(0)) - settled[party_id]
            owed[party_id] = min(sum(due, Decimal(0)), left)
    finance = day.user("finance")
    date = "receipt_date" if settlement == "customer_receipt" else "payment_date"
    for party_id, amount in sorted(owed.items()):
        if amount <= 0:
            continue
        with day.moment():
            record = day.create(finance, settlement, {
                "location": day.chain.locations["HQ"], party: party_id, date: day.date.isoformat(),
                "amount": str(amount), "method": "bank_transfer",
                "reference": f"BANK-{day.date:%Y%m%d}-{party_id}",
            })  # fmt: skip
            day.fire(record, "confirm", finance)
    return len(owed)


def deposit_cash(day: Day) -> None:
    """Each store's clerk takes yesterday's cash to the bank (缴款单) — what 现金缴存核对 says the
    store still holds of that day — and finance confirms the deposits handed in the day before,
    as the bank statement shows them: today's cash stays in the till, yesterday's waits for
    finance."""
    finance = day.user("finance")
    yesterday = day.date - dt.timedelta(days=1)
    for record in day.session.scalars(
        select(Record)
        .where(Record.form == "till_deposit", Record.state == "submitted")
        .order_by(Record.id)
    ):
        if dt.date.fromisoformat(record.data["takings_date"]) < yesterday:
            with day.moment():
                day.fire(record, "confirm", finance)
    report = day.registry.report("till_deposits")
    till = run_report(day.session, report, {"period": f"{yesterday}..{yesterday}"}, finance,
                      today=day.date)  # fmt: skip
    codes = dict(day.session.execute(select(Location.name, Location.code)).all())
    for row in till.rows:
        left = Decimal(str(row["undeposited"] or 0))
        if row["_level"] != 0 or left <= 0:
            continue
        store = codes[row["store"]]
        with day.moment():
            deposit = day.create(day.user("store_clerk", store), "till_deposit", {
                "location": day.chain.locations[store], "takings_date": yesterday.isoformat(),
                "deposit_date": day.date.isoformat(), "amount": str(left),
                "bank_slip": f"{day.date:%Y%m%d}{day.chain.locations[store]:06d}",
            })  # fmt: skip
            day.fire(deposit, "submit", day.user("store_clerk", store))
