"""The form designer's 往来账: every shipped account saved unchanged is unchanged; an account is
switched on, set and off; a value it cannot take is refused on its input."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import account_design, form_design
from app.meta.form_design import DesignRefused
from app.meta.yaml_edit import safe_load

FORMS = Path(__file__).resolve().parents[2] / "metadata" / "forms"
STATES = ["draft", "confirmed", "done", "cancelled"]


def inputs(text: str, **changed) -> MultiDict:
    """What the designer's account form sends for ``text`` (``changed`` inputs replaced)."""
    view = account_design.view_of(form_design.parse(text))
    values = MultiDict({"kind": view.kind, "party": view.party, "date": view.date,
                        "due": view.due, "amount": view.amount,
                        "effect": view.effect or "increase",
                        "when": view.when})  # fmt: skip
    if view.on:
        values["on"] = "1"
    values.setlist("states", view.states)
    for key, value in changed.items():
        values.setlist(key, value if isinstance(value, list) else [value])
    return values


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(FORMS.glob("*.yaml")) if "\naccount:" in p.read_text(encoding="utf-8")],
    ids=lambda path: path.stem,
)
def test_every_shipped_account_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    assert account_design.update_account(text, inputs(text), STATES) == text


def test_an_account_is_switched_on_set_and_off():
    text = (FORMS / "purchase_order.yaml").read_text(encoding="utf-8")
    assert not account_design.view_of(form_design.parse(text)).on
    on = account_design.update_account(text, inputs(
        text, on="1", kind="payable", party="supplier", date="order_date", due="expected_date",
        amount="total", states=["approved"], when="{urgent: [true]}",
    ), ["draft", "approved", "closed"])  # fmt: skip
    assert safe_load(on)["account"] == {
        "kind": "payable", "party": "supplier", "date": "order_date", "due": "expected_date",
        "amount": "total", "states": ["approved"], "when": {"urgent": [True]},
    }  # fmt: skip
    # no due date chosen: the key goes (due on the entry's date)
    undue = account_design.update_account(on, inputs(on, due=""), STATES)
    assert "due" not in safe_load(undue)["account"]
    assert "  when: {urgent: [true]}\n" in on
    off = account_design.update_account(on, inputs(on, on=[]), STATES)
    assert "account" not in safe_load(off)


@pytest.mark.parametrize(
    ("changed", "field"),
    [({"kind": "owed"}, "kind"), ({"party": "location_x"}, "party"), ({"date": "amount"}, "date"),
     ({"amount": "customer"}, "amount"), ({"due": "amount"}, "due"), ({"states": []}, "states"),
     ({"when": "sale_kind: hospital"}, "when"), ({"when": "{sale_kind: [hospital"}, "when")],
)  # fmt: skip
def test_a_value_it_cannot_take_is_refused_on_its_input(changed, field):
    text = (FORMS / "customer_receipt.yaml").read_text(encoding="utf-8")
    with pytest.raises(DesignRefused) as refused:
        account_design.update_account(text, inputs(text, **changed), STATES)
    assert refused.value.field == field
