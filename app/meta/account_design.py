"""The form designer's 往来账: how a form's records count on a counterparty's account, set
without YAML.

A form's ``account`` (``app/meta/accounts.py`` reads it) says whether its records are receivable
(a customer owes) or payable (owed to a supplier), which link field names the counterparty, which
date field dates the entry (and, optionally, which one says when it falls due: 账期), which number
field holds the amount, whether a record adds to the balance or takes from it (a receipt of
money, a return), in which workflow states it counts and, optionally, only for records whose
fields hold certain values (``{sale_kind: [hospital]}``, one line of YAML). Switched off, the key
goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import CommentedMap

from app.i18n import _
from app.meta import yaml_edit
from app.meta.accounts import FIELD_TYPES
from app.meta.form_design import WRITTEN_ORDER, dump, field_names, parse
from app.meta.yaml_edit import DesignRefused

KINDS = ("receivable", "payable")
EFFECTS = ("increase", "decrease")
KEYS = ("kind", "party", "date", "due", "amount", "effect", "states", "when")
DATE_TYPES, AMOUNT_TYPES = FIELD_TYPES["date"], FIELD_TYPES["amount"]


@dataclass
class AccountView:
    on: bool
    kind: str
    party: str
    date: str
    #: the date field saying when an entry falls due ("" : due on its date)
    due: str
    amount: str
    effect: str
    states: list[str]
    #: the values records must hold to count, as one line of YAML ("" for all records)
    when: str
    #: the form's fields each key may name: links, dates, numbers
    parties: list[str]
    dates: list[str]
    amounts: list[str]


def view_of(document: CommentedMap) -> AccountView:
    raw = yaml_edit.mapping_of(document, "account")
    return AccountView(
        on=bool(raw), kind=str(raw.get("kind") or ""), party=str(raw.get("party") or ""),
        date=str(raw.get("date") or ""), due=str(raw.get("due") or ""),
        amount=str(raw.get("amount") or ""),
        effect=str(raw.get("effect") or ""),
        states=yaml_edit.names_of(raw, "states"),
        when=yaml_edit.one_line(raw["when"]) if raw.get("when") else "",
        parties=field_names(document, ("link",)), dates=field_names(document, DATE_TYPES),
        amounts=field_names(document, AMOUNT_TYPES),
    )  # fmt: skip


def update_account(text: str, values, states: list[str]) -> str:
    """The account from the designer's inputs (``on`` switches it on or off); ``states`` are the
    form's workflow states, to tick from."""
    document = parse(text)
    raw = yaml_edit.switched(document, "account", values, WRITTEN_ORDER)
    if raw is None:
        return dump(document, text)
    kind = values.get("kind", "").strip()
    if kind not in KINDS:
        raise DesignRefused(_("Choose receivable or payable."), "kind")
    yaml_edit.set_or_drop(raw, "kind", kind, KEYS)
    for key, types, refusal in [
        ("party", ("link",), _("Choose the link field naming the counterparty.")),
        ("date", DATE_TYPES, _("Choose the date field that dates the entry.")),
        ("amount", AMOUNT_TYPES, _("Choose the number field with the amount.")),
    ]:
        offered = field_names(document, types)
        chosen = values.get(key, "").strip() or (offered[0] if len(offered) == 1 else "")
        if chosen not in offered:
            raise DesignRefused(refusal, key)
        yaml_edit.set_or_drop(raw, key, chosen, KEYS)
    due = values.get("due", "").strip()
    if due and due not in field_names(document, FIELD_TYPES["due"]):
        raise DesignRefused(
            _("Choose the date field saying when an entry falls due, or none."), "due"
        )
    yaml_edit.set_or_drop(raw, "due", due or None, KEYS)
    effect = values.get("effect", "").strip()
    if effect == "increase" and "effect" not in raw:
        effect = ""  # what no choice means: left unwritten
    yaml_edit.set_or_drop(raw, "effect", effect if effect in EFFECTS else None, KEYS)
    counted = yaml_edit.ticked(raw.get("states"), values.getlist("states"), states)
    if not counted:
        raise DesignRefused(_("Tick the states in which a record counts."), "states")
    yaml_edit.set_or_drop(raw, "states", counted, KEYS)
    yaml_edit.set_or_drop(raw, "when", _when(raw.get("when"), values.get("when", "")), KEYS)
    yaml_edit.set_or_drop(document, "account", raw, WRITTEN_ORDER)
    return dump(document, text)


def _when(current, typed: str):
    typed = typed.strip()
    if not typed:
        return None
    if current is not None and typed == yaml_edit.one_line(current):
        return current
    unread = _("Write the values records must hold on one line, such as {sale_kind: [hospital]}.")
    value = yaml_edit.one_line_value(typed, unread, "when")
    if not isinstance(value, dict) or not all(isinstance(v, list) and v for v in value.values()):
        raise DesignRefused(unread, "when")
    return value
