"""Order allocation (订单分配): which locations fill an order line, and why.

``plan`` is a pure read. One query fetches the item's sellable stock — the same conditions as
``reservations.allocate`` (released lot, not expired, shelf life left, on hand minus reserved) at
an open location no count is holding — at the ordering location and at every candidate location
of the allowed types. Candidates are ranked by great-circle (haversine) distance from the ordering
location (the ordering location itself first; then those with coordinates, nearest first; then
those without, which the reason says; ties by location code). The rules are tried in their order
and the first that fills the whole line wins:

- ``own_location``: the ordering location alone;
- ``nearest``: the nearest single location that can fill the line;
- ``split``: nearest first across locations until the line is filled.

Lots are taken FEFO within a location. ``reservations.reserve`` locks and checks again, so a plan
that lost a race is refused there and can be made again.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db import plain_quantity, to_decimal
from app.i18n import _l
from app.kernel.errors import AllocationImpossible
from app.kernel.geo import great_circle_km
from app.kernel.items import Item, Lot, business_today
from app.kernel.locations import Location, LocationType
from app.kernel.reservations import FEFO, earliest_expiry, sellable
from app.kernel.stock import StockBalance
from app.kernel.stock_locks import unlocked


class Rule(enum.StrEnum):
    own_location = "own_location"
    nearest = "nearest"
    split = "split"

    @property
    def label(self) -> str:
        """The rule as a clerk reads it in a refusal (the value is the metadata's key)."""
        return str(RULE_LABELS[self])


#: What each rule is called where people read it.
RULE_LABELS = {
    Rule.own_location: _l("own stock"),
    Rule.nearest: _l("nearest location with stock"),
    Rule.split: _l("split across locations"),
}


@dataclass(frozen=True)
class Rules:
    """How a line is allocated: the rules in order, which other locations may fill it, how far
    away they may be, and how many days of shelf life the customer must get."""

    order: tuple[Rule, ...] = (Rule.own_location, Rule.nearest, Rule.split)
    location_types: tuple[LocationType, ...] = (LocationType.store, LocationType.warehouse)
    max_distance_km: float | None = None
    min_shelf_life_days: int = 0


@dataclass
class Candidate:
    """A location that holds sellable stock of the item: its lots FEFO and its distance."""

    location: Location
    own: bool
    distance_km: float | None  # None: no coordinates to measure by
    lots: list[tuple[Lot | None, Decimal]] = field(default_factory=list)

    @property
    def available(self) -> Decimal:
        return sum((quantity for _lot, quantity in self.lots), Decimal(0))

    @property
    def rank(self) -> tuple:
        return (not self.own, self.distance_km is None, self.distance_km or 0.0,
                self.location.code)  # fmt: skip

    def take(self, quantity: Decimal) -> list[tuple[Lot | None, Decimal]]:
        """FEFO lots for ``quantity`` (no more than this location has)."""
        picks, remaining = [], quantity
        for lot, free in self.lots:
            if remaining <= 0:
                break
            taken = min(free, remaining)
            picks.append((lot, taken))
            remaining -= taken
        return picks


@dataclass(frozen=True)
class Pick:
    """One lot from one location, with the rule that chose it and why (zh / en)."""

    location: Location
    lot: Lot | None
    quantity: Decimal
    rule: Rule
    distance_km: float | None
    reason: str


@dataclass(frozen=True)
class Plan:
    item: Item
    quantity: Decimal
    rule: Rule
    picks: tuple[Pick, ...]
    #: Why, for the whole line, in Chinese and English: ``拆分：S1 3 + WH 7（12.4 km）/ split: …``.
    reason: str

    def by_location(self) -> dict[int, list[Pick]]:
        """The picks grouped by location id, in the order the plan takes the locations."""
        grouped: dict[int, list[Pick]] = {}
        for pick in self.picks:
            grouped.setdefault(pick.location.id, []).append(pick)
        return grouped


def distance_km(origin: Location, target: Location) -> float | None:
    """Great-circle distance in km; ``None`` when either has no coordinates."""
    return great_circle_km(origin.latitude, origin.longitude, target.latitude, target.longitude)


def candidates(
    session: Session,
    item: Item,
    location: Location,
    rules: Rules,
    today: dt.date | None = None,
    taken: Mapping[tuple[int, int], Decimal] | None = None,
) -> list[Candidate]:
    """Every location that may fill a line of ``item`` ordered at ``location``, ranked; its lots
    FEFO net of ``taken`` ((location id, lot key) → quantity other lines of the order took)."""
    earliest = earliest_expiry(today or business_today(), rules.min_shelf_life_days)
    rows = session.execute(
        select(Location, Lot, StockBalance.lot_key, StockBalance.on_hand - StockBalance.reserved)
        .join(StockBalance, StockBalance.location_id == Location.id)
        .outerjoin(Lot, Lot.id == StockBalance.lot_id)
        .where(
            StockBalance.item_id == item.id,
            or_(Location.id == location.id, Location.type.in_(rules.location_types)),
            Location.active.is_(True),
            unlocked(Location.id),
            *sellable(earliest),
        )
        .order_by(Location.id, *FEFO)
    ).all()
    found: dict[int, Candidate] = {}
    for place, lot, lot_key, free in rows:
        free -= (taken or {}).get((place.id, lot_key), Decimal(0))
        if free <= 0:
            continue
        if place.id not in found:
            own = place.id == location.id
            found[place.id] = Candidate(place, own, 0.0 if own else distance_km(location, place))
        found[place.id].lots.append((lot, free))
    ranked = sorted(found.values(), key=lambda candidate: candidate.rank)
    if rules.max_distance_km is None:
        return ranked
    return [c for c in ranked if c.own or (c.distance_km is not None
                                           and c.distance_km <= rules.max_distance_km)]  # fmt: skip


def plan(
    session: Session,
    item: Item,
    quantity,
    location: Location,
    rules: Rules = Rules(),
    today: dt.date | None = None,
    taken: Mapping[tuple[int, int], Decimal] | None = None,
) -> Plan:
    """Where ``quantity`` of ``item`` ordered at ``location`` comes from: the first rule that
    fills the whole line; ``AllocationImpossible`` when none can. Reads only."""
    quantity = to_decimal(quantity)
    ranked = candidates(session, item, location, rules, today, taken)
    for rule in rules.order:
        chosen = _apply(rule, ranked, quantity)
        if chosen is not None:
            return _plan(item, quantity, rule, chosen)
    labels = [rule.label for rule in rules.order]
    raise AllocationImpossible(item, quantity, _most(rules.order, ranked), labels)


def _apply(rule: Rule, ranked: list[Candidate], quantity: Decimal):
    """[(candidate, quantity)] the rule takes, or ``None`` when it cannot fill the line."""
    if rule == Rule.own_location:
        own = [c for c in ranked if c.own and c.available >= quantity]
        return [(own[0], quantity)] if own else None
    if rule == Rule.nearest:
        able = [c for c in ranked if c.available >= quantity]
        return [(able[0], quantity)] if able else None
    chosen, remaining = [], quantity
    for candidate in ranked:
        if remaining <= 0:
            break
        share = min(candidate.available, remaining)
        chosen.append((candidate, share))
        remaining -= share
    return chosen if remaining <= 0 else None


def _most(order, ranked: list[Candidate]) -> Decimal:
    """The most any of the rules could have taken: what the refusal says is available."""
    best = Decimal(0)
    for rule in order:
        if rule == Rule.own_location:
            best = max([best, *(c.available for c in ranked if c.own)])
        elif rule == Rule.nearest:
            best = max([best, *(c.available for c in ranked)])
        else:
            best = max(best, sum((c.available for c in ranked), Decimal(0)))
    return best


def _where(candidate: Candidate) -> tuple[str, str]:
    """How far, (zh, en): ``12.4 km``, or that the location has no coordinates."""
    if candidate.distance_km is None:
        return "无坐标，距离未知", "no coordinates, distance unknown"
    return (f"{candidate.distance_km:.1f} km",) * 2


def _pick_reason(rule: Rule, candidate: Candidate) -> str:
    code = candidate.location.code
    if candidate.own:
        return "本店库存 / own stock"
    zh, en = _where(candidate)
    if rule == Rule.nearest:
        return f"最近有货 {code}（{zh}）/ nearest with stock: {code} ({en})"
    return f"拆分调货 {code}（{zh}）/ split from {code} ({en})"


def _plan(item: Item, quantity: Decimal, rule: Rule, chosen) -> Plan:
    picks = []
    for candidate, share in chosen:
        reason = _pick_reason(rule, candidate)
        for lot, taken in candidate.take(share):
            picks.append(Pick(candidate.location, lot, taken, rule, candidate.distance_km, reason))
    if rule == Rule.split and len(chosen) > 1:
        zh_parts, en_parts = [], []
        for candidate, share in chosen:
            text = f"{candidate.location.code} {plain_quantity(share)}"
            zh, en = _where(candidate)
            zh_parts.append(text if candidate.own else f"{text}（{zh}）")
            en_parts.append(text if candidate.own else f"{text} ({en})")
        reason = f"拆分：{' + '.join(zh_parts)} / split: {' + '.join(en_parts)}"
    else:  # one location: its own reason says it all
        reason = _pick_reason(rule, chosen[0][0])
    return Plan(item, quantity, rule, tuple(picks), reason)
