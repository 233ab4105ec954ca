"""The form designer's reminders: the shipped storage check's duty and every shipped deadline
saved unchanged are unchanged; a duty or a deadline is switched on (from the usual start),
changed and switched off; a value it cannot take is refused on its input."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import form_design, reminder_design
from app.meta.form_design import DesignRefused
from app.meta.yaml_edit import safe_load

FORMS = Path(__file__).resolve().parents[2] / "metadata" / "forms"
CHECK = (FORMS / "maintenance_check.yaml").read_text(encoding="utf-8")
STATES = ["draft", "done", "in_review", "confirmed", "released", "cancelled"]
ROLES = ["store_manager", "store_clerk", "warehouse_supervisor", "warehouse_clerk", "qa", "admin"]


def inputs(text: str, **changed) -> MultiDict:
    """What the designer's duty form sends for ``text`` (``changed`` inputs replaced)."""
    view = reminder_design.view_of(form_design.parse(text))
    values = MultiDict({"every_days": view.every_days, "date_field": view.date_field})
    if view.on:
        values["on"] = "1"
    values.setlist("location_types", view.location_types)
    values.setlist("states", view.states)
    values.setlist("remind", view.remind)
    for key, value in changed.items():
        values.setlist(key, value if isinstance(value, list) else [value])
    return values


def duty(text: str) -> dict | None:
    return safe_load(text).get("recurring")


def update(text: str, values: MultiDict) -> str:
    return reminder_design.update_duty(text, values, STATES, ROLES)


def test_the_storage_check_saved_unchanged_is_unchanged():
    view = reminder_design.view_of(form_design.parse(CHECK))
    assert view.on and view.every_days == "7" and view.date_field == "check_date"
    assert view.location_types == ["store", "warehouse"]  # the usual, unwritten
    assert update(CHECK, inputs(CHECK)) == CHECK


def test_a_duty_is_changed_and_switched_off():
    monthly = update(CHECK, inputs(CHECK, every_days="30", location_types=["warehouse"],
                                   remind=["warehouse_supervisor", "qa"]))  # fmt: skip
    assert duty(monthly) == {"every_days": 30, "date_field": "check_date",
                             "location_types": ["warehouse"],
                             "states": ["done", "in_review", "confirmed", "released"],
                             "remind": ["warehouse_supervisor", "qa"]}  # fmt: skip
    off = update(CHECK, inputs(CHECK, on=[]))
    assert duty(off) is None and "every_days" not in off


def test_a_duty_switched_on_starts_from_a_week_and_the_first_date_field():
    off = update(CHECK, inputs(CHECK, on=[]))
    switched = MultiDict([("on", "1"), ("remind", "store_manager")])
    switched.setlist("location_types", ["store", "warehouse"])  # drawn ticked: the usual
    on = update(off, switched)
    assert duty(on) == {"every_days": 7, "date_field": "check_date", "remind": ["store_manager"]}
    assert on.index("recurring:") < on.index("fields:")


@pytest.mark.parametrize(
    ("changed", "field"),
    [({"every_days": "0"}, "every_days"), ({"every_days": "weekly"}, "every_days"),
     ({"date_field": "location"}, "date_field"), ({"location_types": []}, "location_types"),
     ({"remind": []}, "remind")],
)  # fmt: skip
def test_a_value_it_cannot_take_is_refused_on_its_input(changed, field):
    with pytest.raises(DesignRefused) as refused:
        update(CHECK, inputs(CHECK, **changed))
    assert refused.value.field == field


@pytest.mark.parametrize("form", ["adverse_event", "quality_complaint", "recall_task"])
def test_every_shipped_deadline_saved_unchanged_is_unchanged(form):
    text = (FORMS / f"{form}.yaml").read_text(encoding="utf-8")
    view = reminder_design.deadline_of(form_design.parse(text))
    values = MultiDict({"on": "1", "date_field": view.date_field, "days_before": view.days_before,
                        "open_if": view.open_if})  # fmt: skip
    values.setlist("states", view.states)
    values.setlist("remind", view.remind)
    assert reminder_design.update_deadline(text, values, STATES + ["investigating"], ROLES) == text


def test_a_deadline_is_switched_on_set_and_refused_by_input():
    switched = MultiDict({"on": "1", "days_before": "5", "remind": "qa"})
    on = reminder_design.update_deadline(CHECK, switched, STATES, ROLES)
    assert safe_load(on)["deadline"] == {"date_field": "check_date", "days_before": 5,
                                         "remind": ["qa"]}  # fmt: skip
    assert on.index("deadline:") < on.index("fields:")
    off = reminder_design.update_deadline(on, MultiDict(), STATES, ROLES)
    assert "deadline" not in safe_load(off)
    for changed, field in [({"days_before": "soon"}, "days_before"), ({"remind": []}, "remind"),
                           ({"date_field": "location"}, "date_field")]:  # fmt: skip
        values = MultiDict({"on": "1", "remind": "qa"})
        for key, value in changed.items():
            values.setlist(key, value if isinstance(value, list) else [value])
        with pytest.raises(DesignRefused) as refused:
            reminder_design.update_deadline(CHECK, values, STATES, ROLES)
        assert refused.value.field == field
