"""Stock and sales reports through the web: drill from a figure to its rows and from a row to its
record page, role dashboards on the home page, and store scope over HTTP."""

from decimal import Decimal

import pytest

from tests.chain import PASSWORD
from tests.report_chain import inspect_receipts, make_report_chain

NOVEMBER = {"period": "2026-11-01..2026-11-30"}


@pytest.fixture
def chain(app, db):
    return make_report_chain(app, db)


def test_drill_returns_the_rows_behind_a_figure_with_their_records(client, login, chain, db):
    inspect_receipts(db)
    login("finance", PASSWORD)
    url = "/api/v1/reports/purchases_by_supplier"
    total = client.get(url, query_string=NOVEMBER).get_json()
    assert Decimal(total["rows"][0]["values"]["quantity"]) == 18
    assert total["drill"] == ["supplier"]
    body = client.get(url, query_string={**NOVEMBER, "drill": "supplier:鱼跃医疗"}).get_json()
    assert sorted(float(row["values"]["quantity"]) for row in body["rows"]) == [1, 1, 6, 10]
    assert body["record_form"] == "purchase_receipt"
    record_id = body["rows"][0]["record_id"]
    assert client.get(f"/forms/purchase_receipt/{record_id}").status_code == 200
    page = client.get(f"/reports/purchases_by_supplier?period={NOVEMBER['period']}")
    assert "drill=supplier" in page.text
    rows_page = client.get(
        "/reports/purchases_by_supplier", query_string={**NOVEMBER, "drill": "supplier:鱼跃医疗"}
    )
    assert f"/forms/purchase_receipt/{record_id}" in rows_page.text


def test_drill_to_an_unknown_dimension_is_a_400(client, login, chain):
    login("finance", PASSWORD)
    response = client.get("/api/v1/reports/stock_by_location", query_string={"drill": "x:1"})
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["drill"]


def test_a_clerk_drilling_into_another_store_gets_nothing(client, login, chain):
    login("clerk_a", PASSWORD)
    url = "/api/v1/reports/stock_by_location"
    own = client.get(url).get_json()
    assert [row["values"]["location"] for row in own["rows"]] == ["上海徐汇店"]
    other = client.get(url, query_string={"drill": "location:北京朝阳店"}).get_json()
    assert other["rows"] == []
    assert client.get(url, query_string={"location": "BJ01"}).status_code == 400


def test_store_manager_and_hq_home_pages_show_their_dashboards(client, login, chain):
    login("manager_a", PASSWORD)
    home = client.get("/").text
    for report in ("sales_today", "stock_value", "near_expiry"):
        assert f"/api/v1/reports/{report}" in home
    assert "stock_value_by_region" not in home
    client.post("/logout")
    login("hq", PASSWORD)
    home = client.get("/").text
    assert "/api/v1/reports/stock_value_by_region" in home
    assert "/api/v1/reports/transit_by_route" in home
    body = client.get("/api/v1/reports/stock_value_by_region").get_json()
    assert Decimal(body["totals"]["values"]["value"]) == Decimal("50.00")


def test_a_region_managers_home_shows_the_regions_stores(client, login, chain, db):
    """区域看板: each card reads the manager's region (the role's scope) — the east's store,
    not the north's."""
    from app.meta import identity

    with db.transaction() as session:
        identity.create_user(session, "regional", "regional", PASSWORD, roles=["region_manager"],
                             location_ids=[chain.loc("R-EAST")])  # fmt: skip
    login("regional", PASSWORD)
    home = client.get("/").text
    for report in ("sales_today", "my_approvals", "sales_by_store_month", "slow_moving"):
        assert f"/api/v1/reports/{report}" in home
    assert "stock_value_by_region" not in home
    body = client.get("/api/v1/reports/stock_by_location").get_json()
    shown = [row["values"]["location"] for row in body["rows"]]
    assert "上海徐汇店" in shown and "北京朝阳店" not in shown  # (its goods on the road: shown)


def test_an_item_code_opens_the_items_stock_card(client, login, chain):
    """A column's drill: each item code of the stock report links to that item's stock card."""
    login("finance", PASSWORD)
    body = client.get("/api/v1/reports/stock_on_hand").get_json()
    [column] = [c for c in body["columns"] if c["name"] == "item_code"]
    assert column["link"] == {"report": "stock_card", "param": "item"}
    row = body["rows"][0]
    code = row["values"]["item_code"]
    assert row["links"] == {"item_code": code}
    page = client.get("/reports/stock_on_hand").text
    assert f'href="/reports/stock_card?item={code}" data-link' in page
    card = client.get("/api/v1/reports/stock_card", query_string={"item": code}).get_json()
    assert card["rows"] and {r["values"]["item_code"] for r in card["rows"]} == {code}


RECEIPTS = """name: receipts_by_supplier
label: {zh_CN: 收货（按供应商）, en: Receipts by supplier}
source: form:purchase_receipt
columns:
  - {name: arrival_date, column: arrival_date, label: {zh_CN: 到货日期, en: Arrival}}
  - {name: supplier, column: supplier.name, label: {zh_CN: 供应商, en: Supplier},
     drill: {form: purchase_receipt, record_column: receipt}}
  - {name: receipt, column: id, hidden: true, label: {zh_CN: 单据, en: Receipt}}
sort: [receipt]
"""


def test_a_cell_opens_the_record_its_row_names(client, login, chain):
    """A column's drill to a form: each cell links to the record whose id a hidden column holds."""
    login("admin", PASSWORD)
    token = client.get("/admin/reports/new").text.split('name="csrf_token" value="')[1]
    created = client.post("/admin/reports/new", data={"name": "receipts_by_supplier",
                          "yaml": RECEIPTS, "csrf_token": token.split('"')[0]})  # fmt: skip
    assert created.status_code == 302, created.text
    body = client.get("/api/v1/reports/receipts_by_supplier").get_json()
    assert [c["name"] for c in body["columns"]] == ["arrival_date", "supplier"]  # id hidden
    ids = [row["links"]["supplier"] for row in body["rows"]]
    assert len(ids) == 2 and all(isinstance(record_id, int) for record_id in ids)
    page = client.get("/reports/receipts_by_supplier").text
    for record_id in ids:
        link = f'href="/forms/purchase_receipt/{record_id}" class="record-link" data-link'
        assert link in page
        assert client.get(f"/forms/purchase_receipt/{record_id}").status_code == 200
