"""Barcodes on printed documents, drawn on the server as inline SVG (python-barcode, no CDN, no JS).

The document number prints as Code 128; each line's UDI — the item's GTIN with the line's lot,
expiry and serial — prints as GS1-128 (FNC1 between variable-length fields) with its
human-readable ``(01)…(17)…(10)…`` under it, so a receiving store scans the paper it gets.
"""

from __future__ import annotations

import datetime as dt
import re

import barcode
from barcode.codex import Gs1_128
from barcode.writer import SVGWriter
from markupsafe import Markup, escape

from app.kernel.items import Item, Lot, lot_of
from app.kernel.udi import UDI, encode_udi, human_readable_udi
from app.web.session import db_session

_OPTIONS = {"module_width": 0.25, "module_height": 9.0, "quiet_zone": 2.0, "font_size": 7,
            "text_distance": 3.0, "write_text": True, "compress": False}  # fmt: skip


_SIZE = re.compile(r'width="([0-9.]+)mm" height="([0-9.]+)mm"')
_PX_PER_MM = 96 / 25.4  # SVG user units (CSS px) per millimetre


def _svg(code: barcode.Barcode, kind: str, value: str, write_text: bool = True) -> Markup:
    """The symbol as an inline ``<svg>`` (the XML prolog dropped), tagged with what it encodes."""
    rendered = code.render({**_OPTIONS, "write_text": write_text}).decode("utf-8")
    svg = rendered[rendered.index("<svg") :]
    width, height = (float(size) for size in _SIZE.search(svg).groups())
    tag = (
        f'<svg class="barcode" role="img" data-barcode="{kind}" data-value="{escape(value)}" '
        f'viewBox="0 0 {width * _PX_PER_MM:.3f} {height * _PX_PER_MM:.3f}" '
    )  # a viewBox, so that the print stylesheet may scale the symbol instead of cropping it
    return Markup(svg.replace("<svg ", tag, 1))


def code128(text: str | None) -> Markup:
    """A document number as Code 128 (empty when there is no number yet)."""
    if not text:
        return Markup("")
    return _svg(barcode.get("code128", str(text), writer=SVGWriter()), "code128", str(text))


def gs1_128(udi: UDI) -> Markup:
    """A UDI as GS1-128; the human-readable form is printed by the template beneath it."""
    data = encode_udi(udi, separator=Gs1_128.FNC1_CHAR)
    return _svg(Gs1_128(data, writer=SVGWriter()), "gs1-128", human_readable_udi(udi), False)


def line_facts(line: dict) -> dict:
    """What a printed line shows of its item and lot (name, model, registration certificate,
    manufacturer, expiry) and its UDI barcode when the item has a GTIN."""
    session = db_session()
    item = session.get(Item, _id(line.get("item"))) if _id(line.get("item")) else None
    if item is None:
        return {"item": None, "udi": None, "barcode": Markup("")}
    lot_number = line.get("lot") or None
    lot: Lot | None = lot_of(session, item, str(lot_number)) if lot_number else None
    expiry = _date(line.get("expiry_date")) or (lot.expiry_date if lot is not None else None)
    udi = None
    if item.gtin:
        udi = UDI(item.gtin, lot=lot_number, expiry_date=expiry, serial=line.get("serial") or None)
    return {
        "item": item,
        "lot": lot_number,
        "expiry_date": expiry,
        "serial": line.get("serial") or None,
        "udi": human_readable_udi(udi) if udi else None,
        "barcode": gs1_128(udi) if udi else Markup(""),
    }


def _id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _date(value) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
