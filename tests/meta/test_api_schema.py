"""A form's fields as the JSON Schema of its API records: each type as the API takes it."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from app.meta.api_schema import data_schema
from app.meta.forms import compile_form

SPEC = {
    "name": "probe",
    "label": {"zh_CN": "探针", "en": "Probe"},
    "fields": [
        {"name": "qty", "type": "decimal", "required": True, "label": {"zh_CN": "数", "en": "Qty"}},
        {"name": "n", "type": "integer", "min": 1, "max": 9, "label": {"zh_CN": "n", "en": "N"}},
        {"name": "kind", "type": "select", "label": {"zh_CN": "类", "en": "Kind"},
         "options": [{"value": "a", "label": {"zh_CN": "甲", "en": "A"}}]},
        {"name": "when", "type": "date", "label": {"zh_CN": "日", "en": "When"}},
        {"name": "item", "type": "link", "link": "item", "label": {"zh_CN": "品", "en": "Item"}},
        {"name": "total", "type": "formula", "formula": "qty * 2",
         "label": {"zh_CN": "计", "en": "Total"}},
        {"name": "lines", "type": "table", "label": {"zh_CN": "行", "en": "Lines"},
         "fields": [{"name": "code", "type": "text", "max_length": 4, "required": True,
                     "label": {"zh_CN": "码", "en": "Code"}}]},
    ],
}  # fmt: skip


def validator() -> Draft202012Validator:
    form = compile_form(SPEC, 1, "", None)
    return Draft202012Validator(data_schema(form.fields, "en"))


def errors(body: dict) -> set[str]:
    return {error.json_path for error in validator().iter_errors(body)}


def test_good_values_pass_and_each_bad_one_fails_on_its_field():
    good = {"qty": "12.50", "n": 3, "kind": "a", "when": "2026-12-05", "item": 7,
            "lines": [{"code": "AB"}], "total": "25.00"}  # fmt: skip
    assert errors(good) == set()
    assert errors({**good, "kind": None, "when": None}) == set()  # a field may be empty
    bad = {"qty": "12,50", "n": 10, "kind": "b", "item": True, "lines": [{"code": "ABCDE"}],
           "extra": 1}  # fmt: skip
    assert errors(bad) == {"$.qty", "$.n", "$.kind", "$.item", "$.lines[0].code", "$"}
    assert errors({"n": 2}) == {"$"}  # qty is required


def test_descriptions_say_what_a_caller_must_know():
    schema = data_schema(compile_form(SPEC, 1, "", None).fields, "en")["properties"]
    assert "send it as a string" in schema["qty"]["description"]
    assert "a = A" in schema["kind"]["description"]
    assert "The id of a item (as the API gives it)." in schema["item"]["description"]
    assert schema["total"]["readOnly"] is True
