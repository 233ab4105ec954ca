"""The settings designer's changes: the shipped settings saved unchanged are unchanged; menus are
renamed, added, moved and removed line by line; a knob out of its range is refused on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta import settings_design
from app.meta.yaml_edit import DesignRefused, safe_load

SETTINGS = (Path(__file__).resolve().parents[2] / "metadata" / "settings.yaml").read_text("utf-8")


def test_the_shipped_settings_saved_unchanged_are_unchanged():
    shown = settings_design.view(SETTINGS)
    assert settings_design.update_knobs(SETTINGS, shown.knobs) == SETTINGS
    for menu in shown.menus:
        assert settings_design.update_menu(SETTINGS, menu.path, vars(menu)) == SETTINGS


def test_menus_and_knobs():
    shown = settings_design.view(SETTINGS)
    up = settings_design.move_menu(SETTINGS, str(len(shown.menus) - 1), -1)
    assert [menu["name"] for menu in safe_load(up)["menus"]][-2:] == ["master_data", "finance"]
    added = settings_design.add_menu(SETTINGS, {"name": "reports", "label_zh": "报表",
                                                "label_en": "Reports"})  # fmt: skip
    assert "  - {name: reports, label: {zh_CN: 报表, en: Reports}}\nreplenishment:" in added
    removed = safe_load(settings_design.remove_menu(SETTINGS, "0"))
    assert "purchasing" not in [menu["name"] for menu in removed["menus"]]
    changes = {"cover_days": "21", "warehouse_reserve": "2.5"}
    knobs = settings_design.update_knobs(SETTINGS, shown.knobs | changes)
    expected = {"sales_days": 28, "cover_days": 21, "transfer_days": 3, "warehouse_reserve": 2.5}
    assert safe_load(knobs)["replenishment"] == expected
    assert "# days goods are on the road" in knobs


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("sales_days", "0"),
        ("transfer_days", "91"),
        ("cover_days", "x"),
        ("warehouse_reserve", "-1"),
    ],
)
def test_a_knob_out_of_range_is_refused_on_it(knob, value):
    shown = settings_design.view(SETTINGS)
    with pytest.raises(DesignRefused) as refused:
        settings_design.update_knobs(SETTINGS, shown.knobs | {knob: value})
    assert refused.value.field == knob


def test_a_taken_or_bad_menu_name_is_refused():
    for name in ("sales", "Bad Name"):
        with pytest.raises(DesignRefused) as refused:
            settings_design.add_menu(SETTINGS, {"name": name})
        assert refused.value.field == "name"
