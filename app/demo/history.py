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

from sqlalchemy.orm import Session

from app.db import clock_at
from app.demo import flows, master
from app.demo.catalogue import Catalogue
from app.kernel.items import BUSINESS_TIMEZONE, business_today
from app.meta.registry import Registry

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
    """What was made, for the CLI's last line and the job's result."""

    locations: int = 0
    users: int = 0
    items: int = 0
    purchase_receipts: int = 0
    inspected: int = 0
    sales_orders: int = 0
    transfers: int = 0
    days: list[str] = field(default_factory=list)

    def as_result(self) -> dict:
        result = asdict(self)
        days = result.pop("days") or [None]
        return {**result, "first_day": days[0], "last_day": days[-1]}


#: ``progress(done, total, message)`` after each step.
Progress = Callable[[int, int, str], None]
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
            _simulate(day, number, last=date == today, state=state, summary=summary)
        summary.days.append(date.isoformat())
        if progress:
            progress(number + 2, total, date.isoformat())
    return summary


def _master_data(session, registry, catalogue: Catalogue, options, chain, rng, today) -> None:
    master.load_organisation(
        session, chain, catalogue.warehouses(options.warehouses, rng),
        catalogue.stores(options.stores, rng), catalogue.hq(), catalogue.regions(),
    )  # fmt: skip
    master.load_users(session, chain, catalogue, rng)
    items_rng = random.Random(f"items-{options.seed}")  # the same items whatever the chain's size
    master.load_items(session, chain, catalogue.generate_items(options.items, items_rng, today))
    master.load_parties(session, registry, chain, catalogue, today)


def _opening(date: dt.date) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(7, 0), BUSINESS_TIMEZONE)


def _clock(date: dt.date, real_now: dt.datetime, steps: int) -> flows.Clock:
    """The day's working hours; today's end at the real time (nothing is stamped in the future)."""
    start = dt.datetime.combine(date, OPENS, BUSINESS_TIMEZONE)
    end = min(dt.datetime.combine(date, CLOSES, BUSINESS_TIMEZONE), real_now)
    if end <= start:  # today, before opening time
        start = dt.datetime.combine(date, dt.time(0, 0), BUSINESS_TIMEZONE)
    return flows.Clock(start, end, steps)


@dataclass
class _History:
    """What carries over from one day to the next: shipments on their way (due date, store, doc)."""

    on_the_way: list[tuple[dt.date, str, str]] = field(default_factory=list)


def _simulate(day: flows.Day, number: int, last: bool, state: _History, summary: Summary) -> None:
    """One business day: morning receipts, arrivals and shipments, sales, afternoon inspections.
    Today's receipts stay awaiting inspection."""
    received = _purchases(day, number)
    _arrivals(day, state)
    for index, store in enumerate(day.chain.stores):
        if number and _ships_today(day, number, index, store, last):
            summary.transfers += _ship(day, store, state)
        for _ in range(day.between(day.volume["store_sales_per_day"])):
            sold = flows.sell(day, store, day.between(day.volume["sales_lines"]))
            summary.sales_orders += sold is not None
    summary.purchase_receipts += len(received)
    if last:
        return
    for code, receipt in received:
        flows.inspect(day, code, receipt)
    summary.inspected += len(received)


def _purchases(day: flows.Day, number: int) -> list[tuple[str, int]]:
    """The first day opens every location with a purchase; then warehouses buy every few days.
    Returns (location code, receipt id) of the receipts made."""
    volume, received = day.volume, []
    for index, code in enumerate(day.chain.warehouses):
        if number == 0 or (number + index) % int(volume["warehouse_receipt_every_days"]) == 0:
            lines = day.between(volume["warehouse_receipt_lines"]) * (2 if number == 0 else 1)
            received.append((code, flows.purchase(day, code, lines)))
    if number == 0:
        for code in day.chain.stores:
            lines = day.between(volume["store_opening_lines"])
            received.append((code, flows.purchase(day, code, lines)))
    return [(code, receipt) for code, receipt in received if receipt is not None]


def _arrivals(day: flows.Day, state: _History) -> None:
    for entry in [entry for entry in state.on_the_way if entry[0] <= day.date]:
        _due, store, document = entry
        flows.receive_transfer(day, store, document)
        state.on_the_way.remove(entry)


def _ships_today(day: flows.Day, number: int, index: int, store: str, last: bool) -> bool:
    """Each store is replenished every few days (staggered); on the last day each warehouse also
    ships to its first store, so that today some goods are on the road (in transit)."""
    if (number + index) % int(day.volume["store_transfer_every_days"]) == 0:
        return True
    warehouse = day.chain.supplied_by[store]
    return last and next(s for s, w in day.chain.supplied_by.items() if w == warehouse) == store


def _ship(day: flows.Day, store: str, state: _History) -> int:
    """Ship to ``store`` from its warehouse, arriving in one or two days; 1 if anything went."""
    lines = day.between(day.volume["store_transfer_lines"])
    document = flows.transfer(day, day.chain.supplied_by[store], store, lines)
    if document is None:
        return 0
    state.on_the_way.append((day.date + dt.timedelta(days=day.rng.randint(1, 2)), store, document))
    return 1
