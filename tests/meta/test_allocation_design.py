"""The form designer's order allocation: the shipped sales order's rule sets saved unchanged are
unchanged; the default's rules, kinds of location and limits are set; a kind differs from the
default in the keys it sets and is not written when it differs in none; a value it cannot take
is refused on its input."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import allocation_design, form_design
from app.meta.allocation_design import LOCATION_TYPES
from app.meta.form_design import DesignRefused
from app.meta.yaml_edit import safe_load

ORDER = (Path(__file__).resolve().parents[2] / "metadata" / "forms" / "sales_order.yaml").read_text(
    encoding="utf-8"
)
KINDS = ["retail", "wholesale", "hospital"]


def shown(text: str) -> allocation_design.AllocationView:
    return allocation_design.view_of(form_design.parse(text), KINDS)


def inputs(rule_set: allocation_design.RuleSet, **changed) -> MultiDict:
    """What the designer's form of ``rule_set`` sends (``changed`` inputs replaced)."""
    default = not rule_set.kind
    values = MultiDict({"max_distance_km": rule_set.max_distance_km,
                        "min_shelf_life_days": rule_set.min_shelf_life_days,
                        "fulfilment": rule_set.fulfilment})  # fmt: skip
    values.setlist("rules", rule_set.rules or [])
    values.setlist("location_types", rule_set.location_types or (LOCATION_TYPES if default else []))
    if rule_set.rules is not None and not default:
        values["own_rules"] = "1"
    if rule_set.location_types is not None and not default:
        values["own_types"] = "1"
    for key, value in changed.items():
        values.setlist(key, value if isinstance(value, list) else [value])
    return values


def allocation(text: str) -> dict:
    return safe_load(text)["allocation"]


def test_every_rule_set_saved_unchanged_is_unchanged():
    view = shown(ORDER)
    assert view.by == "sale_kind" and [k.kind for k in view.kinds] == KINDS
    assert view.kinds[0].rules is None and view.kinds[1].location_types == ["warehouse"]
    for rule_set in [view.default, *view.kinds]:
        assert allocation_design.update_set(ORDER, rule_set.kind, inputs(rule_set)) == ORDER


def test_the_default_rules_and_limits_are_set():
    default = shown(ORDER).default
    changed = allocation_design.update_set(ORDER, "", inputs(
        default, rules=["own_location", "nearest"], max_distance_km="50.5",
        min_shelf_life_days="30", fulfilment="direct",
    ))  # fmt: skip
    assert allocation(changed)["default"] == {
        "rules": ["own_location", "nearest"], "location_types": ["store", "warehouse"],
        "max_distance_km": 50.5, "min_shelf_life_days": 30, "fulfilment": "direct",
    }  # fmt: skip
    assert "    rules: [own_location, nearest]\n" in changed


def test_a_kind_differs_in_what_it_sets_and_goes_when_it_differs_in_nothing():
    retail = shown(ORDER).kinds[0]
    own = allocation_design.update_set(ORDER, "retail", inputs(
        retail, own_rules="1", rules=["own_location"], min_shelf_life_days="0",
    ))  # fmt: skip
    assert allocation(own)["kinds"]["retail"] == {"rules": ["own_location"],
                                                  "min_shelf_life_days": 0}  # fmt: skip
    wholesale = shown(ORDER).kinds[1]
    bare = inputs(wholesale, min_shelf_life_days="", fulfilment="")
    del bare["own_types"]
    gone = allocation_design.update_set(ORDER, "wholesale", bare)
    assert "wholesale" not in allocation(gone)["kinds"]


@pytest.mark.parametrize(
    ("kind", "changed", "field"),
    [("", {"rules": []}, "rules"), ("", {"location_types": []}, "location_types"),
     ("", {"max_distance_km": "0"}, "max_distance_km"),
     ("", {"max_distance_km": "far"}, "max_distance_km"),
     ("hospital", {"min_shelf_life_days": "half a year"}, "min_shelf_life_days"),
     ("hospital", {"fulfilment": "drone"}, "fulfilment")],
)  # fmt: skip
def test_a_value_it_cannot_take_is_refused_on_its_input(kind, changed, field):
    view = shown(ORDER)
    rule_set = next(s for s in [view.default, *view.kinds] if s.kind == kind)
    with pytest.raises(DesignRefused) as refused:
        allocation_design.update_set(ORDER, kind, inputs(rule_set, **changed))
    assert refused.value.field == field


def test_a_kinds_own_rules_switched_on_start_from_the_defaults():
    """The kind's boxes were greyed out (the default's): none came with the switch."""
    switched = MultiDict({"own_rules": "1", "own_types": "1"})
    own = allocation(allocation_design.update_set(ORDER, "retail", switched))["kinds"]["retail"]
    assert own == {"rules": ["own_location", "nearest", "split"],
                   "location_types": ["store", "warehouse"]}  # fmt: skip
