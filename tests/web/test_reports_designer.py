"""The report designer over HTTP: the columns drawn with the source's columns to pick from; a
column added there is named and labelled after the source column, publishes and runs; a refused
change names its input and leaves the YAML alone."""

from __future__ import annotations

import re

from tests.web.test_forms_designer import new_yaml
from tests.web.test_reports_admin import URL, admin, chain, column_names, shipped_text  # noqa: F401

DESIGN = "/admin/reports/stock_by_location/design"


def test_a_source_column_is_picked_published_and_run(app, admin):  # noqa: F811
    text = shipped_text(app)
    shown = admin.form(DESIGN, {"yaml": text})
    assert shown.status_code == 200 and new_yaml(shown) is None
    assert 'id="column-0"' in shown.text and '<option value="reserved"' in shown.text
    added = new_yaml(admin.form(DESIGN, {"yaml": text, "op": "add", "column": "reserved"}))
    line = re.search(
        r"  - \{name: reserved, column: reserved, label: \{zh_CN: (.+), en: (.+)\}\}", added
    )
    assert line and line[1] != "reserved"  # labelled as the source labels it
    path = str(len(re.findall(r'<tr id="column-\d+"', shown.text)))
    summed = new_yaml(admin.form(DESIGN, {"yaml": added, "op": "update", "path": path,
                                          "name": "reserved", "column": "reserved",
                                          "label_zh": "预留合计", "label_en": "Reserved total",
                                          "aggregate": "sum"}))  # fmt: skip
    total = "{name: reserved, column: reserved, label: {zh_CN: 预留合计, en: Reserved total}, "
    assert total + "aggregate: sum}" in summed
    published = admin.form("/admin/reports/stock_by_location/publish", {"yaml": summed})
    assert published.status_code == 302
    assert column_names(admin)[-1] == "reserved"


def test_refusals_name_their_input(app, admin):  # noqa: F811
    text = shipped_text(app)
    bad_sort = admin.form(DESIGN, {"yaml": text, "op": "report", "label_zh": "x", "sort": "a b"})
    assert (
        new_yaml(bad_sort) is None and 'id="report-sort" name="sort" value="a b"' in bad_sort.text
    )
    nothing = admin.form(DESIGN, {"yaml": text, "op": "add", "column": ""})
    assert new_yaml(nothing) is None and "data-refused" in nothing.text
    stale = admin.form(DESIGN, {"yaml": text, "op": "remove", "path": "42"})
    assert 'id="designer-message"' in stale.text
