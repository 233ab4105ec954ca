"""UDI scanning: read what a scanner types into a UDI, then match it against the items on record.

Scanners send GS1 DataMatrix / GS1-128 data with a symbology prefix (``]d2``, ``]C1``, ``]Q3``) and
the group separator ``\\x1d`` between variable-length fields; people type the human-readable form
``(01)…(17)…(10)…``. Both go through biip (a maintained GS1 parser); an expiry day ``00`` means the
last day of the month, as GS1 says.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import biip
from biip import ParseError
from biip.gs1_messages import GS1Message
from sqlalchemy.orm import Session

from app.i18n import _
from app.kernel.errors import UDIError, UnknownItem
from app.kernel.items import Item, Lot, check_lot_dates, item_by_gtin, lot_of


@dataclass(frozen=True)
class UDI:
    """UDI-DI (``gtin``) plus the production identifiers the label carries."""

    gtin: str
    lot: str | None = None
    expiry_date: dt.date | None = None
    serial: str | None = None
    production_date: dt.date | None = None


#: GS1 application identifier → the UDI field it fills.
_FIELDS = {"01": "gtin", "17": "expiry_date", "11": "production_date", "10": "lot", "21": "serial"}
_AI_IN_MESSAGE = re.compile(r"AI \((\d+)\)")


def parse_udi(text: str) -> UDI:
    """Parse a scan or a typed human-readable UDI; raise ``UDIError`` naming the faulty part."""
    value = (text or "").strip().strip("\r\n")
    if not value:
        raise UDIError(_("The scan is empty."), "udi")
    message = _parse_message(value)
    found: dict[str, object] = {}
    for element in message.element_strings:
        name = _FIELDS.get(element.ai.ai)
        if name is None:
            continue  # other AIs (quantity, price…) are not part of the UDI
        if name == "gtin" and element.gtin_error:
            raise UDIError(
                _("The GTIN %(gtin)s has a wrong check digit.", gtin=element.value), "gtin"
            )
        found[name] = element.date if name.endswith("_date") else element.value
    if "gtin" not in found:
        raise UDIError(_("The scan has no GTIN (01): it is not a UDI."), "gtin")
    return UDI(**found)


def _parse_message(value: str) -> GS1Message:
    try:
        if value.startswith("("):
            return GS1Message.parse_hri(value)
        result = biip.parse(value)
    except ParseError as error:
        raise _error_from(str(error)) from error
    if result.gs1_message is not None:
        return result.gs1_message
    if result.gtin is not None:  # a plain GTIN barcode (EAN-13, ITF-14): UDI-DI only
        return GS1Message.parse("01" + result.gtin.as_gtin_14())
    raise _error_from(result.gs1_message_error or "")


def _error_from(detail: str) -> UDIError:
    match = _AI_IN_MESSAGE.search(detail)
    field = _FIELDS.get(match.group(1), "udi") if match else "udi"
    messages = {
        "gtin": _("The GTIN (01) must be 14 digits."),
        "expiry_date": _("The expiry date (17) is not a valid date (YYMMDD)."),
        "production_date": _("The production date (11) is not a valid date (YYMMDD)."),
        "lot": _("The lot (10) must be 1 to 20 letters or digits."),
        "serial": _("The serial number (21) must be 1 to 20 letters or digits."),
        "udi": _("The scan is not a GS1 UDI."),
    }
    return UDIError(messages[field], field)


def check_udi(session: Session, udi: UDI) -> tuple[Item, Lot | None]:
    """The item a UDI names and its lot on record (None when the lot is new).

    Raises ``UnknownItem`` for a GTIN nobody registered and ``LotMismatch`` when the scanned
    dates contradict the lot already on record (a mislabelled or counterfeit pack). A scan without
    lot or serial is fine here (a box's DI-only barcode finds the item); ``post_movements``
    insists on them when the item is tracked.
    """
    item = item_by_gtin(session, udi.gtin)
    if item is None:
        raise UnknownItem(udi.gtin)
    if not udi.lot:
        return item, None
    lot = lot_of(session, item, udi.lot)
    if lot is None:
        return item, None
    check_lot_dates(lot, expiry_date=udi.expiry_date, production_date=udi.production_date)
    return item, lot


#: The order a label carries the UDI in: fixed-length AIs first, variable-length ones last.
_LABEL_ORDER = (("01", "gtin"), ("11", "production_date"), ("17", "expiry_date"),
                ("10", "lot"), ("21", "serial"))  # fmt: skip
_VARIABLE_LENGTH = {"10", "21"}


def udi_elements(udi: UDI) -> list[tuple[str, str]]:
    """The GS1 element strings (AI, value) of ``udi`` in label order; dates as YYMMDD."""
    elements = []
    for ai, name in _LABEL_ORDER:
        value = getattr(udi, name)
        if value in (None, ""):
            continue
        elements.append((ai, value.strftime("%y%m%d") if isinstance(value, dt.date) else value))
    return elements


def encode_udi(udi: UDI, separator: str = "\x1d") -> str:
    """The data of a GS1-128 / DataMatrix UDI: ``separator`` (FNC1 / GS) ends each
    variable-length field that is not the last, as GS1 requires; ``parse_udi`` reads it back."""
    elements = udi_elements(udi)
    parts = []
    for index, (ai, value) in enumerate(elements):
        last = index == len(elements) - 1
        parts.append(ai + value + ("" if last or ai not in _VARIABLE_LENGTH else separator))
    return "".join(parts)


def human_readable_udi(udi: UDI) -> str:
    """The UDI as printed under the barcode: ``(01)…(17)…(10)…``."""
    return "".join(f"({ai}){value}" for ai, value in udi_elements(udi))
