"""The form designer's record list: the columns a list shows (the defaults unwritten while
ticked as they are), its sort and page size, the search's fields and the title field — each
written as ticked, the order written kept, a choice it cannot take refused on its input."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import form_design, list_design
from app.meta.form_design import DesignRefused
from app.meta.yaml_edit import safe_load
from tests.meta.test_form_design import SMALL

FORMS = Path(__file__).resolve().parents[2] / "metadata" / "forms"


def shown(text: str, **changed) -> MultiDict:
    """What the designer's list form sends for ``text`` (with ``changed`` inputs replaced)."""
    view = list_design.view_of(form_design.parse(text))
    values = MultiDict([("list_columns", name) for name in view.columns])
    values.setlist("search", view.search)
    values.update({"list_sort": view.sort, "page_size": view.page_size,
                   "title_field": view.title_field})  # fmt: skip
    if view.descending:
        values["list_descending"] = "1"
    for key, value in changed.items():
        values.setlist(key, value if isinstance(value, list) else [value])
    return values


@pytest.mark.parametrize("path", sorted(FORMS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_forms_list_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    assert list_design.update_list(text, shown(text)) == text


def test_the_defaults_are_shown_and_stay_unwritten_until_changed():
    view = list_design.view_of(form_design.parse(SMALL))
    assert view.default and view.columns == ["customer", "note", "kind"]
    assert view.offered == ["state", "created_at", "updated_at", "created_by", "customer", "note",
                            "kind"]  # fmt: skip
    narrower = list_design.update_list(SMALL, shown(SMALL, list_columns=["customer", "state"]))
    assert "list:\n  columns: [customer, state]\n" in narrower  # after the fields
    assert safe_load(narrower)["list"] == {"columns": ["customer", "state"]}


def test_columns_keep_their_order_and_new_ones_come_after():
    text = SMALL + "list:\n  columns: [kind, customer]\n"
    added = list_design.update_list(text, shown(text, list_columns=["customer", "kind", "note"]))
    assert "  columns: [kind, customer, note]\n" in added
    with pytest.raises(DesignRefused) as refused:
        list_design.update_list(text, shown(text, list_columns=[]))
    assert refused.value.field == "list_columns"


def test_sort_page_size_search_and_title():
    values = shown(SMALL, list_sort="customer", list_descending="1", page_size="50",
                   search=["note", "customer"], title_field="customer")  # fmt: skip
    written = safe_load(list_design.update_list(SMALL, values))
    assert written["list"] == {"sort": "-customer", "page_size": 50}
    assert written["search"] == ["customer", "note"]  # in the form's order
    assert written["title_field"] == "customer"
    for key, value in [("list_sort", "nowhere"), ("page_size", "501"), ("page_size", "x"),
                       ("title_field", "lines")]:  # fmt: skip
        with pytest.raises(DesignRefused) as refused:
            list_design.update_list(SMALL, shown(SMALL, **{key: value}))
        assert refused.value.field == key
