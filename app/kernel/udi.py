"""UDI strings (GS1 element strings) parsed into their parts with biip.

Minimal version written by the metadata branch for its scan field; the kernel branch's module with
the same interface (``parse_udi``, ``UDI``, ``UDIError``) replaces it at merge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import biip
from biip.gs1_messages import GS1Message

from app.i18n import _


class UDIError(ValueError):
    """A scan that is not a usable UDI; ``field`` names the part at fault."""

    def __init__(self, message: str, field: str = "udi"):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class UDI:
    gtin: str
    lot: str | None = None
    expiry_date: dt.date | None = None
    serial: str | None = None
    production_date: dt.date | None = None


def parse_udi(text: str) -> UDI:
    """Parse a GS1 UDI (raw with group separators, or with AIs in parentheses)."""
    text = (text or "").strip()
    if not text:
        raise UDIError(_("the scan is empty"))
    try:
        if text.startswith("("):
            message = GS1Message.parse_hri(text)
        else:
            message = biip.parse(text).gs1_message
    except Exception:  # biip raises several error types; all mean "not GS1"
        message = None
    if message is None:
        raise UDIError(_("'%(text)s' is not a GS1 UDI", text=text))
    parts = {element.ai.ai: element for element in message.element_strings}
    if "01" not in parts:
        raise UDIError(_("the UDI has no GTIN (AI 01)"), "gtin")
    return UDI(
        gtin=parts["01"].value,
        lot=parts["10"].value if "10" in parts else None,
        expiry_date=parts["17"].date if "17" in parts else None,
        serial=parts["21"].value if "21" in parts else None,
        production_date=parts["11"].date if "11" in parts else None,
    )
