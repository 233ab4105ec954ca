"""The report designer over HTTP: the columns drawn with the source's columns to pick from; a
column added there is named and labelled after the source column, publishes and runs; a refused
change names its input and leaves the YAML alone."""

from __future__ import annotations

import re
from decimal import Decimal

from werkzeug.datastructures import MultiDict

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


def row_count(client, query: str = "") -> int:
    response = client.get(URL + query)
    assert response.status_code == 200, response.text
    return len(response.json["rows"])


def design(client, text: str, *pairs) -> str | None:
    """The YAML the designer sends back after the change ``pairs`` (name, value) ask for."""
    data = MultiDict([("yaml", text), *pairs, ("csrf_token", client.token)])
    return new_yaml(client.client.post(DESIGN, data=data))


LOCATION = [("op", "param"), ("path", "0"), ("name", "location"), ("type", "location"),
            ("label_zh", "地点"), ("label_en", "Location"), ("default", "mine")]  # fmt: skip
ON_HAND = [("op", "filter"), ("path", "0"), ("column", "on_hand"), ("compare", "gt"),
           ("value", "0")]  # fmt: skip
BARS = [("op", "chart"), ("chart_type", "bar"), ("x", "location"), ("y", "on_hand")]


def test_parameters_filters_and_chart_are_drawn_and_saved_unchanged(app, admin):  # noqa: F811
    text = shipped_text(app)
    shown = admin.form(DESIGN, {"yaml": text})
    assert 'id="param-0"' in shown.text and 'id="filter-0"' in shown.text
    assert '<option value="bar" selected>' in shown.text and 'id="chart-y-on_hand"' in shown.text
    # a filter compares as =, <, contains…; a parameter also as "applies to" (a scope)
    new_filter = re.search(r'id="add-filter-compare".*?</select>', shown.text, re.S).group(0)
    assert 'value="eq"' in new_filter and 'value="covers"' not in new_filter
    param_row = re.search(r'id="param-0-compare".*?</select>', shown.text, re.S).group(0)
    assert 'value="eq"' in param_row and 'value="covers"' in param_row
    for change in (LOCATION, ON_HAND, BARS):
        assert design(admin, text, *change) == text, change[0]


def test_a_filter_and_a_parameter_set_in_the_designer_narrow_the_published_report(
    app,
    admin,  # noqa: F811
):
    text = shipped_text(app)
    before = row_count(admin)
    assert before > 0
    none_held = design(admin, text, *ON_HAND[:3], ("compare", "lt"), ("value", "0"))
    assert "  - {column: on_hand, op: lt, value: 0}\n" in none_held
    add = [("op", "param_add"), ("name", "item"), ("type", "text"), ("label_zh", "商品")]
    with_item = design(admin, text, *add)
    item = [("op", "param"), ("path", "1"), ("name", "item"), ("type", "text"),
            ("label_zh", "商品"), ("label_en", "Item"), ("column", "item.name")]  # fmt: skip
    narrowing = design(admin, with_item, *item, ("compare", "contains"))
    assert "    op: contains\n    column: item.name\n" in narrowing
    assert (
        admin.form("/admin/reports/stock_by_location/publish", {"yaml": narrowing}).status_code
        == 302
    )
    assert row_count(admin, "?item=no-such-item") == 0 and row_count(admin) == before
    assert (
        admin.form("/admin/reports/stock_by_location/publish", {"yaml": none_held}).status_code
        == 302
    )
    assert row_count(admin) == 0


def test_report_parts_refused_or_removed_in_the_designer(app, admin):  # noqa: F811
    text = shipped_text(app)
    taken = admin.form(DESIGN, {"yaml": text, "op": "param_add", "name": "location",
                                "type": "text"})  # fmt: skip
    assert new_yaml(taken) is None and 'is-invalid" id="add-param-name"' in taken.text
    unread = [*ON_HAND[:4], ("value", "[1, 2")]
    refused = admin.client.post(DESIGN, data=MultiDict([("yaml", text), *unread,
                                                         ("csrf_token", admin.token)]))  # fmt: skip
    assert new_yaml(refused) is None and "is-invalid" in refused.text
    assert "chart:" not in design(admin, text, ("op", "chart"), ("chart_type", ""))
    pie = design(admin, text, *BARS[:1], ("chart_type", "pie"), ("x", "location"),
                 ("y", "available"))  # fmt: skip
    assert "chart: {type: pie, x: location, y: [available]}\n" in pie
    assert "filters:" not in design(admin, text, ("op", "filter_remove"), ("path", "0"))


def test_cells_coloured_in_the_designer_are_coloured_in_the_published_report(
    app,
    admin,  # noqa: F811
):
    text = shipped_text(app)
    shown = admin.form(DESIGN, {"yaml": text})
    assert 'id="highlight-0-when"' in shown.text and 'id="highlight-1-when"' not in shown.text
    rule = [("op", "highlights"), ("hl_column", "on_hand"), ("hl_when", "on_hand > 0"),
            ("hl_style", "warning")]  # fmt: skip
    coloured = design(admin, text, *rule)
    assert '      - {when: "on_hand > 0", style: warning}\n' in coloured
    assert (
        admin.form("/admin/reports/stock_by_location/publish", {"yaml": coloured}).status_code
        == 302
    )
    rows = admin.get(URL).json["rows"]
    assert rows and all(row["styles"] == {"on_hand": "warning"} for row in rows)


def test_a_running_balance_added_in_the_designer_adds_up_row_by_row(app, admin):  # noqa: F811
    text = shipped_text(app)
    shown = admin.form(DESIGN, {"yaml": text})
    assert 'id="add-column-running"' in shown.text
    added = design(admin, text, ("op", "add"), ("name", "so_far"), ("running", "on_hand"),
                   ("label_zh", "累计现存"), ("label_en", "On hand so far"))  # fmt: skip
    line = "  - {name: so_far, running: on_hand, label: {zh_CN: 累计现存, en: On hand so far}}\n"
    assert line in added
    drawn = admin.form(DESIGN, {"yaml": added})
    assert re.search(r'id="column-\d+-running" name="running"', drawn.text)
    assert admin.form("/admin/reports/stock_by_location/publish", {"yaml": added}).status_code == (
        302
    )  # fmt: skip
    rows = admin.get(URL).json["rows"]
    assert len(rows) > 1
    so_far = Decimal(0)
    for row in rows:
        so_far += Decimal(str(row["values"]["on_hand"]))
        assert Decimal(str(row["values"]["so_far"])) == so_far


def test_a_click_chosen_in_the_designer_opens_that_report(app, admin):  # noqa: F811
    text = shipped_text(app)
    shown = admin.form(DESIGN, {"yaml": text})
    assert '<option value="stock_card:item">' in shown.text  # each report with each parameter
    location = [("op", "update"), ("path", "0"), ("name", "location"), ("column", "location.name"),
                ("label_zh", "地点"), ("label_en", "Location")]  # fmt: skip
    opens = design(admin, text, *location, ("drill", "stock_journal:location"))
    assert "drill: {report: stock_journal, param: location}}\n" in opens
    assert admin.form("/admin/reports/stock_by_location/publish", {"yaml": opens}).status_code == (
        302
    )  # fmt: skip
    body = admin.get(URL).json
    assert body["columns"][0]["link"] == {"report": "stock_journal", "param": "location"}
    assert all(row["links"] == {"location": row["values"]["location"]} for row in body["rows"])


def test_a_click_chosen_in_the_designer_opens_the_rows_record(app, admin):  # noqa: F811
    """A report over a form's records offers each column holding a record's id: the shipped
    待复核出库 opens the order from its number; chosen on another column, it opens it from there."""
    url = "/admin/reports/awaiting_review/design"
    text = shipped_text(app, "awaiting_review")
    shown = admin.client.post(url, data={"yaml": text, "csrf_token": admin.token}).text
    offered = re.search(r'<option value="record:sales_order:order_id" selected>([^<]*)<', shown)
    assert offered and offered.group(1) == "销售订单（ID 在“单据ID”列）"
    customer = [("op", "update"), ("path", "1"), ("name", "customer"), ("column", "customer.name"),
                ("label_zh", "购货者"), ("label_en", "Customer")]  # fmt: skip
    data = MultiDict([("yaml", text), *customer, ("drill", "record:sales_order:order_id"),
                      ("csrf_token", admin.token)])  # fmt: skip
    opens = new_yaml(admin.client.post(url, data=data))
    assert (
        "drill: {form: sales_order, record_column: order_id}}\n" in opens.split("customer.name")[1]
    )


def test_a_report_over_a_union_offers_the_columns_every_part_gives(app, admin):  # noqa: F811
    """The 出库复核记录 reads orders, transfers out and supplier returns: the designer names the
    parts, offers the book's own columns (the destination each part renames, the item all link)
    and not one part's alone (the order's customer), and a column added from it publishes."""
    url = "/admin/reports/outbound_review/design"
    text = shipped_text(app, "outbound_review")
    shown = admin.form(url, {"yaml": text})
    assert shown.status_code == 200 and new_yaml(shown) is None
    assert (
        "form:sales_order.review_scans + form:transfer_out.review_scans"
        " + form:supplier_return.review_scans" in shown.text
    )
    assert '<option value="destination"' in shown.text
    assert '<option value="item.gtin"' in shown.text
    assert '<option value="customer.name"' not in shown.text
    assert '<option value="_location"' not in shown.text
    added = new_yaml(admin.form(url, {"yaml": text, "op": "add", "column": "item.gtin"}))
    assert "column: item.gtin" in added and "union:" in added
    published = admin.form("/admin/reports/outbound_review/publish", {"yaml": added})
    assert published.status_code == 302


def test_a_formula_said_to_give_money_is_read_with_two_decimals(app, admin):  # noqa: F811
    """毛利 404.00, not 404: a formula column chosen in the designer to give money."""
    text = shipped_text(app)
    added = design(admin, text, ("op", "add"), ("name", "twice"), ("formula", "on_hand * 2"),
                   ("label_zh", "两倍"))  # fmt: skip
    shown = admin.form(DESIGN, {"yaml": added})
    path = re.findall(r'<tr id="column-(\d+)" data-name="twice"', shown.text)[0]
    assert f'id="column-{path}-type"' in shown.text
    money = design(admin, added, ("op", "update"), ("path", path), ("name", "twice"),
                   ("formula", "on_hand * 2"), ("label_zh", "两倍"), ("label_en", "Twice"),
                   ("type", "money"))  # fmt: skip
    assert "type: money" in money
    published = admin.form("/admin/reports/stock_by_location/publish", {"yaml": money})
    assert published.status_code == 302
    rows = admin.get(URL).json["rows"]
    assert rows and all(re.fullmatch(r"-?\d+\.\d\d", row["values"]["twice"]) for row in rows)
