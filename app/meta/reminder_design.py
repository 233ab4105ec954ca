"""The form designer's reminders: what the daily ``reminders`` job tells about a form's records,
set without YAML.

A **recurring duty** (``recurring``): a form whose records are a duty each location does at
least every so many days (GSP's weekly storage check, a monthly temperature log) — how often,
which of its date fields dates a record, where the duty falls (kinds of location), in which
workflow states a record counts as the duty done and which roles are told when a location's last
record is that old. Switched on, it starts from a week, the form's first date field and the
stores and warehouses.

A **deadline** (``deadline``): records that carry a date by which they must be closed (an
adverse event's report, a recall task) — which date field, how many days ahead the reminding
starts, while the record is open (in which states, and a condition) and which roles are told.

Either is switched off by removing its key.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import CommentedMap

from app.i18n import _
from app.meta import yaml_edit
from app.meta.form_design import WRITTEN_ORDER, dump, field_names, parse
from app.meta.yaml_edit import DesignRefused

LOCATION_TYPES = ("hq", "region", "store", "warehouse")
#: Where a duty falls when no kinds of location are written.
USUAL_TYPES = ("store", "warehouse")
KEYS = ("every_days", "date_field", "location_types", "states", "remind")
DEADLINE_KEYS = ("date_field", "days_before", "states", "open_if", "remind")
DATE_TYPES = ("date", "datetime")


@dataclass
class DutyView:
    on: bool
    every_days: str
    date_field: str
    location_types: list[str]
    states: list[str]
    remind: list[str]
    #: the form's date fields, one of which dates a record
    date_fields: list[str]


def view_of(document: CommentedMap) -> DutyView:
    raw = yaml_edit.mapping_of(document, "recurring")
    return DutyView(
        on=bool(raw), every_days=yaml_edit.text_of(raw.get("every_days")),
        date_field=str(raw.get("date_field") or ""),
        location_types=[str(kind) for kind in raw.get("location_types") or USUAL_TYPES],
        states=yaml_edit.names_of(raw, "states"),
        remind=yaml_edit.names_of(raw, "remind"),
        date_fields=field_names(document, DATE_TYPES),
    )  # fmt: skip


def update_duty(text: str, values, states: list[str], roles: list[str]) -> str:
    """The duty from the designer's inputs: ``on`` switches it on or off; ``states`` are the
    form's workflow states and ``roles`` the roles there are, to tick from."""
    document = parse(text)
    raw = yaml_edit.switched(document, "recurring", values, WRITTEN_ORDER)
    if raw is None:
        return dump(document, text)
    days = values.get("every_days", "").strip() or ("7" if "every_days" not in raw else "")
    if not days.isdigit() or not 1 <= int(days) <= 366:
        raise DesignRefused(_("Enter how often, in days: 1 to 366."), "every_days")
    yaml_edit.set_or_drop(raw, "every_days", int(days), KEYS)
    refusal = _("Choose the date field that dates a record; add one first if the form has none.")
    yaml_edit.set_or_drop(raw, "date_field", _date_field(document, values, refusal), KEYS)
    chosen = values.getlist("location_types")
    if not chosen:
        raise DesignRefused(_("Tick where the duty falls."), "location_types")
    types = None
    if "location_types" in raw or set(chosen) != set(USUAL_TYPES):  # the usual ones: unwritten
        types = yaml_edit.ticked(raw.get("location_types"), chosen, LOCATION_TYPES)
    yaml_edit.set_or_drop(raw, "location_types", types, KEYS)
    untold = _("Tick the roles told when the duty is due.")
    _set_states_and_roles(raw, values, states, roles, untold, KEYS)
    yaml_edit.set_or_drop(document, "recurring", raw, WRITTEN_ORDER)
    return dump(document, text)


@dataclass
class DeadlineView:
    on: bool
    date_field: str
    days_before: str
    states: list[str]
    open_if: str
    remind: list[str]
    date_fields: list[str]


def deadline_of(document: CommentedMap) -> DeadlineView:
    raw = yaml_edit.mapping_of(document, "deadline")
    return DeadlineView(
        on=bool(raw), date_field=str(raw.get("date_field") or ""),
        days_before=yaml_edit.text_of(raw.get("days_before")),
        states=yaml_edit.names_of(raw, "states"),
        open_if=yaml_edit.text_of(raw.get("open_if")),
        remind=yaml_edit.names_of(raw, "remind"),
        date_fields=field_names(document, DATE_TYPES),
    )  # fmt: skip


def update_deadline(text: str, values, states: list[str], roles: list[str]) -> str:
    """The deadline from the designer's inputs (``on`` switches it on or off)."""
    document = parse(text)
    raw = yaml_edit.switched(document, "deadline", values, WRITTEN_ORDER)
    if raw is None:
        return dump(document, text)
    refusal = _("Choose the date field that holds the deadline; add one first if the form has "
                "none.")  # fmt: skip
    yaml_edit.set_or_drop(raw, "date_field", _date_field(document, values, refusal),
                          DEADLINE_KEYS)  # fmt: skip
    days = values.get("days_before", "").strip()
    if days and (not days.isdigit() or int(days) > 366):
        raise DesignRefused(_("Enter how many days ahead: 0 to 366."), "days_before")
    yaml_edit.set_or_drop(raw, "days_before", int(days) if days else None, DEADLINE_KEYS)
    yaml_edit.set_or_drop(raw, "open_if", values.get("open_if", "").strip() or None,
                          DEADLINE_KEYS)  # fmt: skip
    untold = _("Tick the roles told while the deadline nears.")
    _set_states_and_roles(raw, values, states, roles, untold, DEADLINE_KEYS)
    yaml_edit.set_or_drop(document, "deadline", raw, WRITTEN_ORDER)
    return dump(document, text)


def _date_field(document: CommentedMap, values, refusal: str) -> str:
    """The date field chosen (the form's first when none is: a duty just switched on)."""
    dates = field_names(document, DATE_TYPES)
    chosen = values.get("date_field", "").strip() or (dates[0] if dates else "")
    if chosen not in dates:
        raise DesignRefused(refusal, "date_field")
    return chosen


def _set_states_and_roles(raw: CommentedMap, values, states: list[str], roles: list[str],
                          untold: str, keys: tuple[str, ...]) -> None:  # fmt: skip
    """The states ticked (in which a duty counts as done, a deadline's record as open) and the
    roles reminded, at least one (refused with ``untold``)."""
    ticked = yaml_edit.ticked(raw.get("states"), values.getlist("states"), states)
    yaml_edit.set_or_drop(raw, "states", ticked, keys)
    remind = yaml_edit.ticked(raw.get("remind"), values.getlist("remind"), roles)
    if not remind:
        raise DesignRefused(untold, "remind")
    yaml_edit.set_or_drop(raw, "remind", remind, keys)
