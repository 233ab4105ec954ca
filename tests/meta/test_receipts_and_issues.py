"""收发存汇总 (``receipts_and_issues``): what each location held when a period opened, what came in
and went out during it by kind, and what it held at its end — figures by hand over the report
chain (tests/report_chain.py) and a few more movements three days after it:

    SH01  STRIP  opening 5 (L-EARLY 3, L-OLD 2 @1.50)   sold 1 (L-EARLY)          → 4
    SH01  GLOVE  opening 100                             purchased 10 @0.30, inspected,
                                                         scrapped 2                 → 108
    BJ01  STRIP  opening 6 (L-EARLY 1 @1.50, L-LATE 5 @2.00)  received TR-1: 4     → 10
    transit SH01 → BJ01  STRIP  opening 4 (TR-1)         delivered 4               → 0

The gloves' latest cost is 0.30 once the new ones are in: every glove is valued at it.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

import app.workflow  # noqa: F401
from app.kernel import stock
from app.kernel.items import Item, Lot, business_today
from app.kernel.locations import Location
from app.kernel.stock import Movement, Reason, StockStatus, post_movements
from app.kernel.transfers import ReceiveLine, receive
from app.kernel.users import User
from app.meta import load_metadata
from app.meta.reports import build_statement, compile_report, get_report, parse_params, run_report
from tests.chain import PASSWORD
from tests.report_chain import TODAY, make_report_chain

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
FIGURES = ("opening", "purchased", "transferred_in", "customer_returned", "other_in", "sold",
           "transferred_out", "returned_to_supplier", "other_out", "closing")  # fmt: skip
VALUES = ("opening_value", "received_value", "issued_value", "closing_value")
RECEIVED = ("purchased", "transferred_in", "customer_returned", "other_in")
ISSUED = ("sold", "transferred_out", "returned_to_supplier", "other_out")


@pytest.fixture
def chain(app, db, monkeypatch):
    """The report chain, then three days later: a sale, gloves bought, inspected and two
    scrapped at SH01, the transfer received at BJ01."""
    chain = make_report_chain(app, db)
    later = stock.utcnow() + dt.timedelta(days=3)
    monkeypatch.setattr(stock, "utcnow", lambda: later)
    with db.transaction() as session:
        sh, bj = (session.get(Location, chain.loc(code)) for code in ("SH01", "BJ01"))
        strips, gloves = (session.get(Item, chain.items[code]) for code in ("STRIP", "GLOVE"))
        early = session.scalars(select(Lot).where(Lot.lot_number == "L-EARLY")).one()

        def post(reason, document, *movements):
            post_movements(session, list(movements), reason=reason, document=document,
                           today=TODAY)  # fmt: skip

        post(Reason.sale, "SO-9", Movement(item=strips, quantity=D(1), source=sh, lot=early))
        post(Reason.purchase_receipt, "PR-9", Movement(
            item=gloves, quantity=D(10), destination=sh, unit_cost=D("0.30"),
            destination_status=StockStatus.awaiting_inspection,
        ))  # fmt: skip
        post(Reason.inspection, "PR-9", Movement(
            item=gloves, quantity=D(10), source=sh, destination=sh,
            source_status=StockStatus.awaiting_inspection,
        ))  # fmt: skip
        post(Reason.scrap, "SC-1", Movement(item=gloves, quantity=D(2), source=sh))
        receive(session, "TR-1", [ReceiveLine(1, received=D(4))])
    chain.posted = business_today()  # the day of the chain's first movements (the real clock)
    return chain


def run(app, db, chain, username="finance", **params):
    report = get_report(load_metadata(ROOT / "metadata", ROOT / "workflows"), "receipts_and_issues")
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users[username])
        return run_report(session, report, params, user, today=TODAY)


def period(chain, first: int, last: int) -> str:
    """Days counted from the chain's first movements (day 0; the later ones are on day 3)."""
    day = chain.posted
    return f"{day + dt.timedelta(days=first)}..{day + dt.timedelta(days=last)}"


def by_row(result, names=FIGURES):
    return {
        (row["location"], row["item_code"]): tuple(row[name] for name in names)
        for row in result.rows
    }


def test_a_period_opens_with_what_was_held_and_closes_with_what_is(app, db, chain):
    result = run(app, db, chain, period=period(chain, 2, 4))
    assert by_row(result) == {
        ("上海徐汇店", "STRIP"): (D(5), D(0), D(0), D(0), D(0), D(1), D(0), D(0), D(0), D(4)),
        ("上海徐汇店", "GLOVE"): (D(100), D(10), D(0), D(0), D(0), D(0), D(0), D(0), D(2), D(108)),
        ("北京朝阳店", "STRIP"): (D(6), D(0), D(4), D(0), D(0), D(0), D(0), D(0), D(0), D(10)),
        ("上海徐汇店 → 北京朝阳店", "STRIP"): (
            D(4), D(0), D(0), D(0), D(0), D(0), D(4), D(0), D(0), D(0)
        ),
    }  # fmt: skip
    # values at each lot's latest cost: the gloves' is the new 0.30
    assert by_row(result, VALUES)[("上海徐汇店", "GLOVE")] == (
        D("30.00"),
        D("3.00"),
        D("0.60"),
        D("32.40"),
    )
    assert by_row(result, VALUES)[("北京朝阳店", "STRIP")] == (
        D("11.50"),
        D("6.00"),
        D(0),
        D("17.50"),
    )
    # what the chain holds at the end: every balance, the inspected gloves once
    assert result.totals["closing"] == D(122)
    assert result.totals["opening"] == D(115)


def test_every_row_adds_up_in_quantity_and_in_value(app, db, chain):
    for days in ((2, 4), (0, 4), (0, 1), (3, 3)):
        result = run(app, db, chain, period=period(chain, *days))
        assert result.rows
        for row in result.rows:
            moved = sum(row[name] for name in RECEIVED) - sum(row[name] for name in ISSUED)
            assert row["opening"] + moved == row["closing"], (days, row)
            values = row["opening_value"] + row["received_value"] - row["issued_value"]
            assert values == row["closing_value"], (days, row)


def test_from_the_first_movement_on_everything_came_in_during_the_period(app, db, chain):
    result = run(app, db, chain, period=period(chain, 0, 4), location="SH01")
    assert by_row(result) == {
        ("上海徐汇店", "STRIP"): (D(0), D(12), D(0), D(0), D(0), D(4), D(4), D(0), D(0), D(4)),
        ("上海徐汇店", "GLOVE"): (D(0), D(110), D(0), D(0), D(0), D(0), D(0), D(0), D(2), D(108)),
    }  # fmt: skip


def test_a_location_with_neither_stock_nor_movement_shows_no_row(app, db, chain):
    # before the first movement nothing was held and nothing moved
    assert run(app, db, chain, period=period(chain, -10, -5)).rows == []
    # once delivered, the transit route holds nothing and moves nothing
    later = run(app, db, chain, period=period(chain, 5, 6))
    assert ("上海徐汇店 → 北京朝阳店", "STRIP") not in by_row(later)
    assert by_row(later)[("上海徐汇店", "GLOVE")] == (D(108), *[D(0)] * 8, D(108))


def test_a_store_reads_its_own_rows_and_the_api_gives_the_same_figures(
    app, db, chain, client, login
):
    own = run(app, db, chain, username="manager_b", period=period(chain, 2, 4))
    assert set(by_row(own)) == {("北京朝阳店", "STRIP")}
    login("manager_a", PASSWORD)
    body = client.get(
        "/api/v1/reports/receipts_and_issues", query_string={"period": period(chain, 2, 4)}
    ).get_json()
    rows = {(r["values"]["location"], r["values"]["item_code"]): r["values"] for r in body["rows"]}
    assert set(rows) == {("上海徐汇店", "STRIP"), ("上海徐汇店", "GLOVE")}
    glove = rows[("上海徐汇店", "GLOVE")]
    assert [D(glove[name]) for name in ("opening", "purchased", "other_out", "closing")] == [
        D(100), D(10), D(2), D(108)
    ]  # fmt: skip
    # an item code opens its stock card on the period and location the summary ran with
    [column] = [c for c in body["columns"] if c["name"] == "item_code"]
    start, end = period(chain, 2, 4).split("..")
    assert column["link"] == {
        "report": "stock_card", "param": "item", "keep": ["period", "location"],
        "carry": {"period_from": start, "period_to": end},
    }  # fmt: skip
    query = {"period": period(chain, 2, 4), "location": "SH01"}
    page = client.get("/reports/receipts_and_issues", query_string=query)
    assert page.status_code == 200 and "期初数量" in page.text and "108" in page.text
    card = f"/reports/stock_card?period_from={start}&period_to={end}&location=SH01&item=GLOVE"
    assert card.replace("&", "&amp;") in page.text
    assert "PR-9" in client.get(card).text  # the movements behind 108
    nothing = client.get(
        "/reports/receipts_and_issues", query_string={"period": period(chain, -9, -8)}
    )
    assert nothing.status_code == 200
    sheet = client.get(
        "/reports/receipts_and_issues/export.xlsx", query_string={"period": period(chain, 2, 4)}
    )
    assert sheet.status_code == 200 and sheet.mimetype.endswith("sheet")


def test_a_summary_by_location_sums_the_same_rows(app, db, chain):
    """One dimension: on PostgreSQL one pass with grouping sets, the same figures."""
    report, problems = compile_report(
        {
            "name": "by_location", "label": {"zh_CN": "x", "en": "x"}, "source": "ledger",
            "params": [{"name": "period", "type": "date_range", "column": "at",
                        "label": {"zh_CN": "x", "en": "x"}}],
            "columns": [
                {"name": "location", "column": "location.name", "label": {"zh_CN": "x", "en": "x"}},
                {"name": "opening", "column": "quantity", "aggregate": "sum", "balance": "opening",
                 "label": {"zh_CN": "x", "en": "x"}},
                {"name": "issued", "column": "quantity_out", "aggregate": "sum",
                 "filters": [{"column": "flow", "op": "ne", "value": "status_change"}],
                 "label": {"zh_CN": "x", "en": "x"}},
                {"name": "closing", "column": "quantity", "aggregate": "sum", "balance": "closing",
                 "label": {"zh_CN": "x", "en": "x"}},
            ],
            "sort": ["location"], "totals": True,
        },
        load_metadata(ROOT / "metadata", ROOT / "workflows"),
    )  # fmt: skip
    assert problems == []
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["finance"])
        result = run_report(session, report, {"period": period(chain, 2, 4)}, user, today=TODAY)
    figures = [(r["location"], r["opening"], r["issued"], r["closing"]) for r in result.rows]
    assert sorted(figures) == [
        ("上海徐汇店", D(105), D(3), D(112)),
        ("上海徐汇店 → 北京朝阳店", D(4), D(4), D(0)),
        ("北京朝阳店", D(6), D(0), D(10)),
    ]  # fmt: skip
    assert (result.totals["opening"], result.totals["closing"]) == (D(115), D(122))
    # a period before anything: no row, and no figure in the totals
    with app.test_request_context(), db.session() as session:
        empty = run_report(session, report, {"period": period(chain, -9, -8)}, user, today=TODAY)
    assert empty.rows == [] and not empty.totals


def test_on_sqlite_the_costs_are_looked_up_by_index_not_tried_row_by_row(app, db, chain):
    """SQLite folded the latest costs' ``id IN (...)`` into the join and tried every latest id
    against every ledger row: 5 s over the demo's 18,000 rows, for this report and stock value.
    The plan now builds the costs once and looks each row's up by an index."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")
    for name, params in (("receipts_and_issues", {"period": period(chain, 2, 4)}),
                         ("stock_value", {})):  # fmt: skip
        report = get_report(metadata, name)
        with app.test_request_context(), db.session() as session:
            user = session.get(User, chain.users["finance"])
            values = parse_params(report, params, session, user, TODAY)
            statement = build_statement(report, values, session, user, timezone="Asia/Shanghai")
            compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = [row[3] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
        assert not any("LIST SUBQUERY" in step for step in plan), plan
        assert any("USING AUTOMATIC COVERING INDEX (item_id=?" in step for step in plan), plan


def test_values_are_priced_once_per_lot_not_once_per_movement(app, db, chain):
    """Σ quantity × cost = cost × Σ quantity over one lot's movements: they are summed by location,
    item and lot first and the latest costs joined to the sums (each movement met its cost: two
    sorts of the chain's whole history, 22 s over 10M movements on PostgreSQL)."""
    metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")
    report = get_report(metadata, "receipts_and_issues")
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["finance"])
        values = parse_params(report, {"period": period(chain, 2, 4)}, session, user, TODAY)
        sql = str(build_statement(report, values, session, user, timezone="Asia/Shanghai"))
    grouped, _sep, joined = sql.partition("\n SELECT")
    assert grouped.startswith("WITH aggregated AS") and "unit_cost" not in grouped
    assert "GROUP BY stock_ledger.location_id, stock_ledger.item_id, stock_ledger.lot_id" in grouped
    assert "sum(aggregated._p13 * anon_3.unit_cost) AS closing_value" in joined
    # the period before the flow: most rows of the history stop at the cheap comparison
    assert "FILTER (WHERE CASE" not in grouped and "FILTER (WHERE stock_ledger.at >= " in grouped


def test_a_value_read_otherwise_than_summed_meets_its_cost_row_by_row(app, db, chain):
    """The largest movement's value cannot be priced after grouping: the report then joins the
    costs to the movements, and its summed value is the same as the summary's."""
    columns = [
        {"name": "location", "column": "location.name"},
        {"name": "value", "column": "value", "aggregate": "sum", "balance": "closing"},
        {"name": "largest", "column": "value", "aggregate": "max"},
    ]
    report, problems = compile_report(
        {"name": "values", "label": {"zh_CN": "x", "en": "x"}, "source": "ledger",
         "params": [{"name": "period", "type": "date_range", "column": "at",
                     "label": {"zh_CN": "x", "en": "x"}}],
         "columns": [{**column, "label": {"zh_CN": "x", "en": "x"}} for column in columns],
         "sort": ["location"]},
        load_metadata(ROOT / "metadata", ROOT / "workflows"),
    )  # fmt: skip
    assert problems == []
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["finance"])
        values = parse_params(report, {"period": period(chain, 2, 4)}, session, user, TODAY)
        sql = str(build_statement(report, values, session, user, timezone="Asia/Shanghai"))
        by_location = run_report(
            session, report, {"period": period(chain, 2, 4)}, user, today=TODAY
        )
    grouped = sql.partition("\n SELECT")[0]
    assert "stock_ledger.quantity * anon_3.unit_cost" in grouped
    assert grouped.rsplit("GROUP BY", 1)[1].strip() == "stock_ledger.location_id)"
    summary = run(app, db, chain, period=period(chain, 2, 4))
    closing = {}
    for row in summary.rows:
        closing[row["location"]] = closing.get(row["location"], 0) + row["closing_value"]
    closing = {location: value for location, value in closing.items() if value}  # (the transit)
    assert {row["location"]: row["value"] for row in by_location.rows} == closing
    # the period's largest movements: 10 gloves bought at 0.30, TR-1's 4 strips at 1.50
    largest = {row["location"]: row["largest"] for row in by_location.rows}
    assert largest == {"上海徐汇店": D("3.00"), "北京朝阳店": D("6.00")}
