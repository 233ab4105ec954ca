"""The demo chain's generator: master data, then the history replayed day by day up to today.

Each step (the master data, then each simulated day) runs in a transaction of its own that the
caller provides, with the clock held at the simulated moments (``app.db.clock_at``), so documents,
ledger rows and audit entries carry the day they belong to and the kernel's "today" (expiry, FEFO)
is that day. The figures of how busy the chain is come from ``metadata/demo/settings.yaml``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import clock_at
from app.demo import flows, master
from app.demo.catalogue import Catalogue
from app.kernel import audit, periods
from app.kernel.audit import AuditEntry
from app.kernel.items import business_timezone, business_today
from app.kernel.locations import Location
from app.meta import periods as meta_periods
from app.meta.models import Record
from app.meta.registry import Registry
from app.workflow.models import InboxMessage

#: The working hours the simulated documents are spread over (business time zone).
OPENS, CLOSES = dt.time(8, 0), dt.time(20, 0)


@dataclass(frozen=True)
class Options:
    """What ``lianku demo`` asks for; the defaults are the demo chain ``make run`` shows."""

    stores: int = 20
    warehouses: int = 5
    items: int = 200
    days: int = 90
    seed: int = 1

    def __post_init__(self):
        for name in ("stores", "warehouses", "items", "days"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1")

    @classmethod
    def from_params(cls, params: dict) -> Options:
        known = cls.__dataclass_fields__
        return cls(**{name: int(value) for name, value in params.items() if name in known})


@dataclass
class Summary:
    """What was made, for the CLI's last line and the job's result: the master data counts and
    the documents by form and state."""

    locations: int = 0
    users: int = 0
    items: int = 0
    documents: dict[str, dict[str, int]] = field(default_factory=dict)
    days: list[str] = field(default_factory=list)
    #: the months finance closed (YYYY-MM)
    closed_months: list[str] = field(default_factory=list)

    def count(self, form: str) -> int:
        return sum(self.documents.get(form, {}).values())

    @property
    def purchase_receipts(self) -> int:
        return self.count("purchase_receipt")

    @property
    def sales_orders(self) -> int:
        return self.count("sales_order")

    @property
    def transfers(self) -> int:
        return self.count("transfer_out")

    def as_result(self) -> dict:
        result = asdict(self)
        days = result.pop("days") or [None]
        return {**result, "first_day": days[0], "last_day": days[-1]}


#: ``progress(done, total, message)`` after each step.
Progress = Callable[[int, int, str], None]
#: The audit actions a demo load starts and ends with.
STARTED, LOADED = "demo.started", "demo.loaded"
#: A transaction per step, e.g. ``Database.transaction``.
Transaction = Callable[[], AbstractContextManager[Session]]


def generate(
    transaction: Transaction,
    registry: Registry,
    catalogue: Catalogue,
    options: Options,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> Summary:
    """Load the demo chain: master data on the first day, then ``options.days`` days of history
    ending ``today``."""
    today = today or business_today()
    real_now = dt.datetime.now(dt.UTC)
    first = today - dt.timedelta(days=options.days - 1)
    rng = random.Random(options.seed)
    chain, summary = master.Chain(), Summary()
    total = options.days + 1
    with transaction() as session, clock_at(_opening(first)):
        # the days commit one by one: a load that stops midway is told apart from a whole one
        audit.record(session, STARTED, "demo", options.seed, changes=asdict(options))
        _master_data(session, registry, catalogue, options, chain, rng, today)
    summary.locations, summary.items = len(chain.locations), len(chain.items)
    summary.users = len(chain.users)
    if progress:
        progress(1, total, "master data")
    state = _History()
    for number in range(options.days):
        date = first + dt.timedelta(days=number)
        with transaction() as session:
            day = flows.Day(
                session, registry, chain, rng, date,
                _clock(date, real_now, len(chain.stores) * 6 + len(chain.warehouses) * 4 + 4),
                catalogue.volume,
            )  # fmt: skip
            _simulate(day, number, last=date == today, state=state)
        summary.days.append(date.isoformat())
        if progress:
            progress(number + 2, total, date.isoformat())
    summary.closed_months = _close_months(transaction, registry, chain, first, today)
    with transaction() as session:
        _read_before(session, today)
        summary.documents = _documents(session)
        audit.record(session, LOADED, "demo", options.seed, changes=summary.documents)
    return summary


def unfinished(session: Session) -> bool:
    """Whether a demo load started here and stopped before its last day (the database then holds
    part of a chain)."""
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.in_([STARTED, LOADED]))
    ).all()
    return STARTED in actions and LOADED not in actions


def _close_months(
    transaction: Transaction, registry: Registry, chain: master.Chain, first: dt.date,
    today: dt.date,
) -> list[str]:  # fmt: skip
    """Finance has closed the history's months in order up to the one before last (last month
    is left for the demo's finance user to close), stopping at a month a document keeps open."""
    closed = []
    through = periods.month_end(first)
    last = periods.month_end(today.replace(day=1) - dt.timedelta(days=1))
    while through < last:
        try:
            with transaction() as session:
                finance = chain.user(session, "finance")
                closed.append(meta_periods.close_month(session, registry, finance, through).month)
        except periods.PeriodNotClosable:
            break
        through = periods.month_end(through + dt.timedelta(days=1))
    return closed


def _read_before(session: Session, today: dt.date) -> None:
    """The staff read their messages as the days went by: only today's are new when they log in
    (not weeks of "shipped to you")."""
    midnight = dt.datetime.combine(today, dt.time(), business_timezone())
    session.execute(
        update(InboxMessage).where(InboxMessage.created_at < midnight).values(read=True)
    )


def _documents(session: Session) -> dict[str, dict[str, int]]:
    """How many records of each document form are in each state."""
    counted: dict[str, dict[str, int]] = {}
    query = select(Record.form, Record.state, func.count()).group_by(Record.form, Record.state)
    for form, state, count in session.execute(query):
        counted.setdefault(form, {})[state] = count
    return counted


def _master_data(session, registry, catalogue: Catalogue, options, chain, rng, today) -> None:
    master.load_organisation(
        session, chain, catalogue.warehouses(options.warehouses, rng),
        catalogue.stores(options.stores, rng), catalogue.hq(), catalogue.regions(),
    )  # fmt: skip
    master.load_users(session, chain, catalogue, rng)
    items_rng = random.Random(f"items-{options.seed}")  # the same items whatever the chain's size
    items = catalogue.generate_items(options.items, items_rng, today)
    master.load_suppliers(session, registry, chain, catalogue, today)
    master.load_items(session, registry, chain, items)
    master.load_customers(session, registry, chain, catalogue, today)
    master.load_stock_policies(session, registry, chain)


def _opening(date: dt.date) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(7, 0), business_timezone())


def _clock(date: dt.date, real_now: dt.datetime, steps: int) -> flows.Clock:
    """The day's working hours; today's end at the real time (nothing is stamped in the future)."""
    start = dt.datetime.combine(date, OPENS, business_timezone())
    end = min(dt.datetime.combine(date, CLOSES, business_timezone()), real_now)
    if end <= start:  # today, before opening time
        start = dt.datetime.combine(date, dt.time(0, 0), business_timezone())
    return flows.Clock(start, end, steps)


@dataclass
class _History:
    """What carries over from one day to the next: transfers on their way (due date, store,
    transfer in id), and whether one arrived short yet (the first that can be is, so that even
    a small chain shows a transfer received in part)."""

    on_the_way: list[tuple[dt.date, str, int]] = field(default_factory=list)
    short_seen: bool = False


def _simulate(day: flows.Day, number: int, last: bool, state: _History) -> None:
    """One business day: the stores' cash of the day before to the bank, morning orders and
    receipts, arrivals, transfers, sales, afternoon inspections (and now and then a supplier
    return), a count correction, a scrap. On the last day (today) work is left open: an order
    in approval, receipts awaiting inspection, a transfer request in approval, goods in transit,
    a sale awaiting delivery, drafts, yesterday's cash deposits for finance to confirm."""
    volume = day.volume
    if number:
        flows.deposit_cash(day)  # yesterday's cash to the bank, first thing
    received = _purchases(day, number)
    _arrivals(day, state)
    for index, store in enumerate(day.chain.stores):
        if number and _ships_today(day, number, index, store, last):
            _replenish(day, store, state)
        for _ in range(day.between(volume["store_sales_per_day"])):
            _sale(day, store, business=day.chance(volume["business_sale_share"]))
    if last:
        _leave_open(day)
        return
    for code, receipt in received:
        rejected = flows.inspect(day, code, receipt)
        if rejected and day.chance(volume["supplier_return_share"]):
            flows.return_to_supplier(day, code, receipt, rejected)
    _corrections(day, number)
    _pricing(day, number)
    if number % 7 == 6:  # Friday-ish: finance settles what fell due
        _settle(day)


def _settle(day: flows.Day) -> None:
    """Customers pay for what they took two to one weeks ago, suppliers are paid for what
    arrived three to two weeks ago; the rest stays on the accounts (应收 / 应付). Invoices come a
    week earlier: the chain bills last week's credit sales, suppliers bill what arrived two to
    one weeks ago; the later ones wait for theirs (未开票 / 未到票). Now and then a hospital
    sends back goods already invoiced, and the chain reverses that part in red (红字发票)."""
    week, day_before = dt.timedelta(days=7), dt.timedelta(days=1)
    flows.invoice(day, "sales_order", "customer", "sale_date", day.date - week,
                  day.date - day_before)  # fmt: skip
    if day.chance(day.volume["late_return_share"]):  # a hospital sends back invoiced goods
        flows.return_invoiced_sale(day)
    flows.reverse(day, "sales_order", "customer")
    flows.invoice(day, "purchase_receipt", "supplier", "arrival_date", day.date - 2 * week,
                  day.date - week - day_before)  # fmt: skip
    flows.settle(day, "sales_order", "customer", "sale_date", day.date - 2 * week,
                 day.date - week - day_before)  # fmt: skip
    flows.settle(day, "purchase_receipt", "supplier", "arrival_date", day.date - 3 * week,
                 day.date - 2 * week - day_before)  # fmt: skip


def _sale(day: flows.Day, store: str, business: bool) -> None:
    lines = day.between(day.volume["sales_lines"])
    sale = flows.sell(day, store, lines, business=business)
    if sale is None:
        return
    flows.deliver(day, store, sale)
    if day.chance(day.volume["customer_return_share"]):
        flows.customer_return(day, store, sale)


def _purchases(day: flows.Day, number: int) -> list[tuple[str, Record]]:
    """The first day opens every location with a purchase; then warehouses buy every few days.
    Each order is approved and its goods arrive the same day. Returns (location code, receipt)
    of the receipts made."""
    volume, received = day.volume, []
    buying = [
        (code, day.between(volume["warehouse_receipt_lines"]) * (2 if number == 0 else 1))
        for index, code in enumerate(day.chain.warehouses)
        if number == 0 or (number + index) % int(volume["warehouse_receipt_every_days"]) == 0
    ]
    if number == 0:
        buying += [(code, day.between(volume["store_opening_lines"])) for code in day.chain.stores]
    for code, lines in buying:
        made = flows.order(day, code, lines)
        if made is not None:
            received.append((code, flows.receive(day, code, *made)))
    return received


def _arrivals(day: flows.Day, state: _History) -> None:
    for entry in [entry for entry in state.on_the_way if entry[0] <= day.date]:
        _due, store, incoming = entry
        short = day.chance(day.volume["short_share"]) or not state.short_seen
        state.short_seen |= flows.receive_transfer(day, store, incoming, short=short)
        state.on_the_way.remove(entry)


def _ships_today(day: flows.Day, number: int, index: int, store: str, last: bool) -> bool:
    """Each store is replenished every few days (staggered); on the last day each warehouse also
    ships to its first store, so that today some goods are on the road (in transit)."""
    if (number + index) % int(day.volume["store_transfer_every_days"]) == 0:
        return True
    warehouse = day.chain.supplied_by[store]
    return last and next(s for s, w in day.chain.supplied_by.items() if w == warehouse) == store


def _replenish(day: flows.Day, store: str, state: _History) -> None:
    """The store asks its warehouse, the request is approved, the warehouse ships; the goods
    arrive in one or two days."""
    request = flows.request_transfer(day, store, day.between(day.volume["store_transfer_lines"]))
    if request is None:
        return
    incoming = flows.ship(day, request)
    state.on_the_way.append(
        (day.date + dt.timedelta(days=day.rng.randint(1, 2)), store, incoming.id)
    )


def _corrections(day: flows.Day, number: int) -> None:
    """Every few days a store's count finds a piece missing (adjustment); every week each location
    checks its storage (养护), the first warehouse now and then setting a damaged carton apart
    (its first check always does), the last finding its room too damp on its second; every few
    weeks the warehouses and stores destroy what is nonconforming or expired (scrap). Now and
    then a store hears of a suspected adverse event, which QA reports, or takes a customer's
    complaint, which QA investigates and closes."""
    chain, volume = day.chain, day.volume
    if number % int(volume["adjustment_every_days"]) == 1:
        day_index = number // int(volume["adjustment_every_days"])
        flows.adjust(day, chain.stores[day_index % len(chain.stores)])
    checks = int(volume["storage_check_every_days"])
    if number % checks == 2:
        outcome = None
        if number == 2 or day.chance(volume["storage_check_finding_share"]):
            outcome = "release" if number > 2 and day.chance("0.25") else "confirm"
        for code in [*chain.warehouses, *chain.stores]:
            damp = number // checks == 1 and code == chain.warehouses[-1]
            flows.storage_check(
                day, code, outcome if code == chain.warehouses[0] else None, humid=damp
            )
    every = int(volume["adverse_event_every_days"])
    if number % every == 3:  # the stores in turn
        flows.adverse_event(day, chain.stores[number // every % len(chain.stores)], report=True)
    every = int(volume["complaint_every_days"])
    if number % every == 7:  # the stores in turn, from the last
        flows.quality_complaint(day, chain.stores[-1 - number // every % len(chain.stores)], True)
    if number % int(volume["scrap_every_days"]) == 1:
        for code in [*chain.warehouses, *chain.stores]:
            flows.scrap(day, code)


def _pricing(day: flows.Day, number: int) -> None:
    """Every few weeks finance changes some prices from the next day, HQ approving: the whole
    chain's and the first store's region's in turn (调价), so the sales after show the new ones."""
    every = int(day.volume["price_change_every_days"])
    if number % every == every // 2:
        region = _region_of(day, day.chain.stores[0]) if number // every % 2 else None
        flows.change_prices(day, region, 3, day.date + dt.timedelta(days=1))


def _region_of(day: flows.Day, store: str) -> str:
    return day.session.get(Location, day.chain.locations[store]).parent.code


def _leave_open(day: flows.Day) -> None:
    """Today's open work in the demo users' inboxes: the first warehouse's order in approval
    (its supervisor's task), the first store's transfer request in approval (its manager's
    task) and a sale confirmed but not yet delivered, the last store's draft sales order; and a
    sale at the first store of more than it holds, allocated from elsewhere (a transfer out for
    that location's clerk to pick and ship); a suspected adverse event at the last store for QA
    to assess, a quality complaint at the first for QA to investigate; next week's price change
    in the first store's region for HQ to approve; a count shortage of more than 2,000 at the
    first warehouse, its supervisor's approval given, for the region's manager."""
    chain = day.chain
    first, second = chain.stores[0], chain.stores[-1]
    flows.order(day, chain.warehouses[0], 3, decide=False)
    flows.request_transfer(day, first, 2, decide=False)
    flows.sell(day, first, 1)
    flows.draft_sale(day, second)
    flows.sell_from_elsewhere(day, first)
    flows.adverse_event(day, second, report=False)  # QA's to assess
    flows.quality_complaint(day, first, close=False)  # QA's to investigate
    week = day.date + dt.timedelta(days=7)  # next week's promotion, HQ's to approve
    flows.change_prices(day, _region_of(day, first), 2, week, decide=False)
    flows.large_shortage(day, chain.warehouses[0])  # its region's manager's to approve
