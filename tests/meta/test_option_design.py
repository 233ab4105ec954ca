"""The option-list designer's changes: each choice edited, added, moved or removed changes its
own line and nothing else; a value left empty or given twice is refused on the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta import option_design
from app.meta.yaml_edit import DesignRefused, safe_load

OPTIONS = Path(__file__).resolve().parents[2] / "metadata" / "options"
MODES = (OPTIONS / "transport_modes.yaml").read_text(encoding="utf-8")
NUMBERED = """name: priorities
label: {zh_CN: 优先级, en: Priorities}
options:
  - {value: 1, label: {zh_CN: 高, en: High}}
  - {value: 2, label: {zh_CN: 低, en: Low}}
"""


@pytest.mark.parametrize("path", sorted(OPTIONS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_choice_saved_unchanged_leaves_the_text_as_it_was(path):
    text = path.read_text(encoding="utf-8")
    listing = option_design.view(text)
    assert option_design.update_list(text, vars(listing)) == text
    for choice in listing.choices:
        assert option_design.update_choice(text, choice.path, vars(choice)) == text


def test_choices_are_changed_added_moved_and_removed_line_by_line():
    ambient = option_design.view(MODES).choices[3]
    relabelled = option_design.update_choice(MODES, "3", vars(ambient) | {"label_zh": "常温"})
    assert [line for line in relabelled.splitlines() if line not in MODES.splitlines()] == [
        "  - {value: ambient, label: {zh_CN: 常温, en: Ambient}}"
    ]  # fmt: skip
    added = option_design.add_choice(MODES, {"value": "air", "label_zh": "空运", "label_en": "Air"})
    assert added == MODES + "  - {value: air, label: {zh_CN: 空运, en: Air}}\n"
    moved = option_design.move_choice(MODES, "3", -1)
    assert [c.value for c in option_design.view(moved).choices] == [
        "refrigerated_vehicle", "cold_box", "ambient", "insulated_box"
    ]  # fmt: skip
    assert option_design.move_choice(MODES, "0", -1) == MODES
    removed = option_design.remove_choice(MODES, "0")
    assert "refrigerated_vehicle" not in removed and "# How goods travel" in removed


def test_a_numbered_list_keeps_its_numbers():
    added = option_design.add_choice(NUMBERED, {"value": "3", "label_zh": "中"})
    assert [choice["value"] for choice in safe_load(added)["options"]] == [1, 2, 3]


@pytest.mark.parametrize(("value", "message"), [("", "Enter the value"), ("cold_box", "already")])
def test_an_empty_or_taken_value_is_refused_on_the_value(value, message):
    with pytest.raises(DesignRefused, match=message) as refused:
        option_design.update_choice(MODES, "3", {"value": value, "label_zh": "常温"})
    assert refused.value.field == "value"
    with pytest.raises(DesignRefused, match=message):
        option_design.add_choice(MODES, {"value": value})


def test_the_last_choice_stays_and_a_stale_one_is_refused():
    single = (
        "name: x\nlabel: {zh_CN: 甲, en: X}\noptions:\n  - {value: a, label: {zh_CN: a, en: a}}\n"
    )
    with pytest.raises(DesignRefused, match="at least one choice"):
        option_design.remove_choice(single, "0")
    with pytest.raises(DesignRefused, match="no longer where"):
        option_design.remove_choice(MODES, "7")
