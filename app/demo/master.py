"""The demo chain's master data, made through the same services as real use.

Locations through the kernel's ``add_location``, users with their roles and locations through
identity (audited); items, suppliers and customers as master cards (首营) entered by the HQ
manager and approved by QA (approving an item card writes the kernel item, ``sync_item``); stock
policies by each store's manager for its biggest sellers.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from app.db import utcnow
from app.demo.catalogue import Catalogue, ItemSpec, LocationSpec
from app.kernel.audit import jsonable
from app.kernel.locations import Location, add_location
from app.kernel.users import User
from app.meta import records
from app.meta.identity import update_user
from app.meta.models import Record
from app.meta.registry import Registry
from app.workflow import engine

DEMO_PASSWORD = "lianku-demo"

#: The roles at HQ: (username, role, title shown before the person's name).
HQ_USERS = [
    ("admin", "admin", "系统管理员"),
    ("hq", "hq_manager", "总部经理"),
    ("planner", "planner", "补货计划员"),
    ("finance", "finance", "财务"),
    ("qa", "qa", "质管"),
    ("auditor", "auditor", "审计"),
    ("integrator", "integrator", "接口"),
]
#: The roles of each store and warehouse: (username suffix, role, title).
STORE_USERS = [("manager", "store_manager", "店长"), ("clerk", "store_clerk", "店员")]
WAREHOUSE_USERS = [
    ("supervisor", "warehouse_supervisor", "仓库主管"),
    ("clerk", "warehouse_clerk", "保管员"),
]
#: The region's manager, who approves above a store's own say (区域经理).
REGION_USERS = [("manager", "region_manager", "区域经理")]
#: The demo password is public (``make run`` prints it), so its hash costs little to check: the
#: history signs hundreds of inspections, each checking the password again (Argon2 at full cost
#: takes 0.1–0.6 s here). A demo user's first sign-in rehashes it at full cost (``authenticate``).
DEMO_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
#: What a demo user's signature means when they inspect or approve.
SIGNATURE = {"password": DEMO_PASSWORD, "meaning": "verified"}


def username_for(location_code: str, suffix: str) -> str:
    return f"{location_code.lower().replace('-', '_')}_{suffix}"


@dataclass
class Chain:
    """What the history needs of the master data: ids and plain values, no ORM objects (each
    simulated day runs in a session of its own)."""

    locations: dict[str, int] = field(default_factory=dict)
    stores: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    #: the regions holding a store or warehouse of the chain
    regions: list[str] = field(default_factory=list)
    #: store code → the warehouse code that replenishes it (its region's, else the first)
    supplied_by: dict[str, str] = field(default_factory=dict)
    #: (role, location code or "HQ") → user id
    users: dict[tuple[str, str], int] = field(default_factory=dict)
    items: list[ItemSpec] = field(default_factory=list)
    item_ids: dict[str, int] = field(default_factory=dict)
    item_by_id: dict[int, ItemSpec] = field(default_factory=dict)
    #: supplier / customer cards as the catalogue gives them, with ``id`` once created
    suppliers: list[dict] = field(default_factory=list)
    customers: list[dict] = field(default_factory=list)
    serials_issued: int = 0

    def next_serial(self) -> int:
        """A number for the next serial-numbered unit received (unique in the chain)."""
        self.serials_issued += 1
        return self.serials_issued

    def customers_named(self) -> list[str]:
        """The customers' names, the walk-in customer (散客) first."""
        return [customer["name"] for customer in self.customers]

    def user(self, session: Session, role: str, location: str = "HQ") -> User:
        return session.get(User, self.users[(role, location)])

    def location(self, session: Session, code: str) -> Location:
        return session.get(Location, self.locations[code])


def load_organisation(
    session: Session, chain: Chain, warehouses: list[LocationSpec], stores: list[LocationSpec],
    hq: LocationSpec, regions: list[LocationSpec],
) -> None:  # fmt: skip
    """HQ, the regions, then warehouses and stores under their regions."""
    made = {hq.code: _add(session, hq, None)}
    for region in regions:
        made[region.code] = _add(session, region, made[hq.code])
    for spec in [*warehouses, *stores]:
        made[spec.code] = _add(session, spec, made[spec.region])
    chain.locations = {code: location.id for code, location in made.items()}
    chain.warehouses = [spec.code for spec in warehouses]
    chain.stores = [spec.code for spec in stores]
    held = {spec.region for spec in [*warehouses, *stores]}
    chain.regions = [region.code for region in regions if region.code in held]
    by_region = {}
    for spec in warehouses:
        by_region.setdefault(spec.region, spec.code)
    for spec in stores:
        chain.supplied_by[spec.code] = by_region.get(spec.region, warehouses[0].code)


def _add(session: Session, spec: LocationSpec, parent: Location | None) -> Location:
    return add_location(
        session, spec.code, spec.name, spec.type, parent, address=spec.address,
        latitude=spec.latitude, longitude=spec.longitude,
    )  # fmt: skip


def load_users(session: Session, chain: Chain, catalogue: Catalogue, rng: random.Random) -> None:
    """Every role: the HQ ones once, the region, store and warehouse ones at each location, all
    with the one demo password hash (``DEMO_HASHER``)."""
    settings = catalogue.settings
    password_hash = DEMO_HASHER.hash(DEMO_PASSWORD)
    wanted = [(username, role, title, "HQ") for username, role, title in HQ_USERS]
    for codes, roles in (
        (chain.regions, REGION_USERS), (chain.stores, STORE_USERS),
        (chain.warehouses, WAREHOUSE_USERS),
    ):  # fmt: skip
        wanted += [
            (username_for(code, suffix), role, title, code)
            for code in codes
            for suffix, role, title in roles
        ]
    for username, role, title, where in wanted:
        person = rng.choice(settings["surnames"]) + rng.choice(settings["given_names"])
        user = User(username=username, full_name=f"{title} {person}", locale="zh_CN", active=True)
        user.password_hash, user.password_changed_at = password_hash, utcnow()
        session.add(user)
        session.flush()
        update_user(session, user, roles=[role], location_ids=[chain.locations[where]])
        chain.users[(role, where)] = user.id


def load_items(session: Session, registry: Registry, chain: Chain, items: list[ItemSpec]) -> None:
    """Each item as an ``item_master`` card approved by QA: the approval creates the kernel item
    the card then links (field ``item``). Each names a preferred supplier, the suppliers taken in
    turn: the replenishment plan's purchases go to it; none is sold under its purchase price
    without a manager's approval (its lowest selling price)."""
    suppliers = [card["id"] for card in chain.suppliers]
    specs = [
        {
            **asdict(spec),
            "min_price": spec.purchase_price,
            "preferred_supplier": suppliers[index % len(suppliers)] if suppliers else None,
        }
        for index, spec in enumerate(items)
    ]
    cards = _master_records(session, registry, chain, "item_master", specs)
    for spec, card in zip(items, cards, strict=True):
        item_id = session.get(Record, card["id"]).data["item"]
        chain.item_ids[spec.code], chain.item_by_id[item_id] = item_id, spec
    chain.items = items


#: How many of a store's biggest sellers get a stock policy.
POLICIES_PER_STORE = 5


def load_stock_policies(session: Session, registry: Registry, chain: Chain) -> None:
    """Each store's manager sets safety stock, reorder point and maximum for the store's biggest
    sellers (the cheapest consumables, sold every day)."""
    sellers = sorted(
        (spec for spec in chain.items if spec.tracking != "serial"),
        key=lambda spec: (spec.retail_price, spec.code),
    )[:POLICIES_PER_STORE]
    for store in chain.stores:
        manager = chain.user(session, "store_manager", store)
        for rank, spec in enumerate(sellers):
            safety = 2 + rank % 3
            payload = {
                "location": chain.locations[store], "item": chain.item_ids[spec.code],
                "safety_stock": str(safety), "reorder_point": str(safety * 2),
                "max_stock": str(safety * 5),
            }  # fmt: skip
            records.create(session, registry, manager, "stock_policy", payload)


#: What a hospital with agreed prices (协议价) pays for its devices: the purchase price plus this.
AGREED_MARGIN = Decimal("0.15")
#: How long a hospital's tender (and so its agreed prices) runs.
TENDER_TERM = dt.timedelta(days=730)


def load_suppliers(session: Session, registry: Registry, chain: Chain, catalogue, today) -> None:
    """The suppliers as approved master cards (before the items, which name their preferred)."""
    chain.suppliers = _master_records(
        session, registry, chain, "supplier", catalogue.suppliers(today)
    )


def load_customers(session: Session, registry: Registry, chain: Chain, catalogue, today) -> None:
    """The customers (the walk-in 散客 card first) as approved master cards, hospitals with the
    agreed prices of the items they won a tender for."""
    customers = [_with_agreed_prices(chain, card, today) for card in catalogue.customers(today)]
    chain.customers = _master_records(session, registry, chain, "customer", customers)


def _with_agreed_prices(chain: Chain, card: dict, today) -> dict:
    """A hospital that won a tender for its ``agreed_prices`` dearest class II/III devices of the
    chain buys them at an agreed price (its card's ``prices``)."""
    count = card.pop("agreed_prices", 0)
    devices = sorted(
        (spec for spec in chain.items if spec.device_class in ("II", "III")),
        key=lambda spec: (-spec.purchase_price, spec.code),
    )[:count]
    if not devices:
        return card
    contract = f"ZB-{today.year}-{card['code'].removeprefix('CUS-')}"
    term = {"valid_from": (today - TENDER_TERM / 2).isoformat(),  # a two-year tender, half run
            "valid_until": (today + TENDER_TERM / 2).isoformat()}  # fmt: skip
    prices = [{"item": chain.item_ids[spec.code], "contract": contract, **term,
               "price": str((spec.purchase_price * (1 + AGREED_MARGIN)).quantize(Decimal("0.01")))}
              for spec in devices]  # fmt: skip
    return {**card, "prices": prices}


def _master_records(session, registry: Registry, chain: Chain, form: str, cards: list[dict]):
    """Create each card as a record of ``form`` with the fields the form has, entered by the HQ
    manager, submitted and approved by QA (signed); the cards come back with their record
    ``id``."""
    definition = registry.form(form)
    names = {field.name for field in definition.fields} - {"item"}  # the item: QA's approval
    hq, qa = chain.user(session, "hq_manager"), chain.user(session, "qa")
    made = []
    for card in cards:
        payload = {key: jsonable(value) for key, value in card.items() if key in names}
        record = records.create(session, registry, hq, form, payload)
        engine.fire(session, registry, record, "submit", hq)
        engine.fire(session, registry, record, "approve", qa, signature=SIGNATURE)
        made.append({**card, "id": record.id})
    return made
