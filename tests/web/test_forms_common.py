"""The HTML form's fields read as the record service takes them."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from app.meta.forms import compile_form
from app.web.forms_common import payload_from_form

CHECKED = compile_form({
    "name": "checked",
    "label": {"zh_CN": "验收", "en": "Check"},
    "fields": [
        {"name": "urgent", "type": "boolean", "label": {"zh_CN": "加急", "en": "Urgent"}},
        {"name": "lines", "type": "table", "label": {"zh_CN": "明细", "en": "Lines"}, "fields": [
            {"name": "item", "type": "text", "label": {"zh_CN": "商品", "en": "Item"}},
            {"name": "intact", "type": "boolean", "required": True,
             "label": {"zh_CN": "外包装完好", "en": "Package intact"}},
        ]},
    ],
}, 1, "", None)  # fmt: skip


def test_an_unticked_box_means_no_on_a_line_as_in_the_header():
    """A browser sends nothing for an unticked box: on a line as in the header it is "no" (a
    damaged package recorded as such), not a value left out that a required box refuses."""
    posted = MultiDict([("lines[0].item", "A"), ("lines[0].intact", "1"),
                        ("lines[1].item", "B"), ("lines[2].item", "")])  # fmt: skip
    assert payload_from_form(CHECKED, posted) == {
        "urgent": False,
        "lines": [{"item": "A", "intact": True}, {"item": "B", "intact": False}],
    }


def test_a_refusal_in_a_job_names_the_form_without_a_request(app):
    """A job (an import, an export) runs in the app without a request: a right it lacks is
    refused naming the form by its label, not crashed on the request the page would have."""
    from app.meta import access

    clerk = access.JobActor("job", "job", "store_clerk")
    with app.app_context(), pytest.raises(access.PermissionDenied) as refused:
        access.require(clerk, "create", "supplier")
    assert "供应商" in str(refused.value)
