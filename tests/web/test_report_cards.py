"""The dashboards' cards over form records and approval tasks (stock below safety level, my
pending approvals, open recalls), and paging through a report's detail rows, on the report chain
of ``tests/report_chain.py``; expected figures are by hand.

Stock policies (sellable stock = status available, on hand minus reserved):

    SH01 STRIP  safety 10  sellable 3 (L-EARLY) + 2 (L-OLD) = 5   → below, shortfall 5
    SH01 GLOVE  safety 50  sellable 100                            → not below
    BJ01 STRIP  safety 6   sellable 1 (L-EARLY) + 5 (L-LATE) = 6   → not below (equal)
    BJ01 GLOVE  safety 1   none                                    → below, shortfall 1
"""

import datetime as dt
from decimal import Decimal

import pytest

from app.db import clock_at
from app.kernel.users import User
from app.meta import records
from app.meta.models import Record
from app.meta.reports import Page, get_report, run_report
from app.workflow.models import ApprovalTask
from tests.chain import PASSWORD
from tests.report_chain import TODAY, inspect_receipts, make_report_chain

D = Decimal


@pytest.fixture
def chain(app, db):
    chain = make_report_chain(app, db)
    registry = app.extensions["lianku.registry"]
    policies = [("SH01", "STRIP", "10"), ("SH01", "GLOVE", "50"), ("BJ01", "STRIP", "6"),
                ("BJ01", "GLOVE", "1")]  # fmt: skip
    with app.test_request_context(), db.transaction() as session:
        admin = session.get(User, chain.users["admin"])
        for code, item, safety in policies:
            records.create(session, registry, admin, "stock_policy", {
                "location": chain.loc(code), "item": chain.items[item],
                "safety_stock": safety, "reorder_point": str(int(safety) * 2),
            })  # fmt: skip
        with clock_at(dt.datetime.combine(TODAY, dt.time(12), dt.UTC)):  # written that day
            recalls = [
                records.create(
                    session,
                    registry,
                    admin,
                    "recall",
                    {
                        "item": chain.items["STRIP"],
                        "lots": "L-EARLY",
                        "level": level,
                        "deadline": deadline,
                        "reason": "标签错误",
                    },
                )
                for level, deadline in (
                    ("II", "2026-12-20"),
                    ("I", "2026-12-10"),
                    ("III", "2026-12-01"),
                )
            ]
        # two issued, one still a draft (state set here: issuing runs the whole recall)
        for recall in recalls[:2]:
            session.get(Record, recall.id).state = "issued"
        chain.recalls = [recall.number for recall in recalls]
        sh_order, _sh2, bj_order, _bj2 = chain.sales
        tasks = [
            (sh_order, "manager_a", "pending"),
            (sh_order, "manager_a", "approved"),  # decided: no longer waiting
            (bj_order, "manager_a", "pending"),  # another store's record: out of scope
            (bj_order, "manager_b", "pending"),
            (_sh2, "hq", "pending"),
        ]
        for record_id, username, status in tasks:
            session.add(ApprovalTask(record_id=record_id, transition="confirm", level=1,
                                     level_name="店长", approver_id=chain.users[username],
                                     status=status))  # fmt: skip
    return chain


def run(app, db, chain, name, username, **kwargs):
    report = get_report(app.extensions["lianku.registry"].metadata, name)
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users[username])
        return run_report(session, report, {}, user, today=TODAY, **kwargs)


def rows(result, *names):
    return sorted((tuple(row.get(name) for name in names) for row in result.rows), key=str)


def test_stock_below_safety_level_per_store_and_for_hq(app, db, chain):
    names = ("location", "item_code", "available", "safety_stock", "shortfall")
    shanghai = [("上海徐汇店", "STRIP", D(5), D(10), D(5))]
    beijing = [("北京朝阳店", "GLOVE", D(0), D(1), D(1))]
    assert rows(run(app, db, chain, "stock_below_safety", "manager_a"), *names) == shanghai
    assert rows(run(app, db, chain, "stock_below_safety", "manager_b"), *names) == beijing
    result = run(app, db, chain, "stock_below_safety", "hq")
    assert rows(result, *names) == sorted(shanghai + beijing, key=str)
    styles = {row["item_code"]: row["_styles"].get("shortfall") for row in result.rows}
    assert styles == {"STRIP": "warning", "GLOVE": "danger"}
    assert all(row["_record_id"] for row in result.rows)  # each row opens its policy


def test_my_pending_approvals_are_mine_in_my_scope(app, db, chain):
    mine = run(app, db, chain, "my_approvals", "manager_a")
    assert rows(mine, "form", "tasks") == [("sales_order", 1)]
    assert mine.totals["tasks"] == 1
    assert run(app, db, chain, "my_approvals", "manager_b").totals["tasks"] == 1
    # HQ sees every location, but only the tasks waiting for HQ
    assert run(app, db, chain, "my_approvals", "hq").totals["tasks"] == 1
    nothing = run(app, db, chain, "my_approvals", "finance")
    assert nothing.rows == [] and nothing.totals["tasks"] == 0


def test_open_recalls_nearest_deadline_first(app, db, chain):
    result = run(app, db, chain, "open_recalls", "hq")
    assert [(row["number"], row["level"]) for row in result.rows] == [
        (chain.recalls[1], "I"),
        (chain.recalls[0], "II"),
    ]
    assert result.totals["recalls"] == 2


def test_the_dashboards_show_the_new_cards(client, login, chain):
    login("manager_a", PASSWORD)
    home = client.get("/").text
    assert "/api/v1/reports/stock_below_safety" in home
    assert "/api/v1/reports/my_approvals" in home
    card = client.get("/api/v1/reports/stock_below_safety").get_json()
    assert [row["values"]["item_code"] for row in card["rows"]] == ["STRIP"]
    approvals = client.get("/api/v1/reports/my_approvals").get_json()
    assert approvals["totals"]["values"]["tasks"] == 1
    [waiting] = approvals["rows"]  # the form by its name, as people call it; filters keep the code
    assert waiting["values"]["form"] == "sales_order" and waiting["labels"]["form"] == "销售订单"
    client.get("/logout")
    login("hq", PASSWORD)
    assert "/api/v1/reports/open_recalls" in client.get("/").text


def test_stock_on_hand_counts_an_expired_lot_on_hand_but_not_available(app, db, chain):
    """The planner's QA pass found an expired lot's 97 units "available" in this report while
    the one-screen stock view said expired: available is what may be sold or promised."""
    whole = run(app, db, chain, "stock_on_hand", "hq")
    figures = {row["lot"]: (row["on_hand"], row["available"])
               for row in whole.rows if row["item_code"] == "STRIP" and row["status"] == "available"
               and row["location"] == whole.rows[0]["location"]}  # fmt: skip
    assert figures["L-OLD"] == (D(2), D(0))  # expired yesterday: on hand, not available
    assert figures["L-EARLY"][1] == figures["L-EARLY"][0]  # good stock: all of it
    assert whole.totals["available"] == sum(row["available"] for row in whole.rows)


def test_pages_of_detail_rows_with_totals_over_every_row(app, db, chain):
    whole = run(app, db, chain, "stock_on_hand", "hq")
    keys = [(row["location"], row["item_code"], row["lot"], row["status"]) for row in whole.rows]
    seen, number = [], 1
    while True:
        page = run(app, db, chain, "stock_on_hand", "hq", page=Page(number, 2))
        assert page.totals["on_hand"] == whole.totals["on_hand"] == D(115)
        seen += [(row["location"], row["item_code"], row["lot"], row["status"])
                 for row in page.rows]  # fmt: skip
        assert len(page.rows) == 2 or not page.has_next
        if not page.has_next:
            break
        number += 1
    assert seen == keys and number == 3  # six balances, in the report's order


def test_a_subtotal_follows_the_last_row_of_its_group_even_across_pages(app, db, chain):
    registry = app.extensions["lianku.registry"]
    report = get_report(registry.metadata, "stock_on_hand")
    subtotalled = type(report)(**{**report.__dict__, "subtotals": True})
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["hq"])
        whole = run_report(session, subtotalled, {}, user, today=TODAY)
        pages = [run_report(session, subtotalled, {}, user, today=TODAY, page=Page(n, 2))
                 for n in (1, 2, 3)]  # fmt: skip
    flat = [(row["_level"], row["location"], row["on_hand"]) for page in pages for row in page.rows]
    assert flat == [(row["_level"], row["location"], row["on_hand"]) for row in whole.rows]


def test_report_api_pages_and_names_a_bad_page(client, login, chain):
    login("hq", PASSWORD)
    url = "/api/v1/reports/stock_on_hand"
    first = client.get(url, query_string={"per_page": 4}).get_json()
    assert (first["page"], first["per_page"], first["has_next"]) == (1, 4, True)
    assert len(first["rows"]) == 4 and D(first["totals"]["values"]["on_hand"]) == 115
    second = client.get(url, query_string={"per_page": 4, "page": 2}).get_json()
    assert len(second["rows"]) == 2 and second["has_next"] is False
    assert D(second["totals"]["values"]["on_hand"]) == 115
    page = client.get("/reports/stock_on_hand", query_string={"per_page": 4})
    assert 'rel="next"' in page.text and "page=2" in page.text
    bad_pages = [({"page": "0"}, "page"), ({"page": "x"}, "page"),
                 ({"per_page": "501"}, "per_page"), ({"per_page": "-1"}, "per_page")]  # fmt: skip
    for bad, name in bad_pages:
        response = client.get(url, query_string=bad)
        assert response.status_code == 400
        assert list(response.get_json()["errors"]) == [name]
    assert client.get("/reports/stock_on_hand", query_string={"page": "0"}).status_code == 400


def test_reports_show_codes_by_their_labels_and_figures_without_padding(client, login, chain, db):
    """GSP records read 合格, 一级召回 and 5 — not accepted, I, 5.00000000 or 0E-8 — on the page
    and in the exports; the API keeps each stored value (filters, drill links) beside its label."""
    login("hq", PASSWORD)
    body = client.get("/api/v1/reports/open_recalls").get_json()
    first = body["rows"][0]
    assert first["values"]["level"] == "I" and first["labels"]["level"] == "一级召回"  # hq: zh
    page = client.get("/reports/open_recalls").text
    assert "一级召回" in page and "二级召回" in page
    assert "一级召回" in client.get("/reports/open_recalls/export.csv").text
    client.get("/logout")
    login("finance", PASSWORD)
    inspect_receipts(db)
    body = client.get(
        "/api/v1/reports/purchases_by_supplier?period=2026-11-01..2026-11-30"
    ).get_json()
    assert body["rows"][0]["values"]["quantity"] == "18"  # a sum of Numeric(28, 8) figures
    assert body["rows"][0]["values"]["unit_cost"] == "1.3611"  # 24.50 / 18
