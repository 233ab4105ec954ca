"""Built-in action ``count_against``: count each line's amount on the document the line names.

An invoice (发票) settles the documents it bills: each line names a purchase receipt (or a
delivered sales order) and the amount billed for it. Confirming the invoice adds the amounts to
the document's ``counted`` field (``invoiced``), refused — naming the line — where the document
would be billed beyond its ``limit`` (its ``total``), is not in one of ``states`` yet, or belongs
to another party (the ``party`` header field must name the same supplier or customer on both).
Voiding the invoice runs the action with ``undo: true``: the amounts come off again. The document's
formulas are computed anew afterwards, so that what it declares as still to bill (``uninvoiced:
total - (returned or 0) - (invoiced or 0)``) follows, for a list or a report to filter on. Same
idea as the purchase order's ``received`` (``post_stock``'s ``against_order``), for money instead
of goods::

    - action: count_against
      params: {lines: lines, document: purchase_receipt, form: purchase_receipt,
               amount: amount, counted: invoiced, limit: invoiceable, states: [done],
               party: supplier}

Without ``lines`` the record's header is the one line: a supplier return counts its credit on
the receipt it names (``returned``), a red-letter invoice its amount on the invoice it reverses.
A negative amount (a red-letter invoice's line) takes off what an earlier one counted, never
below zero.

With the header as the one line, ``on_lines`` also counts the record's lines on the *lines* of
that document holding the same ``key``: a red-letter invoice takes off each receipt at most what
the invoice it reverses billed it for (the sum of that invoice's lines of the receipt, ``limit``)
less what red-letter invoices before took off it (``counted`` on those lines), over all its lines
of the receipt; ``negate`` counts the opposite of the amounts (a red-letter line is negative)::

    - action: count_against
      params: {document: original_invoice, form: purchase_invoice, amount: reverses,
               counted: reversed, limit: total, states: [confirmed], party: supplier,
               on_lines: {lines: lines, table: lines, key: purchase_receipt, amount: amount,
                          negate: true, counted: reversed, limit: amount}}

``check_only: true`` checks all that and counts nothing: a step before the one that counts (a
customer return's receive, before its inspection credits the order) refuses early a credit that
would not fit then, while the record can still be corrected.

The documents are locked (in id order, so that two invoices of the same receipts wait for each
other instead of deadlocking) before their sums are read: two invoices confirmed at once cannot
both fit in what one receipt had left.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from app.i18n import _
from app.plugins import _common as common
from app.plugins._common import money
from app.workflow.actions import Action, ActionContext, ActionError

_FIELDS = common.params_schema(
    "document", "form", "amount", "counted", "limit", optional=("lines", "party")
)
#: ``on_lines``: the record's ``lines`` counted on the document's ``table`` by ``key``.
_ON_LINES = common.params_schema("lines", "table", "key", "amount", "counted", "limit")
_ON_LINES["properties"]["negate"] = {"type": "boolean"}


class CountAgainst(Action):
    name = "count_against"
    label = {
        "zh_CN": "将发票行冲抵所开票的入库单或订单",
        "en": "Count an invoice's lines against the receipts or orders it bills",
    }
    param_labels = {
        "on_lines": {"zh_CN": "并按明细计入所冲抵单据的同一单据明细",
                     "en": "Also count the lines on the document's lines naming the same"},
        "check_only": {"zh_CN": "只检查，不计入", "en": "Only check, count nothing"},
    }  # fmt: skip
    params_schema = {
        **_FIELDS,
        "required": [*_FIELDS["required"], "states"],
        "properties": {
            **_FIELDS["properties"],
            "states": {"type": "array", "minItems": 1, "items": common.FIELD},
            "undo": {"type": "boolean"},
            "check_only": {"type": "boolean"},
            "on_lines": _ON_LINES,
        },
        # the lines are counted on one document's: the one the header names
        "dependentSchemas": {"on_lines": {"not": {"required": ["lines"]}}},
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        sign = -1 if params.get("undo") else 1
        lines = _lines(context, params)
        named = {found for found in (_document_id(line, params) for line in lines) if found}
        documents = context.records.locked(params["form"], sorted(named))
        for document in documents.values():  # its limit by the form's current rules, even on a
            context.records.recompute(document)  # record saved before the formula existed
        adding: dict[int, Decimal] = {}
        for number, line in enumerate(lines, start=1):
            document = documents.get(_document_id(line, params))
            if document is None:
                raise _refusal(
                    _("The document it names does not exist."), params, number, params["document"]
                )
            if sign > 0:
                _check_document(context, document, params, number)
            adding[document.id] = adding.get(document.id, Decimal(0)) + _amount(line, params)
            _check_fits(context, document, params, adding[document.id] * sign, number)
        if "on_lines" in params:
            _count_on_lines(context, params, documents[_document_id(lines[0], params)])
        if params.get("check_only"):
            return
        for document in documents.values():
            _count(document, params, sign * adding[document.id])
            context.records.recompute(document)


def _lines(context: ActionContext, params: dict) -> list[dict]:
    """The lines that name the documents: the table's, or the header as the one line."""
    if "lines" in params:
        return common.lines_of(context, params["lines"])
    return [context.record.data or {}]


def _document_id(line: dict, params: dict) -> int | None:
    try:
        return int(line.get(params["document"]))
    except (TypeError, ValueError):
        return None


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _amount(line: dict, params: dict) -> Decimal:
    return _decimal(line.get(params["amount"]))


def _refusal(problem: str, params: dict, number: int, field: str) -> ActionError:
    """A refusal naming the field, and the line when the lines name the documents."""
    if "lines" not in params:
        refused = ActionError(problem)
        refused.field = field
        return refused
    refused = ActionError(_("Line %(line)s: %(problem)s", line=number, problem=problem))
    refused.field = f"{params['lines']}[{number - 1}].{field}"
    return refused


def _check_document(context: ActionContext, document, params: dict, number: int) -> None:
    """The document may be counted on: in one of ``states``, and the same party's."""
    records = context.records
    if document.state not in params["states"]:
        wanted = " / ".join(records.state_label(document, state) for state in params["states"])
        raise _refusal(
            _("%(document)s is %(state)s; it counts here only once %(states)s.",
              document=document.number, state=records.state_label(document), states=wanted),
            params, number, params["document"],
        )  # fmt: skip
    party = params.get("party")
    if party and str((document.data or {}).get(party)) != str(context.record.data.get(party)):
        raise _refusal(
            _("%(document)s is another %(party)s's, not this one's.",
              document=document.number,
              party=records.field_label(context.record.form, party)),
            params, number, params["document"],
        )  # fmt: skip


def _check_fits(context: ActionContext, document, params: dict, adding: Decimal, number: int):
    """What the document has counted, plus (or less) this record's lines for it so far, stays
    within 0 and its limit. Only adding is held to the limit: undoing a red-letter invoice puts
    back an amount counted within it before (a return since may have lowered the limit)."""
    data = document.data or {}
    limit, counted = _decimal(data.get(params["limit"])), _decimal(data.get(params["counted"]))
    if not params.get("undo") and counted + adding > limit:
        raise _refusal(
            _("%(document)s allows %(limit)s, of which %(counted)s is %(what)s already; "
              "this adds %(adding)s.",
              document=document.number, limit=money(limit), counted=money(counted),
              what=_counted_label(context, params), adding=money(adding)),
            params, number, params["amount"],
        )  # fmt: skip
    if counted + adding < 0:
        raise _refusal(
            _("%(what)s on %(document)s is %(counted)s; %(taking)s cannot be taken off it.",
              what=_counted_label(context, params), document=document.number,
              counted=money(counted),
              taking=money(-adding)),
            params, number, params["amount"],
        )  # fmt: skip


def _counted_label(context: ActionContext, params: dict) -> str:
    """What is counted, in the user's language ("Invoiced"), for a refusal."""
    return context.records.field_label(params["form"], params["counted"])


def _count(document, params: dict, change: Decimal) -> None:
    data = dict(document.data or {})
    data[params["counted"]] = money(_decimal(data.get(params["counted"])) + change)
    document.data = data


# --- counting on the document's lines ----------------------------------------------------------


def _count_on_lines(context: ActionContext, params: dict, document) -> None:
    """``on_lines``: each of the record's lines counted on those of ``document``'s lines that hold
    the same key, within the sum of their limits less what they counted before, summed over the
    record's lines of that key. Undoing takes the amounts off again, from the last such line; a
    record counted before its flow counted lines has put nothing there, so undoing it takes off
    what there is (never below zero) rather than refusing its void."""
    spec, sign = params["on_lines"], -1 if params.get("undo") else 1
    key = spec["key"]
    targets = [dict(line) for line in (document.data or {}).get(spec["table"]) or []]
    adding: dict[str, Decimal] = {}
    for number, line in enumerate(common.lines_of(context, spec["lines"]), start=1):
        value = str(line.get(key))
        amount = _decimal(line.get(spec["amount"]))
        adding[value] = adding.get(value, Decimal(0)) + (-amount if spec.get("negate") else amount)
        if sign > 0:
            holding = [target for target in targets if str(target.get(key)) == value]
            _check_line_fits(context, document, spec, holding, adding[value], number, line)
    if params.get("check_only"):
        return
    for value, change in adding.items():
        _spread(
            [target for target in targets if str(target.get(key)) == value], spec, sign * change
        )
    document.data = {**(document.data or {}), spec["table"]: targets}


def _check_line_fits(context, document, spec: dict, holding, adding, number: int, line: dict):
    """What ``holding`` (the document's lines of one key) counted, plus the record's lines of that
    key so far, stays within 0 and the sum of their limits; a refusal names the record's line."""
    limit = sum((_decimal(target.get(spec["limit"])) for target in holding), Decimal(0))
    counted = sum((_decimal(target.get(spec["counted"])) for target in holding), Decimal(0))
    what = context.records.field_label(document.form, f"{spec['table']}.{spec['counted']}")
    if counted + adding > limit:
        problem = _(
            "%(document)s allows %(limit)s for %(key)s, of which %(counted)s is %(what)s "
            "already; this adds %(adding)s.",
            document=document.number, limit=money(limit), key=_key_label(context, spec, line),
            counted=money(counted), what=what, adding=money(adding),
        )  # fmt: skip
    elif counted + adding < 0:
        problem = _(
            "%(what)s on %(document)s is %(counted)s; %(taking)s cannot be taken off it.",
            what=what, document=document.number, counted=money(counted), taking=money(-adding),
        )  # fmt: skip
    else:
        return
    raise _refusal(problem, {"lines": spec["lines"]}, number, spec["amount"])


def _spread(holding: list[dict], spec: dict, change: Decimal) -> None:
    """Count ``change`` on the lines ``holding``: an addition fills them in order, each up to its
    limit (the last takes any rest); a taking-off empties them from the last, never below 0."""
    limit, counted = spec["limit"], spec["counted"]
    if change > 0:
        for index, target in enumerate(holding):
            room = _decimal(target.get(limit)) - _decimal(target.get(counted))
            take = change if index == len(holding) - 1 else max(min(room, change), Decimal(0))
            target[counted] = money(_decimal(target.get(counted)) + take)
            change -= take
    else:
        rest = -change
        for target in reversed(holding):
            take = min(_decimal(target.get(counted)), rest)
            target[counted] = money(_decimal(target.get(counted)) - take)
            rest -= take


def _key_label(context: ActionContext, spec: dict, line: dict) -> str:
    """What a record line's key names, as users know it: the number of the document it links to
    (a receipt's PR-…), else its value."""
    value = line.get(spec["key"])
    definition = context.records.definition(context.record.form)
    lines = next((f for f in definition.get("fields", []) if f.get("name") == spec["lines"]), {})
    field = next((f for f in lines.get("fields", []) if f.get("name") == spec["key"]), {})
    linked = context.records.read(field["link"], value) if field.get("link") else None
    return linked.number if linked is not None and linked.number else str(value)
