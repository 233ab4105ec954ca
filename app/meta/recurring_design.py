"""The form designer's recurring duty: a form whose records are a duty each location does at
least every so many days (GSP's weekly storage check, a monthly temperature log), set without
YAML.

A form's ``recurring`` says how often, which of its date fields dates a record, where the duty
falls (kinds of location), in which workflow states a record counts as the duty done and which
roles the daily ``reminders`` job tells when a location's last record is that old. Switching it
off removes the key; switching it on starts from a week, the form's first date field and the
stores and warehouses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import CommentedMap

from app.i18n import _
from app.meta import yaml_edit
from app.meta.form_design import FORM_KEYS, dump, parse
from app.meta.yaml_edit import DesignRefused

LOCATION_TYPES = ("hq", "region", "store", "warehouse")
#: Where a duty falls when no kinds of location are written.
USUAL_TYPES = ("store", "warehouse")
KEYS = ("every_days", "date_field", "location_types", "states", "remind")
ORDER = (*FORM_KEYS[: FORM_KEYS.index("fields")], "recurring", "fields")
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
    raw = document.get("recurring") if isinstance(document.get("recurring"), dict) else {}
    return DutyView(
        on=bool(raw), every_days=yaml_edit.text_of(raw.get("every_days")),
        date_field=str(raw.get("date_field") or ""),
        location_types=[str(kind) for kind in raw.get("location_types") or USUAL_TYPES],
        states=[str(state) for state in raw.get("states") or []],
        remind=[str(role) for role in raw.get("remind") or []],
        date_fields=_date_fields(document),
    )  # fmt: skip


def _date_fields(document: CommentedMap) -> list[str]:
    return [
        str(raw.get("name"))
        for raw in document["fields"]
        if isinstance(raw, dict) and raw.get("type") in DATE_TYPES
    ]


def update_duty(text: str, values, states: list[str], roles: list[str]) -> str:
    """The duty from the designer's inputs: ``on`` switches it on or off; ``states`` are the
    form's workflow states and ``roles`` the roles there are, to tick from."""
    document = parse(text)
    if not values.get("on"):
        yaml_edit.set_or_drop(document, "recurring", None, ORDER)
        return dump(document, text)
    raw = document.get("recurring")
    if not isinstance(raw, CommentedMap):
        raw = CommentedMap()
    days = values.get("every_days", "").strip() or ("7" if "every_days" not in raw else "")
    if not days.isdigit() or not 1 <= int(days) <= 366:
        raise DesignRefused(_("Enter how often, in days: 1 to 366."), "every_days")
    yaml_edit.set_or_drop(raw, "every_days", int(days), KEYS)
    dates = _date_fields(document)
    date_field = values.get("date_field", "").strip() or (dates[0] if dates else "")
    if date_field not in dates:
        raise DesignRefused(_("Choose the date field that dates a record; add one first if the "
                              "form has none."), "date_field")  # fmt: skip
    yaml_edit.set_or_drop(raw, "date_field", date_field, KEYS)
    chosen = values.getlist("location_types")
    if not chosen:
        raise DesignRefused(_("Tick where the duty falls."), "location_types")
    types = None
    if "location_types" in raw or set(chosen) != set(USUAL_TYPES):  # the usual ones: unwritten
        types = yaml_edit.ticked(raw.get("location_types"), chosen, LOCATION_TYPES)
    yaml_edit.set_or_drop(raw, "location_types", types, KEYS)
    done = yaml_edit.ticked(raw.get("states"), values.getlist("states"), states)
    yaml_edit.set_or_drop(raw, "states", done, KEYS)
    remind = yaml_edit.ticked(raw.get("remind"), values.getlist("remind"), roles)
    if not remind:
        raise DesignRefused(_("Tick the roles told when the duty is due."), "remind")
    yaml_edit.set_or_drop(raw, "remind", remind, KEYS)
    yaml_edit.set_or_drop(document, "recurring", raw, ORDER)
    return dump(document, text)
