"""The visual designer's changes to a form's YAML: each changes what it says and nothing else —
comments, key order, quoting and wrapped lines elsewhere stay as the admin wrote them — and a
change it cannot make is refused on the input it concerns, leaving the text alone."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import form_design
from app.meta.form_design import DesignRefused
from app.meta.yaml_edit import safe_load

FORMS = Path(__file__).resolve().parents[2] / "metadata" / "forms"
RECEIPT = (FORMS / "purchase_receipt.yaml").read_text(encoding="utf-8")

SMALL = """# a comment the designer must keep
name: visit
label: {zh_CN: 拜访, en: Visit}
fields:
  - name: customer
    type: link
    link: customer
    label: {zh_CN: 客户, en: Customer}
  # why this field exists
  - name: note
    type: text
    label: {zh_CN: 备注, en: Note}
    help: {zh_CN: 一句话,
           en: "One sentence: what was agreed"}
  - name: kind
    type: select
    label: {zh_CN: 类型, en: Kind}
    options:
      - {value: call, label: {zh_CN: 电话, en: Call}}
  - name: lines
    type: table
    label: {zh_CN: 明细, en: Lines}
    fields:
      - name: item
        type: link
        link: item
        label: {zh_CN: 商品, en: Item}
"""


def as_shown(field: form_design.DesignedField) -> dict[str, str]:
    """The inputs the designer sends for ``field`` when nothing was changed."""
    keys = ("name", "type", "label_zh", "label_en", "help_zh", "help_en", "options", "link",
            "formula", "link_filter", "default", "default_expr", "required_if", "visible_if",
            "min", "max")  # fmt: skip
    values = {key: getattr(field, key) for key in keys}
    values |= {f"fill_{part}": target for part, target in field.fills.items()}
    values |= {switch: "1" for switch in form_design.SWITCHES if getattr(field, switch)}
    return values | more_shown(field)


def more_shown(field: form_design.DesignedField) -> dict[str, str]:
    """The "More" inputs the designer draws for ``field``'s type, as they are sent."""
    if field.type == "table":
        return {}
    values = {"more": "1"} | {s: "1" for s in form_design.MORE_SWITCHES if getattr(field, s)}
    if field.type in ("text", "long_text", "barcode"):
        values |= {"max_length": field.max_length, "pattern": field.pattern}
    if field.type in ("decimal", "money", "percent", "formula"):
        values["scale"] = field.scale
    if field.type == "link":
        values["link_scope"] = field.link_scope
    return values


def with_choices(field: form_design.DesignedField, *rows) -> MultiDict:
    """``field``'s inputs with its written-out choices' rows (value, Chinese, English)."""
    values = MultiDict(as_shown(field))
    for value, zh, en in rows:
        values.add("choice_value", value)
        values.add("choice_zh", zh)
        values.add("choice_en", en)
    return values


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


def every_field(fields):
    for field in fields:
        yield field
        yield from every_field(field.fields)


@pytest.mark.parametrize("path", sorted(FORMS.glob("*.yaml")), ids=lambda path: path.stem)
def test_saving_every_shipped_field_unchanged_leaves_the_text_as_it_was(path):
    text = path.read_text(encoding="utf-8")
    for field in every_field(form_design.outline(text)):
        assert form_design.update_field(text, field.path, as_shown(field)) == text, field.path


def test_the_outline_shows_what_the_designer_edits_and_names_the_rest():
    fields = form_design.outline(RECEIPT)
    assert [field.name for field in fields[:4]] == [
        "location", "supplier", "purchase_order", "arrival_date"
    ]  # fmt: skip
    arrival = fields[3]
    assert (arrival.path, arrival.type, arrival.label_zh, arrival.required) == (
        "3", "date", "到货日期", True
    )  # fmt: skip
    assert (arrival.default_expr, arrival.other_keys) == ("today()", [])
    assert fields[2].link_filter == "state == 'approved' or state == 'closed'"
    transport = fields[4]
    assert (transport.options, transport.required_if) == (
        "transport_modes", "count(lines, 'cold_chain', True) > 0"
    )  # fmt: skip
    lines = fields[6]
    assert lines.type == "table" and lines.fields[5].path == "6.5"
    assert (lines.fields[5].name, lines.fields[5].min) == ("quantity", "0.0001")


def test_a_change_touches_its_field_only_and_keeps_comments_and_wrapped_lines():
    after = form_design.update_field(
        SMALL, "1", as_shown(form_design.outline(SMALL)[1]) | {"label_zh": "拜访备注"}
    )
    assert changed_lines(SMALL, after) == [
        "-    label: {zh_CN: 备注, en: Note}",
        "+    label: {zh_CN: 拜访备注, en: Note}",
    ]
    assert "# a comment the designer must keep" in after and "# why this field exists" in after
    assert '           en: "One sentence: what was agreed"}' in after  # still wrapped


def test_new_keys_go_in_their_place_and_empty_ones_go():
    customer = as_shown(form_design.outline(SMALL)[0])
    after = form_design.update_field(
        SMALL, "0",
        customer | {"help_zh": "谁", "required": "1", "hidden": "1",
                    "visible_if": "kind == 'call'"},
    )  # fmt: skip
    assert changed_lines(SMALL, after) == [
        "+    help: {zh_CN: 谁, en: 谁}",  # one language given serves for both
        "+    required: true",
        "+    hidden: true",
        "+    visible_if: kind == 'call'",
    ]
    assert after.index("help:") > after.index("label: {zh_CN: 客户")
    back = form_design.update_field(after, "0", customer)
    assert back == SMALL


def test_help_and_bounds():
    note = as_shown(form_design.outline(SMALL)[1])
    without_help = form_design.update_field(SMALL, "1", note | {"help_zh": "", "help_en": ""})
    assert "help" not in without_help and "One sentence" not in without_help
    item = as_shown(form_design.outline(SMALL)[3].fields[0])
    bounded = form_design.update_field(SMALL, "3.0", item | {"min": "-90", "max": "0.5"})
    assert "        min: -90\n        max: 0.5\n" in bounded
    with pytest.raises(DesignRefused) as refused:
        form_design.update_field(SMALL, "3.0", item | {"max": "8 °C"})
    assert refused.value.field == "max"


def test_written_out_choices_are_left_to_the_yaml():
    kind = form_design.outline(SMALL)[2]
    assert kind.inline_options and kind.options == ""
    after = form_design.update_field(SMALL, "2", as_shown(kind) | {"label_en": "Type"})
    assert "      - {value: call, label: {zh_CN: 电话, en: Call}}" in after


@pytest.mark.parametrize(
    ("name", "message"),
    [("Note", "lower_snake_case"), ("9note", "lower_snake_case"), ("customer", "already has")],
)
def test_a_bad_or_taken_name_is_refused_on_the_name(name, message):
    note = as_shown(form_design.outline(SMALL)[1])
    with pytest.raises(DesignRefused, match=message) as refused:
        form_design.update_field(SMALL, "1", note | {"name": name})
    assert refused.value.field == "name"


def test_a_field_is_added_at_the_end_of_the_form_or_of_a_table():
    after = form_design.add_field(
        SMALL, "", {"name": "mode", "type": "select", "options": "transport_modes",
                    "label_zh": "方式：送货", "label_en": "Mode", "required": "1"},
    )  # fmt: skip
    added = form_design.outline(after)[-1]
    assert (added.name, added.options, added.label_zh, added.required) == (
        "mode", "transport_modes", "方式：送货", True
    )  # fmt: skip
    assert "label: {zh_CN: '方式：送货', en: Mode}" in after or "方式：送货" in after
    in_table = form_design.add_field(SMALL, "3", {"name": "quantity", "type": "decimal"})
    quantity = form_design.outline(in_table)[3].fields[-1]
    assert (quantity.path, quantity.label_zh, quantity.label_en) == ("3.1", "quantity", "quantity")
    rows = {"name": "rows", "type": "table", "label_zh": "行"}
    table = form_design.outline(form_design.add_field(SMALL, "", rows))[-1]
    assert [field.name for field in table.fields] == ["note"]  # a table needs a field


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "mode", "type": "select"}, "options"),
        ({"name": "who", "type": "link"}, "link"),
        ({"name": "note", "type": "text"}, "name"),
        ({"name": "", "type": "text"}, "name"),
    ],
)
def test_an_incomplete_new_field_is_refused_on_what_is_missing(values, field):
    with pytest.raises(DesignRefused) as refused:
        form_design.add_field(SMALL, "", values)
    assert refused.value.field == field


def test_fields_are_added_to_tables_only():
    with pytest.raises(DesignRefused, match="only be added to a table"):
        form_design.add_field(SMALL, "0", {"name": "x", "type": "text"})


def test_moving_and_removing():
    down = form_design.move_field(SMALL, "0", 1)
    assert [field.name for field in form_design.outline(down)] == ["note", "customer", "kind",
                                                                   "lines"]  # fmt: skip
    assert form_design.move_field(SMALL, "0", -1) == SMALL  # the first stays first
    assert form_design.move_field(SMALL, "3", 1) == SMALL  # the last stays last
    removed = form_design.remove_field(SMALL, "2")
    assert [field.name for field in form_design.outline(removed)] == ["customer", "note", "lines"]
    assert "value: call" not in removed
    with pytest.raises(DesignRefused, match="at least one field"):
        form_design.remove_field(SMALL, "3.0")


@pytest.mark.parametrize("path", ["9", "3.4", "x", "0.0", ""])
def test_a_field_no_longer_there_is_refused(path):
    with pytest.raises(DesignRefused, match="no longer where"):
        form_design.move_field(SMALL, path, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [("name: x\nfields: [\n", "does not parse at line 3"), ("- a\n- b\n", "not a form")],
)
def test_a_text_that_is_not_a_form_is_refused(text, message):
    with pytest.raises(DesignRefused, match=message):
        form_design.outline(text)


def test_a_form_without_fields_gets_its_first():
    after = form_design.add_field("name: x\nlabel: {zh_CN: 甲, en: X}\n", "",
                                  {"name": "note", "type": "text"})  # fmt: skip
    assert [field.name for field in form_design.outline(after)] == ["note"]


def test_a_moved_or_removed_field_takes_its_own_comment_and_leaves_the_others():
    up = form_design.move_field(SMALL, "1", -1)
    assert up.index("# why this field exists") < up.index("name: note") < up.index("name: customer")
    assert sorted(up.splitlines()) == sorted(SMALL.splitlines())  # the same lines, reordered
    receipt = form_design.remove_field(RECEIPT, "3")  # arrival_date, above a commented field
    assert changed_lines(RECEIPT, receipt) == [
        "-  - name: arrival_date", "-    type: date",
        "-    label: {zh_CN: 到货日期, en: Arrival date}", "-    required: true",
        "-    default_expr: today()", "-    validate:", "-      - expr: arrival_date <= today()",
        "-        message: {zh_CN: 到货日期不能晚于今天, en: The arrival date cannot be after today}",  # noqa: E501
    ]  # fmt: skip
    last = form_design.move_field(RECEIPT, str(len(form_design.outline(RECEIPT)) - 1), -1)
    assert last.rstrip().endswith(RECEIPT.rstrip().split("\n")[-1])  # what follows stays last
    assert "# once inspected, what was accepted is owed to the supplier" in last


def test_a_flow_style_list_is_changed_too():
    text = "name: x\nlabel: {zh_CN: 甲, en: X}\nfields: [{name: a, type: text, label: {zh_CN: a, en: a}},\n  {name: b, type: text, label: {zh_CN: b, en: b}}]\n"  # noqa: E501
    assert [field.name for field in form_design.outline(form_design.move_field(text, "1", -1))] == [
        "b", "a"
    ]  # fmt: skip
    removed = form_design.remove_field(text, "0")
    assert [field.name for field in form_design.outline(removed)] == ["b"]


def test_a_scan_field_fills_the_fields_beside_it():
    added = form_design.add_field(RECEIPT, "6", {"name": "rescan", "type": "udi",
                                                 "label_zh": "复扫"})  # fmt: skip
    rescan = form_design.outline(added)[6].fields[-1]
    assert rescan.fills == {"item": "item", "lot": "lot", "expiry_date": "expiry_date",
                            "serial": "serial"}  # fmt: skip
    assert "fills: {item: item, lot: lot, expiry_date: expiry_date, serial: serial}" in added
    values = as_shown(rescan) | {"fill_serial": ""}
    fewer = form_design.update_field(added, rescan.path, values)
    assert form_design.outline(fewer)[6].fields[-1].fills == {
        "item": "item", "lot": "lot", "expiry_date": "expiry_date"
    }  # fmt: skip
    with pytest.raises(DesignRefused) as refused:
        form_design.update_field(added, rescan.path, values | {"fill_gtin": "no_such_field"})
    assert refused.value.field == "fills"
    plain = form_design.update_field(added, rescan.path, as_shown(rescan) | {"type": "text"})
    assert "fills" not in plain.split("name: rescan")[1]  # a text field fills nothing


def test_a_formula_is_written_as_typed_and_needed():
    lines = form_design.outline(RECEIPT)[6]
    cold = next(field for field in lines.fields if field.type == "formula")
    changed = form_design.update_field(
        RECEIPT, cold.path, as_shown(cold) | {"formula": "lookup(item, 'cold') == True"}
    )
    assert "        formula: lookup(item, 'cold') == True\n" in changed
    with pytest.raises(DesignRefused) as refused:
        form_design.update_field(RECEIPT, cold.path, as_shown(cold) | {"formula": " "})
    assert refused.value.field == "formula"
    as_number = form_design.update_field(RECEIPT, cold.path, as_shown(cold) | {"type": "decimal"})
    assert "lookup(item, 'storage_condition')" not in as_number
    with pytest.raises(DesignRefused) as refused:
        form_design.add_field(SMALL, "", {"name": "total", "type": "formula"})
    assert refused.value.field == "formula"
    total = form_design.add_field(SMALL, "", {"name": "total", "type": "formula",
                                              "formula": "count(lines)"})  # fmt: skip
    assert form_design.outline(total)[-1].formula == "count(lines)"


MENUS = ["purchasing", "sales", "stock", "quality"]


def test_the_form_itself_is_renamed_moved_to_a_menu_and_numbered():
    shown = form_design.settings(RECEIPT)
    assert (shown.label_zh, shown.menu, shown.numbering) == (
        "采购入库", "purchasing", "PR-{location.code}-{yyyyMM}-{seq:05}"
    )  # fmt: skip
    after = form_design.update_form(
        RECEIPT, vars(shown) | {"label_zh": "到货入库", "menu": "stock"}, MENUS
    )
    assert changed_lines(RECEIPT, after) == [
        "-label: {zh_CN: 采购入库, en: Purchase receipt}",
        "-menu: purchasing",
        "+label: {zh_CN: 到货入库, en: Purchase receipt}",
        "+menu: stock",
    ]
    own_entry = form_design.update_form(RECEIPT, vars(shown) | {"menu": ""}, MENUS)
    assert "\nmenu:" not in own_entry
    for changes, field in (
        ({"menu": "nowhere"}, "menu"),
        ({"numbering": "PR-{yyyy}"}, "numbering"),
    ):
        with pytest.raises(DesignRefused) as refused:
            form_design.update_form(RECEIPT, vars(shown) | changes, MENUS)
        assert refused.value.field == field


def rules(*rows) -> MultiDict:
    values = MultiDict()
    for expr, zh, en in rows:
        values.add("rule_expr", expr)
        values.add("rule_zh", zh)
        values.add("rule_en", en)
    return values


def test_checks_are_added_changed_and_removed_row_by_row():
    note = form_design.outline(SMALL)[1]
    shown = MultiDict(as_shown(note))
    shown.update(rules(("", "", "")))  # the designer's empty row for a new check
    assert form_design.update_field(SMALL, "1", shown) == SMALL
    added = MultiDict(as_shown(note))
    added.update(rules(("len(note) <= 200", "备注不超过 200 字", ""), ("", "", "")))
    after = form_design.update_field(SMALL, "1", added)
    assert "    validate:\n      - expr: len(note) <= 200\n" in after
    assert "        message: {zh_CN: 备注不超过 200 字, en: 备注不超过 200 字}\n" in after
    noted = form_design.outline(after)[1]
    assert noted.rules == [("len(note) <= 200", "备注不超过 200 字", "备注不超过 200 字")]
    kept = MultiDict(as_shown(noted))
    kept.update(rules(*noted.rules, ("", "", "")))
    assert form_design.update_field(after, "1", kept) == after
    cleared = MultiDict(as_shown(noted))
    cleared.update(rules(("", "备注不超过 200 字", ""), ("", "", "")))
    assert form_design.update_field(after, "1", cleared) == SMALL
    silent = MultiDict(as_shown(note))
    silent.update(rules(("note != ''", "", "")))
    with pytest.raises(DesignRefused) as refused:
        form_design.update_field(SMALL, "1", silent)
    assert refused.value.field == "validate"


@pytest.mark.parametrize("path", sorted(FORMS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_check_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    for field in every_field(form_design.outline(text)):
        values = MultiDict(as_shown(field))
        values.update(rules(*field.rules, ("", "", "")))
        assert form_design.update_field(text, field.path, values) == text, field.path


def test_a_default_and_a_link_filter_are_set_and_cleared():
    customer = form_design.outline(SMALL)[0]
    values = as_shown(customer) | {"default_expr": "user_location()", "link_filter": "active"}
    after = form_design.update_field(SMALL, "0", values)
    assert "    link_filter: active\n" in after and "    default_expr: user_location()\n" in after
    assert form_design.update_field(after, "0", as_shown(customer)) == SMALL


def test_a_literal_default_is_typed_for_its_field():
    text = (FORMS / "item_master.yaml").read_text(encoding="utf-8")
    fields = {field.name: field for field in form_design.outline(text)}
    shown = {
        n: fields[n].default for n in ("unit_of_measure", "expiry_required", "temperature_min")
    }
    assert shown == {"unit_of_measure": "EA", "expiry_required": "true", "temperature_min": "2"}
    switch = fields["expiry_required"]
    changed = form_design.update_field(text, switch.path, as_shown(switch) | {"default": "false"})
    assert changed_lines(text, changed) == ["-    default: true", "+    default: false"]
    low = fields["temperature_min"]
    colder = form_design.update_field(text, low.path, as_shown(low) | {"default": "-2.5"})
    assert changed_lines(text, colder) == ["-    default: 2", '+    default: "-2.5"']  # exact
    unit = fields["unit_of_measure"]
    assert "default: EA" not in form_design.update_field(
        text, unit.path, as_shown(unit) | {"default": ""}
    )
    for name, typed, says in (("expiry_required", "maybe", "true or false"),
                              ("temperature_min", "cold", "starting number")):  # fmt: skip
        with pytest.raises(DesignRefused) as refused:
            form_design.update_field(text, fields[name].path, as_shown(fields[name]) |
                                     {"default": typed})  # fmt: skip
        assert refused.value.field == "default" and says in str(refused.value)


@pytest.mark.parametrize("path", sorted(FORMS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_fields_choices_saved_unchanged_are_unchanged(path):
    text = path.read_text(encoding="utf-8")
    for field in [f for top in form_design.outline(text) for f in (top, *top.fields)]:
        if field.choices is not None:
            values = with_choices(field, *field.choices, ("", "", ""))  # and the empty new row
            assert form_design.update_field(text, field.path, values) == text, field.name


def test_written_out_choices_are_relabelled_added_and_removed():
    scrap = (FORMS / "scrap.yaml").read_text(encoding="utf-8")
    method = {f.name: f for f in form_design.outline(scrap)}["destruction_method"]
    assert method.choices[0] == ("incineration", "焚烧", "Incineration")
    rows = [*method.choices[:2], ("landfill", "填埋", "Landfill"), method.choices[3]]
    rows[1] = ("crushing", "粉碎", "Crushing")
    changed = form_design.update_field(scrap, method.path, with_choices(method, *rows))
    assert changed_lines(scrap, changed) == [
        "-      - {value: crushing, label: {zh_CN: 粉碎毁形, en: Crushing}}",
        "-      - {value: medical_waste, label: {zh_CN: 交医疗废物处置单位, en: Medical-waste "
        "contractor}}",
        "+      - {value: crushing, label: {zh_CN: 粉碎, en: Crushing}}",
        "+      - {value: landfill, label: {zh_CN: 填埋, en: Landfill}}",
    ]
    for rows, says in (([("a", "甲", "A"), ("a", "乙", "B")], "twice"),
                       ([("", "", "")], "at least one")):  # fmt: skip
        with pytest.raises(DesignRefused) as refused:
            form_design.update_field(scrap, method.path, with_choices(method, *rows))
        assert refused.value.field == "options" and says in str(refused.value)


def test_a_field_is_added_where_it_belongs_and_a_select_may_bring_its_own_choices():
    phone = {"name": "phone", "type": "text", "label_zh": "电话", "after": "customer"}
    placed = form_design.add_field(SMALL, "", phone)
    assert placed.index("name: customer") < placed.index("name: phone")
    assert placed.index("name: phone") < placed.index("# why this field exists")  # stays on note
    assert changed_lines(SMALL, placed) == [
        "+  - name: phone", "+    type: text", "+    label: {zh_CN: 电话, en: 电话}"
    ]  # fmt: skip
    last = form_design.add_field(SMALL, "", {"name": "phone", "type": "text", "after": "lines"})
    assert last.endswith("  - name: phone\n    type: text\n    label: {zh_CN: phone, en: phone}\n")
    in_line = form_design.add_field(SMALL, "3", {"name": "lot", "type": "lot", "after": "item"})
    assert [f.name for f in form_design.outline(in_line)[3].fields] == ["item", "lot"]
    own = form_design.add_field(SMALL, "", {"name": "mood", "type": "select", "options": "-"})
    mood = form_design.outline(own)[-1]
    assert mood.choices == [("choice_1", "选项一", "Choice one")]
    assert (
        "    options:\n      - {value: choice_1, label: {zh_CN: 选项一, en: Choice one}}\n" in own
    )


def test_length_places_pattern_uniqueness_and_reach_are_set_under_more():
    text = (FORMS / "supplier.yaml").read_text(encoding="utf-8")
    code = {f.name: f for f in form_design.outline(text)}["code"]
    assert code.unique and code.max_length
    loose = as_shown(code) | {"unique": "", "max_length": "20", "pattern": "^[A-Z0-9]+$"}
    del loose["unique"]
    changed = form_design.update_field(text, code.path, loose)
    after = {f.name: f for f in form_design.outline(changed)}["code"]
    assert (after.unique, after.max_length, after.pattern) == (False, "20", "^[A-Z0-9]+$")
    for key, typed in (("max_length", "0"), ("max_length", "long")):
        with pytest.raises(DesignRefused) as refused:
            form_design.update_field(text, code.path, as_shown(code) | {key: typed})
        assert refused.value.field == key and "whole number from 1" in str(refused.value)


def test_a_field_records_hold_values_in_keeps_its_name():
    """A record keeps a value under its field's name: renamed, the field would show none."""
    _settings, fields = form_design.view(SMALL)
    note, item = fields[1], fields[3].fields[0]
    asked = []

    def held(path):
        asked.append(path)
        return {"note": 12, "lines.item": 3}.get(path, 0)

    with pytest.raises(DesignRefused) as refused:
        form_design.update_field(SMALL, note.path, as_shown(note) | {"name": "remark"}, held)
    assert refused.value.field == "name" and "12 records hold values in note" in str(refused.value)
    with pytest.raises(DesignRefused):
        form_design.update_field(SMALL, item.path, as_shown(item) | {"name": "product"}, held)
    assert asked == ["note", "lines.item"]
    relabelled = as_shown(note) | {"label_zh": "说明"}  # the label changes freely
    assert "label: {zh_CN: 说明, en: Note}" in form_design.update_field(SMALL, note.path,
                                                                      relabelled, held)  # fmt: skip
    kind = fields[2]  # no record holds one: renamed
    renamed = form_design.update_field(SMALL, kind.path, as_shown(kind) | {"name": "sort"}, held)
    assert "  - name: sort\n" in renamed


@pytest.mark.parametrize("path", sorted(FORMS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_forms_settings_saved_unchanged_are_unchanged(path):
    text = path.read_text(encoding="utf-8")
    shown = form_design.settings(text)
    menus = [shown.menu] if shown.menu else []
    values = vars(shown) | {"kind": shown.kind or "document"}  # as the designer sends it
    assert form_design.update_form(text, values, menus) == text


def test_a_forms_description_kind_and_location_field():
    shown = form_design.settings(SMALL)
    assert (shown.kind, shown.location_field, shown.location_fields) == ("", "", [])
    described = form_design.update_form(
        SMALL, vars(shown) | {"description_zh": "客户拜访记录", "kind": "master"}, []
    )
    assert "kind: master\n" in described
    assert safe_load(described)["description"] == {"zh_CN": "客户拜访记录", "en": "客户拜访记录"}
    receipt = form_design.settings(RECEIPT)
    assert receipt.location_field == "location" and receipt.location_fields == ["location"]
    unscoped = form_design.update_form(RECEIPT, vars(receipt) | {"location_field": ""}, MENUS)
    assert "location_field" not in safe_load(unscoped)
    refusals = (({"kind": "ledger"}, "kind"), ({"location_field": "supplier"}, "location_field"),
                ({"period_date": "supplier"}, "period_date"))  # fmt: skip
    for changes, field in refusals:
        with pytest.raises(DesignRefused) as refused:
            form_design.update_form(RECEIPT, vars(receipt) | changes, MENUS)
        assert refused.value.field == field


def test_a_documents_period_date_is_one_of_its_date_fields():
    shown = form_design.settings(RECEIPT)
    assert shown.period_date == "arrival_date"
    assert {"arrival_date", "due_date"} <= set(shown.period_dates)
    dated = form_design.update_form(RECEIPT, vars(shown) | {"period_date": "due_date"}, MENUS)
    assert safe_load(dated)["period_date"] == "due_date"
    undated = form_design.update_form(dated, vars(shown) | {"period_date": ""}, MENUS)
    assert "period_date" not in safe_load(undated)
    added = form_design.update_form(undated, vars(shown), MENUS)  # written where it was
    assert added.index("period_date:") > added.index("location_field:")
