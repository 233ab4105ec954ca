"""The form designer's order allocation (订单分配): the rules by which an order's lines are given
to the locations that fill them, set without YAML.

A form's ``allocation`` holds a default rule set and, per value of the field ``by`` names (a sale's
kind: retail, wholesale, hospital), the keys in which that kind differs from it. A rule set says
which rules are tried, in order (the ordering location alone, the nearest location that fills
the line, the nearest first across several), which kinds of location may fill a line, how far
away, how much shelf life the goods must have left and how a part filled elsewhere reaches the
customer (transferred to the ordering location, or shipped directly). In a kind's set every key
may be left to the default; a kind that differs in nothing is not written.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import CommentedMap
from werkzeug.datastructures import MultiDict

from app.i18n import _
from app.meta import yaml_edit
from app.meta.form_design import dump, parse
from app.meta.yaml_edit import DesignRefused

RULES = ("own_location", "nearest", "split")
LOCATION_TYPES = ("store", "warehouse")
FULFILMENTS = ("transfer", "direct")
SET_KEYS = ("rules", "location_types", "max_distance_km", "min_shelf_life_days", "fulfilment")
BLOCK_KEYS = ("by", "default", "kinds")


@dataclass
class RuleSet:
    """One rule set as the designer shows it: ``kind`` "" for the default; in a kind's, None
    (and "") for a key left to the default."""

    kind: str
    rules: list[str] | None
    location_types: list[str] | None
    max_distance_km: str
    min_shelf_life_days: str
    fulfilment: str


@dataclass
class AllocationView:
    by: str
    default: RuleSet
    #: a rule set per kind: the kinds ``kinds`` offers (the values of the field ``by`` names),
    #: then any other kind the YAML writes
    kinds: list[RuleSet]


def kinds_of(document: CommentedMap, option_lists) -> dict[str, dict]:
    """The kinds a rule set may be written for: the choices of the field ``by`` names (written
    out on it or in the shared list it names, ``option_lists``: name → its choices), each with
    its label."""
    block = document.get("allocation")
    by = block.get("by") if isinstance(block, dict) else None
    field = next((f for f in document["fields"] if isinstance(f, dict) and f.get("name") == by),
                 None)  # fmt: skip
    options = field.get("options") if field else None
    if isinstance(options, str):
        options = option_lists.get(options)
    return {
        str(option["value"]): option.get("label") or {}
        for option in options or []
        if isinstance(option, dict) and "value" in option
    }


def view_of(document: CommentedMap, kinds: list[str]) -> AllocationView | None:
    """The form's allocation; None when it has none (or one the designer cannot read)."""
    block = document.get("allocation")
    if not isinstance(block, dict) or not isinstance(block.get("default"), dict):
        return None
    written = yaml_edit.mapping_of(block, "kinds")
    shown = [*kinds, *(str(kind) for kind in written if str(kind) not in kinds)]
    by = str(block.get("by") or "")
    return AllocationView(
        by=by, default=_set("", block["default"]),
        kinds=[_set(kind, written.get(kind) or {}) for kind in shown] if by else [],
    )  # fmt: skip


def _set(kind: str, raw) -> RuleSet:
    def names(key):
        return [str(name) for name in raw[key]] if isinstance(raw.get(key), list) else None

    return RuleSet(kind, names("rules"), names("location_types"),
                   yaml_edit.text_of(raw.get("max_distance_km")),
                   yaml_edit.text_of(raw.get("min_shelf_life_days")),
                   str(raw.get("fulfilment") or ""))  # fmt: skip


def update_set(text: str, kind: str, values) -> str:
    """The rule set of ``kind`` ("" for the default) from the designer's inputs: for a kind,
    ``own_rules`` / ``own_types`` say its rules or location kinds differ from the default's, an
    empty box or choice leaves a key to the default."""
    document = parse(text)
    block = document.get("allocation")
    if not isinstance(block, dict) or not isinstance(block.get("default"), dict):
        raise DesignRefused(_("The form allocates no orders; add its allocation in the YAML."))
    if not kind:
        _fill(block["default"], values, own_rules=True, own_types=True, default=True)
        return dump(document, text)
    kinds = block.get("kinds")
    if not isinstance(kinds, CommentedMap):
        kinds = CommentedMap()
    raw = kinds.get(kind) if isinstance(kinds.get(kind), CommentedMap) else CommentedMap()
    _fill(raw, _switched_on(raw, values, block["default"]), bool(values.get("own_rules")),
          bool(values.get("own_types")))  # fmt: skip
    yaml_edit.set_or_drop(kinds, kind, raw or None)
    yaml_edit.set_or_drop(block, "kinds", kinds or None, BLOCK_KEYS)
    return dump(document, text)


def _switched_on(raw: CommentedMap, values, default) -> MultiDict:
    """The inputs, where a kind's own rules or kinds of location were just switched on (its
    boxes were greyed out, so none came): the default's, to change from there."""
    values = MultiDict(values)
    for switch, key, start in [("own_rules", "rules", ()), ("own_types", "location_types",
                                                            LOCATION_TYPES)]:  # fmt: skip
        if values.get(switch) and key not in raw and not values.getlist(key):
            values.setlist(key, [str(name) for name in default.get(key) or start])
    return values


def _fill(raw: CommentedMap, values, own_rules: bool, own_types: bool, default=False) -> None:
    """Set a rule set's keys; in the default set, every kind of location ticked is what no
    list means, and stays unwritten."""
    rules = None
    if own_rules:
        rules = yaml_edit.ticked(raw.get("rules"), values.getlist("rules"), RULES)
        if not rules:
            raise DesignRefused(_("Tick at least one rule: the order's lines must go somewhere."),
                                "rules")  # fmt: skip
    yaml_edit.set_or_drop(raw, "rules", rules, SET_KEYS)
    types, chosen = None, values.getlist("location_types")
    if own_types and not (default and "location_types" not in raw and
                          set(chosen) == set(LOCATION_TYPES)):  # fmt: skip
        types = yaml_edit.ticked(raw.get("location_types"), chosen, LOCATION_TYPES)
        if not types:
            raise DesignRefused(_("Tick the kinds of location that may fill a line."),
                                "location_types")  # fmt: skip
    yaml_edit.set_or_drop(raw, "location_types", types, SET_KEYS)
    refusal = _("Enter the distance in kilometres, above 0, such as 200.")
    distance = yaml_edit.number(values.get("max_distance_km", ""), refusal, "max_distance_km")
    if distance is not None and float(distance) <= 0:
        raise DesignRefused(refusal, "max_distance_km")
    yaml_edit.set_or_drop(raw, "max_distance_km", distance, SET_KEYS)
    days = values.get("min_shelf_life_days", "").strip()
    if days and not days.isdigit():
        raise DesignRefused(_("Enter whole days, such as 180."), "min_shelf_life_days")
    yaml_edit.set_or_drop(raw, "min_shelf_life_days", int(days) if days else None, SET_KEYS)
    fulfilment = values.get("fulfilment", "").strip()
    if default and fulfilment == "transfer" and "fulfilment" not in raw:
        fulfilment = ""  # what no choice means: left unwritten
    if fulfilment and fulfilment not in FULFILMENTS:
        raise DesignRefused(_("Choose how a part filled elsewhere reaches the customer."),
                            "fulfilment")  # fmt: skip
    yaml_edit.set_or_drop(raw, "fulfilment", fulfilment or None, SET_KEYS)
