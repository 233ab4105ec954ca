"""Report parameters: from request strings to typed values, or an error naming the parameter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.i18n import _, localized
from app.kernel.locations import Location
from app.meta import access
from app.meta.expressions import Context
from app.meta.reports.model import PER_PAGE, Page, ParamError, Report, ReportParam

#: The largest page a request may ask for (as the record lists).
MAX_PER_PAGE = 500
#: The highest page number: far past any report's end, and its row offset still fits a query.
MAX_PAGE = 1_000_000
#: The largest id a database integer holds; a longer "id" can only be a (wrong) code.
MAX_ID = 2**63 - 1


def parse_params(
    report: Report, raw: Mapping[str, str], session: Session, user, today: dt.date
) -> dict[str, object]:
    """Typed values of the report's parameters; raise ``ParamError`` naming a bad one."""
    values: dict[str, object] = {}
    for param in report.params:
        text = _raw_value(param, raw)
        if text in (None, ""):
            value = _default(param, today)
            if value is None and param.required:
                raise ParamError(param.name, _("%(param)s is required", param=_label(param)))
        else:
            value = _parse_one(param, text, session, user)
        if value is not None:
            values[param.name] = value
    return values


#: What a report request may carry besides the report's own parameters: the page of detail
#: rows and the aggregate cell to drill into.
REQUEST_KEYS = ("page", "per_page", "drill")


def refuse_unknown(report: Report, raw: Mapping[str, str]) -> None:
    """Raise ``ParamError`` for a key the report does not take.

    An integration that misspells ``location`` as ``locaton`` would otherwise get the whole
    chain's rows and take them for one store's; the refusal names the key and what is taken."""
    known = set(REQUEST_KEYS)
    for param in report.params:
        known.add(param.name)
        if param.type == "date_range":
            known |= {f"{param.name}_from", f"{param.name}_to"}
    for key in raw:
        if key not in known:
            taken = ", ".join(sorted(known)) or "-"
            raise ParamError(
                key, _("%(report)s takes no parameter %(param)s; it takes: %(taken)s",
                       report=report.name, param=key, taken=taken)
            )  # fmt: skip


def _label(param: ReportParam) -> str:
    """What the user knows the parameter as (its label in their language, as the report's page
    shows it), for a message; the API names the parameter itself next to the message."""
    return localized(param.label) or param.name


def _raw_value(param: ReportParam, raw: Mapping[str, str]):
    if param.type == "date_range" and (f"{param.name}_from" in raw or f"{param.name}_to" in raw):
        start, end = raw.get(f"{param.name}_from", ""), raw.get(f"{param.name}_to", "")
        return f"{start}..{end}" if start or end else None
    return raw.get(param.name)


def _default(param: ReportParam, today: dt.date):
    context = Context(today=lambda: today)
    if isinstance(param.default_expr, list):
        return tuple(
            _as_date(expression.evaluate({}, context)) for expression in param.default_expr
        )
    if param.default_expr is not None:
        value = param.default_expr.evaluate({}, context)
        return _as_date(value) if param.type == "date" else value
    return param.default


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _parse_one(param: ReportParam, text: str, session: Session, user):
    label = _label(param)
    if len(text) > 200:
        raise ParamError(param.name, _("%(param)s is too long", param=label))
    if any(ord(char) < 32 for char in text):
        raise ParamError(param.name, _("%(param)s contains control characters", param=label))
    if param.type == "date":
        return _parse_date(param.name, text, label)
    if param.type == "date_range":
        start, sep, end = text.partition("..")
        if not sep:
            raise ParamError(
                param.name, _("%(param)s must be a range like 2026-01-01..2026-01-31", param=label)
            )
        first = _parse_date(param.name, start, label) if start else None
        last = _parse_date(param.name, end, label) if end else None
        if first and last and first > last:
            raise ParamError(param.name, _("%(param)s starts after it ends", param=label))
        return (first, last)
    if param.type == "number":
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():  # NaN, Infinity: no figure to compare
            raise ParamError(param.name, _("%(param)s must be a number", param=label))
        return number
    if param.type == "select":
        allowed = {str(option["value"]): option["value"] for option in param.options}
        if text not in allowed:
            raise ParamError(
                param.name,
                _("%(param)s must be one of: %(values)s", param=label, values=", ".join(allowed)),
            )
        return allowed[text]
    if param.type == "location":
        return _parse_location(param.name, text, session, user)
    return text


def _parse_date(name: str, text: str, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        message = _("%(param)s must be a date like 2026-01-31", param=label)
        raise ParamError(name, message) from None


def _parse_location(name: str, text: str, session: Session, user) -> Location | str:
    """``mine`` (the user's own locations) or a location by id, code or name (as the pages show
    it: 上海徐汇店), inside the user's scope."""
    text = text.strip()
    if text == "mine":
        return "mine"
    by_id = text.isascii() and text.isdigit() and int(text) <= MAX_ID
    condition = (
        Location.id == int(text) if by_id else or_(Location.code == text, Location.name == text)
    )
    location = session.scalar(
        select(Location)
        .where(condition, access.scope_filter(session, user, Location.id))
        .order_by(Location.code != text, Location.id)  # a code before another's same name
        .limit(1)
    )
    if location is None:  # out of scope looks exactly like unknown: no existence leak
        raise ParamError(name, _("no location '%(value)s' among those you may see", value=text))
    return location


def parse_page(raw: Mapping[str, str]) -> Page:
    """``page`` (from 1) and ``per_page`` (1 to 500) of a request, or a ParamError naming which
    one is wrong and why."""
    numbers = []
    for name, default, highest in (("page", 1, MAX_PAGE), ("per_page", PER_PAGE, MAX_PER_PAGE)):
        text = (raw.get(name) or "").strip()
        if not text:
            numbers.append(default)
            continue
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise ParamError(name, _("%(param)s must be a whole number from 1", param=name))
        if int(text) > highest:
            raise ParamError(
                name, _("%(param)s must be at most %(highest)s", param=name, highest=highest)
            )
        numbers.append(int(text))
    return Page(numbers[0], numbers[1])
