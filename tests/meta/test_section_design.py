"""The form designer's sections: added, named, ordered and removed in the YAML; a field placed
under one from its card; a section's fields kept in the form's order and in step with the fields'
renames, moves and removals — and a section the designer cannot read left to the YAML."""

from __future__ import annotations

import pytest

from app.meta import form_design, section_design
from app.meta.form_design import DesignRefused
from app.meta.yaml_edit import safe_load
from tests.meta.test_form_design import SMALL, as_shown

SECTIONED = (
    SMALL
    + """sections:
  # what the customer asked for
  - name: visit
    label: {zh_CN: 拜访, en: Visit}
    fields: [customer, kind]
  - name: notes
    label: {zh_CN: 备注, en: Notes}
    fields: [note]
"""
)


def sections_of(text: str) -> list[tuple[str, list[str]]]:
    return [(s["name"], s["fields"]) for s in safe_load(text).get("sections") or []]


def fields_of(text: str) -> dict[str, form_design.DesignedField]:
    _settings, fields = form_design.view(text)
    return {field.name: field for field in fields}


def placed(text: str, name: str, section: str) -> str:
    field = fields_of(text)[name]
    return form_design.update_field(text, field.path, as_shown(field) | {"section": section})


def test_each_field_shows_its_section_and_saved_unchanged_is_unchanged():
    fields = fields_of(SECTIONED)
    assert {name: field.section for name, field in fields.items()} == {
        "customer": "visit", "kind": "visit", "note": "notes", "lines": ""
    }  # fmt: skip
    for name in fields:
        assert placed(SECTIONED, name, fields[name].section) == SECTIONED
    for view in section_design.view_of(form_design.parse(SECTIONED)):
        shown = {"name": view.name, "label_zh": view.label_zh, "label_en": view.label_en}
        assert section_design.update_section(SECTIONED, view.path, shown) == SECTIONED


def test_sections_added_and_fields_placed_in_the_forms_order():
    text = section_design.add_section(SMALL, {"name": "basics", "label_zh": "基本信息"})
    text = section_design.add_section(text, {"name": "more", "label_en": "More"})
    assert text.endswith(
        "sections:\n  - name: basics\n    label: {zh_CN: 基本信息, en: 基本信息}\n    fields: []\n"
        "  - name: more\n    label: {zh_CN: More, en: More}\n    fields: []\n"
    )  # fmt: skip
    text = placed(text, "kind", "basics")
    text = placed(text, "customer", "basics")  # placed second, shown first: the form's order
    assert sections_of(text) == [("basics", ["customer", "kind"]), ("more", [])]
    assert "    fields: [customer, kind]\n" in text
    text = placed(text, "kind", "more")  # one section at a time
    text = placed(text, "customer", "")
    assert sections_of(text) == [("basics", []), ("more", ["kind"])]
    assert text.startswith(SMALL)  # the fields themselves untouched


def test_a_fields_rename_move_and_removal_follow_into_its_section():
    fields = fields_of(SECTIONED)
    renamed = form_design.update_field(
        SECTIONED, fields["kind"].path, as_shown(fields["kind"]) | {"name": "visit_kind"}
    )
    assert sections_of(renamed)[0] == ("visit", ["customer", "visit_kind"])
    moved = form_design.move_field(renamed, fields["kind"].path, -2)  # now before customer
    assert sections_of(moved)[0] == ("visit", ["visit_kind", "customer"])
    assert "  # what the customer asked for\n" in moved  # the section's comment kept
    removed = form_design.remove_field(moved, fields_of(moved)["customer"].path)
    assert sections_of(removed) == [("visit", ["visit_kind"]), ("notes", ["note"])]
    assert "name: customer" not in removed


def test_a_line_fields_changes_leave_the_sections_alone():
    path = fields_of(SECTIONED)["lines"].fields[0].path
    added = form_design.add_field(SECTIONED, fields_of(SECTIONED)["lines"].path,
                                  {"name": "note", "type": "text"})  # fmt: skip
    assert sections_of(form_design.remove_field(added, path)) == sections_of(SECTIONED)


def test_sections_named_ordered_and_removed():
    text = section_design.update_section(SECTIONED, "1", {"name": "remarks", "label_zh": "说明",
                                                          "label_en": "Remarks"})  # fmt: skip
    assert "  - name: remarks\n    label: {zh_CN: 说明, en: Remarks}\n    fields: [note]\n" in text
    text = section_design.move_section(text, "1", -1)
    assert [name for name, _fields in sections_of(text)] == ["remarks", "visit"]
    text = section_design.remove_section(text, "0")
    assert sections_of(text) == [("visit", ["customer", "kind"])]
    assert fields_of(text)["note"].section == ""  # shown after the sections, not lost
    assert "sections" not in safe_load(section_design.remove_section(text, "0"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda: section_design.add_section(SECTIONED, {"name": "visit"}), "name"),
        (lambda: section_design.add_section(SECTIONED, {"name": "Visit Notes"}), "name"),
        (lambda: section_design.update_section(SECTIONED, "0", {"name": "notes"}), "name"),
        (lambda: section_design.update_section(SECTIONED, "7", {"name": "x"}), None),
        (lambda: placed(SECTIONED, "note", "nowhere"), "section"),
    ],
)
def test_a_change_it_cannot_make_is_refused_on_its_input(change, field):
    with pytest.raises(DesignRefused) as refused:
        change()
    assert refused.value.field == field


def test_sections_the_designer_cannot_read_are_the_yamls():
    text = SMALL + "sections: {visit: [customer]}\n"
    assert section_design.view_of(form_design.parse(text)) is None
    with pytest.raises(DesignRefused, match="in the YAML"):
        section_design.add_section(text, {"name": "more"})
    assert fields_of(text)["customer"].section == ""


def test_a_field_added_under_a_section_is_placed_in_the_forms_order():
    dated = {"name": "visit_date", "type": "date", "section": "visit", "after": "customer"}
    added = form_design.add_field(SECTIONED, "", dated)
    assert sections_of(added)[0] == ("visit", ["customer", "visit_date", "kind"])
    at_end = form_design.add_field(SECTIONED, "", {"name": "rating", "type": "integer",
                                                   "section": "notes"})  # fmt: skip
    assert sections_of(at_end)[1] == ("notes", ["note", "rating"])
    with pytest.raises(DesignRefused) as refused:
        form_design.add_field(SECTIONED, "", {"name": "x", "type": "text", "section": "nowhere"})
    assert refused.value.field == "section"
