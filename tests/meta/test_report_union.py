"""Union sources: one report over the rows of several forms, on the report chain (see
``tests/report_chain``): four sales orders, two purchase receipts of a strip line and a glove
line each, all at SH01 and BJ01. Expected rows are by hand."""

import datetime as dt
from decimal import Decimal

import pytest

import app.workflow  # noqa: F401
from app.kernel.users import User
from app.meta.reports import build_statement, compile_report, run_report
from tests.report_chain import TODAY, make_report_chain

D = Decimal

#: Goods in and out: the sales orders' lines and the strips the receipts brought.
GOODS = {
    "union": [
        {"source": "form:sales_order.lines", "columns": {"date": "sale_date"}},
        {
            "source": "form:purchase_receipt.lines",
            "columns": {"date": "arrival_date"},
            "filters": [{"column": "item.code", "op": "eq", "value": "STRIP"}],
        },
    ]
}


def c(name: str, column: str, **extra) -> dict:
    return {"name": name, "column": column, "label": {"zh_CN": name, "en": name}, **extra}


def compiled(metadata, **definition):
    definition = {"name": "goods", "label": {"zh_CN": "进出", "en": "In and out"}} | definition
    return compile_report(definition, metadata)


@pytest.fixture
def chain(app, db):
    return make_report_chain(app, db)


def run(app, db, chain, report, username="admin", params=None):
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users[username])
        return run_report(session, report, params or {}, user, today=TODAY)


def goods_book(metadata):
    report, problems = compiled(
        metadata,
        source=GOODS,
        params=[{"name": "period", "type": "date_range", "label": {"zh_CN": "日期", "en": "Date"},
                 "column": "date"}],
        columns=[c("date", "date"), c("number", "number"), c("store", "location.code"),
                 c("item", "item.code"), c("quantity", "quantity")],
        sort=["date", "number"],
    )  # fmt: skip
    assert problems == []
    return report


def test_a_union_lists_each_parts_rows_with_its_own_filters(app, db, chain, metadata):
    result = run(app, db, chain, goods_book(metadata), params={"period": "2026-11-01..2026-11-30"})
    found = [
        (row["date"], row["store"], row["item"], row["quantity"], row["_record_form"])
        for row in result.rows
    ]
    # the receipts' gloves are not strips: the receipts' own filter leaves them out, and the
    # sales orders' glove (October) is outside the period
    assert found == [
        (dt.date(2026, 11, 2), "BJ01", "STRIP", D(4), "sales_order"),
        (dt.date(2026, 11, 20), "BJ01", "STRIP", D(6), "purchase_receipt"),
        (dt.date(2026, 11, 20), "SH01", "STRIP", D(10), "purchase_receipt"),
        (dt.date(2026, 11, 20), "SH01", "STRIP", D(1), "sales_order"),
    ]
    assert [row["number"][:2] for row in result.rows] == ["SO", "PR", "PR", "SO"]
    sold = [row["_record_id"] for row in result.rows if row["_record_form"] == "sales_order"]
    assert set(sold) <= set(chain.sales) and len(sold) == 2


def test_each_user_reads_only_the_rows_of_their_locations(app, db, chain, metadata):
    report = goods_book(metadata)
    mine = run(app, db, chain, report, username="manager_b", params={"period": "2026-11-01.."})
    assert [(row["store"], row["quantity"]) for row in mine.rows] == [
        ("BJ01", D(4)),
        ("BJ01", D(6)),
    ]
    hq = run(app, db, chain, report, username="hq", params={"period": "2026-11-01.."})
    assert len(hq.rows) == 4


def test_a_union_aggregates_as_any_source(app, db, chain, metadata):
    report, problems = compiled(
        metadata,
        source=GOODS,
        columns=[c("item", "item.code"), c("quantity", "quantity", aggregate="sum"),
                 c("lines", "quantity", aggregate="count")],
        sort=["item"], totals=True,
    )  # fmt: skip
    assert problems == []
    result = run(app, db, chain, report)
    # strips: sold 2 + 1 + 4 + 9, received 10 + 6; gloves: sold 1 (the received glove is filtered)
    assert [(row["item"], row["quantity"], row["lines"]) for row in result.rows] == [
        ("GLOVE", D(1), 1),
        ("STRIP", D(32), 6),
    ]
    assert (result.totals["quantity"], result.totals["lines"]) == (D(33), 7)


def test_each_part_reads_only_the_columns_the_report_uses(app, db, chain, metadata):
    """A part joins only the links the report reads: the suppliers' table is never read."""
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["admin"])
        statement = build_statement(goods_book(metadata), {}, session, user, timezone="UTC")
        sql = str(statement.compile(dialect=session.get_bind().dialect))
    assert "items" in sql and "supplier" not in sql


@pytest.mark.parametrize(
    ("source", "columns", "path", "message"),
    [
        ({"union": [GOODS["union"][0], {"source": "form:nope.lines"}]}, None,
         ("source", "union", 1, "source"), "unknown source 'form:nope.lines'"),
        ({"union": [{"source": "form:sales_order.lines", "columns": {"date": "sold_on"}},
                    GOODS["union"][1]]}, None,
         ("source", "union", 0, "columns", "date"), "unknown column 'sold_on'"),
        ({"union": [GOODS["union"][0], {"source": "form:purchase_receipt.lines",
                                        "filters": [{"column": "colour", "op": "eq",
                                                     "value": "red"}]}]}, None,
         ("source", "union", 1, "filters", 0, "column"), "unknown column 'colour'"),
        ({"union": [GOODS["union"][0], {"source": "form:purchase_receipt.lines",
                                        "columns": {"date": "number"}}]}, None,
         ("source", "union"), "give 'date' as different types: date, text"),
        ({"union": [GOODS["union"][0], {"source": "form:purchase_receipt.lines"}]}, None,
         ("source", "union", 1, "columns"), "this part gives no 'date'"),
        # only the receipts have a supplier: the union does not offer it
        (GOODS, [c("supplier", "supplier.name")], ("columns", 0, "column"),
         "unknown column 'supplier.name'"),
    ],
)  # fmt: skip
def test_a_bad_union_names_the_path_and_why(metadata, source, columns, path, message):
    report, problems = compiled(metadata, source=source, columns=columns or [c("n", "number")])
    assert report is None
    assert any(found == path and message in text for found, text in problems), problems


#: What each store took in and sold of each item: received less sold, summed per store and item.
NET_GOODS = {
    "union": [
        {"source": "form:purchase_receipt.lines",
         "columns": {"day": "arrival_date", "store": "location.code", "item": "item.code",
                     "received": "quantity", "net": "quantity"}},
        {"source": "form:sales_order.lines",
         "columns": {"day": "sale_date", "store": "location.code", "item": "item.code",
                     "sold": "quantity", "net": "-quantity"}},
    ],
    "sum": ["received", "sold", "net"],
    "as_of": "day",
}  # fmt: skip


def net_goods(metadata):
    report, problems = compiled(
        metadata,
        source=NET_GOODS,
        params=[{"name": "as_of", "type": "date", "op": "as_of",
                 "label": {"zh_CN": "截至", "en": "As of"}}],
        filters=[{"column": "net", "op": "ne", "value": 0}],
        columns=[c("store", "store"), c("item", "item"),
                 c("received", "received", aggregate="sum"), c("sold", "sold", aggregate="sum"),
                 c("net", "net", aggregate="sum"), c("last", "day", aggregate="max")],
        sort=["store", "item"], totals=True,
    )  # fmt: skip
    assert problems == []
    return report


def test_a_union_that_sums_adds_up_its_parts_figures_as_of_a_day(app, db, chain, metadata):
    """Received 10 strips and 1 glove at SH01 and 6 + 1 at BJ01 on 11-20; sold at SH01 2 strips
    and a glove (10-05) and 1 strip (11-20), at BJ01 9 strips (2025) and 4 (11-02)."""
    report = net_goods(metadata)

    def read(day, username="admin"):
        result = run(app, db, chain, report, username, params={"as_of": day})
        found = [
            (row["store"], row["item"], row["received"], row["sold"], row["net"], row["last"])
            for row in result.rows
        ]
        return found, result.totals

    found, totals = read("2026-11-25")
    # SH01's gloves came to nothing (one in, one out): the report's filter leaves them out, and
    # its totals count only what it shows
    assert found == [
        ("BJ01", "GLOVE", D(1), None, D(1), dt.date(2026, 11, 20)),
        ("BJ01", "STRIP", D(6), D(13), D(-7), dt.date(2026, 11, 20)),
        ("SH01", "STRIP", D(10), D(3), D(7), dt.date(2026, 11, 20)),
    ]
    assert (totals["received"], totals["sold"], totals["net"]) == (D(17), D(16), D(1))
    # the day before the goods came: only what was sold up to then
    found, _totals = read("2026-11-19")
    assert found == [
        ("BJ01", "STRIP", None, D(13), D(-13), dt.date(2026, 11, 2)),
        ("SH01", "GLOVE", None, D(1), D(-1), dt.date(2026, 10, 5)),
        ("SH01", "STRIP", None, D(2), D(-2), dt.date(2026, 10, 5)),
    ]
    # a sum belongs to no one record: the rows link to none; each user reads their stores'
    assert all(row.get("_record_id") is None for row in run(app, db, chain, report).rows)
    assert [row[:2] for row in read("2026-11-25", "manager_b")[0]] == [
        ("BJ01", "GLOVE"),
        ("BJ01", "STRIP"),
    ]


def test_a_union_that_sums_offers_only_what_its_parts_name(metadata):
    """What the parts happen to share (their number, their location) is not a column of a union
    that sums: a row is what its named columns say (a store and an item), not one per document."""
    report, problems = compiled(metadata, source=NET_GOODS, columns=[c("n", "number")])
    assert report is None
    assert any(path == ("columns", 0, "column") for path, _message in problems), problems


SUMMED_PART = NET_GOODS["union"][1]


@pytest.mark.parametrize(
    ("source", "path", "message"),
    [
        (NET_GOODS | {"sum": ["received", "sold", "net", "store"]}, ("source", "sum", 3),
         "'store' is no figure of the union"),
        (NET_GOODS | {"as_of": "net"}, ("source", "as_of"), "'net' is no date of the union"),
        ({"union": GOODS["union"], "as_of": "date"}, ("source", "as_of"),
         "only a union that sums can be read as of a day"),
        (NET_GOODS | {"union": [NET_GOODS["union"][0],
                                SUMMED_PART | {"columns": SUMMED_PART["columns"]
                                               | {"store": "-location.code"}}]},
         ("source", "union", 1, "columns", "store"), "only a figure can be taken off"),
        (NET_GOODS | {"union": [NET_GOODS["union"][0], SUMMED_PART | {"location": "nowhere"}]},
         ("source", "union", 1, "location"), "unknown column 'nowhere'"),
        (NET_GOODS | {"union": [NET_GOODS["union"][0],
                                SUMMED_PART | {"record": {"form": "sales_order", "id": "nope"}}]},
         ("source", "union", 1, "record"), "unknown column 'nope'"),
        (NET_GOODS | {"union": [NET_GOODS["union"][0],
                                SUMMED_PART | {"record": {"form": "nope", "id": "id"}}]},
         ("source", "union", 1, "record", "form"), "unknown form 'nope'"),
    ],
)  # fmt: skip
def test_a_bad_union_that_sums_names_the_path_and_why(metadata, source, path, message):
    report, problems = compiled(metadata, source=source, columns=[c("n", "store")])
    assert report is None
    assert any(found == path and message in text for found, text in problems), problems
