"""Built-in action ``count_against``: count each line's amount on the document the line names.

An invoice (发票) settles the documents it bills: each line names a purchase receipt (or a
delivered sales order) and the amount billed for it. Confirming the invoice adds the amounts to
the document's ``counted`` field (``invoiced``), refused — naming the line — where the document
would be billed beyond its ``limit`` (its ``total``), is not in one of ``states`` yet, or belongs
to another party (the ``party`` header field must name the same supplier or customer on both).
Voiding the invoice runs the action with ``undo: true``: the amounts come off again. ``remaining``,
when given, is written too (``limit − counted``, what is still to bill), so that a list or a
report can filter on it; the document's form declares it as the same formula. Same idea as the
purchase order's ``received`` (``post_stock``'s ``against_order``), for money instead of goods::

    - action: count_against
      params: {lines: lines, document: purchase_receipt, form: purchase_receipt,
               amount: amount, counted: invoiced, limit: total, remaining: uninvoiced,
               states: [done], party: supplier}

The documents are locked (in id order, so that two invoices of the same receipts wait for each
other instead of deadlocking) before their sums are read: two invoices confirmed at once cannot
both fit in what one receipt had left.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from app.i18n import _
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError

CENT = Decimal("0.01")
_FIELDS = common.params_schema(
    "lines", "document", "form", "amount", "counted", "limit", optional=("remaining", "party")
)


class CountAgainst(Action):
    name = "count_against"
    params_schema = {
        **_FIELDS,
        "required": [*_FIELDS["required"], "states"],
        "properties": {
            **_FIELDS["properties"],
            "states": {"type": "array", "minItems": 1, "items": common.FIELD},
            "undo": {"type": "boolean"},
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        sign = -1 if params.get("undo") else 1
        lines = common.lines_of(context, params["lines"])
        named = {found for found in (_document_id(line, params) for line in lines) if found}
        documents = context.records.locked(params["form"], sorted(named))
        adding: dict[int, Decimal] = {}
        for number, line in enumerate(lines, start=1):
            document = documents.get(_document_id(line, params))
            if document is None:
                raise _refusal(
                    _("Line %(line)s: the document it names does not exist.", line=number),
                    params, number, params["document"],
                )  # fmt: skip
            if sign > 0:
                _check_document(context, document, params, number)
            adding[document.id] = adding.get(document.id, Decimal(0)) + _amount(line, params)
            _check_fits(document, params, adding[document.id] * sign, number)
        for document in documents.values():
            _count(document, params, sign * adding[document.id])


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


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def _refusal(message: str, params: dict, number: int, field: str) -> ActionError:
    refused = ActionError(message)
    refused.field = f"{params['lines']}[{number - 1}].{field}"
    return refused


def _check_document(context: ActionContext, document, params: dict, number: int) -> None:
    """The document may be billed: in one of ``states``, and the same party's."""
    if document.state not in params["states"]:
        raise _refusal(
            _("Line %(line)s: %(document)s cannot be billed in its state (%(state)s).",
              line=number, document=document.number,
              state=context.records.state_label(document)),
            params, number, params["document"],
        )  # fmt: skip
    party = params.get("party")
    if party and str((document.data or {}).get(party)) != str(context.record.data.get(party)):
        raise _refusal(
            _("Line %(line)s: %(document)s is another %(party)s's, not this one's.",
              line=number, document=document.number,
              party=context.records.field_label(context.record.form, party)),
            params, number, params["document"],
        )  # fmt: skip


def _check_fits(document, params: dict, adding: Decimal, number: int) -> None:
    """What the document has counted, plus (or less) this record's lines for it so far, stays
    within 0 and its limit."""
    data = document.data or {}
    limit, counted = _decimal(data.get(params["limit"])), _decimal(data.get(params["counted"]))
    if counted + adding > limit:
        raise _refusal(
            _("Line %(line)s: %(document)s comes to %(limit)s; %(counted)s of it is billed "
              "already and this adds %(adding)s.",
              line=number, document=document.number, limit=_money(limit),
              counted=_money(counted), adding=_money(adding)),
            params, number, params["amount"],
        )  # fmt: skip
    if counted + adding < 0:  # undoing more than was counted: the data was changed by hand
        raise _refusal(
            _("Line %(line)s: %(document)s has only %(counted)s billed; %(taking)s cannot be "
              "taken off.",
              line=number, document=document.number, counted=_money(counted),
              taking=_money(-adding)),
            params, number, params["amount"],
        )  # fmt: skip


def _count(document, params: dict, change: Decimal) -> None:
    data = dict(document.data or {})
    counted = _decimal(data.get(params["counted"])) + change
    data[params["counted"]] = _money(counted)
    if params.get("remaining"):
        data[params["remaining"]] = _money(_decimal(data.get(params["limit"])) - counted)
    document.data = data
