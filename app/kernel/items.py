"""Items (one SKU each), their lots and their serial-numbered units.

An item carries what the regulator and the scanner need: GTIN (UDI-DI, check digit verified),
registration certificate and its expiry, device class, how it is tracked (none / lot / serial),
storage condition and the near-expiry threshold FEFO and the expiry scan use.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
    select,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, validates

from app.db import Base, UTCDateTime, utcnow
from app.kernel.errors import (
    ExpiryRequired,
    InvalidGTIN,
    LotMismatch,
    NotTracked,
    NotWholeUnits,
    RegistrationExpired,
)

#: The business day is the one on the shops' wall clock: ``LIANKU_TIMEZONE`` (the reference chain
#: is in China). Set once per process by the entry points (``use_business_timezone``).
_business_timezone = ZoneInfo("Asia/Shanghai")


def use_business_timezone(name: str) -> None:
    """Make ``name`` (an IANA zone, e.g. ``Asia/Shanghai``) the business day's time zone."""
    global _business_timezone
    _business_timezone = ZoneInfo(name)


def business_timezone() -> ZoneInfo:
    return _business_timezone


def business_now() -> dt.datetime:
    """Now on the shops' wall clock (the held clock in the demo's history and in tests)."""
    return utcnow().astimezone(_business_timezone)


def wall_clock(moment: dt.datetime, form: str = "%Y-%m-%d %H:%M") -> str:
    """``moment`` as the shops' clock reads it, for a message a clerk acts on ("locked since
    2026-12-06 10:02"): the pages show every time so, never UTC."""
    return moment.astimezone(_business_timezone).strftime(form)


def business_today() -> dt.date:
    """Today's date where the shops are: what expiry, FEFO and reports' "today" compare against."""
    return business_now().date()


def _enum(cls) -> Enum:
    return Enum(cls, native_enum=False, length=24, validate_strings=True)


class DeviceClass(enum.StrEnum):
    I = "I"  # noqa: E741 - the regulation's own name
    II = "II"
    III = "III"


class TrackingMode(enum.StrEnum):
    none = "none"
    lot = "lot"
    serial = "serial"


class StorageCondition(enum.StrEnum):
    normal = "normal"
    cold_chain = "cold_chain"  # 2–8 °C


class LotStatus(enum.StrEnum):
    released = "released"
    quarantined = "quarantined"
    recalled = "recalled"


class UnitStatus(enum.StrEnum):
    registered = "registered"  # known by its serial, not received yet
    in_stock = "in_stock"
    in_transit = "in_transit"
    sold = "sold"
    returned = "returned"  # returned to the supplier
    scrapped = "scrapped"


def is_expired(expiry_date: dt.date | None, today: dt.date) -> bool:
    """A lot expires at the end of its expiry date: it is still good that day."""
    return expiry_date is not None and expiry_date < today


def within_near_expiry(expiry_date: dt.date | None, days: int, today: dt.date) -> bool:
    """A lot expiring within ``days`` (its item's near-expiry threshold) of ``today``, or expired
    already; a lot without an expiry date never is."""
    return expiry_date is not None and expiry_date <= today + dt.timedelta(days=days)


def needs_close_care(item: Item, lot: Lot | None, today: dt.date) -> bool:
    """GSP's key items for storage checks (重点养护品种): cold-chain devices, class III devices,
    and lots within their item's near-expiry threshold or past it."""
    if (
        item.storage_condition == StorageCondition.cold_chain
        or item.device_class == DeviceClass.III
    ):
        return True
    return lot is not None and within_near_expiry(lot.expiry_date, item.near_expiry_days, today)


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit of the first 13 digits of a GTIN-14 (weights 3,1,3… from the right)."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(body[::-1]))
    return (10 - total % 10) % 10


def is_valid_gtin(gtin: str) -> bool:
    return len(gtin) == 14 and gtin.isdigit() and gtin_check_digit(gtin[:13]) == int(gtin[13])


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    specification: Mapped[str | None] = mapped_column(String(128))  # 规格型号
    unit_of_measure: Mapped[str] = mapped_column(String(16), default="EA")
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    registration_cert: Mapped[str | None] = mapped_column(String(64))
    registration_expiry: Mapped[dt.date | None] = mapped_column(Date)
    manufacturer: Mapped[str | None] = mapped_column(String(128))
    device_class: Mapped[DeviceClass] = mapped_column(_enum(DeviceClass), default=DeviceClass.II)
    tracking: Mapped[TrackingMode] = mapped_column(_enum(TrackingMode), default=TrackingMode.lot)
    expiry_required: Mapped[bool] = mapped_column(Boolean, default=True)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    storage_condition: Mapped[StorageCondition] = mapped_column(
        _enum(StorageCondition), default=StorageCondition.normal
    )
    near_expiry_days: Mapped[int] = mapped_column(Integer, default=90)
    #: bought, sold and counted in whole units (盒, 支, 台): half a box is refused; off for what is
    #: measured (metres of tubing, litres of disinfectant)
    whole_units: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Item {self.code}>"

    @validates("gtin")
    def _check_gtin(self, _key, gtin):
        if gtin is not None and not is_valid_gtin(gtin):
            raise InvalidGTIN(gtin)
        return gtin


class Lot(Base):
    __tablename__ = "lots"
    __table_args__ = (UniqueConstraint("item_id", "lot_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    lot_number: Mapped[str] = mapped_column(String(64))
    expiry_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    production_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[LotStatus] = mapped_column(_enum(LotStatus), default=LotStatus.released)
    #: while recalled, what it goes back to if the recall is withdrawn (released, quarantined)
    status_before_recall: Mapped[LotStatus | None] = mapped_column(_enum(LotStatus))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[Item] = relationship()

    def __repr__(self) -> str:
        return f"<Lot {self.lot_number} of item {self.item_id}>"

    def is_expired(self, today: dt.date) -> bool:
        return is_expired(self.expiry_date, today)


class Unit(Base):
    """One serial-tracked device: where it is and what became of it."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("item_id", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    serial: Mapped[str] = mapped_column(String(64))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    status: Mapped[UnitStatus] = mapped_column(_enum(UnitStatus), default=UnitStatus.registered)
    #: A recall of a serial range blocks these units like a recalled lot, without their lot-mates.
    recalled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[Item] = relationship()
    lot: Mapped[Lot | None] = relationship()

    def __repr__(self) -> str:
        return f"<Unit {self.serial} of item {self.item_id}>"


def check_whole_units(item: Item, quantity: Decimal) -> None:
    """Refuse a fraction of an item counted in whole units."""
    if item.whole_units and quantity != quantity.to_integral_value():
        raise NotWholeUnits(item, quantity)


def add_item(session: Session, code: str, name: str, **attributes) -> Item:
    item = Item(code=code, name=name, **attributes)
    session.add(item)
    session.flush()
    return item


def require_registration(item: Item, on: dt.date | None = None) -> None:
    """Refuse an item whose registration certificate has expired (class I filings carry none)."""
    on = on or business_today()
    if item.registration_expiry is not None and item.registration_expiry < on:
        raise RegistrationExpired(item, item.registration_cert, item.registration_expiry)


def item_by_gtin(session: Session, gtin: str) -> Item | None:
    return session.scalar(select(Item).where(Item.gtin == gtin))


def lot_of(session: Session, item: Item, lot_number: str) -> Lot | None:
    return session.scalar(select(Lot).where(Lot.item_id == item.id, Lot.lot_number == lot_number))


def get_or_create_lot(
    session: Session,
    item: Item,
    lot_number: str,
    expiry_date: dt.date | None = None,
    production_date: dt.date | None = None,
) -> Lot:
    """The lot ``lot_number`` of ``item``, created on first receipt with its dates. Dates given
    for a lot already on record must be its dates: a document may not say one expiry while the
    stock goes into a lot with another (a mislabelled or counterfeit pack)."""
    if item.tracking == TrackingMode.none:
        raise NotTracked(item, "lot")
    lot = lot_of(session, item, lot_number)
    if lot is not None:
        check_lot_dates(lot, expiry_date=expiry_date, production_date=production_date)
        return lot
    if item.expiry_required and expiry_date is None:
        raise ExpiryRequired(item)
    lot = Lot(
        item_id=item.id,
        lot_number=lot_number,
        expiry_date=expiry_date,
        production_date=production_date,
    )
    session.add(lot)
    session.flush()
    return lot


def check_lot_dates(lot: Lot, **dates: dt.date | None) -> None:
    """Raise ``LotMismatch`` when a date given (``expiry_date``, ``production_date``) is not the
    one the lot is on record with; a date not given, or not recorded, contradicts nothing."""
    for field, given in dates.items():
        recorded = getattr(lot, field)
        if given is not None and recorded is not None and given != recorded:
            raise LotMismatch(lot, field, given.isoformat(), recorded.isoformat())


def get_or_create_unit(session: Session, item: Item, serial: str, lot: Lot | None = None) -> Unit:
    """The unit ``serial`` of ``item``; a new one is ``registered`` until it is received."""
    if item.tracking != TrackingMode.serial:
        raise NotTracked(item, "serial")
    unit = session.scalar(select(Unit).where(Unit.item_id == item.id, Unit.serial == serial))
    if unit is None:
        unit = Unit(item_id=item.id, serial=serial, lot_id=lot.id if lot is not None else None)
        session.add(unit)
        session.flush()
    return unit
