"""Typed kernel errors: each says, in words a store clerk can act on, what is wrong and where.

Every error is a ``KernelError``; ``field`` names the input that is wrong (``quantity``, ``lot``,
``serial``, ``source``…) so a form can put the message next to it, and ``line`` the movement's
``line`` it is about (a posting's document line), so the form can say which of its lines.
Messages are translated when the error is raised (inside a request they follow the user's
language).
"""

from __future__ import annotations

from app.db import plain_quantity
from app.i18n import _


class KernelError(Exception):
    """A request the kernel refuses; nothing has been written."""

    field: str | None = None
    line: int | None = None

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field

    def __str__(self) -> str:
        return self.message


def _name(thing) -> str:
    """How an item, lot, location or unit is named in a message."""
    if thing is None:
        return "-"
    for attribute in ("code", "lot_number", "serial", "username"):
        value = getattr(thing, attribute, None)
        if value:
            return str(value)
    return str(thing)


def _lot_status(status) -> str:
    """A lot status as the clerk reads it (never the code ``recalled``)."""
    labels = {"released": _("released"), "quarantined": _("quarantined"), "recalled": _("recalled")}
    return labels.get(str(status), str(status))


def _stock_status(status) -> str:
    """A stock status as the clerk reads it (合格, 不合格, 待验, 在途)."""
    labels = {
        "available": _("available"),
        "nonconforming": _("nonconforming"),
        "awaiting_inspection": _("awaiting inspection"),
        "in_transit": _("in transit"),
    }
    return labels.get(str(status), str(status))


def _unit_status(status) -> str:
    """What became of a serial unit, as the clerk reads it."""
    labels = {
        "registered": _("registered, never received"),
        "in_stock": _("in stock"),
        "in_transit": _("in transit"),
        "sold": _("sold to a customer"),
        "returned": _("returned to the supplier"),
        "scrapped": _("scrapped or written off"),
    }
    return labels.get(str(status), str(status))


def _tracking(field: str) -> str:
    """What an item is tracked by, in words: a lot number or a serial number."""
    return _("serial number") if field == "serial" else _("lot number")


class InsufficientStock(KernelError):
    field = "quantity"

    def __init__(self, item, lot, location, requested, available):
        self.item, self.lot, self.location = item, lot, location
        self.requested, self.available = requested, available
        super().__init__(
            _(
                "Not enough stock of %(item)s (lot %(lot)s) at %(location)s: "
                "%(requested)s requested, %(available)s available.",
                item=_name(item),
                lot=_name(lot),
                location=_name(location),
                requested=plain_quantity(requested),
                available=plain_quantity(available),
            )
        )


class AllocationImpossible(KernelError):
    """No allocation rule can fill an order line from the stock the chain may promise."""

    field = "quantity"

    def __init__(self, item, requested, available, rules):
        self.item, self.requested, self.available, self.rules = item, requested, available, rules
        super().__init__(
            _(
                "Not enough stock of %(item)s for this order: %(requested)s requested, at most "
                "%(available)s available where the allocation rules (%(rules)s) may take it.",
                item=_name(item),
                requested=plain_quantity(requested),
                available=plain_quantity(available),
                rules=", ".join(str(rule) for rule in rules),
            )
        )


class LotBlocked(KernelError):
    field = "lot"

    def __init__(self, lot, status):
        self.lot, self.status = lot, status
        super().__init__(
            _(
                "Lot %(lot)s is %(status)s: it cannot leave its location.",
                lot=_name(lot),
                status=_lot_status(status),
            )
        )


class LotExpired(KernelError):
    field = "lot"

    def __init__(self, lot, expiry_date):
        self.lot, self.expiry_date = lot, expiry_date
        super().__init__(
            _(
                "Lot %(lot)s expired on %(date)s: it cannot be sold, reserved or shipped.",
                lot=_name(lot),
                date=expiry_date.isoformat(),
            )
        )


class ExpiredLotNotAccepted(LotExpired):
    """An expired lot may not enter available stock (receipt, inspection, customer return): it
    goes to nonconforming (不合格) or stays awaiting inspection."""

    def __init__(self, item, lot, expiry_date, location, line: int | None = None):
        self.item, self.location, self.line = item, location, line
        self.lot, self.expiry_date = lot, expiry_date
        message = _(
            "%(item)s lot %(lot)s expired on %(date)s: it cannot be accepted into available stock "
            "at %(location)s; book it as nonconforming or leave it awaiting inspection.",
            item=_name(item),
            lot=_name(lot),
            date=expiry_date.isoformat(),
            location=_name(location),
        )
        if line is not None:
            message = _("Line %(line)s: %(message)s", line=line, message=message)
        KernelError.__init__(self, message)


class RecalledNotAccepted(KernelError):
    """Recalled goods (their lot, or the unit) may not enter available stock by a receipt, an
    inspection, a customer return or an arrival: they go to nonconforming (不合格), where the
    recall takes them out."""

    def __init__(self, item, lot, unit, location, line: int | None = None):
        self.item, self.lot, self.unit, self.location, self.line = item, lot, unit, location, line
        self.field = "serial" if unit is not None else "lot"
        message = _(
            "%(item)s %(goods)s is recalled: it cannot be accepted into available stock at "
            "%(location)s; book it as nonconforming.",
            item=_name(item),
            goods=_("serial number %(serial)s", serial=_name(unit))
            if unit is not None
            else _("lot %(lot)s", lot=_name(lot)),
            location=_name(location),
        )
        if line is not None:
            message = _("Line %(line)s: %(message)s", line=line, message=message)
        super().__init__(message)


class LocationLocked(KernelError):
    field = "location"

    def __init__(self, location, since, user):
        self.location, self.since, self.user = location, since, user
        super().__init__(
            _(
                "Location %(location)s is being counted since %(since)s by %(user)s.",
                location=_name(location),
                since=since,
                user=user or "-",
            )
        )


class LocationInactive(KernelError):
    field = "location"

    def __init__(self, location, field: str = "location"):
        self.location = location
        super().__init__(
            _("Location %(location)s is closed: it takes no stock.", location=_name(location)),
            field,
        )


class NotAStockLocation(KernelError):
    field = "location"

    def __init__(self, location, field: str = "location"):
        self.location = location
        super().__init__(
            _(
                "%(location)s holds no stock (only stores, warehouses and transit do).",
                location=_name(location),
            ),
            field,
        )


class UnitNotHere(KernelError):
    field = "serial"

    def __init__(self, unit, location):
        self.unit, self.location = unit, location
        super().__init__(
            _(
                "Serial number %(serial)s is not in stock at %(location)s.",
                serial=_name(unit),
                location=_name(location),
            )
        )


class UnitRecalled(KernelError):
    field = "serial"

    def __init__(self, unit):
        self.unit = unit
        super().__init__(
            _(
                "Serial number %(serial)s is recalled: it cannot leave its location.",
                serial=_name(unit),
            )
        )


class UnitAlreadyInStock(KernelError):
    field = "serial"

    def __init__(self, unit):
        self.unit = unit
        super().__init__(
            _(
                "Serial number %(serial)s is already in stock: it cannot be received again.",
                serial=_name(unit),
            )
        )


class UnitNotReceivable(KernelError):
    """A purchase receipt of a unit the chain already sold (or wrote off): it comes back only the
    way it left — a customer return for a sold unit, a count surplus for one written off."""

    field = "serial"

    def __init__(self, unit, status):
        self.unit, self.status = unit, status
        super().__init__(
            _(
                "Serial number %(serial)s is on record as %(status)s: it cannot be received from "
                "a supplier. A unit sold to a customer comes back by a customer return.",
                serial=_name(unit),
                status=_unit_status(status),
            )
        )


class UnitTwiceInDocument(KernelError):
    """One serial unit on two lines of one posting: the second line would move it again."""

    field = "serial"

    def __init__(self, unit, line: int | None, earlier_line: int | None):
        self.unit, self.line, self.earlier_line = unit, line, earlier_line
        if line is not None and earlier_line is not None:
            message = _(
                "Line %(line)s: serial number %(serial)s is already on line %(earlier)s of this "
                "document; one unit is one line.",
                line=line,
                serial=_name(unit),
                earlier=earlier_line,
            )
        else:
            message = _(
                "Serial number %(serial)s appears twice in this document; one unit is one line.",
                serial=_name(unit),
            )
        super().__init__(message)


class TrackingRequired(KernelError):
    def __init__(self, item, field: str):
        self.item = item
        if field == "serial":
            message = _("%(item)s is tracked by serial number: scan or enter it.", item=_name(item))
        else:
            message = _("%(item)s is tracked by lot: scan or enter the lot.", item=_name(item))
        super().__init__(message, field)


class NotTracked(KernelError):
    def __init__(self, item, field: str):
        self.item = item
        super().__init__(
            _(
                "%(item)s is not tracked by %(field)s: leave it empty.",
                item=_name(item),
                field=_tracking(field),
            ),
            field,
        )


class NotWholeUnits(KernelError):
    """A fraction of an item counted in whole units (half a box of test strips)."""

    def __init__(self, item, quantity):
        self.item, self.quantity = item, quantity
        super().__init__(
            _(
                "%(item)s is counted in whole units (%(unit)s): %(quantity)s is not a whole "
                "number.",
                item=_name(item),
                unit=item.unit_of_measure,
                quantity=plain_quantity(quantity),
            ),
            "quantity",
        )


class StockNotAvailable(KernelError):
    field = "status"

    def __init__(self, status):
        self.status = status
        super().__init__(
            _(
                "Only available stock can be sold, reserved or shipped; this stock is %(status)s.",
                status=_stock_status(status),
            )
        )


class InvalidMovement(KernelError):
    """A movement that makes no sense as written (bad quantity, wrong status for a location…)."""


class UnknownItem(KernelError):
    field = "gtin"

    def __init__(self, gtin: str):
        self.gtin = gtin
        super().__init__(_("No item has the GTIN %(gtin)s.", gtin=gtin))


class InvalidGTIN(KernelError):
    field = "gtin"

    def __init__(self, gtin: str):
        self.gtin = gtin
        super().__init__(
            _("%(gtin)s is not a valid GTIN (14 digits with a GS1 check digit).", gtin=gtin)
        )


class ExpiryRequired(KernelError):
    field = "expiry_date"

    def __init__(self, item):
        self.item = item
        super().__init__(_("%(item)s needs an expiry date on every lot.", item=_name(item)))


class RegistrationExpired(KernelError):
    """The registration certificate (注册证) has lapsed: the item may be neither bought nor sold."""

    field = "item"

    def __init__(self, item, certificate, expiry):
        self.item, self.certificate, self.expiry = item, certificate, expiry
        super().__init__(
            _(
                "The registration certificate %(certificate)s of %(item)s expired on %(date)s: "
                "the item may be neither bought nor sold.",
                certificate=certificate or "-",
                item=_name(item),
                date=expiry,
            )
        )


class LotMismatch(KernelError):
    """A scanned lot whose dates contradict the lot already on record."""

    def __init__(self, lot, field: str, scanned, recorded):
        self.lot, self.scanned, self.recorded = lot, scanned, recorded
        what = _("production date") if field == "production_date" else _("expiry date")
        super().__init__(
            _(
                "Lot %(lot)s is on record with the %(what)s %(recorded)s, not %(scanned)s: "
                "check the label.",
                lot=_name(lot),
                what=what,
                recorded=recorded,
                scanned=scanned,
            ),
            field,
        )


class ReservationNotFound(KernelError):
    field = "document"

    def __init__(self, document: str, line: int):
        self.document, self.line = document, line
        super().__init__(
            _(
                "Nothing is reserved for %(document)s line %(line)s.",
                document=document,
                line=line,
            )
        )


class TransferLineNotFound(KernelError):
    field = "line"

    def __init__(self, document: str, line: int):
        super().__init__(
            _("Transfer %(document)s has no line %(line)s.", document=document, line=line)
        )


class OverReceipt(KernelError):
    field = "quantity"

    def __init__(self, document: str, line: int, requested, outstanding):
        self.requested, self.outstanding = requested, outstanding
        super().__init__(
            _(
                "Transfer %(document)s line %(line)s: %(requested)s received but only "
                "%(outstanding)s is still in transit.",
                document=document,
                line=line,
                requested=plain_quantity(requested),
                outstanding=plain_quantity(outstanding),
            )
        )


class TransitNotCounted(KernelError):
    """Goods on the way belong to their transfer: they are counted where they arrive."""

    field = "location"

    def __init__(self, location):
        self.location = location
        super().__init__(
            _("%(location)s is a transit location: goods on the way are not counted. Count the "
              "store or warehouse they are received at.", location=_name(location))
        )  # fmt: skip


class UnitCountedTwice(KernelError):
    """A serial unit is one piece: a second scan of it in one count would count it twice."""

    field = "serial"

    def __init__(self, unit, counter: str, at: str):
        self.unit = unit
        super().__init__(
            _("Serial number %(serial)s is already counted in this stocktake (by %(user)s at "
              "%(at)s): a unit counts once. To change how it was counted, take that count back "
              "with a line of quantity -1 first.", serial=_name(unit), user=counter, at=at)
        )  # fmt: skip


class UnitNotCounted(KernelError):
    """A take-back (quantity -1) of a unit that was not counted under that stock status."""

    field = "serial"

    def __init__(self, unit, status):
        self.unit = unit
        super().__init__(
            _("Serial number %(serial)s is not counted as %(status)s in this stocktake: there is "
              "nothing to take back.", serial=_name(unit), status=_stock_status(status))
        )  # fmt: skip


class UnitBookedElsewhere(KernelError):
    """A unit the books place at another location is moved by a transfer, not by a count."""

    field = "serial"

    def __init__(self, unit, booked_at, status, counted_at):
        self.unit, self.booked_at = unit, booked_at
        super().__init__(
            _("Serial number %(serial)s is on the books at %(booked)s (%(status)s), not at "
              "%(location)s: count it there, or transfer it here before counting it.",
              serial=_name(unit), booked=_name(booked_at), status=_unit_status(status),
              location=_name(counted_at))
        )  # fmt: skip


class CountShortageReserved(KernelError):
    """The count finds less than the orders have reserved: the reservations must go first."""

    field = "quantity"

    def __init__(self, item, lot, location, on_hand, counted, reserved, documents: list[str]):
        self.item, self.lot, self.documents = item, lot, documents
        super().__init__(
            _("%(item)s lot %(lot)s at %(location)s: the books have %(on_hand)s, the count "
              "finds %(counted)s, but %(reserved)s are reserved by %(documents)s. Release those "
              "reservations (cancel or reallocate the orders to other stock), then approve the "
              "count again.",
              item=_name(item), lot=_name(lot), location=_name(location),
              on_hand=plain_quantity(on_hand), counted=plain_quantity(counted),
              reserved=plain_quantity(reserved),
              documents=", ".join(documents) or "-")
        )  # fmt: skip


class LocationAlreadyLocked(KernelError):
    field = "location"

    def __init__(self, location):
        super().__init__(
            _("Location %(location)s is already being counted.", location=_name(location))
        )


class UDIError(KernelError):
    """A scan that cannot be read as a UDI; ``field`` is the part that is wrong."""

    field = "udi"
