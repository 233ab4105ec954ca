"""Built-in action ``create_record``: create a record of another form from this one.

E.g. an approved transfer request creates the transfer: header fields are copied by name
mapping (``copy: {target_field: source_field}``; ``number`` is this record's number), table lines
likewise (``lines``), fixed values set (``values``). The new record's id is written to
``link_field`` of this record when given.
It goes through the record service (``context.records``) with all the form's rules, as the user.
"""

from __future__ import annotations

from app.workflow.actions import Action, ActionContext, ActionError

NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
MAPPING = {"type": "object", "propertyNames": NAME, "additionalProperties": NAME}


class CreateRecord(Action):
    name = "create_record"
    label = {"zh_CN": "由本单据生成另一张单据", "en": "Create another record from this one"}
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["form"],
        "properties": {
            "form": NAME,
            "copy": MAPPING,
            "values": {"type": "object", "propertyNames": NAME},
            "lines": {
                "type": "object",
                "additionalProperties": False,
                "required": ["from", "to"],
                "properties": {"from": NAME, "to": NAME, "copy": MAPPING},
            },
            "link_field": NAME,
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        source = context.record.data or {}
        header = {"number": context.record.number, **source}
        payload = {target: header.get(field) for target, field in params.get("copy", {}).items()}
        payload.update(params.get("values", {}))
        if "lines" in params:
            spec = params["lines"]
            mapping = spec.get("copy")
            payload[spec["to"]] = [
                {t: line.get(f) for t, f in mapping.items()} if mapping else dict(line)
                for line in source.get(spec["from"]) or []
            ]
        try:
            created = context.records.create(params["form"], payload)
        except Exception as exc:  # the record service's typed errors, without importing them
            errors = getattr(exc, "errors", None)
            detail = f": {errors}" if errors else ""
            if type(exc).__module__.startswith("app."):
                raise ActionError(f"{exc}{detail}") from None
            raise
        context.outputs["created_record"] = created.id
        if params.get("link_field"):
            context.record.data = {**source, params["link_field"]: created.id}
