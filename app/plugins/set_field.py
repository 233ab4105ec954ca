"""Built-in action ``set_field``: write a fixed value into one of the record's fields."""

from __future__ import annotations

from app.workflow.actions import Action, ActionContext


class SetField(Action):
    """E.g. stamp ``inspection_conclusion: accepted`` when the inspector passes a receipt."""

    name = "set_field"
    label = {"zh_CN": "设置字段的值", "en": "Set a field's value"}
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["field", "value"],
        "properties": {
            "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "value": {},
        },
    }

    def run(self, context: ActionContext) -> None:
        data = dict(context.record.data or {})
        data[context.params["field"]] = context.params["value"]
        context.record.data = data
