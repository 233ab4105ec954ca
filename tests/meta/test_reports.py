"""Reports: every column kind, aggregate, pivot and parameter, against hand-computed results."""

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

import app.workflow  # noqa: F401
from app.kernel import audit
from app.kernel.audit import AuditContext
from app.kernel.locations import add_location
from app.meta import MetadataInvalid, load_metadata
from app.meta.reports import (
    Page,
    ParamError,
    build_statement,
    compile_report,
    get_report,
    run_report,
    stream_report,
)

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
TODAY = dt.date(2026, 3, 10)


class Auditor:
    """A signed-in auditor: every report, every location (permissions from app.meta.access)."""

    is_authenticated = True
    is_api_token = False
    role_names = ["auditor"]
    location_ids: list[int] = []
    id = None


USER = Auditor()

#: (UTC time, username, action): 2026-03-01 17:30 UTC is already 03-02 in Shanghai.
ENTRIES = [
    (dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "zhang", "create"),
    (dt.datetime(2026, 3, 1, 3, 0, tzinfo=UTC), "zhang", "update"),
    (dt.datetime(2026, 3, 1, 17, 30, tzinfo=UTC), "li", "create"),
    (dt.datetime(2026, 3, 2, 4, 0, tzinfo=UTC), "li", "create"),
    (dt.datetime(2026, 3, 2, 5, 0, tzinfo=UTC), "wang", "create"),
    (dt.datetime(2026, 3, 9, 5, 0, tzinfo=UTC), "wang", "login"),
    (dt.datetime(2026, 1, 5, 5, 0, tzinfo=UTC), "wang", "login"),
]


@pytest.fixture
def entries(db, monkeypatch):
    with db.transaction() as session:
        for at, username, action in ENTRIES:
            monkeypatch.setattr(audit, "utcnow", lambda at=at: at)
            audit.record(session, action, "record", 1, context=AuditContext(username=username))


def make_report(metadata, **definition):
    definition.setdefault("name", "test_report")
    definition.setdefault("label", {"zh_CN": "测试", "en": "Test"})
    report, problems = compile_report(definition, metadata)
    assert problems == []
    return report


def run(db, report, params=None, **kwargs):
    with db.session() as session:
        return run_report(session, report, params or {}, USER, today=TODAY, **kwargs)


def values(result, *names):
    return [tuple(row[name] for name in names) for row in result.rows]


def test_day_buckets_follow_the_report_time_zone(db, entries, metadata):
    report = make_report(
        metadata, source="audit_trail",
        columns=[
            {"name": "day", "column": "at", "bucket": "day", "label": {"zh_CN": "日", "en": "Day"}},
            {"name": "n", "aggregate": "count", "label": {"zh_CN": "数", "en": "N"}},
        ],
        sort=["day"], totals=True,
    )  # fmt: skip
    result = run(db, report)
    assert values(result, "day", "n") == [
        ("2026-01-05", 1), ("2026-03-01", 2), ("2026-03-02", 3), ("2026-03-09", 1),
    ]  # fmt: skip
    assert result.totals["n"] == 7


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("week", [("2026-01-05", 1), ("2026-02-23", 2), ("2026-03-02", 3), ("2026-03-09", 1)]),
        ("month", [("2026-01", 1), ("2026-03", 6)]),
        ("quarter", [("2026-Q1", 7)]),
        ("year", [("2026", 7)]),
    ],
)
def test_week_month_quarter_year_buckets(db, entries, metadata, size, expected):
    report = make_report(
        metadata, source="audit_trail",
        columns=[
            {"name": "b", "column": "at", "bucket": size, "label": {"zh_CN": "期", "en": "P"}},
            {"name": "n", "aggregate": "count", "label": {"zh_CN": "数", "en": "N"}},
        ],
        sort=["b"],
    )  # fmt: skip
    assert values(run(db, report), "b", "n") == expected


def test_count_distinct_min_max_and_subtotals(db, entries, metadata):
    report = make_report(
        metadata, source="audit_trail",
        columns=[
            {"name": "action", "column": "action", "label": {"zh_CN": "操作", "en": "Action"}},
            {"name": "user", "column": "username", "label": {"zh_CN": "人", "en": "User"}},
            {"name": "n", "aggregate": "count", "label": {"zh_CN": "数", "en": "N"}},
            {"name": "people", "column": "username", "aggregate": "count_distinct",
             "label": {"zh_CN": "人数", "en": "People"}},
            {"name": "first", "column": "at", "aggregate": "min",
             "label": {"zh_CN": "最早", "en": "First"}},
            {"name": "last", "column": "at", "aggregate": "max",
             "label": {"zh_CN": "最晚", "en": "Last"}},
        ],
        sort=["action", "user"], subtotals=True, totals=True,
    )  # fmt: skip
    result = run(db, report)
    assert [(r["_level"], r["action"], r["user"], r["n"], r["people"]) for r in result.rows] == [
        (0, "create", "li", 2, 1),
        (0, "create", "wang", 1, 1),
        (0, "create", "zhang", 1, 1),
        (1, "create", None, 4, 3),
        (0, "login", "wang", 2, 1),
        (1, "login", None, 2, 1),
        (0, "update", "zhang", 1, 1),
        (1, "update", None, 1, 1),
    ]
    assert result.totals["people"] == 3  # distinct over everything, not a sum of subtotals
    first_create = result.rows[3]["first"]
    assert first_create == dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_pivot_lays_one_dimension_across_with_margins(db, entries, metadata):
    report = get_report(metadata, "audit_activity")
    result = run(db, report, {"period": "2026-03-01..2026-03-09"})
    assert result.pivot_values == ["create", "login", "update"]
    table = {row["day"]: row for row in result.rows}
    assert table["2026-03-01"]["create·entries"] == 1
    assert table["2026-03-01"]["update·entries"] == 1
    assert table["2026-03-01"].get("login·entries") is None
    assert table["2026-03-02"]["create·entries"] == 3
    assert table["2026-03-02"]["total·entries"] == 3
    assert result.totals["create·entries"] == 4
    assert result.totals["total·entries"] == 6  # 2026-01-05 is outside the period


def test_date_range_parameter_and_its_default(db, entries, metadata):
    report = get_report(metadata, "audit_trail")
    everything = run(db, report, {"period": "2026-01-01..2026-03-31"})
    assert len(everything.rows) == 7
    # the default is the last 30 days before TODAY (2026-03-10): the January entry drops out
    assert len(run(db, report).rows) == 6
    # a range ending 2026-03-01 (Shanghai) excludes 17:30 UTC, which is 03-02 01:30 there
    assert len(run(db, report, {"period_from": "2026-03-01", "period_to": "2026-03-01"}).rows) == 2


def test_rows_come_sorted_and_joined_through_links(db, entries, metadata):
    report = get_report(metadata, "audit_trail")
    result = run(db, report, {"user": "zha"})
    assert [row["action"] for row in result.rows] == ["update", "create"]  # newest first
    assert result.rows[0]["full_name"] is None  # no user row: the link is an outer join


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"period": "2026-13-01..2026-12-31"}, "period", "must be a date"),
        ({"period": "2026-03-01"}, "period", "must be a range"),
        ({"period": "2026-03-09..2026-03-01"}, "period", "starts after it ends"),
        ({"user": "x" * 201}, "user", "too long"),
        ({"user": "zh\x00ang"}, "user", "control characters"),
    ],
)
def test_bad_parameters_name_the_parameter(db, metadata, params, param, message):
    with pytest.raises(ParamError, match=message) as raised:
        run(db, get_report(metadata, "audit_trail"), params)
    assert raised.value.param == param


def test_required_select_and_number_parameters(db, entries, metadata):
    report = make_report(
        metadata, source="audit_trail",
        params=[
            {"name": "kind", "type": "select", "column": "action", "required": True,
             "label": {"zh_CN": "类", "en": "Kind"},
             "options": [{"value": "create", "label": {"zh_CN": "建", "en": "Create"}},
                         {"value": "login", "label": {"zh_CN": "登", "en": "Login"}}]},
            {"name": "min_id", "type": "number", "column": "id", "op": "gte",
             "label": {"zh_CN": "起", "en": "From"}},
        ],
        columns=[{"name": "n", "aggregate": "count", "label": {"zh_CN": "数", "en": "N"}}],
    )  # fmt: skip
    with pytest.raises(ParamError, match="类 is required"):  # (by its label)
        run(db, report)
    with pytest.raises(ParamError, match="must be one of: create, login"):
        run(db, report, {"kind": "delete"})
    with pytest.raises(ParamError, match="must be a number"):
        run(db, report, {"kind": "create", "min_id": "1e"})
    for not_a_figure in ("NaN", "Infinity", "-inf", "sNaN"):
        with pytest.raises(ParamError, match="must be a number"):
            run(db, report, {"kind": "create", "min_id": not_a_figure})
    assert run(db, report, {"kind": "create"}).rows[0]["n"] == 4
    assert run(db, report, {"kind": "login", "min_id": "7"}).rows[0]["n"] == 1


@pytest.mark.parametrize(
    "attack",
    ["'; DROP TABLE audit_log; --", "%", "_", "\\", "zhang' OR '1'='1", "li\u202e"],
)
def test_injection_through_parameters_is_inert(db, entries, metadata, attack):
    report = get_report(metadata, "audit_trail")
    result = run(db, report, {"user": attack, "period": "2026-01-01..2026-12-31"})
    assert result.rows == []  # matched literally: no username contains these characters
    assert len(run(db, report, {"period": "2026-01-01..2026-12-31"}).rows) == 7


def test_statement_binds_values_instead_of_splicing_them(db, metadata):
    report = get_report(metadata, "audit_trail")
    with db.session() as session:
        statement = build_statement(report, {"user": "zhang'--"}, session, USER,
                                    timezone="Asia/Shanghai")  # fmt: skip
        assert "zhang'--" not in str(statement.compile(session.get_bind()))


def test_formulas_and_highlights_over_aggregates(db, metadata):
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        region = add_location(session, "R1", "华东", "region", hq)
        for code, latitude in (("S1", "31.20"), ("S2", "30.30"), ("W1", "31.40")):
            add_location(session, code, code, "store" if code[0] == "S" else "warehouse",
                         region, latitude=Decimal(latitude))  # fmt: skip
    report = make_report(
        metadata, source="locations",
        filters=[{"column": "type", "op": "in", "value": ["store", "warehouse"]}],
        columns=[
            {"name": "type", "column": "type", "label": {"zh_CN": "类", "en": "Type"}},
            {"name": "region", "column": "region.name", "label": {"zh_CN": "区", "en": "Region"}},
            {"name": "lat", "column": "latitude", "aggregate": "avg",
             "label": {"zh_CN": "纬", "en": "Lat"}},
            {"name": "lat_sum", "column": "latitude", "aggregate": "sum",
             "label": {"zh_CN": "和", "en": "Sum"}},
            {"name": "double", "formula": "lat_sum * 2", "label": {"zh_CN": "倍", "en": "x2"},
             "highlight": [{"when": "double > 100", "style": "warning"}]},
            {"name": "cents", "formula": "lat_sum * 2", "type": "money",
             "label": {"zh_CN": "元", "en": "¥"}},
        ],
        sort=["type"],
    )  # fmt: skip
    result = run(db, report)
    stores, warehouses = result.rows
    assert (stores["type"], stores["region"]) == ("store", "华东")
    assert stores["lat"] == Decimal("30.75")
    assert stores["lat_sum"] == Decimal("61.50")
    assert stores["double"] == Decimal("123.00")
    # a number as people write it; money with its two decimals, as a margin is read
    assert (str(stores["double"]), str(stores["cents"])) == ("123", "123.00")
    assert stores["_styles"] == {"double": "warning"}
    assert warehouses["_styles"] == {}


def test_an_aggregate_of_some_rows_counts_them_beside_the_others(db, entries, metadata):
    label = {"zh_CN": "x", "en": "x"}
    report = make_report(
        metadata, source="audit_trail",
        columns=[
            {"name": "user", "column": "username", "label": label},
            {"name": "n", "aggregate": "count", "label": label},
            {"name": "created", "aggregate": "count", "label": label,
             "filters": [{"column": "action", "op": "eq", "value": "create"}]},
            {"name": "other", "column": "action", "aggregate": "count_distinct", "label": label,
             "filters": [{"column": "action", "op": "ne", "value": "create"}]},
        ],
        sort=["user"], totals=True,
    )  # fmt: skip
    result = run(db, report)
    assert values(result, "user", "n", "created", "other") == [
        ("li", 2, 2, 0), ("wang", 3, 1, 1), ("zhang", 2, 1, 1),
    ]  # fmt: skip
    assert (result.totals["n"], result.totals["created"], result.totals["other"]) == (7, 4, 2)


def running_by_user(metadata):
    """Actions per user and day, with each user's running count of actions (a balance)."""
    label = {"zh_CN": "x", "en": "x"}
    return make_report(
        metadata, source="audit_trail",
        params=[{"name": "period", "type": "date_range", "column": "at", "label": label}],
        columns=[
            {"name": "user", "column": "username", "label": label},
            {"name": "day", "column": "at", "bucket": "day", "label": label},
            {"name": "n", "aggregate": "count", "label": label},
            {"name": "so_far", "running": "n", "by": ["user"], "label": label},
        ],
        sort=["user", "day"], totals=True,
    )  # fmt: skip


def test_a_running_column_adds_up_each_group_in_the_report_order(db, entries, metadata):
    result = run(db, running_by_user(metadata))
    assert values(result, "user", "day", "n", "so_far") == [
        ("li", "2026-03-02", 2, 2),
        ("wang", "2026-01-05", 1, 1), ("wang", "2026-03-02", 1, 2), ("wang", "2026-03-09", 1, 3),
        ("zhang", "2026-03-01", 2, 2),
    ]  # fmt: skip
    assert (result.totals["n"], result.totals["so_far"]) == (7, 7)
    # by one dimension, with no period: every row from the first on
    label = {"zh_CN": "x", "en": "x"}
    by_day = make_report(
        metadata, source="audit_trail",
        columns=[
            {"name": "day", "column": "at", "bucket": "day", "label": label},
            {"name": "n", "aggregate": "count", "label": label},
            {"name": "so_far", "running": "n", "label": label},
        ],
        sort=["day"], totals=True,
    )  # fmt: skip
    result = run(db, by_day)
    assert [row["so_far"] for row in result.rows] == [1, 3, 6, 7]
    assert result.totals["so_far"] == 7 and result.opening is None  # no period: nothing before


def test_a_running_column_opens_with_what_came_before_the_period(db, entries, metadata):
    report = running_by_user(metadata)
    result = run(db, report, {"period": "2026-03-02..2026-03-09"})
    # wang acted once before (01-05), zhang twice (03-01): their balances open with those
    assert values(result, "user", "day", "n", "so_far") == [
        ("li", "2026-03-02", 2, 2), ("wang", "2026-03-02", 1, 2), ("wang", "2026-03-09", 1, 3),
    ]  # fmt: skip
    # the totals row: the period's 4 actions, and the closing balance of every user: 7
    assert (result.totals["n"], result.totals["so_far"]) == (4, 7)
    assert result.opening == {"so_far": 3}  # what every user had done before the period
    # a page further on carries the balance of the rows before it
    second = run(db, report, {"period": "2026-03-02..2026-03-09"}, page=Page(3, 1))
    assert values(second, "user", "day", "so_far") == [("wang", "2026-03-09", 3)]
    # an export streams the same figures
    with db.session() as session:
        streamed = stream_report(session, report, {"period": "2026-03-02..2026-03-09"}, USER,
                                 today=TODAY)  # fmt: skip
        assert [row["so_far"] for row in streamed.rows] == [2, 2, 3]
        assert streamed.totals["so_far"] == 7


def test_shipped_reports_are_valid(metadata):
    assert {"audit_trail", "audit_activity"} <= set(metadata.reports)


def test_the_receivables_say_what_deliveries_add_to_what_is_owed_not_what_is_invoiced(metadata):
    """应收（发货）: what the deliveries on credit add to what a customer owes. Invoices do not
    change what is owed (they say what is billed), so the English must not call it invoiced."""
    columns = metadata.reports["receivables"].data["columns"]
    debit = next(column for column in columns if column["name"] == "debit")
    assert debit["label"] == {"zh_CN": "应收（发货）", "en": "Charged (goods delivered)"}


BAD = [
    ({"source": "stock"}, "source: unknown source 'stock'"),
    ({"source": "Stock"}, "source: 'Stock' does not match the pattern"),
    ({"source": {"union": [{"source": "audit_trail"}]}},
     "source.union: expected at least 2 entries"),
    ({"source": {"union": [{"source": "audit_trail", "colour": 1}, {"source": "audit_trail"}]}},
     "source.union[0].colour: unknown key 'colour'"),
    ({"source": {"union": [{"source": "audit_trail", "filters": [{"column": "action", "op": "eq"}]},
                           {"source": "audit_trail"}]}},
     "source.union[0].filters[0]: needs one of the keys 'value' / 'against'"),
    ({"source": {"union": [{"source": "audit_trail"}, {"source": "stock"}]}},
     "source.union[1].source: unknown source 'stock'"),
    ({"columns": [{"name": "x", "column": "colour", "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].column: unknown column 'colour' in source 'audit_trail'"),
    ({"columns": [{"name": "x", "column": "action", "aggregate": "sum",
                   "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].aggregate: cannot sum a text column"),
    ({"columns": [{"name": "x", "formula": "n +* 2", "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].formula: syntax error"),
    ({"columns": [{"name": "x", "column": "action", "type": "money",
                   "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].type: only a formula column takes a type"),
    ({"columns": [{"name": "x", "formula": "1", "type": "colour",
                   "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].type: 'colour' is not allowed; expected one of: decimal, money"),
    ({"params": [{"name": "p", "type": "colour", "column": "action",
                  "label": {"zh_CN": "x", "en": "x"}}]},
     "params[0].type: 'colour' is not allowed"),
    ({"columns": [{"name": "x", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"form": "no_such_form"}}]},
     "columns[0].drill.form: unknown form 'no_such_form'"),
    ({"columns": [{"name": "x", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"form": "supplier", "record_column": "nowhere"}}]},
     "columns[0].drill.record_column: unknown column 'nowhere'"),
    ({"columns": [{"name": "x", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"report": "stock_card", "param": "colour"}}]},
     "columns[0].drill.param: report 'stock_card' has no parameter 'colour'"),
    ({"columns": [{"name": "x", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"report": "stock_card"}}]},
     "columns[0].drill: missing required key 'param'"),
    ({"columns": [{"name": "x", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"record_column": "x"}}]},
     "columns[0].drill: a drill goes to a form's record, a document or a report"),
    ({"columns": [{"name": "x", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"document": True, "form": "supplier"}}]},
     "columns[0].drill: a drill goes to a form's record, a document or a report"),
    ({"columns": [{"name": "x", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"document": False}}]},
     "columns[0].drill.document: 'false' is not allowed; expected one of: true"),
    ({"columns": [{"name": "x", "column": "action", "bucket": "month",
                   "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].bucket: only a date or datetime column can be bucketed"),
    ({"columns": [{"name": "n", "aggregate": "count", "label": {"zh_CN": "x", "en": "x"}},
                  {"name": "r", "running": "n", "label": {"zh_CN": "x", "en": "x"}}]},
     "sort: a running column needs the report's sort order"),
    ({"columns": [{"name": "a", "column": "action", "label": {"zh_CN": "x", "en": "x"}},
                  {"name": "r", "running": "a", "label": {"zh_CN": "x", "en": "x"}}],
      "sort": ["a"]},
     "columns[1].running: a running balance adds up a sum or count column"),
    ({"columns": [{"name": "n", "aggregate": "count", "label": {"zh_CN": "x", "en": "x"}},
                  {"name": "r", "running": "n", "by": ["nobody"],
                   "label": {"zh_CN": "x", "en": "x"}}],
      "sort": ["n"]},
     "columns[1].by[0]: 'nobody' is not a dimension"),
    ({"columns": [{"name": "a", "column": "action", "label": {"zh_CN": "x", "en": "x"}},
                  {"name": "r", "running": "a", "column": "action",
                   "label": {"zh_CN": "x", "en": "x"}}],
      "sort": ["a"]},
     "columns[1].column: a running column takes no 'column'"),
    ({"columns": [{"name": "a", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "drill": {"report": "stock_card", "param": "item", "keep": ["period"]}}]},
     "columns[0].drill.keep[0]: 'period' is not a parameter of the same kind in both reports"),
    ({"columns": [{"name": "n", "aggregate": "count", "balance": "opening",
                   "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].balance: an opening or closing balance is a sum"),
    ({"columns": [{"name": "n", "aggregate": "count", "balance": "closing",
                   "label": {"zh_CN": "x", "en": "x"}}]},
     "columns[0].balance: an opening or closing balance needs the report's one period"),
    ({"columns": [{"name": "a", "column": "action", "label": {"zh_CN": "x", "en": "x"},
                   "filters": [{"column": "action", "op": "eq", "value": "create"}]}]},
     "columns[0].filters: only an aggregate column takes 'filters'"),
    ({"columns": [{"name": "n", "aggregate": "count", "label": {"zh_CN": "x", "en": "x"},
                   "filters": [{"column": "nothing", "op": "eq", "value": 1}]}]},
     "columns[0].filters[0].column: unknown column 'nothing'"),
    ({"source": "ledger",
      "columns": [{"name": "n", "aggregate": "count", "label": {"zh_CN": "x", "en": "x"},
                   "filters": [{"column": "flow", "op": "in", "value": ["sold", "solde"]}]}]},
     "columns[0].filters[0].value[1]: unknown value 'solde'; expected one of: purchased, "),
    ({"source": "form:purchase_receipt",
      "filters": [{"column": "state", "op": "in", "value": ["draft", "recieved"]}]},
     "filters[0].value[1]: unknown value 'recieved'; expected one of: draft, "),
    ({"source": "form:scrap.lines", "filters": [{"column": "status", "op": "eq", "value": "ok"}]},
     "filters[0].value: unknown value 'ok'; expected one of: nonconforming, available"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_report_definitions_are_load_time_errors(tmp_path, change, message):
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    definition = {
        "name": "broken", "label": {"zh_CN": "坏", "en": "Broken"}, "source": "audit_trail",
        "columns": [{"name": "n", "aggregate": "count", "label": {"zh_CN": "数", "en": "N"}}],
        **change,
    }  # fmt: skip
    (tmp_path / "metadata" / "reports" / "broken.yaml").write_text(
        yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)
    )
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(tmp_path / "metadata", ROOT / "workflows")
    assert any(
        str(issue).startswith("reports/broken.yaml:") and message in str(issue)
        for issue in raised.value.issues
    ), raised.value
