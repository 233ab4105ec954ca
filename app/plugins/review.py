"""Built-in action ``check_review``: the outbound review (出库复核).

Before goods leave for a business customer, for one of the chain's stores or back to a
supplier, GSP wants a second person to check them against what was picked — item, lot, serial
number, quantity — and the record of that check kept (出库复核记录). The reviewer scans the goods
again into a table of their own; this action compares that table with the picking scans: the
same goods in the same quantities, nothing more and nothing less. Each difference refuses the
review and is named, so the reviewer knows which carton to look at again; so is a serial number
scanned twice in either table (one device is not two, even when both scans agree). Passed, the
reviewer and the moment are written into the fields ``reviewer`` and ``reviewed_at`` name, for
the record and its report.

The reviewer is another person than the picker: whoever saved the picking scans (the record's
audit trail says who did) is refused, whatever their role, and so is a review whose scans a
picker saved last; the workflow says which roles review. Goods nobody scanned as picked (lines
a workflow action wrote, such as a transfer out an order's allocation made) are scanned by a
picker first: otherwise the review would be the only scan.

A review scan's expiry date (``expiry_date``, where its table has one) must be the expiry its lot
(or its unit's lot) is on record with: the record would otherwise say the reviewer saw a label the
goods do not carry — the label the scan endpoint refuses as a mislabelled or counterfeit pack.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from app.db import plain_quantity, utcnow
from app.i18n import _
from app.kernel.audit import AuditEntry
from app.kernel.errors import LotMismatch
from app.kernel.items import Item, Unit, check_lot_dates, lot_of
from app.kernel.users import User
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError

#: How many differences a refusal lists before it says how many more there are.
SHOWN = 5
NONE = Decimal(0)


class CheckReview(Action):
    name = "check_review"
    label = {
        "zh_CN": "出库复核：复核扫码须与拣货扫码一致",
        "en": "Outbound review: the goods scanned again must be the goods picked",
    }
    params_schema = common.params_schema(
        "picked", "reviewed", "item", "quantity",
        optional=("lot", "serial", "expiry_date", "reviewer", "reviewed_at"),
    )  # fmt: skip
    param_labels = {
        "picked": {"zh_CN": "拣货扫码表", "en": "Table of the goods picked"},
        "reviewed": {"zh_CN": "复核扫码表", "en": "Table of the goods reviewed"},
        "reviewer": {"zh_CN": "记录复核人的字段", "en": "Field for the reviewer"},
        "reviewed_at": {"zh_CN": "记录复核时间的字段", "en": "Field for the time of the review"},
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        picked_rows = common.rows(context, params["picked"])
        reviewed_rows = common.rows(context, params["reviewed"])
        if not picked_rows and not reviewed_rows:
            return  # nothing leaves from here (other locations ship the order): nothing to review
        if not reviewed_rows:
            raise ActionError(_("Scan the goods again to review them."), params["reviewed"])
        writers = _writers(context, (params["picked"], params["reviewed"]))
        pickers = writers[params["picked"]]
        if picked_rows and not pickers:  # e.g. a transfer out as an order's allocation wrote it
            raise ActionError(_("Nobody has scanned the goods as picked yet: scan them first."))
        if getattr(context.user, "id", None) in pickers:
            raise ActionError(_("You saved the picking scans: someone else reviews them."))
        last_reviewer = (writers[params["reviewed"]] or [None])[-1]
        if last_reviewer is not None and last_reviewer in pickers:
            raise ActionError(
                _(
                    "The review scans were saved by %(name)s, who picked the goods: clear them "
                    "and scan the goods again.",
                    name=context.session.get(User, last_reviewer).full_name,
                )
            )
        for table, rows in ((params["picked"], picked_rows), (params["reviewed"], reviewed_rows)):
            _check_serials_once(context, table, rows)
        _check_expiry(context, params["reviewed"], reviewed_rows)
        picked = _counted(context, picked_rows)
        reviewed = _counted(context, reviewed_rows)
        differences = [
            _difference(context, goods, picked.get(goods, NONE), reviewed.get(goods, NONE))
            for goods in {**picked, **reviewed}  # the picked goods first, as they were scanned
            if picked.get(goods) != reviewed.get(goods)
        ]
        if differences:
            shown = "; ".join(differences[:SHOWN])
            if len(differences) > SHOWN:
                shown += _(" and %(count)s more", count=len(differences) - SHOWN)
            message = _(
                "The review does not match the goods picked: %(differences)s.", differences=shown
            )
            # which goods differ is in the message; the form marks the review scans
            raise ActionError(message, params["reviewed"])
        data = dict(context.record.data or {})
        if params.get("reviewer"):
            data[params["reviewer"]] = getattr(context.user, "id", None)
        if params.get("reviewed_at"):
            data[params["reviewed_at"]] = utcnow().isoformat()
        context.record.data = data


def _writers(context: ActionContext, tables: tuple[str, ...]) -> dict[str, list[int]]:
    """For each of ``tables``, the users whose saves of this record wrote it, first to last (a
    creation holding it, or an update that changed it), read from the record's audit trail in
    one query. A creation by a workflow action (its audit reason names the record that made it,
    e.g. the transfer request whose approval made a transfer out) copied what was asked for: it
    picked nothing."""
    entries = context.session.execute(
        select(AuditEntry.user_id, AuditEntry.action, AuditEntry.changes, AuditEntry.reason)
        .where(
            AuditEntry.entity == "record",
            AuditEntry.entity_id == str(context.record.id),
            AuditEntry.action.in_(("create", "update")),
        )
        .order_by(AuditEntry.id)
    )
    written: dict[str, list[int]] = {table: [] for table in tables}
    for user_id, action, changes, reason in entries:
        if action == "update":
            held = set(changes or {})
        elif reason is None:  # a creation by a person: the tables its data holds
            held = {name for data in (changes or {}).values() for name in (data or {})}
        else:
            continue
        for table in held & set(tables):
            written[table].append(user_id)
    return written


class SerialScannedTwice(ActionError):
    """A serial number on two rows of one scan table: one device scanned twice. Both tables could
    hold it twice and still match, so the comparison alone would let it pass. ``field`` names
    the second row's serial, where the form marks it."""

    def __init__(self, label: str, field: str, row: int, serial: str, first: int):
        super().__init__(
            _("%(table)s, scan %(row)s: serial %(serial)s is scanned twice (also scan %(first)s).",
              table=label, row=row, serial=serial, first=first),
            field,
        )  # fmt: skip


def _check_serials_once(context: ActionContext, table: str, rows: list[dict]) -> None:
    """Refuse the first row of ``table`` that scans a serial number of an item again."""
    params = context.params
    serial_field = params.get("serial", "serial")
    first_row: dict[tuple, int] = {}
    for number, row in enumerate(rows, start=1):
        serial = str(row.get(serial_field) or "")
        if not serial:
            continue
        first = first_row.setdefault((str(row.get(params["item"])), serial), number)
        if first != number:
            records = context.records
            label = records.field_label(context.record.form, table) if records else table
            path = f"{table}[{number - 1}].{serial_field}"
            raise SerialScannedTwice(label, path, number, serial, first)


def _check_expiry(context: ActionContext, table: str, rows: list[dict]) -> None:
    """Refuse the first scan of ``table`` whose expiry date is not its lot's on record (the lot
    named, or the serial-numbered unit's), naming that scan's expiry date."""
    params = context.params
    field = params.get("expiry_date", "expiry_date")
    for number, row in enumerate(rows, start=1):
        typed = _date(row.get(field))
        lot = _lot_of(context, row) if typed is not None else None
        if lot is None:
            continue  # no expiry typed, or goods unknown: the comparison with the picking says so
        try:
            check_lot_dates(lot, expiry_date=typed)
        except LotMismatch as exc:
            records = context.records
            label = records.field_label(context.record.form, table) if records else table
            raise ActionError(
                _("%(table)s, scan %(row)s: %(message)s", table=label, row=number, message=exc),
                f"{table}[{number - 1}].{field}",
            ) from None


def _lot_of(context: ActionContext, row: dict):
    """The lot on record a scan names: by its lot number, else its serial number's unit's."""
    params = context.params
    item = common.item(context, row, params["item"])
    number = str(row.get(params.get("lot", "lot")) or "")
    if number:
        return lot_of(context.session, item, number)
    serial = str(row.get(params.get("serial", "serial")) or "")
    if not serial:
        return None
    unit = context.session.scalar(
        select(Unit).where(Unit.item_id == item.id, Unit.serial == serial)
    )
    return unit.lot if unit is not None and unit.lot_id is not None else None


def _date(value) -> dt.date | None:
    """A scan's date as the record stores it (ISO text), ``None`` if none or not a date."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _counted(context: ActionContext, rows: list[dict]) -> dict[tuple, Decimal]:
    """The quantity of each (item id, lot number, serial number) the rows hold, in the order the
    goods were first scanned (a refusal names the differences as the picker walked)."""
    params = context.params
    counted: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in rows:
        goods = (
            common.item(context, row, params["item"]).id,
            str(row.get(params.get("lot", "lot")) or ""),
            str(row.get(params.get("serial", "serial")) or ""),
        )
        counted[goods] += common.quantity(row, params["quantity"])
    return dict(counted)


def _difference(context: ActionContext, goods: tuple, picked: Decimal, reviewed: Decimal) -> str:
    item_id, lot, serial = goods
    described = context.session.get(Item, item_id).code
    if lot:
        described += _(" lot %(lot)s", lot=lot)
    if serial:
        described += _(" serial %(serial)s", serial=serial)
    return _(
        "%(goods)s picked %(picked)s, reviewed %(reviewed)s",
        goods=described,
        picked=plain_quantity(picked),
        reviewed=plain_quantity(reviewed),
    )
