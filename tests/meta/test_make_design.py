"""The form designer's 参照生单: every shipped entry saved unchanged is unchanged; an entry is
added (its fields of the same name filled), labelled, limited to states, given values and lines,
ordered and removed; a change it cannot make is refused on its input."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import form_design, make_design
from app.meta.form_design import DesignRefused
from app.meta.yaml_edit import safe_load

FORMS = Path(__file__).resolve().parents[2] / "metadata" / "forms"
ORDER = (FORMS / "purchase_order.yaml").read_text(encoding="utf-8")


def form_fields(form: str) -> tuple[list[str], dict[str, list[str]]]:
    """A shipped form's fields a made record may be given (not tables, not formulas), and its
    tables with theirs."""
    fields = safe_load((FORMS / f"{form}.yaml").read_text(encoding="utf-8"))["fields"]
    tables = {
        f["name"]: [g["name"] for g in f["fields"] if g["type"] != "formula"]
        for f in fields
        if f["type"] == "table"
    }
    return [f["name"] for f in fields if f["type"] not in ("table", "formula")], tables


def inputs(entry: make_design.MakeView, **changed) -> MultiDict:
    """What the designer's form of ``entry`` sends, with ``changed`` inputs replaced."""
    fields, tables = form_fields(entry.form)
    values = MultiDict({"label_zh": entry.label_zh, "label_en": entry.label_en,
                        "when": entry.when})  # fmt: skip
    values.setlist("states", entry.states)
    values.update({f"value.{name}": entry.values.get(name, "") for name in fields})
    if entry.lines is not None:
        values.update({"lines_from": entry.lines.source, "lines_to": entry.lines.target,
                       "lines_when": entry.lines.when})  # fmt: skip
        line_fields = tables.get(entry.lines.target, [])
        values.update({f"line.{name}": entry.lines.values.get(name, "") for name in line_fields})
    for key, value in changed.items():
        values.setlist(key, value if isinstance(value, list) else [value])
    return values


def update(text: str, path: str, values: MultiDict, states=("approved", "draft")) -> str:
    entry = make_design.view_of(form_design.parse(text))[int(path)]
    fields, tables = form_fields(entry.form)
    return make_design.update_make(text, path, values, list(states), tables, fields)


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(FORMS.glob("*.yaml")) if "\nmakes:" in p.read_text(encoding="utf-8")],
    ids=lambda path: path.stem,
)
def test_every_shipped_entry_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    for entry in make_design.view_of(form_design.parse(text)):
        assert update(text, entry.path, inputs(entry), entry.states) == text


def test_an_entry_is_added_with_the_fields_of_the_same_name():
    fields_of = {"purchase_receipt": form_fields("purchase_receipt")[0]}
    labels = {"purchase_receipt": ("收货入库", "Receive goods")}
    added = make_design.add_make(ORDER, {"form": "purchase_receipt"}, fields_of, labels)
    [_receive, new] = safe_load(added)["makes"]
    assert new["label"] == {"zh_CN": "收货入库", "en": "Receive goods"}
    assert new["values"] == {"location": "location", "supplier": "supplier"}
    with pytest.raises(DesignRefused) as refused:
        make_design.add_make(ORDER, {"form": "nowhere"}, fields_of, labels)
    assert refused.value.field == "form"


def test_values_states_and_lines_are_set_and_cleared():
    [entry] = make_design.view_of(form_design.parse(ORDER))
    assert entry.values["purchase_order"] == "id" and entry.lines.target == "lines"
    changed = update(ORDER, "0", inputs(entry, states=["approved", "draft"],
                                        **{"value.arrival_date": "today()",
                                           "value.supplier": "",
                                           "line.quantity": "quantity"}))  # fmt: skip
    written = safe_load(changed)["makes"][0]
    assert written["states"] == ["approved", "draft"]
    assert written["values"] == {"location": "location", "purchase_order": "id",
                                 "arrival_date": "today()"}  # fmt: skip
    assert written["lines"]["values"]["quantity"] == "quantity"
    assert "    values: {location: location, purchase_order: id, arrival_date: today()}\n" in (
        changed
    )  # fmt: skip
    no_lines = safe_load(update(ORDER, "0", inputs(entry, lines_to="")))["makes"][0]
    assert "lines" not in no_lines


@pytest.mark.parametrize(
    ("changed", "field"),
    [({"lines_to": "nowhere"}, "lines_to"),
     ({"value.location": "", "value.supplier": "", "value.purchase_order": ""}, "value.location")],
)  # fmt: skip
def test_a_change_it_cannot_make_is_refused_on_its_input(changed, field):
    [entry] = make_design.view_of(form_design.parse(ORDER))
    with pytest.raises(DesignRefused) as refused:
        update(ORDER, "0", inputs(entry, **changed))
    assert refused.value.field == field


def test_entries_are_ordered_and_removed():
    fields_of = {"supplier_return": form_fields("supplier_return")[0]}
    two = make_design.add_make(ORDER, {"form": "supplier_return", "label_zh": "退货"}, fields_of,
                               {})  # fmt: skip
    first = make_design.move_make(two, "1", -1)
    assert [m["form"] for m in safe_load(first)["makes"]] == ["supplier_return", "purchase_receipt"]
    one = make_design.remove_make(first, "0")
    assert [m["form"] for m in safe_load(one)["makes"]] == ["purchase_receipt"]
    assert "makes" not in safe_load(make_design.remove_make(one, "0"))
