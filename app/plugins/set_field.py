"""Built-in action ``set_field``: write a fixed value into one of the record's fields — or, with
``user: true``, the user firing the transition (the inspector of a receipt is whoever signs its
inspection, not whom the clerk named).

The field must be one of the form's own (header) fields, and the value one it can hold — a
number for a decimal, one of a select's options, an ISO date, a record's id for a link, a list
for a table; with ``user: true``, a link to ``user``. The workflow checks refuse anything else
when the workflow is loaded (``app.workflow.checks``); ``run`` checks again, through
``context.records.value_for``, and writes the value as a save through the form would store it."""

from __future__ import annotations

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
        },
        # a value, or the firing user
        "anyOf": [
            {"required": ["value"]},
            {"required": ["user"], "properties": {"user": {"const": True}}},
        ],
    }
    param_labels = {"user": {"zh_CN": "填入执行此步骤的用户", "en": "The user doing this step"}}
    writes = ("field",)

    def run(self, context: ActionContext) -> None:
        params = context.params
        value = getattr(context.user, "id", None) if params.get("user") else params["value"]
        if context.records is not None:  # (None only where a test runs the action bare)
            value = context.records.value_for(context.record.form, params["field"], value)
        context.record.data = {**(context.record.data or {}), params["field"]: value}
