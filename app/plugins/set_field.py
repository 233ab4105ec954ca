"""Built-in action ``set_field``: write a fixed value into one of the record's fields — or, with
``user: true``, the user firing the transition (the inspector of a receipt is whoever signs its
inspection, not whom the clerk named), or with ``today: true`` the business day it is fired on
(the day a retail sale was paid at its delivery, not the day it was ordered).

The field must be one of the form's own (header) fields, and the value one it can hold — a
number for a decimal, one of a select's options, an ISO date, a record's id for a link, a list
for a table; with ``user: true``, a link to ``user``; with ``today: true``, a date. The
workflow checks refuse anything else when the workflow is loaded (``app.workflow.checks``);
``run`` checks again, through ``context.records.value_for``, and writes the value as a save
through the form would store it."""

from __future__ import annotations

from app.kernel.items import business_today
from app.workflow.actions import Action, ActionContext


class SetField(Action):
    """E.g. stamp ``inspection_conclusion: accepted`` when the inspector passes a receipt."""

    name = "set_field"
    label = {"zh_CN": "设置字段的值", "en": "Set a field's value"}
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["field"],
        "properties": {
            "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "value": {},
            "user": {"type": "boolean"},
            "today": {"type": "boolean"},
        },
        # a value, the firing user or the day
        "anyOf": [
            {"required": ["value"]},
            {"required": ["user"], "properties": {"user": {"const": True}}},
            {"required": ["today"], "properties": {"today": {"const": True}}},
        ],
    }
    param_labels = {
        "user": {"zh_CN": "填入执行此步骤的用户", "en": "The user doing this step"},
        "today": {"zh_CN": "填入执行此步骤的日期", "en": "The day of this step"},
    }
    writes = ("field",)

    def run(self, context: ActionContext) -> None:
        params = context.params
        if params.get("user"):
            value = getattr(context.user, "id", None)
        else:
            value = business_today().isoformat() if params.get("today") else params["value"]
        if context.records is not None:  # (None only where a test runs the action bare)
            value = context.records.value_for(context.record.form, params["field"], value)
        context.record.data = {**(context.record.data or {}), params["field"]: value}
