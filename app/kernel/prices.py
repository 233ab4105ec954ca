"""Item prices (调价): the retail and wholesale prices a price change sets, from a date, for the
whole chain or for one region, store or warehouse.

An item card carries the item's list prices; a price change (调价单) is how a chain changes them
afterwards, approved and dated, without reopening the card for QA: each approved change writes a
row per item here, and a sale asks ``price_on`` for the price in force at its location on its
day. The rule is the one staff expect of a series of dated changes: the **latest** change in
force that covers the location wins; on the same day, the one aimed more narrowly (a store over
its region, a region over the chain); on the same day and scope, the later document. Each kind of
price is resolved on its own, so a change of the retail price alone leaves the wholesale price as
the last change that set it.

A change dated ahead is written at once and is simply not in force yet, so no job has to apply it
on the day. A price never changes in the past (sales were made at it): a change starts today at
the earliest, and is withdrawn only while none of it is in force.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, delete, func, or_, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from app.db import Base, Money, UTCDateTime, plain_money, plain_quantity, utcnow
from app.i18n import _
from app.kernel import audit
from app.kernel.errors import KernelError
from app.kernel.items import Item, business_today
from app.kernel.locations import Location


class PriceKind(enum.StrEnum):
    retail = "retail"
    wholesale = "wholesale"


class ItemPrice(Base):
    """One item's price(s) from ``valid_from`` at ``location_id`` and below (None: the chain)."""

    __tablename__ = "item_prices"
    __table_args__ = (Index("ix_item_prices_item_from", "item_id", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    retail_price: Mapped[Decimal | None] = mapped_column(Money)
    wholesale_price: Mapped[Decimal | None] = mapped_column(Money)
    #: the price change that set it (its number): what a withdrawal removes
    document: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class PriceLine:
    item: Item
    retail_price: Decimal | None = None
    wholesale_price: Decimal | None = None


class PriceError(KernelError):
    """A price change the kernel refuses; nothing of it has been written."""


class PriceInThePast(PriceError):
    field = "valid_from"

    def __init__(self, valid_from: dt.date, today: dt.date):
        super().__init__(
            _(
                "A price cannot change in the past: %(date)s is before today (%(today)s); sales "
                "were made at the old price. Choose today or a later date.",
                date=valid_from.isoformat(),
                today=today.isoformat(),
            )
        )


class NoPrice(PriceError):
    field = "lines"

    def __init__(self, item: Item):
        super().__init__(
            _(
                "Item %(item)s: give a new retail price, a new wholesale price or both.",
                item=item.code,
            )
        )


class NegativePrice(PriceError):
    field = "lines"

    def __init__(self, item: Item, price: Decimal):
        super().__init__(
            _(
                "Item %(item)s: a price cannot be negative (%(price)s).",
                item=item.code,
                price=plain_quantity(price),
            )
        )


class ItemTwice(PriceError):
    field = "lines"

    def __init__(self, item: Item):
        super().__init__(
            _(
                "Item %(item)s is on two lines: one price change sets one price per item.",
                item=item.code,
            )
        )


class PriceAlreadyInForce(PriceError):
    field = "valid_from"

    def __init__(self, document: str, valid_from: dt.date):
        super().__init__(
            _(
                "Price change %(document)s has been in force since %(date)s and cannot be "
                "withdrawn: make a new price change instead.",
                document=document,
                date=valid_from.isoformat(),
            )
        )


def _check(lines: Sequence[PriceLine]) -> None:
    seen: set[int] = set()
    for line in lines:
        if line.item.id in seen:
            raise ItemTwice(line.item)
        seen.add(line.item.id)
        prices = [p for p in (line.retail_price, line.wholesale_price) if p is not None]
        if not prices:
            raise NoPrice(line.item)
        for price in prices:
            if price < 0:
                raise NegativePrice(line.item, price)


def set_prices(
    session: Session,
    lines: Sequence[PriceLine],
    valid_from: dt.date,
    document: str,
    location: Location | None = None,
    user=None,
) -> list[ItemPrice]:
    """Write ``lines`` as the prices in force from ``valid_from`` at ``location`` and below (the
    whole chain when None), with one audit entry naming every item and price."""
    today = business_today()
    if valid_from < today:
        raise PriceInThePast(valid_from, today)
    _check(lines)
    rows = [
        ItemPrice(
            item_id=line.item.id,
            location_id=location.id if location is not None else None,
            valid_from=valid_from,
            retail_price=line.retail_price,
            wholesale_price=line.wholesale_price,
            document=document,
        )
        for line in lines
    ]
    session.add_all(rows)
    audit.record(
        session,
        "price.set",
        "price_change",
        document,
        changes={
            "valid_from": valid_from.isoformat(),
            "location": location.code if location is not None else None,
            "prices": [
                [line.item.code, _text(line.retail_price), _text(line.wholesale_price)]
                for line in lines
            ],
        },
        context=audit.acting(user),
    )
    return rows


def withdraw_prices(session: Session, document: str, user=None, reason: str | None = None) -> int:
    """Delete the prices ``document`` set, none of which may be in force yet; the number of rows."""
    rows = session.scalars(select(ItemPrice).where(ItemPrice.document == document)).all()
    started = min((row.valid_from for row in rows), default=None)
    if started is not None and started <= business_today():
        raise PriceAlreadyInForce(document, started)
    session.execute(delete(ItemPrice).where(ItemPrice.document == document))
    audit.record(
        session,
        "price.withdrawn",
        "price_change",
        document,
        changes={"rows": len(rows)},
        reason=reason,
        context=audit.acting(user),
    )
    return len(rows)


def price_on(
    session: Session,
    item_id: int,
    location_id: int | None,
    on: dt.date,
    kind: PriceKind | str = PriceKind.retail,
) -> Decimal | None:
    """The ``kind`` price of the item in force at the location on ``on``, None when no price
    change has set one (the item card's list price applies then); without a location, only
    chain-wide changes count."""
    column = getattr(ItemPrice, f"{PriceKind(kind).value}_price")
    scope = aliased(Location)  # where a change applies: None for the whole chain
    covers = ItemPrice.location_id.is_(None)
    if location_id is not None:  # the location itself or one of its ancestors
        here = select(Location.path).where(Location.id == location_id).scalar_subquery()
        covers = or_(covers, here.startswith(scope.path))
    found = session.scalar(
        select(column)
        .outerjoin(scope, scope.id == ItemPrice.location_id)
        .where(ItemPrice.item_id == item_id, ItemPrice.valid_from <= on, column.is_not(None))
        .where(covers)
        # the latest day, then the narrowest scope (a descendant's path is the longer), then
        # the later document
        .order_by(
            ItemPrice.valid_from.desc(),
            func.coalesce(func.length(scope.path), 0).desc(),
            ItemPrice.id.desc(),
        )
        .limit(1)
    )
    return plain_money(found) if found is not None else None


def _text(price: Decimal | None) -> str | None:
    return str(plain_money(price)) if price is not None else None
