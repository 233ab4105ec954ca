"""Admins edit reports live, as they edit forms: a draft is previewed on live data without going
live, a publish is live in every worker at its next request, a rollback brings the old version
back; each publish is audited; a broken definition is refused with its precise path and nothing
is published. Large exports (jobs) run the live version too."""

from __future__ import annotations

from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import create_app
from app.kernel import jobs
from app.kernel.audit import AuditEntry
from app.meta.models import ReportVersion
from tests.chain import PASSWORD
from tests.forms_fixtures import ApiClient
from tests.report_chain import make_report_chain

URL = "/api/v1/reports/stock_by_location"
RESERVED = (
    "  - {name: reserved, column: reserved, aggregate: sum,"
    " label: {zh_CN: 预留合计, en: Reserved total}}\n"
)
NEW_REPORT = """name: stock_by_status
label: {zh_CN: 各状态库存, en: Stock by status}
source: balances
columns:
  - {name: status, column: status, label: {zh_CN: 库存状态, en: Status}}
  - {name: on_hand, column: on_hand, aggregate: sum, label: {zh_CN: 现存量, en: On hand}}
totals: true
"""


@pytest.fixture
def chain(app, db):
    return make_report_chain(app, db)


@pytest.fixture
def admin(app, chain):
    return ApiClient(app.test_client()).login("admin", PASSWORD)


@pytest.fixture
def other(app_config, chain):
    """A second gunicorn worker, loaded before any edit, signed in as HQ."""
    worker = create_app(app_config)
    yield ApiClient(worker.test_client()).login("hq", PASSWORD)
    worker.extensions["lianku.db"].dispose()


def shipped_text(app, name="stock_by_location") -> str:
    return (app.config["LIANKU"].metadata_dir / f"reports/{name}.yaml").read_text("utf-8")


def with_reserved(app) -> str:
    return shipped_text(app).replace("totals: true", RESERVED.rstrip("\n") + "\ntotals: true")


def column_names(client, url=URL) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return [column["name"] for column in response.json["columns"]]


def published_rows(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(ReportVersion))


def report_audit(db) -> list[tuple[str, str | None]]:
    with db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "report").order_by(AuditEntry.id)
        )
        return [(entry.entity_id, entry.reason) for entry in entries]


def test_preview_draft_publish_diff_and_rollback_reach_every_worker(app, db, admin, other):
    assert column_names(other) == ["location", "items", "on_hand", "available"]
    edited = with_reserved(app)

    preview = admin.form("/admin/reports/stock_by_location/preview", {"yaml": edited})
    assert preview.status_code == 200
    assert "未发现问题" in preview.text
    assert "预留合计" in preview.text  # the draft's new column, run on live data …
    assert "上海徐汇店" in preview.text and "北京朝阳店" in preview.text  # … in the admin's scope
    assert admin.form("/admin/reports/stock_by_location/draft", {"yaml": edited}).status_code == 302
    assert "预留合计" in admin.get("/admin/reports/stock_by_location/edit").text
    assert column_names(other) == ["location", "items", "on_hand", "available"]  # not live
    assert report_audit(db) == []

    published = admin.form(
        "/admin/reports/stock_by_location/publish", {"yaml": edited, "note": "show reserved"}
    )
    assert published.status_code == 302, published.text
    assert column_names(other) == ["location", "items", "on_hand", "available", "reserved"]
    assert "预留合计" in other.get("/reports/stock_by_location").text

    versions = admin.get("/admin/reports/stock_by_location/versions").text
    assert "v2" in versions and "v1" in versions and "show reserved" in versions
    diff = admin.get("/admin/reports/stock_by_location/versions/2?against=1").text
    assert "+  - {name: reserved, column: reserved" in diff

    rolled = admin.form("/admin/reports/stock_by_location/versions/1/rollback", {})
    assert rolled.status_code == 302
    assert column_names(other) == ["location", "items", "on_hand", "available"]
    assert "v3" in admin.get("/admin/reports/stock_by_location/versions").text
    assert report_audit(db) == [
        ("stock_by_location", "show reserved"),
        ("stock_by_location", "回滚到版本 1"),
    ]
    exported = admin.get("/admin/reports/stock_by_location/export")
    assert exported.text == shipped_text(app)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("column: on_hand, aggregate: sum", "column: nope, aggregate: sum"),
            "reports/stock_by_location.yaml:14 columns[2].column: 数据源“balances”中没有列“nope”",
        ),
        (
            ("column: on_hand, aggregate: sum", "column: status, aggregate: sum"),
            "reports/stock_by_location.yaml:14 columns[2].aggregate: 不能对 text 类型的列做 sum",
        ),
        (
            ("type: location", "type: colour"),
            "reports/stock_by_location.yaml:6 params[0].type: 不允许的值“colour”",
        ),
    ],
)
def test_a_broken_definition_is_refused_with_its_path_and_nothing_goes_live(
    app, db, admin, other, change, message
):
    broken = shipped_text(app).replace(*change)
    preview = admin.form("/admin/reports/stock_by_location/preview", {"yaml": broken})
    assert message in preview.text and 'id="preview"' not in preview.text
    refused = admin.form("/admin/reports/stock_by_location/publish", {"yaml": broken})
    assert refused.status_code == 422
    assert message in refused.text
    assert published_rows(db) == 0 and report_audit(db) == []
    assert column_names(other) == ["location", "items", "on_hand", "available"]


def test_a_renamed_report_is_refused_on_its_name(app, db, admin):
    """A rename would leave the dashboards' cards naming a report that is gone: said at once,
    on the name, rather than as every card's unknown report."""
    renamed = shipped_text(app, "stock_value").replace("name: stock_value\n", "name: other\n")
    refused = admin.form("/admin/reports/stock_value/publish", {"yaml": renamed})
    assert refused.status_code == 422
    assert "reports/stock_value.yaml:1 name: 报表名称必须是“stock_value”" in refused.text
    assert "dashboards/store.yaml" not in refused.text
    assert published_rows(db) == 0


def test_a_new_report_is_live_in_every_worker(db, admin, other):
    assert other.get("/api/v1/reports/stock_by_status").status_code == 404
    form = admin.get("/admin/reports/new?name=stock_by_status")
    assert form.status_code == 200 and "name: stock_by_status" in form.text
    # opened as new_report, named in the name box: the preview checks it under that name
    typed = {"yaml": NEW_REPORT, "name": "stock_by_status"}
    preview = admin.form("/admin/reports/new_report/preview", typed)
    assert preview.status_code == 200 and "未发现问题" in preview.text, preview.text
    bad_name = admin.form("/admin/reports/new", {"name": "Bad Name", "yaml": NEW_REPORT})
    assert bad_name.status_code == 422
    taken = admin.form("/admin/reports/new", {"name": "stock_by_location", "yaml": NEW_REPORT})
    assert taken.status_code == 422 and published_rows(db) == 0
    created = admin.form("/admin/reports/new", {"name": "stock_by_status", "yaml": NEW_REPORT})
    assert created.status_code == 302, created.text
    body = other.get("/api/v1/reports/stock_by_status").json
    rows = {row["values"]["status"]: Decimal(row["values"]["on_hand"]) for row in body["rows"]}
    assert rows == {"available": 111, "in_transit": 4}  # 112+6 received, 3 sold, 4 shipped
    assert Decimal(body["totals"]["values"]["on_hand"]) == 115
    assert report_audit(db) == [("stock_by_status", None)]
    assert "stock_by_status" in admin.get("/admin/reports/").text


def test_an_export_job_runs_the_published_version(app, db, admin, monkeypatch, tmp_path):
    published = admin.form("/admin/reports/stock_by_location/publish", {"yaml": with_reserved(app)})
    assert published.status_code == 302
    monkeypatch.setattr("app.web.reports.DIRECT_EXPORT_ROWS", 1)
    assert admin.get("/reports/stock_by_location/export.xlsx").status_code == 302
    monkeypatch.setenv("LIANKU_METADATA_DIR", app.config["LIANKU"].metadata_dir.as_posix())
    finished = jobs.run_next(db, files_dir=tmp_path)
    assert finished.status == "done", finished.error
    header = next(
        load_workbook(tmp_path / finished.result["file"]).active.iter_rows(values_only=True)
    )
    assert "预留合计" in header


@pytest.mark.parametrize("user", ["clerk_a", "manager_a", "hq"])
def test_only_admins_edit_reports(app, chain, user):
    client = ApiClient(app.test_client()).login(user, PASSWORD)
    assert client.get("/admin/reports/").status_code == 403
    assert client.get("/admin/reports/stock_by_location/edit").status_code == 403
    preview = client.form("/admin/reports/stock_by_location/preview", {"yaml": NEW_REPORT})
    assert preview.status_code == 403
    publish = client.form("/admin/reports/stock_by_location/publish", {"yaml": NEW_REPORT})
    assert publish.status_code == 403


def test_a_publish_on_a_version_another_admin_replaced_is_refused(app, db, admin):
    """Two admins open the same report; the second to publish would undo the first's change
    unseen: refused, nothing published, until it is made again on what is live."""
    page = admin.get("/admin/reports/stock_by_location/edit").text
    assert 'name="opened_version" value="1"' in page
    first = {"yaml": with_reserved(app), "opened_version": "1"}
    assert admin.form("/admin/reports/stock_by_location/publish", first).status_code == 302
    second = {"yaml": shipped_text(app).replace("totals: true", "totals: false"),
              "opened_version": "1"}  # fmt: skip
    refused = admin.form("/admin/reports/stock_by_location/publish", second)
    assert refused.status_code == 409
    assert "stock_by_location 的第 2 版在您打开第 1 版之后已发布" in refused.text
    assert 'name="opened_version" value="1"' in refused.text  # still what was opened
    assert published_rows(db) == 1
    again = {**second, "opened_version": "2"}
    assert admin.form("/admin/reports/stock_by_location/publish", again).status_code == 302
    assert published_rows(db) == 2
