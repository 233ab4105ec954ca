"""Built-in action ``set_field``: write a fixed value into one of the record's fields — or, with
``user: true``, the user firing the transition (the inspector of a receipt is whoever signs its
inspection, not whom the clerk named)."""

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

    def run(self, context: ActionContext) -> None:
        params = context.params
        data = dict(context.record.data or {})
        data[params["field"]] = (
            getattr(context.user, "id", None) if params.get("user") else params["value"]
        )
        context.record.data = data
