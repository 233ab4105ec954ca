"""The settings designer's changes to ``settings.yaml``: the navigation bar's menus — named,
labelled, ordered, added and removed — and the replenishment plan's knobs, set in a form.

Each change is made to the text being edited (``yaml_edit``), so the preview, the checks (a menu
a form names cannot go) and the version diff work as for a typed change. Menus are addressed by
position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _
from app.meta import yaml_edit
from app.meta.yaml_edit import DesignRefused

#: The replenishment knobs: (smallest, largest) whole numbers; the reserve is a quantity.
KNOBS = {"sales_days": (1, 365), "cover_days": (0, 365), "transfer_days": (0, 90)}
RESERVE = "warehouse_reserve"
SETTINGS_KEYS = ("menus", "replenishment")


@dataclass
class Menu:
    path: str
    name: str
    label_zh: str
    label_en: str


@dataclass
class SettingsView:
    menus: list[Menu]
    #: knob → its value as written ("" when the plan's default applies)
    knobs: dict[str, str]


def parse(text: str) -> CommentedMap:
    document = yaml_edit.parse(text, _("The YAML is not the settings: it must be a mapping."))
    if not isinstance(document.get("menus"), CommentedSeq):
        yaml_edit.set_or_drop(document, "menus", CommentedSeq(), SETTINGS_KEYS)
    return document


def view(text: str) -> SettingsView:
    document = parse(text)
    menus = [
        Menu(str(index), str(raw.get("name", "")), *yaml_edit.label_of(raw))
        for index, raw in enumerate(document["menus"])
        if isinstance(raw, dict)
    ]
    knobs = document.get("replenishment") or {}
    shown = {
        knob: "" if knobs.get(knob) is None else str(knobs[knob]) for knob in [*KNOBS, RESERVE]
    }
    return SettingsView(menus, shown)


def update_knobs(text: str, values: Mapping[str, str]) -> str:
    """The replenishment plan's knobs; one left empty takes the plan's default."""
    document = parse(text)
    knobs = document.get("replenishment")
    if not isinstance(knobs, CommentedMap):
        knobs = CommentedMap()
    for knob, (smallest, largest) in KNOBS.items():
        value = values.get(knob, "").strip()
        if value and (not value.isdigit() or not smallest <= int(value) <= largest):
            raise DesignRefused(_("Enter a whole number from %(low)s to %(high)s.", low=smallest,
                                  high=largest), knob)  # fmt: skip
        yaml_edit.set_or_drop(knobs, knob, int(value) if value else None, (*KNOBS, RESERVE))
    yaml_edit.set_or_drop(knobs, RESERVE, _reserve(values.get(RESERVE, "")), (*KNOBS, RESERVE))
    yaml_edit.set_or_drop(document, "replenishment", knobs or None, SETTINGS_KEYS)
    return yaml_edit.dump(document, text)


def update_menu(text: str, path: str, values: Mapping[str, str]) -> str:
    document = parse(text)
    menus, index = _locate(document, path)
    name = _name(values.get("name", ""), menus, index)
    yaml_edit.set_or_drop(menus[index], "name", name, ("name", "label"))
    yaml_edit.set_label(menus[index], "label", values.get("label_zh", ""),
                        values.get("label_en", ""), name, ("name", "label"))  # fmt: skip
    return yaml_edit.dump(document, text)


def add_menu(text: str, values: Mapping[str, str]) -> str:
    document = parse(text)
    menus = document["menus"]
    menu = CommentedMap(name=_name(values.get("name", ""), menus, None))
    yaml_edit.set_label(menu, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        menu["name"])  # fmt: skip
    menus.append(yaml_edit.flow(menu))  # one line per menu, as settings.yaml writes them
    return yaml_edit.dump(document, text)


def move_menu(text: str, path: str, step: int) -> str:
    document = parse(text)
    return yaml_edit.moved(document, *_locate(document, path), step, text)


def remove_menu(text: str, path: str) -> str:
    """Remove a menu (the check refuses it while a form names it)."""
    document = parse(text)
    menus, index = _locate(document, path)
    del menus[index]
    return yaml_edit.dump(document, text)


def _reserve(value: str):
    value = value.strip()
    if not value:
        return None
    try:
        exact = Decimal(value)
    except InvalidOperation:
        exact = Decimal(-1)
    if not exact.is_finite() or exact < 0:
        raise DesignRefused(_("Enter a quantity of 0 or more."), RESERVE)
    return int(exact) if exact == exact.to_integral_value() else float(value)


def _name(name: str, menus: CommentedSeq, index: int | None) -> str:
    return yaml_edit.new_name(name, yaml_edit.names_in(menus, index))


def _locate(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    stale = _("That menu is no longer where the designer saw it; look again and repeat.")
    return document["menus"], yaml_edit.at(document["menus"], path, stale)
