"""Reports through the web: the API's JSON, the page, parameter errors, Excel and CSV exports."""

import datetime as dt
import io
import re
import shutil

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from app import create_app
from app.kernel import audit, jobs
from app.kernel.audit import AuditContext
from app.kernel.locations import add_location
from app.kernel.users import User
from app.meta import identity
from tests.conftest import PROJECT_ROOT
from tests.forms_fixtures import ApiClient

UTC = dt.UTC
MOMENTS = [
    (dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "create"),
    (dt.datetime(2026, 3, 1, 3, 0, tzinfo=UTC), "update"),
    (dt.datetime(2026, 3, 2, 4, 0, tzinfo=UTC), "create"),
]
PERIOD = {"period": "2026-03-01..2026-03-31"}
#: A report with a yes/no column of its source and a yes/no formula.
FLAGS = """name: location_flags
label: {zh_CN: 地点标志, en: Location flags}
source: locations
columns:
  - {name: code, column: code, label: {zh_CN: 编码, en: Code}}
  - {name: active, column: active, label: {zh_CN: 启用, en: Active}}
  - {name: head_office, formula: "code == 'HQ'", label: {zh_CN: 总部, en: Head office}}
sort: [code]
"""


@pytest.fixture
def auditor(db, monkeypatch, login):
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        identity.create_user(session, "auditor", "审计 周平", "correct horse battery",
                             roles=["auditor"], location_ids=[hq.id])  # fmt: skip
        for at, action in MOMENTS:
            monkeypatch.setattr(audit, "utcnow", lambda at=at: at)
            audit.record(session, action, "supplier", 7, context=AuditContext(username="qa"))
    monkeypatch.undo()
    login("auditor", "correct horse battery")


@pytest.fixture
def flags(auditor, app_config, db, tmp_path):
    """An app whose metadata adds ``location_flags``, the auditor signed in to it; HQ is open,
    a store closed."""
    shutil.copytree(PROJECT_ROOT / "metadata", tmp_path / "metadata")
    (tmp_path / "metadata" / "reports" / "location_flags.yaml").write_text(FLAGS, "utf-8")
    with db.transaction() as session:
        add_location(session, "SH09", "已关闭门店", "store").active = False
    application = create_app({**app_config, "METADATA_DIR": str(tmp_path / "metadata")})
    application.config["TESTING"] = True
    yield ApiClient(application.test_client()).login("auditor", "correct horse battery")
    application.extensions["lianku.db"].dispose()


def test_api_returns_rows_and_typed_columns_in_the_users_language(client, auditor):
    response = client.get("/api/v1/reports/audit_activity", query_string=PERIOD)
    assert response.status_code == 200
    body = response.get_json()
    assert body["label"] == "操作量统计"
    assert body["columns"][0] == {"name": "day", "label": "日期", "type": "text",
                                  "kind": "dimension"}  # fmt: skip
    rows = {row["values"]["day"]: row["values"] for row in body["rows"]}
    assert rows["2026-03-01"]["create·entries"] == 1
    assert rows["2026-03-01"]["update·entries"] == 1
    assert body["totals"]["values"]["total·entries"] == 3
    assert body["chart"]["type"] == "stacked_bar"


def test_api_bad_parameter_is_a_400_naming_it(client, auditor):
    response = client.get("/api/v1/reports/audit_trail", query_string={"period": "yesterday"})
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["period"]


@pytest.mark.parametrize(
    "path", ["/api/v1/reports/audit_trail", "/api/v1/reports/audit_trail/export.csv"]
)
def test_api_refuses_a_parameter_the_report_does_not_take(client, auditor, path):
    """A misspelt filter would otherwise be ignored and the unfiltered rows taken for filtered."""
    response = client.get(path, query_string={**PERIOD, "locaton": "SH01"})
    assert response.status_code == 400
    body = response.get_json()
    assert list(body["errors"]) == ["locaton"]
    assert "locaton" in body["message"] and "period_from" in body["message"]
    paged = {**PERIOD, "page": "1", "per_page": "5"}
    assert client.get("/api/v1/reports/audit_trail", query_string=paged).status_code == 200
    split = {"period_from": "2026-03-01", "period_to": "2026-03-31"}
    assert client.get("/api/v1/reports/audit_trail", query_string=split).status_code == 200


@pytest.mark.parametrize(
    "query", [{"page": str(10**30)}, {"page": "0"}, {"per_page": "abc"}, {"page": "١"}]
)
def test_api_bad_page_is_a_400_naming_it(client, auditor, query):
    response = client.get("/api/v1/reports/audit_trail", query_string={**PERIOD, **query})
    assert response.status_code == 400
    body = response.get_json()
    assert list(body["errors"]) == list(query) and body["error"] == "invalid" and body["message"]


def test_unknown_report_is_404(client, auditor):
    """The API's 404 has the shape of every API error: a short code and the text to show."""
    response = client.get("/api/v1/reports/no_such")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": "没有这个报表。"}
    assert client.get("/reports/no_such").status_code == 404


def test_report_page_renders_filters_table_and_chart(client, auditor):
    page = client.get("/reports/audit_activity", query_string=PERIOD)
    assert page.status_code == 200
    assert "操作量统计" in page.text
    assert 'name="period_from"' in page.text
    assert 'id="chart"' in page.text and "echarts.min.js" in page.text
    assert "2026-03-02" in page.text


def test_report_page_shows_a_bad_parameter_next_to_its_field(client, auditor):
    page = client.get("/reports/audit_trail", query_string={"period_from": "2026-03-09",
                                                            "period_to": "2026-03-01"})  # fmt: skip
    assert page.status_code == 400
    assert "is-invalid" in page.text
    assert "开始日期晚于结束日期" in page.text


def test_a_report_opened_from_the_menu_asks_for_what_it_needs(client, auditor):
    page = client.get("/reports/stock_card")  # the item is required; nothing asked yet
    assert page.status_code == 200
    assert 'id="report-asking"' in page.text and "invalid-feedback" not in page.text
    refused = client.get("/reports/stock_card", query_string={"lot": "L-1"})  # asked, no item
    assert refused.status_code == 400 and "invalid-feedback" in refused.text
    assert 'id="report-asking"' not in refused.text


def test_a_moment_reads_on_the_business_wall_clock(client, auditor):
    page = client.get("/reports/audit_trail", query_string=PERIOD)
    assert "2026-03-01 10:00" in page.text  # 02:00 UTC, in Shanghai
    assert "2026-03-01T02:00:00+00:00" not in page.text
    api = client.get("/api/v1/reports/audit_trail", query_string=PERIOD).get_json()
    assert "2026-03-01T02:00:00+00:00" in [row["values"]["at"] for row in api["rows"]]


def test_reports_index_lists_runnable_reports(client, auditor):
    page = client.get("/reports/")
    assert "审计追踪查询" in page.text and "操作量统计" in page.text


def test_excel_export_has_numbers_dates_and_chinese_headers(client, auditor):
    response = client.get("/reports/audit_trail/export.xlsx", query_string=PERIOD)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("时间", "用户", "姓名", "操作")
    assert len(rows) == 4
    # newest first; the timestamp is a real date-time, in Shanghai time
    assert rows[1][0] == dt.datetime(2026, 3, 2, 12, 0)  # noqa: DTZ001 (Excel has no zones)
    assert rows[1][3] == "create"
    assert sheet.freeze_panes == "A2"


def test_excel_export_of_a_pivot_keeps_counts_as_numbers(client, auditor):
    response = client.get("/reports/audit_activity/export.xlsx", query_string=PERIOD)
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "2026-03-01"
    assert rows[1][1:] == (1, 1, 2)  # create, update, total
    assert rows[-1][1:] == (2, 1, 3)  # the totals row


def test_csv_export_opens_in_excel_with_chinese(client, auditor):
    response = client.get("/reports/audit_trail/export.csv", query_string=PERIOD)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff时间,用户,姓名,操作")
    assert "2026-03-02 12:00:00,qa" in text


def test_large_exports_run_as_a_job(app, client, auditor, db, monkeypatch, tmp_path):
    monkeypatch.setattr("app.web.reports.DIRECT_EXPORT_ROWS", 2)
    response = client.get("/reports/audit_trail/export.xlsx", query_string=PERIOD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/jobs")
    monkeypatch.setenv("LIANKU_METADATA_DIR", app.config["LIANKU"].metadata_dir.as_posix())
    reported = []
    monkeypatch.setattr(jobs.JobRun, "progress", lambda run, *step: reported.append(step))
    finished = jobs.run_next(db, files_dir=tmp_path)
    assert finished.status == "done", finished.error
    assert finished.result["rows"] == 3
    # the jobs page follows the rows as they are written, not 10 % and then done
    assert reported == [(10,), (38, "1 / 3"), (66, "2 / 3"), (95, "3 / 3")]
    sheet = load_workbook(tmp_path / finished.result["file"]).active
    assert sheet.max_row == 4


def test_print_view(client, auditor):
    page = client.get("/reports/audit_trail", query_string={**PERIOD, "print": "1"})
    assert "window.print()" in page.text
    assert "<nav" not in page.text


def test_a_store_manager_may_not_read_the_audit_trail(client, db, login):
    with db.transaction() as session:
        store = add_location(session, "SH01", "上海徐汇店", "store")
        identity.create_user(session, "manager", "店长", "correct horse battery",
                             roles=["store_manager"], location_ids=[store.id])  # fmt: skip
    login("manager", "correct horse battery")
    assert client.get("/api/v1/reports/audit_trail").status_code == 404
    assert client.get("/reports/audit_trail").status_code == 404
    assert "审计追踪查询" not in client.get("/reports/").text


def test_an_export_of_a_report_gone_since_it_was_queued_fails_saying_so(
    app, auditor, db, monkeypatch
):
    from sqlalchemy import select

    from app.kernel.users import User

    monkeypatch.setenv("LIANKU_METADATA_DIR", app.config["LIANKU"].metadata_dir.as_posix())
    with db.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "auditor"))
    with db.transaction() as session:
        jobs.enqueue(session, "report_export", {"report": "retired", "user_id": user_id})
    finished = jobs.run_next(db)
    assert finished.status == "failed"
    assert finished.error == "The report retired no longer exists."


def test_a_report_opened_from_the_menu_shows_the_period_it_ran_with(client, auditor):
    """The boxes show the default period the rows are filtered by (they were empty, so the
    page seemed to show everything); what was typed stays as typed."""
    page = client.get("/reports/audit_trail").text
    start = re.search(r'name="period_from" value="(\d{4}-\d{2}-\d{2})"', page)
    end = re.search(r'name="period_to" value="(\d{4}-\d{2}-\d{2})"', page)
    assert start and end and start.group(1) <= end.group(1)
    typed = client.get("/reports/audit_trail", query_string=PERIOD).text
    assert 'name="period_from" value="2026-03-01"' in typed  # (typed as period=2026-03-01..)


def _cells(page: str, label: str) -> list[str]:
    return re.findall(rf'data-label="{label}"[^>]*>\s*([^<]*?)\s*</td>', page)


def test_yes_no_columns_read_as_words_not_true_and_blank(flags, db):
    """A yes/no column (of the source, or a formula giving true or false) reads 是/否 on the
    page and in the exports, Yes/No in English; the API keeps the values, the words as labels."""
    page = flags.get("/reports/location_flags").text
    assert _cells(page, "启用") == ["是", "否"] and _cells(page, "总部") == ["是", "否"]
    body = flags.get("/api/v1/reports/location_flags").get_json()
    assert body["columns"][2]["type"] == "boolean"
    assert [(r["values"]["active"], r["labels"]["active"]) for r in body["rows"]] == [
        (True, "是"), (False, "否")]  # fmt: skip
    text = flags.get("/reports/location_flags/export.csv").data.decode("utf-8")
    assert text.splitlines()[1:] == ["HQ,是,是", "SH09,否,否"]
    sheet = load_workbook(io.BytesIO(flags.get("/reports/location_flags/export.xlsx").data)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows == [("HQ", "是", "是"), ("SH09", "否", "否")]
    with db.transaction() as session:
        session.execute(update(User).where(User.username == "auditor").values(locale="en"))
    text = flags.get("/reports/location_flags/export.csv").data.decode("utf-8")
    assert text.splitlines()[1:] == ["HQ,Yes,Yes", "SH09,No,No"]
    assert _cells(flags.get("/reports/location_flags").text, "Active") == ["Yes", "No"]


#: Locations counted by type and code, with subtotals per type and a total; and the count alone.
COUNTS = """name: location_counts
label: {zh_CN: 地点统计, en: Location counts}
source: locations
columns:
  - {name: type, column: type, label: {zh_CN: 类型, en: Type}}
  - {name: code, column: code, label: {zh_CN: 编码, en: Code}}
  - {name: places, column: id, aggregate: count, label: {zh_CN: 地点数, en: Places}}
totals: true
subtotals: true
sort: [type, code]
"""
COUNT = """name: location_count
label: {zh_CN: 地点总数, en: Location count}
source: locations
columns:
  - {name: places, column: id, aggregate: count, label: {zh_CN: 地点数, en: Places}}
"""


@pytest.fixture
def counts(auditor, app_config, db, tmp_path):
    """An app whose metadata adds ``location_counts`` and ``location_count``, the auditor signed
    in to it; HQ and a store."""
    shutil.copytree(PROJECT_ROOT / "metadata", tmp_path / "metadata")
    for name, text in (("location_counts", COUNTS), ("location_count", COUNT)):
        (tmp_path / "metadata" / "reports" / f"{name}.yaml").write_text(text, "utf-8")
    with db.transaction() as session:
        add_location(session, "SH09", "徐汇店", "store")
    application = create_app({**app_config, "METADATA_DIR": str(tmp_path / "metadata")})
    application.config["TESTING"] = True
    yield ApiClient(application.test_client()).login("auditor", "correct horse battery")
    application.extensions["lianku.db"].dispose()


def _exported(client, report: str) -> tuple[list[str], list[tuple]]:
    """The CSV's lines and the Excel sheet's rows of ``report``."""
    text = client.get(f"/reports/{report}/export.csv").data.decode("utf-8")
    sheet = load_workbook(io.BytesIO(client.get(f"/reports/{report}/export.xlsx").data)).active
    return text.lstrip("\ufeff").splitlines(), list(sheet.iter_rows(values_only=True))


def test_exports_label_the_totals_and_subtotal_rows_in_the_readers_language(counts, db):
    """The page says 合计 in the totals row; the files did not, nor marked a subtotal row, which
    then read like one more row to add up."""
    lines, sheet = _exported(counts, "location_counts")
    assert lines[-1] == "合计,,2"
    assert sheet[-1] == ("合计", None, 2)
    with db.transaction() as session:
        session.execute(update(User).where(User.username == "auditor").values(locale="en"))
    lines, sheet = _exported(counts, "location_counts")
    assert lines == ["Type,Code,Places", "hq,HQ,1", "hq,Subtotal,1", "store,SH09,1",
                     "store,Subtotal,1", "Total,,2"]  # fmt: skip
    assert sheet[1:] == [("hq", "HQ", 1), ("hq", "Subtotal", 1), ("store", "SH09", 1),
                         ("store", "Subtotal", 1), ("Total", None, 2)]  # fmt: skip


def test_a_report_of_figures_alone_shows_and_exports_them_once(counts):
    """A report without dimensions (the stock value) is one row: its total, not repeated below
    it as a totals row, on the page, in the API or in the files."""
    lines, sheet = _exported(counts, "location_count")
    assert lines == ["地点数", "2"]
    assert sheet == [("地点数",), (2,)]
    body = counts.get("/api/v1/reports/location_count").get_json()
    assert [row["values"]["places"] for row in body["rows"]] == [2] and body["totals"] is None
    assert _cells(counts.get("/reports/location_count").text, "地点数") == ["2"]


def test_a_role_without_the_forms_export_right_reads_its_report_but_takes_no_file(
    client, db, login
):
    """The roles designer's E: a store clerk may read the returns record of their store on the
    page, but not download it (its customers); a report of stock figures, over no form, they
    may export."""
    with db.transaction() as session:
        store = add_location(session, "SH01", "一店", "store")
        identity.create_user(session, "clerk", "店员 王丽", "correct horse battery",
                             roles=["store_clerk"], location_ids=[store.id])  # fmt: skip
    login("clerk", "correct horse battery")
    page = client.get("/reports/customer_returns_record")
    assert page.status_code == 200 and "/export.xlsx" not in page.text
    assert client.get("/reports/customer_returns_record/export.csv").status_code == 403
    api = client.get("/api/v1/reports/customer_returns_record/export.csv")
    assert api.status_code == 403 and api.json["error"] == "forbidden"
    stock = client.get("/reports/stock_on_hand")
    assert "/export.xlsx" in stock.text
    assert client.get("/reports/stock_on_hand/export.csv").status_code == 200
