"""The report designer's changes: every shipped report saved unchanged is unchanged; a column is
relabelled, summed, added from the source, moved and removed line by line; bad names, sort keys
and limits are refused on their input."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta import report_design
from app.meta.yaml_edit import DesignRefused, safe_load

REPORTS = Path(__file__).resolve().parents[2] / "metadata" / "reports"
SALES = (REPORTS / "sales_record.yaml").read_text(encoding="utf-8")


def shown(column: report_design.ReportColumn) -> dict[str, str]:
    values = {key: getattr(column, key) for key in
              ("name", "column", "label_zh", "label_en", "aggregate", "bucket")}  # fmt: skip
    return values | ({"hidden": "1"} if column.hidden else {})


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_report_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    report = report_design.view(text)
    settings = {"label_zh": report.label_zh, "label_en": report.label_en, "sort": report.sort,
                "limit": report.limit} | ({"totals": "1"} if report.totals else {})  # fmt: skip
    assert report_design.update_report(text, settings) == text
    for column in report.columns:
        assert report_design.update_column(text, column.path, shown(column)) == text


def test_columns_are_changed_added_moved_and_removed():
    report = report_design.view(SALES)
    assert report.source == "form:sales_order.deliveries" and "params" in report.other_keys
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
