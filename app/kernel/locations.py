"""Locations: the organisation tree — HQ, regions, stores, warehouses — and transit nodes.

Every node that can hold stock is a location. ``path`` is the materialised chain of ancestor ids
(``/1/4/17/``), so "everything under this region" is one indexed prefix match, which data scope,
reports and replenishment all need.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import Boolean, Enum, ForeignKey, Numeric, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.kernel.audit import GENESIS, AuditChainHead


class LocationType(enum.StrEnum):
    hq = "hq"
    region = "region"
    store = "store"
    warehouse = "warehouse"
    transit = "transit"


#: Location types that hold stock (HQ and regions organise; they hold none).
STOCK_HOLDING = (LocationType.store, LocationType.warehouse, LocationType.transit)


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[LocationType] = mapped_column(
        Enum(LocationType, native_enum=False, length=16, validate_strings=True)
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    path: Mapped[str] = mapped_column(String(512), index=True, default="/")
    address: Mapped[str | None] = mapped_column(String(256))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Location | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Location {self.code} {self.type}>"

    @property
    def holds_stock(self) -> bool:
        return self.type in STOCK_HOLDING


def add_location(
    session: Session,
    code: str,
    name: str,
    type: LocationType | str,
    parent: Location | None = None,
    **attributes,
) -> Location:
    """Create a location under ``parent`` and fill in its materialised ``path``."""
    location = Location(code=code, name=name, type=LocationType(type), parent=parent, **attributes)
    session.add(location)
    session.flush()
    location.path = f"{parent.path if parent else '/'}{location.id}/"
    if location.holds_stock:
        # Its stock postings get their own audit chain; creating the head now means concurrent
        # first postings never race to create it.
        session.add(AuditChainHead(chain=f"location:{location.id}", seq=0, hash=GENESIS))
    session.flush()
    return location


def descendants(session: Session, location: Location) -> list[Location]:
    """``location`` and every location below it in the tree."""
    return list(
        session.scalars(
            select(Location).where(Location.path.startswith(location.path)).order_by(Location.id)
        )
    )


def path_ids(path: str) -> list[int]:
    """The ids a materialised ``path`` names: the chain's root first, the location itself last."""
    return [int(part) for part in path.strip("/").split("/") if part]


def region_of(session: Session, location: Location) -> Location | None:
    """The nearest ancestor of type region (or the location itself if it is one)."""
    ids = path_ids(location.path)
    if not ids:
        return None
    regions = session.scalars(
        select(Location).where(Location.id.in_(ids), Location.type == LocationType.region)
    ).all()
    by_id = {region.id: region for region in regions}
    for ancestor_id in reversed(ids):
        if ancestor_id in by_id:
            return by_id[ancestor_id]
    return None
