"""Documents made from another (参照生单 / 下推): a receipt from its purchase order, an invoice
from the receipt it bills.

A form lists what may be made from its records, and how each new record's fields are filled from
the source, in metadata::

    makes:
      - form: purchase_receipt
        label: {zh_CN: 收货入库, en: Receive goods}
        states: [approved]                  # only from records in these states
        when: status != 'closed'            # and only when this holds on the source
        values: {location: location, supplier: supplier, purchase_order: id}
        lines:                              # the new record's table, one line per source line
          from: lines                       # (no ``from``: one line from the header)
          to: lines
          when: quantity - (received or 0) > 0
          values: {item: item, quantity: quantity - (received or 0), unit_cost: unit_price}

Each value is an expression over the source record (and, for a line, the source line). What is
made is a draft payload, never saved here: the person completes it (lots, expiry dates) and saves
it through the record service, which checks it like any other input.
"""

from __future__ import annotations

import functools

from sqlalchemy.orm import Session

from app.i18n import _
from app.kernel import audit
from app.meta import access, records
from app.meta.expressions import Expression, ExpressionError, compile_expression
from app.meta.forms import FormDef
from app.meta.models import Record
from app.meta.records import RecordError


class CannotMake(RecordError):
    """The record cannot be the source of that form now (not declared, or not in its states)."""

    status = 409


def _entries(form: FormDef) -> list[dict]:
    return form.spec.get("makes", [])


def offered(form: FormDef, record: Record, user) -> list[dict]:
    """What ``user`` may make from ``record`` now: the ``makes`` entries its state allows, with
    something left to make them from, and whose form the user may create."""
    allowed = [
        spec
        for spec in _entries(form)
        if (not spec.get("states") or record.state in spec["states"])
        and access.can(user, "create", spec["form"])
    ]
    if not allowed:  # (every record page asks: most forms make nothing)
        return []
    source = records.record_values(form, record)
    return [spec for spec in allowed if not _nothing_left(spec, source)]


def _nothing_left(spec: dict, source: dict, made_lines: list[dict] | None = None) -> bool:
    """An entry whose ``when`` the source fails (a receipt invoiced in full), or made line by
    line from a table none of whose lines qualifies any more (an order received in full);
    ``made_lines``: the lines already made from it, if they were."""
    if "when" in spec and not _evaluate(spec["when"], source):
        return True
    lines = spec.get("lines")
    if not (lines and "from" in lines):
        return False
    return not (made_lines if made_lines is not None else _lines(lines, source))


def make(session: Session, registry, user, form: FormDef, record: Record, target: str) -> dict:
    """The draft of a ``target`` record made from ``record`` (read by the caller, in the user's
    scope), as the JSON a client would post."""
    spec = next((spec for spec in _entries(form) if spec["form"] == target), None)
    if spec is None:
        raise CannotMake(
            _(
                "A %(target)s is not made from a %(form)s.",
                target=_label(registry, target),
                form=form.label(records.locale()),
            )
        )
    if spec.get("states") and record.state not in spec["states"]:
        raise CannotMake(
            _(
                "A %(target)s is made from a %(form)s in state %(states)s, not %(state)s.",
                target=_label(registry, target),
                form=form.label(records.locale()),
                states=" / ".join(form.state_label(s, records.locale()) for s in spec["states"]),
                state=form.state_label(record.state, records.locale()),
            )
        )
    access.require(user, "create", target)
    source = records.record_values(form, record)
    draft = _values(spec["values"], source)
    lines = spec.get("lines")
    if lines:
        draft[lines["to"]] = _lines(lines, source)
    if _nothing_left(spec, source, draft.get(lines["to"]) if lines else None):
        raise CannotMake(
            _(
                "Nothing is left on %(number)s to make a %(target)s from.",
                number=record.number or record.id,
                target=_label(registry, target),
            )
        )
    return audit.jsonable(draft)


def _label(registry, name: str) -> str:
    found = registry.form(name)
    return found.label(records.locale()) if found is not None else name


def _values(expressions: dict, scope: dict) -> dict:
    values = {}
    for name, text in expressions.items():
        value = _evaluate(text, scope)
        if value is not None:
            values[name] = value
    return values


def _lines(spec: dict, source: dict) -> list[dict]:
    if "from" not in spec:
        return [_values(spec["values"], source)]
    lines = []
    for line in source.get(spec["from"]) or []:
        scope = {**source, **line}
        if "when" in spec and not _evaluate(spec["when"], scope):
            continue
        lines.append(_values(spec["values"], scope))
    return lines


def _evaluate(text: str, scope: dict):
    """An expression of a ``makes`` entry (checked when the metadata loaded) over the source."""
    try:
        return _compiled(str(text), frozenset(scope)).evaluate(scope)
    except ExpressionError:
        return None  # a value the source lacks is left for the person to fill


@functools.lru_cache(maxsize=512)
def _compiled(text: str, names: frozenset[str]) -> Expression:
    """Compiled once for every line of a source and every page that offers the entry."""
    return compile_expression(text, names)
