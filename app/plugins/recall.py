"""Recall actions: ``issue_recall`` blocks and traces the goods, ``track_recall`` follows the tasks.

``issue_recall`` calls the kernel's ``recall_lots`` for the record's item and lots (or serial
range) — from that moment nothing of them is sold, transferred or reserved anywhere — and writes
the trace (holders, customers, origin and where the rest went) and one task per location the
trace names onto the recall. The holders as they stand then are kept as ``held_at_issue`` rows:
the regulator asks where the goods were when the recall went out, long after they have been
sent back, so no later update rewrites them. Each task is also a ``recall_task`` record at its
location, with the recall's header and that location's rows of the trace, and the location's
managers are told of it: staff read their own task, never the whole trace with other stores'
customers. Goods in transit are the task of the location they travel to (a transit location has
no staff to tell).
Recalled goods on hand are set apart as nonconforming, so the ordinary supplier return and scrap
documents take them out. ``track_recall`` sets apart what arrived since and re-reads the trace
(keeping the rows held at issue): a task is done once its location holds none of the goods and,
if it sold them to customers, it has recorded on its task when it told them
(``customers_notified``); new holders (goods that arrived from transit or came back from a
customer) get a task too. With ``require_done`` it refuses while any task is open, naming each
open location (the first few, and how many more) and what it still has to do.

``withdraw_recall`` undoes a recall issued in error (撤销召回): the goods are released again (a
lot quarantined before it goes back to its quarantine), what it set apart is available again
where it still is, each task record says the recall was withdrawn, and the managers who were
told to carry it out are told to stop.

A location being counted keeps the goods where they are until its count ends (they are blocked
all the same): its task says ``counting``, and the next ``refresh`` sets them apart. An order
whose hold the recall took back shows the shortfall on its line, so it can be re-allocated.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from app.i18n import _
from app.kernel.items import Item, Lot
from app.kernel.locations import Location
from app.kernel.recall import isolate, recall_lots, units_in_range, withdraw_recall
from app.kernel.reservations import Released
from app.kernel.users import UserRole, user_locations
from app.plugins import _common as common
from app.plugins.allocation import WAITING, report_lost_hold
from app.workflow.actions import Action, ActionContext, ActionError
from app.workflow.models import inbox_message

SALE_FORM, TASK_FORM = "sales_order", "recall_task"
FIELDS = ("item", "lots", "serial_from", "serial_to", "tasks", "trace")
#: The trace rows that keep where the goods were when the recall was issued.
HELD_AT_ISSUE = "held_at_issue"
#: The task's date its location told its customers (entered by its manager).
NOTIFIED = "customers_notified"


NAMES = {"type": "array", "items": {"type": "string"}}


def _schema(**extra) -> dict:
    """The record's fields by role; ``copy``: header fields each task repeats (level, deadline);
    ``notify``: the roles told at a location when it gets a task."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(FIELDS),
        "properties": {**{name: common.FIELD for name in FIELDS}, "copy": NAMES, "notify": NAMES,
                       **extra},
    }  # fmt: skip


def _goods(context: ActionContext) -> tuple[Item, list[Lot], list | None]:
    """The item, its recalled lots and, for a serial range, the units (else ``None``)."""
    params, data = context.params, context.record.data or {}
    item = common.item(context, data, params["item"])
    first, last = data.get(params["serial_from"]), data.get(params["serial_to"])
    # a lot named twice is recalled once (the field keeps each number once, see ``IssueRecall``)
    numbers = common.lot_numbers(data.get(params["lots"]))
    if first or last:
        if not (first and last):  # the end left empty is the one to fill
            raise ActionError(
                _("A serial range needs both its first and its last serial number."),
                params["serial_to"] if first else params["serial_from"],
            )
        units = units_in_range(context.session, item, str(first), str(last))
        lots = [context.session.get(Lot, lot_id) for lot_id in sorted({u.lot_id for u in units})]
        return item, [lot for lot in lots if lot is not None], units
    if not numbers:
        raise ActionError(_("Name the lots to recall, or a serial range."), params["lots"])
    return item, common.named_lots(context, item, numbers, params["lots"]), None


def _write(context: ActionContext, table: str, rows: list[dict]) -> None:
    context.record.data = {**(context.record.data or {}), table: rows}


def _holdings(trace: list[dict]) -> dict[int, Decimal]:
    """What each location holds now, every lot and status together."""
    held: dict[int, Decimal] = defaultdict(Decimal)
    for row in trace:
        if row["kind"] == "holder":
            held[row["location_id"]] += Decimal(row["quantity"])
    return held


def _trace(context: ActionContext, item, lots, units, issuing: bool = False) -> list[dict]:
    """The trace as it is now, written onto the recall. Issuing, the holders are also kept as
    ``held_at_issue`` rows (returned, with their locations, for the tasks); later, the recall's
    rows held at issue are kept as they were."""
    rows = context.records.recall_trace(item, lots, units)
    kept = []
    if issuing:
        rows = [{**row, "kind": HELD_AT_ISSUE} for row in rows if row["kind"] == "holder"] + rows
    else:
        kept = _held_at_issue((context.record.data or {}).get(context.params["trace"]))
    _write(context, context.params["trace"], kept + [_without_ids(row) for row in rows])
    return rows


def _held_at_issue(rows) -> list[dict]:
    return [dict(row) for row in rows or [] if row.get("kind") == HELD_AT_ISSUE]


def _without_ids(row: dict) -> dict:
    return {name: value for name, value in row.items() if name != "location_id"}


class IssueRecall(Action):
    name = "issue_recall"
    label = {
        "zh_CN": "发布召回：冻结批次并生成各地点召回任务",
        "en": "Issue the recall: block the lots and give each holder its task",
    }
    params_schema = _schema()

    def run(self, context: ActionContext) -> None:
        item, lots, units = _goods(context)
        if units is None:  # each lot once, as recalled
            _write(context, context.params["lots"], ", ".join(lot.lot_number for lot in lots))
        result = recall_lots(  # a serial range blocks its units, not their lot-mates
            context.session, item, None if units else lots, units,
            user=context.user, document=common.document_of(context),
        )  # fmt: skip
        rows = _trace(context, item, lots, units, issuing=True)
        _write(context, context.params["tasks"], _tasks(context, rows, result.isolation.counting))
        tell_orders(context, result.released, "recall")


def _tasks(context: ActionContext, rows: list[dict], counting: list[int]) -> list[dict]:
    """One task per location the trace names (holding the goods, having sold them or received
    them): what it holds now; done at zero once the customers it sold them to were told. Each
    is kept on its own ``recall_task`` record too."""
    params = context.params
    previous = {
        int(task["location"]): dict(task)
        for task in (context.record.data or {}).get(params["tasks"]) or []
    }
    held = _holdings(rows)
    rows_at: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("location_id") is not None:
            rows_at[row["location_id"]].append(_without_ids(row))
    tasks = []
    for location_id in sorted(set(rows_at) | set(previous)):
        remaining = held.get(location_id, Decimal(0))
        task = previous.get(location_id) or {"location": location_id, "quantity": str(remaining)}
        record = context.records.read(TASK_FORM, task.get("task")) if task.get("task") else None
        stored = (record.data or {}) if record is not None else {}
        own = rows_at.get(location_id, [])
        customers = any(row["kind"] == "customer" for row in own)
        notified = stored.get(NOTIFIED) if customers else None
        task.update(remaining=str(remaining), counting=location_id in counting,
                    customers=customers, customers_notified=notified,
                    done=remaining == 0 and (not customers or bool(notified)))  # fmt: skip
        # the rows held at issue stay as issued; the rest is the trace as it is now
        trace = _held_at_issue(stored.get("trace")) + own
        task["task"] = _task_record(context, task, trace, record)
        tasks.append(task)
    return tasks


def _task_record(context: ActionContext, task: dict, rows: list[dict], record) -> int:
    """Create or update the location's ``recall_task``: the recall's header, its task, its rows.
    What the location entered (``customers_notified`` and how) is left as it is."""
    params, data = context.params, context.record.data or {}
    values = {name: data.get(name) for name in params.get("copy", [])}
    values |= {
        "recall": context.record.number, "location": task["location"],
        "item": data.get(params["item"]), "lots": data.get(params["lots"]),
        "serial_from": data.get(params["serial_from"]), "serial_to": data.get(params["serial_to"]),
        "quantity": task["quantity"], "remaining": task["remaining"], "done": task["done"],
        "counting": task["counting"], "customers": task["customers"], "trace": rows,
    }  # fmt: skip
    if record is None:
        record = context.records.create(TASK_FORM, values)
        record.data = {**(record.data or {}), **values}  # written by the recall, read-only to all
        _announce(context, record)
    else:
        record.data = {**(record.data or {}), **values}
    return record.id


#: What a location's managers read when it gets its task.
ISSUED = {"zh_CN": "{task}: 召回 {recall} 已发布，请立即停止销售并完成本地召回任务",
          "en": "{task}: recall {recall} issued: stop selling and carry out this location's "
                "task"}  # fmt: skip


def _announce(context: ActionContext, task) -> None:
    """Tell the location's managers (``notify`` roles) of their new task, linking to it."""
    _tell(context, task, ISSUED)


#: Why an order lost its hold, by the document that took it (``document`` and ``lot`` filled in).
LOST_HOLD = {
    "recall": {"zh_CN": "召回 {document}：批号 {lot} 已召回",
               "en": "recall {document}: lot {lot} recalled"},
    "quarantine": {"zh_CN": "质量冻结 {document}：批号 {lot} 已冻结",
                   "en": "quarantine {document}: lot {lot} quarantined"},
}  # fmt: skip


def tell_orders(context: ActionContext, released: list[Released], taken_by: str) -> None:
    """Each sales order still waiting (confirmed, or picked for its review) that lost a hold to
    the recall (or quarantine: ``taken_by``) shows the shortfall."""
    document = common.document_of(context)
    for hold in released:
        order = context.records.by_number(SALE_FORM, hold.document, for_update=True)
        if order is None or order.state not in WAITING:
            continue
        lot = context.session.get(Lot, hold.lot_id) if hold.lot_id else None
        number = lot.lot_number if lot is not None else "-"
        why = {language: text.format(document=document, lot=number)
               for language, text in LOST_HOLD[taken_by].items()}  # fmt: skip
        report_lost_hold(context, order, hold.line, hold.location_id, hold.quantity, why)


class TrackRecall(Action):
    name = "track_recall"
    label = {"zh_CN": "更新召回任务进度", "en": "Track the recall tasks' progress"}
    params_schema = _schema(require_done={"type": "boolean"})

    def run(self, context: ActionContext) -> None:
        item, lots, units = _goods(context)
        isolation = isolate(  # what arrived, passed inspection or was counted since is set apart
            context.session, item, lots, units,
            user=context.user, document=common.document_of(context),
        )  # fmt: skip
        tasks = _tasks(context, _trace(context, item, lots, units), isolation.counting)
        _write(context, context.params["tasks"], tasks)
        open_tasks = [task for task in tasks if not task["done"]]  # (by location, as written)
        if context.params.get("require_done") and open_tasks:
            _refuse_open(context, open_tasks)


#: How many open tasks a refused close names; the rest are counted.
SHOWN = 5


def _refuse_open(context: ActionContext, open_tasks: list[dict]) -> None:
    """Say which locations are not done and what each still has to do: QA closing the recall
    sees every task left (the first few and how many more), not one at a time."""
    shown = "; ".join(_still_to_do(context, task) for task in open_tasks[:SHOWN])
    if len(open_tasks) > SHOWN:
        shown += _(" and %(count)s more location(s)", count=len(open_tasks) - SHOWN)
    raise ActionError(
        _("The recall is not complete: %(tasks)s.", tasks=shown), context.params["tasks"]
    )


def _still_to_do(context: ActionContext, task: dict) -> str:
    """What one open task's location still has to do: give up the goods, or record that it
    told the customers it sold them to."""
    location = context.session.get(Location, int(task["location"]))
    where = f"{location.code} {location.name}"
    if Decimal(task["remaining"]) != 0:
        return _(
            "%(location)s still holds %(quantity)s of the recalled goods",
            location=where,
            quantity=task["remaining"],
        )
    record = context.records.read(TASK_FORM, task.get("task"))
    return _(
        "%(location)s sold the goods to customers and has not recorded telling them: its "
        "manager enters %(field)s on recall task %(task)s",
        location=where,
        field=context.records.field_label(TASK_FORM, NOTIFIED),
        task=record.number if record is not None else "-",
    )


#: What each task's managers read when the recall is withdrawn.
WITHDRAWN = {
    "zh_CN": "{task}: 召回 {recall} 已撤销，无需继续执行本地召回任务",
    "en": "{task}: recall {recall} withdrawn: this location's task is over",
}


class WithdrawRecall(Action):
    """Undo a recall issued in error; its record keeps its trace, each task marked withdrawn."""

    name = "withdraw_recall"
    label = {
        "zh_CN": "撤销召回：解除冻结，隔离的货品恢复可售，通知各地点",
        "en": "Withdraw the recall: release the goods and tell every location",
    }
    params_schema = _schema()

    def run(self, context: ActionContext) -> None:
        item, lots, units = _goods(context)
        withdraw_recall(
            context.session, item, None if units else lots, units,
            user=context.user, document=common.document_of(context),
        )  # fmt: skip
        stored = (context.record.data or {}).get(context.params["tasks"]) or []
        tasks = [dict(task) for task in stored]
        for task in tasks:
            task["withdrawn"] = True
            record = context.records.read(TASK_FORM, task.get("task"))
            if record is not None:
                record.data = {**(record.data or {}), "withdrawn": True}
                _tell(context, record, WITHDRAWN)
        _write(context, context.params["tasks"], tasks)


def _tell(context: ActionContext, task, text: dict) -> None:
    """Tell the task location's managers (``notify`` roles) ``text``, about the task."""
    roles = context.params.get("notify") or []
    if not roles:
        return
    users = context.session.scalars(
        select(UserRole.user_id)
        .join(user_locations, user_locations.c.user_id == UserRole.user_id)
        .where(UserRole.role.in_(roles), user_locations.c.location_id == task.location_id)
        .distinct()
    )
    message = {language: words.format(task=task.number, recall=context.record.number)
               for language, words in text.items()}  # fmt: skip
    sender = getattr(context.user, "id", None)
    for user_id in sorted(users):
        context.session.add(inbox_message(user_id, task.id, message, sender_id=sender))
    context.session.flush()
