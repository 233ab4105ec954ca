"""``check_temperature``: refuse a transition when a recorded temperature is out of range.

A cold-chain receipt (2–8 °C devices) must not be accepted when the temperature logged on
arrival is outside the allowed band; the transition is then rolled back with this message.

It only reads the record, so it runs the same when the transition is previewed
(``POST …/transitions/<t>/preview``, rolled back afterwards). An action with an effect outside
the database — telling an ERP, sending a mail — must skip it on a preview and, better, queue it
as a job that runs once the transaction commits::

    def run(self, context: ActionContext) -> None:
        if context.preview:
            return  # nothing leaves Lianku for a transition that is only previewed
        jobs.enqueue(context.session, "erp_push", {"record": context.record.id})

And it writes only fields its form declares, each with a value that field can hold
(``context.records.value_for(form, field, value)``): anything else is refused.
"""

from decimal import Decimal, InvalidOperation

from app.workflow import Action, ActionContext, ActionError, localized


class CheckTemperature(Action):
    name = "check_temperature"
    # what the workflow editor's list of actions says it does, in the admin's language
    label = {
        "zh_CN": "温度超出范围时拒绝流转",
        "en": "Refuse the transition when a temperature is out of range",
    }
    # what the workflow designer calls each parameter (PARAM_WORDS names the common ones)
    param_labels = {
        "field": {"zh_CN": "温度字段", "en": "Temperature field"},
        "min": {"zh_CN": "最低温度（℃）", "en": "Lowest temperature (°C)"},
        "max": {"zh_CN": "最高温度（℃）", "en": "Highest temperature (°C)"},
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["field"],
        "properties": {
            "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "min": {"type": "number", "default": 2},
            "max": {"type": "number", "default": 8},
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        low = Decimal(str(params.get("min", 2)))
        high = Decimal(str(params.get("max", 8)))
        field = params["field"]
        raw = (context.record.data or {}).get(field)
        try:
            temperature = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            # a refusal is read by whoever fired the transition: in their language
            raise ActionError(localized({
                "zh_CN": f"未记录温度（{field}）",
                "en": f"No temperature recorded in {field}",
            })) from None  # fmt: skip
        if not low <= temperature <= high:
            raise ActionError(localized({
                "zh_CN": f"到货温度 {temperature} ℃ 超出 {low}–{high} ℃",
                "en": f"The arrival temperature {temperature} °C is outside {low}–{high} °C",
            }))  # fmt: skip
