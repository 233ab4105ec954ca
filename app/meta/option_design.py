"""The option-list designer's changes to a shared option list (数据字典): its choices edited as a
table — value, Chinese and English label — added, ordered and removed, never typed as YAML.

Each change is made to the text being edited (``yaml_edit``), so the preview (the choices and
every field offering them), the checks (a value records hold is not dropped) and the version diff
work as for a typed change. Choices are addressed by position (``"2"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _
from app.meta import yaml_edit
from app.meta.yaml_edit import DesignRefused

OPTION_KEYS = ("value", "label")


@dataclass
class Choice:
    path: str
    value: str
    label_zh: str
    label_en: str


@dataclass
class OptionListView:
    label_zh: str
    label_en: str
    choices: list[Choice]


def parse(text: str) -> CommentedMap:
    document = yaml_edit.parse(text, _("The YAML is not an option list: it must map options:."))
    if not isinstance(document.get("options"), CommentedSeq):
        document["options"] = CommentedSeq()
    return document


def view(text: str) -> OptionListView:
    document = parse(text)
    choices = [
        Choice(str(index), str(raw.get("value", "")), *yaml_edit.label_of(raw))
        for index, raw in enumerate(document["options"])
        if isinstance(raw, dict)
    ]
    return OptionListView(*yaml_edit.label_of(document), choices)


def update_list(text: str, values: Mapping[str, str]) -> str:
    """The list's own label."""
    document = parse(text)
    name = str(document.get("name", ""))
    zh, en = values.get("label_zh", ""), values.get("label_en", "")
    yaml_edit.set_label(document, "label", zh, en, name, ("name", "label", "options"))
    return yaml_edit.dump(document, text)


def update_choice(text: str, path: str, values: Mapping[str, str]) -> str:
    document = parse(text)
    choices, index = _locate(document, path)
    raw = choices[index]
    value = _value(values.get("value", ""), choices, index)
    yaml_edit.set_or_drop(raw, "value", value, OPTION_KEYS)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        str(value), OPTION_KEYS)  # fmt: skip
    return yaml_edit.dump(document, text)


def add_choice(text: str, values: Mapping[str, str]) -> str:
    document = parse(text)
    choices = document["options"]
    value = _value(values.get("value", ""), choices, None)
    raw = CommentedMap(value=value)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        str(value))  # fmt: skip
    choices.append(yaml_edit.flow(raw))  # one line per choice, as the shipped lists write them
    return yaml_edit.dump(document, text)


def move_choice(text: str, path: str, step: int) -> str:
    document = parse(text)
    return yaml_edit.moved(document, *_locate(document, path), step, text)


def remove_choice(text: str, path: str) -> str:
    """Remove a choice (the publish refuses it while records hold its value)."""
    document = parse(text)
    last = _("A list keeps at least one choice.")
    return yaml_edit.removed(document, *_locate(document, path), text, last)


def _value(value: str, choices: CommentedSeq, index: int | None):
    """A choice's stored value as typed: a whole number stays a number (as records hold it)."""
    value = value.strip()
    if not value:
        raise DesignRefused(_("Enter the value records store for this choice."), "value")
    stored = int(value) if value.isdigit() and isinstance(_current(choices, index), int) else value
    if any(other != index and isinstance(raw, dict) and str(raw.get("value")) == str(stored)
           for other, raw in enumerate(choices)):  # fmt: skip
        raise DesignRefused(_("Another choice already has the value %(value)s.", value=value),
                            "value")  # fmt: skip
    return stored


def _current(choices: CommentedSeq, index: int | None):
    if index is None:
        return next((raw.get("value") for raw in choices if isinstance(raw, dict)), None)
    return choices[index].get("value")


def _locate(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    stale = _("That choice is no longer where the designer saw it; look again and repeat.")
    return document["options"], yaml_edit.at(document["options"], path, stale)
