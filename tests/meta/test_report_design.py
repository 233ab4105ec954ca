"""The report designer's changes: every shipped report saved unchanged is unchanged (columns,
parameters, filters, chart); a column is relabelled, summed, added from the source, moved and
removed line by line; parameters and filters are set, added, moved and removed, a chart drawn
and taken away; bad names, sort keys, limits, types, periods and values are refused on their
input."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import report_design
from app.meta.yaml_edit import DesignRefused, safe_load

REPORTS = Path(__file__).resolve().parents[2] / "metadata" / "reports"
SALES = (REPORTS / "sales_record.yaml").read_text(encoding="utf-8")


def shown(column: report_design.ReportColumn) -> dict[str, str]:
    keys = (
        "name",
        "column",
        "label_zh",
        "label_en",
        "aggregate",
        "bucket",
        "formula",
        "running",
        "by",
        "type",
    )
    values = {key: getattr(column, key) for key in keys}
    values |= {"drill": column.drill} if column.drill is not None else {}
    return values | ({"hidden": "1"} if column.hidden else {})


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_report_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    report = report_design.view(text)
    settings = {"label_zh": report.label_zh, "label_en": report.label_en, "sort": report.sort,
                "limit": report.limit} | ({"totals": "1"} if report.totals else {})  # fmt: skip
    settings |= {"subtotals": "1"} if report.subtotals else {}
    assert report_design.update_report(text, settings) == text
    for column in report.columns:
        assert report_design.update_column(text, column.path, shown(column)) == text
    for param in report.params:
        assert report_design.update_param(text, param.path, param_inputs(param)) == text
    for condition in report.filters:
        assert report_design.update_filter(text, condition.path, filter_inputs(condition)) == text
    assert report_design.update_chart(text, chart_inputs(report.chart)) == text
    assert report_design.update_highlights(text, highlight_inputs(report.highlights)) == text
    pivot = MultiDict({"pivot_column": report.pivot_column})
    for name in report.pivot_values:
        pivot.add("pivot_values", name)
    assert report_design.update_pivot(text, pivot) == text


def highlight_inputs(highlights, *more) -> MultiDict:
    values = MultiDict()
    for column, when, style in [(h.column, h.when, h.style) for h in highlights] + [*more]:
        values.add("hl_column", column)
        values.add("hl_when", when)
        values.add("hl_style", style)
    return values


def param_inputs(param: report_design.ReportParam, **changed) -> dict[str, str]:
    values = {key: getattr(param, key) for key in ("name", "type", "label_zh", "label_en",
              "column", "default", "default_from", "default_to")}  # fmt: skip
    values["compare"] = param.op
    return values | ({"required": "1"} if param.required else {}) | changed


def filter_inputs(condition: report_design.ReportFilter, **changed) -> dict[str, str]:
    values = {"column": condition.column, "compare": condition.op, "value": condition.value,
              "against": condition.against}  # fmt: skip
    return values | changed


def chart_inputs(chart: report_design.ChartView | None, **changed) -> MultiDict:
    if chart is None:
        return MultiDict(changed)
    values = MultiDict({"chart_type": chart.type, "x": chart.x, "series": chart.series})
    for name in chart.y:
        values.add("y", name)
    return MultiDict([*values.items(multi=True), *changed.items()])


def test_columns_are_changed_added_moved_and_removed():
    report = report_design.view(SALES)
    assert report.source == "form:sales_order.deliveries" and report.params[0].name == "period"
    quantity = next(c for c in report.columns if c.name == "quantity")
    total = shown(quantity) | {"aggregate": "sum", "label_zh": "数量合计"}
    summed = report_design.update_column(SALES, quantity.path, total)
    changed = [line for line in summed.splitlines() if line not in SALES.splitlines()]
    assert changed == [
        "  - {name: quantity, column: quantity, label: {zh_CN: 数量合计, en: Quantity}, "
        "aggregate: sum}"
    ]
    labels = {"item.registration_expiry": ("注册证有效期至", "Registration valid until")}
    added = report_design.add_column(SALES, {"column": "item.registration_expiry"}, labels)
    assert added.endswith("  - {name: item_registration_expiry, column: item.registration_expiry, "
                          "label: {zh_CN: 注册证有效期至, en: Registration valid until}}\n"
                          "sort: [sale_date, number, line]\nlimit: 10000\n")  # fmt: skip
    moved = report_design.move_column(SALES, "1", -1)
    assert [c.name for c in report_design.view(moved).columns][:2] == ["number", "sale_date"]
    removed = report_design.remove_column(SALES, "12")
    assert "name: line" not in removed and "# GSP 销售记录" in removed


def test_sort_limit_and_totals():
    report = report_design.view(SALES)
    settings = {"label_zh": report.label_zh, "label_en": report.label_en}
    changes = {"sort": "-sale_date, number", "limit": "500", "totals": "1"}
    after = report_design.update_report(SALES, settings | changes)
    data = safe_load(after)
    assert (data["sort"], data["limit"], data["totals"]) == (["-sale_date", "number"], 500, True)
    for bad, field in (({"sort": "sale date"}, "sort"), ({"limit": "0"}, "limit"),
                       ({"limit": "many"}, "limit")):  # fmt: skip
        with pytest.raises(DesignRefused) as refused:
            report_design.update_report(SALES, settings | bad)
        assert refused.value.field == field


@pytest.mark.parametrize(
    ("values", "field"),
    [({"name": "Bad"}, "name"), ({"name": "number"}, "name"),
     ({"name": "x", "column": "no such"}, "column")],
)  # fmt: skip
def test_a_bad_column_is_refused_on_its_input(values, field):
    quantity = shown(report_design.view(SALES).columns[9])
    with pytest.raises(DesignRefused) as refused:
        report_design.update_column(SALES, "9", quantity | values)
    assert refused.value.field == field
    with pytest.raises(DesignRefused, match="Choose the source column"):
        report_design.add_column(SALES, {"column": ""}, {})


def test_parameters_are_set_added_moved_and_removed():
    period, location, customer = report_design.view(SALES).params
    assert (period.type, period.column, period.default_from, period.default_to) == (
        "date_range", "sale_date", "today() - days(30)", "today()"
    )  # fmt: skip
    assert (location.default, customer.op) == ("mine", "contains")
    year = param_inputs(period, default_from="today() - days(365)", required="1")
    changed = report_design.update_param(SALES, "0", year)
    assert '    default_expr: ["today() - days(365)", "today()"]\n' in changed
    assert "    column: sale_date\n    required: true\n" in changed
    with pytest.raises(DesignRefused) as refused:
        report_design.update_param(SALES, "0", param_inputs(period, default_to=""))
    assert refused.value.field == "default_from"
    with pytest.raises(DesignRefused) as refused:
        report_design.update_param(SALES, "1", param_inputs(location, type="colour"))
    assert refused.value.field == "type"
    with pytest.raises(DesignRefused) as refused:
        report_design.update_param(SALES, "1", param_inputs(location, name="period"))
    assert refused.value.field == "name" and "already has a parameter" in str(refused.value)
    added = report_design.add_param(SALES, {"name": "lot", "type": "text", "label_zh": "批号"})
    assert "  - name: lot\n    type: text\n    label: {zh_CN: 批号, en: 批号}\nfilters:" in added
    moved = report_design.move_entry(added, "params", "3", -1)
    assert [p.name for p in report_design.view(moved).params] == [
        "period", "location", "lot", "customer"
    ]  # fmt: skip
    fewer = report_design.remove_entry(SALES, "params", "2")
    assert "name: customer\n    type: text" not in fewer and "# GSP 销售记录" in fewer
    none = report_design.remove_entry(report_design.remove_entry(fewer, "params", "1"),
                                      "params", "0")  # fmt: skip
    assert "params" not in safe_load(none)
    first = report_design.add_param(none, {"name": "as_of", "type": "date", "label_zh": "截至"})
    assert safe_load(first)["params"] == [
        {"name": "as_of", "type": "date", "label": {"zh_CN": "截至", "en": "截至"}}
    ]
    assert list(safe_load(first))[:5] == ["name", "label", "source", "params", "filters"]


def test_filters_are_set_added_and_removed_and_compare_with_values_or_columns():
    (delivered,) = report_design.view(SALES).filters
    assert (delivered.column, delivered.op, delivered.value) == ("state", "eq", "delivered")
    several = filter_inputs(delivered, compare="in", value="[delivered, invoiced]")
    changed = report_design.update_filter(SALES, "0", several)
    assert "  - {column: state, op: in, value: [delivered, invoiced]}\n" in changed
    empty = report_design.add_filter(SALES, {"column": "lot", "compare": "eq", "value": ""})
    assert "  - {column: lot, op: eq, value: null}\n" in empty
    assert report_design.view(empty).filters[1].value == "null"
    against = report_design.add_filter(SALES, {"column": "quantity", "compare": "gt",
                                               "against": "returned"})  # fmt: skip
    assert "  - {column: quantity, op: gt, against: returned}\n" in against
    with pytest.raises(DesignRefused) as refused:
        report_design.update_filter(SALES, "0", filter_inputs(delivered, value="[open"))
    assert refused.value.field == "value"
    with pytest.raises(DesignRefused) as refused:
        report_design.update_filter(SALES, "0", filter_inputs(delivered, compare="like"))
    assert refused.value.field == "compare"
    assert "filters" not in safe_load(report_design.remove_entry(SALES, "filters", "0"))
    with pytest.raises(DesignRefused, match="no longer where"):
        report_design.update_filter(SALES, "3", filter_inputs(delivered))


def test_a_chart_is_drawn_changed_and_taken_away():
    bars = MultiDict([("chart_type", "bar"), ("x", "customer"), ("y", "quantity"),
                      ("series", "nonsense")])  # fmt: skip
    drawn = report_design.update_chart(SALES, bars)
    assert "chart: {type: bar, x: customer, y: [quantity]}\n" in drawn  # no such series
    chart = report_design.view(drawn).chart
    assert (chart.type, chart.x, chart.y) == ("bar", "customer", ["quantity"])
    assert report_design.update_chart(drawn, MultiDict({"chart_type": ""})) == SALES


def test_cells_are_coloured_when_a_condition_holds():
    text = (REPORTS / "near_expiry.yaml").read_text(encoding="utf-8")
    shown = report_design.view(text).highlights
    assert [(h.column, h.style) for h in shown] == [("days_to_expiry", "danger"),
                                                     ("days_to_expiry", "warning")]  # fmt: skip
    more = highlight_inputs(shown, ("on_hand", "on_hand > 100", "info"))
    coloured = report_design.update_highlights(text, more)
    assert "  - name: on_hand\n    column: on_hand\n" in coloured  # opened up, a key a line
    assert '    highlight:\n      - {when: "on_hand > 100", style: info}\n' in coloured
    fewer = highlight_inputs(shown[:1])
    assert "days_to_expiry <= near_expiry_days" not in report_design.update_highlights(text, fewer)
    for row, field in ((("nowhere", "x > 1", "info"), "hl_column"),
                       (("on_hand", "x > 1", "purple"), "hl_style")):  # fmt: skip
        with pytest.raises(DesignRefused) as refused:
            report_design.update_highlights(text, highlight_inputs(shown, row))
        assert refused.value.field == field


def test_a_column_worked_out_from_the_others_and_subtotals():
    text = (REPORTS / "stock_below_safety.yaml").read_text(encoding="utf-8")
    short = next(c for c in report_design.view(text).columns if c.formula)
    assert short.formula == "safety_stock - available" and not short.column
    doubled = report_design.update_column(text, short.path, shown(short) | {"formula": "2 * x"})
    assert "    formula: 2 * x\n" in doubled
    with pytest.raises(DesignRefused) as refused:
        report_design.update_column(text, short.path, shown(short) | {"formula": " "})
    assert refused.value.field == "formula"
    # what it gives: money shows two decimals; a number, the default, is not written
    money = report_design.update_column(text, short.path, shown(short) | {"type": "money"})
    assert "    type: money\n" in money.split("name: shortfall")[1].split("  - ")[0]
    [again] = [c for c in report_design.view(money).columns if c.formula]
    assert again.type == "money"
    assert report_design.update_column(money, short.path, shown(again) | {"type": ""}) == text
    added = report_design.add_column(SALES, {"name": "twice", "formula": "quantity * 2",
                                             "label_zh": "两倍"}, {})  # fmt: skip
    assert "  - {name: twice, formula: quantity * 2, label: {zh_CN: 两倍, en: 两倍}}\n" in added
    with pytest.raises(DesignRefused) as refused:
        report_design.add_column(SALES, {"formula": "quantity * 2"}, {})  # no name to call it
    assert refused.value.field == "name"
    report = report_design.view(SALES)
    settings = {"label_zh": report.label_zh, "label_en": report.label_en, "sort": report.sort,
                "limit": report.limit, "subtotals": "1"}  # fmt: skip
    assert "subtotals: true" in report_design.update_report(SALES, settings)


def test_a_column_spread_across_the_top():
    text = (REPORTS / "sales_by_store_month.yaml").read_text(encoding="utf-8")
    report = report_design.view(text)
    assert (report.pivot_column, report.pivot_values) == ("month", ["amount"])
    flat = report_design.update_pivot(text, MultiDict({"pivot_column": ""}))
    assert "pivot" not in safe_load(flat)
    again = report_design.update_pivot(flat, MultiDict({"pivot_column": "month"}))
    assert safe_load(again)["pivot"] == {"column": "month", "values": ["amount", "quantity"]}
    with pytest.raises(DesignRefused) as refused:
        report_design.update_pivot(text, MultiDict({"pivot_column": "month"}))
    assert refused.value.field == "pivot_values"


def test_a_running_balance_is_added_and_restarts_by_the_columns_named():
    card = (REPORTS / "stock_card.yaml").read_text(encoding="utf-8")
    balance = next(c for c in report_design.view(card).columns if c.running)
    assert (balance.running, balance.by) == ("quantity", "location_id, item_id, lot_id")
    by_item = shown(balance) | {"by": "location_id，item_id"}  # a Chinese comma too
    per_location = report_design.update_column(card, balance.path, by_item)
    assert "{name: balance, running: quantity, by: [location_id, item_id], label:" in per_location
    added = report_design.add_column(SALES, {"name": "to_date", "running": "quantity",
                                             "label_zh": "累计"}, {})  # fmt: skip
    assert "  - {name: to_date, running: quantity, label: {zh_CN: 累计, en: 累计}}\n" in added
    for values, field in [
        (shown(balance) | {"running": "balance"}, "running"),  # not itself
        (shown(balance) | {"running": "nothing"}, "running"),
        (shown(balance) | {"by": "location_id, shelf"}, "by"),
    ]:
        with pytest.raises(DesignRefused) as refused:
            report_design.update_column(card, balance.path, values)
        assert refused.value.field == field
    assert "shelf: not a column of this report" in str(refused.value)


def test_a_sum_is_made_an_opening_or_a_closing_balance():
    summary = (REPORTS / "receipts_and_issues.yaml").read_text(encoding="utf-8")
    columns = {c.name: c for c in report_design.view(summary).columns}
    assert (columns["opening"].aggregate, columns["closing"].aggregate) == (
        "sum:opening", "sum:closing"
    )  # fmt: skip
    assert columns["sold"].aggregate == "sum" and columns["sold"].other_keys == ["filters"]
    sold = columns["sold"]
    closing = report_design.update_column(
        summary, sold.path, shown(sold) | {"aggregate": "sum:closing"}
    )
    assert "    label: {zh_CN: 销售出库, en: Sold}\n    balance: closing\n" in closing
    opening = columns["opening"]
    plain = report_design.update_column(
        summary, opening.path, shown(opening) | {"aggregate": "sum"}
    )
    assert "{name: opening, column: quantity, aggregate: sum, label:" in plain
    dropped = report_design.update_column(
        summary, opening.path, shown(opening) | {"aggregate": "sum:middle"}
    )
    assert "name: opening, column: quantity, label:" in dropped  # not a choice: not summed


def test_a_click_on_a_cell_opens_the_report_chosen():
    text = (REPORTS / "stock_on_hand.yaml").read_text(encoding="utf-8")
    code = next(c for c in report_design.view(text).columns if c.name == "item_code")
    assert code.drill == "stock_card:item" and "drill" not in code.other_keys
    journal = report_design.update_column(
        text, code.path, shown(code) | {"drill": "stock_journal:item"}
    )
    assert "en: Item code}, drill: {report: stock_journal, param: item}}\n" in journal
    assert (
        "drill"
        not in safe_load(report_design.update_column(text, code.path, shown(code) | {"drill": ""}))[
            "columns"
        ][1]
    )
    with pytest.raises(DesignRefused) as refused:
        report_design.update_column(text, code.path, shown(code) | {"drill": "stock card"})
    assert refused.value.field == "drill"
    to_record = text.replace(
        "drill: {report: stock_card, param: item}",
        "drill: {form: purchase_receipt, record_column: item_code}",
    )
    kept = next(c for c in report_design.view(to_record).columns if c.name == "item_code")
    assert kept.drill == "record:purchase_receipt:item_code" and "drill" not in kept.other_keys
    assert report_design.update_column(to_record, kept.path, shown(kept)) == to_record
    cell = report_design.update_column(
        to_record, kept.path, shown(kept) | {"drill": "record:recall:"}
    )
    assert "en: Item code}, drill: {form: recall}}\n" in cell  # the cell itself is the id
    back = report_design.update_column(cell, kept.path, shown(kept) | {"drill": "stock_card:item"})
    assert back == text
    for bad in ("record:", "record:Recall:id", "record:recall:item code"):
        with pytest.raises(DesignRefused) as refused:
            report_design.update_column(text, code.path, shown(code) | {"drill": bad})
        assert refused.value.field == "drill"
        assert str(refused.value) == "Choose the record a click opens."


def test_a_click_on_a_document_number_opens_that_document():
    """The stock card's document column opens the document it numbers; the designer shows that
    choice as ``document``, keeps it as it is, and sets it on another column."""
    text = (REPORTS / "stock_card.yaml").read_text(encoding="utf-8")
    document = next(c for c in report_design.view(text).columns if c.name == "document")
    assert document.drill == "document" and "drill" not in document.other_keys
    assert report_design.update_column(text, document.path, shown(document)) == text
    line = next(c for c in report_design.view(text).columns if c.name == "line")
    changed = report_design.update_column(text, line.path, shown(line) | {"drill": "document"})
    assert safe_load(changed)["columns"][
        [c.name for c in report_design.view(text).columns].index("line")
    ]["drill"] == {"document": True}
