"""Report sources over the kernel and over form records, on a small chain built through the
kernel's ``post_movements``/``ship`` and the record service; expected figures are by hand.

Stock (business day 2026-11-25; the strips' near-expiry threshold is 90 days):

    SH01  STRIP L-EARLY (exp +30)   received 10 @1.50, sold 3, shipped 4 to BJ01 → 3
    SH01  STRIP L-OLD   (exp −1)    received 2 @1.50                              → 2
    SH01  GLOVE (no lot)            received 100 @0.25                            → 100
    BJ01  STRIP L-EARLY             received 1 @1.50 (+4 on the road)            → 1
    BJ01  STRIP L-LATE  (exp +400)  received 5 @2.00                              → 5
    TR-SH01-BJ01 STRIP L-EARLY      in transit                                    → 4
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

import app.workflow  # noqa: F401
from app.db import clock_at, utcnow
from app.kernel import stock
from app.kernel.items import Item, Lot, TrackingMode, add_item, business_today, get_or_create_lot
from app.kernel.locations import Location
from app.kernel.stock import Movement, Reason, StockStatus, post_movements
from app.kernel.transfers import ShipLine, ship
from app.kernel.users import User
from app.meta import records
from app.meta.models import Record
from app.meta.reports import (
    ParamError,
    build_statement,
    compile_report,
    drill_rows,
    get_report,
    run_report,
)
from app.meta.reports.run import result_json
from app.workflow import engine
from tests.report_chain import TODAY, make_report_chain

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


@pytest.fixture
def chain(app, db):
    return make_report_chain(app, db)


def run(app, db, chain, metadata, name, username="admin", params=None, **definition):
    report = get_report(metadata, name) if name else _compile(metadata, definition)
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users[username])
        return run_report(session, report, params or {}, user, today=TODAY)


def c(name: str, column: str, **extra) -> dict:
    """A report column definition."""
    return {"name": name, "column": column, "label": {"zh_CN": name, "en": name}, **extra}


def _compile(metadata, definition):
    definition.setdefault("name", "test_report")
    definition.setdefault("label", {"zh_CN": "测试", "en": "Test"})
    report, problems = compile_report(definition, metadata)
    assert problems == []
    return report


def rows(result, *names):
    return [tuple(row.get(name) for name in names) for row in result.rows]


def srows(result, *names):
    """Rows in a fixed order: how each database collates Chinese names is its own business."""
    return sorted(rows(result, *names), key=str)


def test_stock_report_rows_days_to_expiry_and_highlights(app, db, chain, metadata):
    result = run(app, db, chain, metadata, "stock_on_hand", params={"status": "available"})
    assert srows(result, "location", "item_code", "lot", "on_hand", "available", "in_transit",
                 "days_to_expiry") == sorted([
        ("北京朝阳店", "STRIP", "L-EARLY", D(1), D(1), D(4), 30),
        ("北京朝阳店", "STRIP", "L-LATE", D(5), D(5), D(0), 400),
        ("上海徐汇店", "GLOVE", None, D(100), D(100), D(0), None),
        ("上海徐汇店", "STRIP", "L-EARLY", D(3), D(3), D(0), 30),
        ("上海徐汇店", "STRIP", "L-OLD", D(2), D(0), D(0), -1),  # expired: not available
    ], key=str)  # fmt: skip
    styles = {row["lot"]: row["_styles"].get("days_to_expiry") for row in result.rows}
    assert styles == {"L-EARLY": "warning", "L-LATE": None, None: None, "L-OLD": "danger"}
    assert result.totals["on_hand"] == D(111)
    early = next(row for row in result.rows if row["lot"] == "L-EARLY")
    assert early["expiry_date"] == TODAY + dt.timedelta(days=30)


def test_stock_not_of_status_available_is_on_hand_but_never_available(app, db, chain, metadata):
    """Goods on the road (like quarantined or nonconforming stock) are held, not sellable: the
    4 STRIP L-EARLY travelling to BJ01 add to the on hand, never to the available."""
    result = run(app, db, chain, metadata, "stock_on_hand", username="hq")
    travelling = [row for row in result.rows if row["status"] != "available"]
    assert [(row["lot"], row["on_hand"], row["available"]) for row in travelling] == [
        ("L-EARLY", D(4), D(0))
    ]
    assert (result.totals["on_hand"], result.totals["available"]) == (
        D(115),
        D(109),
    )  # nor the 2 of expired L-OLD


def test_a_limit_cuts_the_detail_rows_in_sort_order_but_never_the_totals(app, db, chain, metadata):
    result = run(app, db, chain, metadata, None, username="hq", source="balances",
                 columns=[c("item", "item.code"), c("lot", "lot.lot_number"),
                          c("on_hand", "on_hand", aggregate="sum"),
                          c("value", "value", aggregate="sum"),
                          c("in_transit", "in_transit", aggregate="sum")],
                 filters=[{"column": "on_hand", "op": "gt", "value": 0}],
                 sort=["item", "-on_hand"], totals=True, limit=2)  # fmt: skip
    # GLOVE first, then the STRIP lot with most on hand (L-EARLY: SH01 3 + BJ01 1 + transit 4)
    assert rows(result, "item", "lot", "on_hand", "in_transit") == [
        ("GLOVE", None, D(100), D(0)),
        ("STRIP", "L-EARLY", D(8), D(4)),
    ]
    assert result.totals["on_hand"] == D(115)  # every balance, the 4 in transit included
    assert result.totals["value"] == D("50.00")
    assert result.totals["in_transit"] == D(4)


def test_stock_by_how_the_item_is_kept_and_traced(app, db, chain, metadata):
    """A GSP view an admin builds: stock by storage condition (the test strips are cold chain
    here), with the item card's tracking and expiry rule beside it."""
    with db.transaction() as session:
        session.get(Item, chain.items["STRIP"]).storage_condition = "cold_chain"
    result = run(app, db, chain, metadata, None, username="hq", source="balances",
                 columns=[c("storage", "item.storage_condition"), c("tracking", "item.tracking"),
                          c("expiry", "item.expiry_required"),
                          c("on_hand", "on_hand", aggregate="sum")],
                 sort=["storage"])  # fmt: skip
    assert rows(result, "storage", "tracking", "expiry", "on_hand") == [
        ("cold_chain", "lot", True, D(15)),
        ("normal", "none", False, D(100)),
    ]
    storage = next(column for column in result.columns if column.name == "storage")
    assert storage.options["cold_chain"]["zh_CN"] == "冷链（2–8 ℃）"


def test_stock_value_by_region_uses_the_last_unit_cost(app, db, chain, metadata):
    result = run(app, db, chain, metadata, "stock_value_by_region", username="finance")
    # R-EAST: SH01 3×1.50 + 2×1.50 + 100×0.25 = 32.50, transit 4×1.50 = 6.00; R-NORTH 1.50 + 10
    assert srows(result, "region", "value", "on_hand") == sorted(
        [
            ("华北区", D("11.50"), D(6)),
            ("华东区", D("38.50"), D(109)),
        ],
        key=str,
    )
    assert result.totals["value"] == D("50.00")


def test_every_movement_reason_reads_in_both_languages():
    from app.kernel.stock import Reason
    from app.meta.kernel_sources import MOVEMENT_REASONS

    assert set(MOVEMENT_REASONS) == {reason.value for reason in Reason}
    assert all(label["zh_CN"] and label["en"] for label in MOVEMENT_REASONS.values())


def test_ledger_is_the_stock_card_of_a_lot(app, db, chain, metadata):
    # the ledger rows carry the real clock, not the chain's TODAY: the period must hold them
    # (the default, the 30 days before TODAY, stopped holding them a day after it was written)
    posted = business_today()
    period = f"{posted - dt.timedelta(days=1)}..{posted + dt.timedelta(days=1)}"
    result = run(app, db, chain, metadata, "stock_card",
                 params={"item": "STRIP", "lot": "L-EARLY", "location": "SH01",
                         "period": period})  # fmt: skip
    assert rows(result, "reason", "quantity", "document", "counterpart") == [
        ("purchase_receipt", D(10), "PR-SH", None),
        ("sale", D(-3), "SO-1", None),
        ("transfer_out", D(-4), "TR-1", "上海徐汇店 → 北京朝阳店"),
    ]


def test_the_stock_card_carries_the_balance_after_each_movement(
    app, db, chain, metadata, monkeypatch
):
    posted = business_today()
    later = utcnow() + dt.timedelta(days=3)  # a sale three days after the chain's movements
    monkeypatch.setattr(stock, "utcnow", lambda: later)
    with db.transaction() as session:
        sh, strips = (
            session.get(Location, chain.loc("SH01")),
            session.get(Item, chain.items["STRIP"]),
        )
        early = session.scalars(select(Lot).where(Lot.lot_number == "L-EARLY")).one()
        post_movements(session, [Movement(item=strips, quantity=D(1), source=sh, lot=early)],
                       reason=Reason.sale, document="SO-9", today=TODAY)  # fmt: skip
    every = f"{posted - dt.timedelta(days=1)}..{posted + dt.timedelta(days=4)}"
    card = run(app, db, chain, metadata, "stock_card",
               params={"item": "STRIP", "lot": "L-EARLY", "location": "SH01",
                       "period": every})  # fmt: skip
    assert rows(card, "document", "quantity", "balance") == [
        ("PR-SH", D(10), D(10)), ("SO-1", D(-3), D(7)), ("TR-1", D(-4), D(3)),
        ("SO-9", D(-1), D(2)),
    ]  # fmt: skip
    # a period after the first movements opens with what the store held before it (3)
    since = f"{posted + dt.timedelta(days=2)}..{posted + dt.timedelta(days=4)}"
    card = run(app, db, chain, metadata, "stock_card",
               params={"item": "STRIP", "lot": "L-EARLY", "location": "SH01",
                       "period": since})  # fmt: skip
    assert rows(card, "document", "quantity", "balance") == [("SO-9", D(-1), D(2))]
    # each location, item and lot has its own balance: the lot's card at every location
    card = run(app, db, chain, metadata, "stock_card",
               params={"item": "STRIP", "lot": "L-EARLY", "period": every})  # fmt: skip
    assert sorted(rows(card, "location", "document", "balance")) == [
        ("上海徐汇店", "PR-SH", D(10)), ("上海徐汇店", "SO-1", D(7)), ("上海徐汇店", "SO-9", D(2)),
        ("上海徐汇店", "TR-1", D(3)), ("上海徐汇店 → 北京朝阳店", "TR-1", D(4)),
        ("北京朝阳店", "PR-BJ", D(1)),
    ]  # fmt: skip


def test_a_card_is_an_items_and_the_journal_is_every_movement(app, db, chain, metadata):
    with pytest.raises(ParamError) as refused:
        run(app, db, chain, metadata, "stock_card")
    assert refused.value.param == "item"
    posted = business_today()
    period = f"{posted - dt.timedelta(days=1)}..{posted + dt.timedelta(days=1)}"
    journal = run(app, db, chain, metadata, "stock_journal", params={"period": period})
    assert sorted(rows(journal, "document", "item_code", "quantity")) == [
        ("PR-BJ", "STRIP", D(1)), ("PR-BJ", "STRIP", D(5)), ("PR-SH", "GLOVE", D(100)),
        ("PR-SH", "STRIP", D(2)), ("PR-SH", "STRIP", D(10)), ("SO-1", "STRIP", D(-3)),
        ("TR-1", "STRIP", D(-4)), ("TR-1", "STRIP", D(4)),
    ]  # fmt: skip


def _aged_stock(db, chain):
    """Item AGED, lot A, at SH01 (times UTC, before the business day TODAY):

        T−200 10:00  PR-1  +10 @1.00          T−1 03:00  SO-A  −11 sold
        T−40  10:00  PR-2  +5  @2.00          T−1 04:00  CHK   2 set apart (a status change)
        T−2   17:00  PR-3  +3  @3.00          T−1 05:00  TR-A  −1 on the road to BJ01

    PR-3 arrived at 01:00 on T−1 in Shanghai: one day held, not two. First in, first out, the 6
    left (4 available, 2 nonconforming) are PR-3's 3 and 3 of PR-2's 5.

    Item IDLE (no lot): BJ01 received 10 @5.00 at T−200 and sold 2 at T−70; SH01 received 4 at
    T−100 and never sold or sent any on."""

    def at(days: int, hour: int) -> dt.datetime:
        day = TODAY - dt.timedelta(days=days)
        return dt.datetime.combine(day, dt.time(hour), dt.UTC)

    with db.transaction() as session:
        sh, bj = (session.get(Location, chain.loc(code)) for code in ("SH01", "BJ01"))
        aged = add_item(session, "AGED", "久存导管", tracking=TrackingMode.lot)
        lot = get_or_create_lot(session, aged, "A", TODAY + dt.timedelta(days=900))
        idle = add_item(session, "IDLE", "滞销敷料", tracking=TrackingMode.none,
                        expiry_required=False)  # fmt: skip
        session.flush()
    receipt, sale = Reason.purchase_receipt, Reason.sale
    steps = [
        (at(200, 10), "PR-1", receipt, dict(quantity=D(10), destination=sh, unit_cost=D("1.00"))),
        (at(40, 10), "PR-2", receipt, dict(quantity=D(5), destination=sh, unit_cost=D("2.00"))),
        (at(2, 17), "PR-3", receipt, dict(quantity=D(3), destination=sh, unit_cost=D("3.00"))),
        (at(1, 3), "SO-A", sale, dict(quantity=D(11), source=sh)),
        (at(1, 4), "CHK", Reason.maintenance, dict(
            quantity=D(2), source=sh, destination=sh,
            destination_status=StockStatus.nonconforming)),
        (at(200, 9), "PR-I1", receipt, dict(item=idle, quantity=D(10), destination=bj,
                                           unit_cost=D("5.00"))),
        (at(100, 9), "PR-I2", receipt, dict(item=idle, quantity=D(4), destination=sh,
                                           unit_cost=D("5.00"))),
        (at(70, 9), "SO-I", sale, dict(item=idle, quantity=D(2), source=bj)),
    ]  # fmt: skip
    for moment, document, reason, move in steps:
        move = {"item": aged, "lot": lot, **move} if "item" not in move else move
        with clock_at(moment), db.transaction() as session:
            move = {key: session.merge(value) if key in ("source", "destination", "item", "lot")
                    else value for key, value in move.items()}  # fmt: skip
            post_movements(session, [Movement(**move)], reason=reason, document=document)
    with clock_at(at(1, 5)), db.transaction() as session:
        ship(session, "TR-A", session.merge(sh), session.merge(bj),
             [ShipLine(session.merge(aged), D(1), lot=session.merge(lot))])  # fmt: skip


def test_stock_age_splits_the_stock_on_hand_by_arrival_first_in_first_out(app, db, chain, metadata):
    _aged_stock(db, chain)
    result = run(app, db, chain, metadata, "stock_age", params={"item": "AGED"})
    assert rows(result, "location", "lot", "document", "reason", "days_held", "age_band",
                "quantity", "value") == [
        ("上海徐汇店", "A", "PR-2", "purchase_receipt", 40, "2_up_to_90", D(3), D("9.00")),
        ("上海徐汇店", "A", "PR-3", "purchase_receipt", 1, "1_up_to_30", D(3), D("9.00")),
    ]  # fmt: skip
    assert result.totals["quantity"] == D(6)  # the stock on hand, both statuses, none on the road
    held = run(app, db, chain, metadata, "stock_age", params={"item": "AGED", "held_over": "30"})
    assert rows(held, "document") == [("PR-2",)]
    # the bands over everything HQ sees: the chain's own stock arrived "after" TODAY (the real
    # clock), so it is in the first band; what is on the road is in none
    bands = run(app, db, chain, metadata, "stock_age_bands", username="hq")
    assert rows(bands, "age_band", "quantity") == [
        ("1_up_to_30", D(3 + 2 + 100 + 1 + 5 + 3)), ("2_up_to_90", D(3)),
        ("3_up_to_180", D(4)), ("4_up_to_365", D(8)),  # IDLE: SH01's 4, BJ01's 8
    ]  # fmt: skip
    # a store sees its own stock only
    mine = run(app, db, chain, metadata, "stock_age_bands", username="manager_b")
    assert rows(mine, "age_band", "quantity") == [("1_up_to_30", D(1 + 5)), ("4_up_to_365", D(8))]
    # the arrivals are walked once (three window functions) for the rows and the totals both
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["hq"])
        report = get_report(metadata, "stock_age")
        sql = str(build_statement(report, {}, session, user, timezone="Asia/Shanghai"))
    assert sql.startswith("WITH anon_") and sql.count(" OVER (PARTITION BY ") == 3


def test_slow_moving_counts_the_days_since_an_item_last_left(app, db, chain, metadata):
    """Days since the item last left the location — sold or transferred — or, never, since it
    first arrived there; the default shows what has sat 60 days or more, longest first."""
    _aged_stock(db, chain)
    result = run(app, db, chain, metadata, "slow_moving")
    assert rows(result, "location", "item_code", "idle_days", "on_hand", "value") == [
        ("上海徐汇店", "IDLE", 100, D(4), D("20.00")),  # never left: since it arrived
        ("北京朝阳店", "IDLE", 70, D(8), D("40.00")),  # since its sale
    ]
    styles = [row["_styles"].get("idle_days") for row in result.rows]
    assert styles == ["warning", None]
    # AGED left SH01 by transfer yesterday (13:00 in Shanghai): one day unmoved
    recent = run(app, db, chain, metadata, "slow_moving",
                 params={"item": "AGED", "idle_days": "0"})  # fmt: skip
    assert rows(recent, "location", "item_code", "idle_days") == [("上海徐汇店", "AGED", 1)]
    with app.test_request_context():  # a dashboard card reads the moment on the shops' clock
        [row] = result_json(recent)["rows"]
    assert row["labels"]["last_out"] == f"{TODAY - dt.timedelta(days=1)} 13:00"
    assert rows(run(app, db, chain, metadata, "slow_moving", username="manager_b"),
                "item_code") == [("IDLE",)]  # fmt: skip
    # the ledger is grouped once (by location and item) for the rows and the totals both
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["hq"])
        report = get_report(metadata, "slow_moving")
        sql = str(build_statement(report, {}, session, user, timezone="Asia/Shanghai"))
    assert sql.count("max(stock_ledger.at) FILTER") == 1


def test_lots_and_in_transit_sources(app, db, chain, metadata):
    lots = run(app, db, chain, metadata, None, username="hq", source="lots",
               columns=[c("lot", "lot_number"),
                        c("days", "days_to_expiry"),
                        c("item", "item.code")],
               params={}, sort=["days"])  # fmt: skip
    assert rows(lots, "lot", "days", "item") == [
        ("L-OLD", -1, "STRIP"),
        ("L-EARLY", 30, "STRIP"),
        ("L-LATE", 400, "STRIP"),
    ]
    transit = run(app, db, chain, metadata, "transfers_in_transit", username="clerk_b")
    assert rows(transit, "document", "from", "to", "lot", "quantity") == [
        ("TR-1", "上海徐汇店", "北京朝阳店", "L-EARLY", D(4))
    ]
    assert run(app, db, chain, metadata, "transfers_in_transit", username="clerk_a").rows == []


def test_scope_two_stores_are_disjoint_and_hq_sees_their_union(app, db, chain, metadata):
    def keys(username):
        result = run(app, db, chain, metadata, "stock_on_hand", username=username,
                     params={"status": "available"})  # fmt: skip
        return {(row["location"], row["item_code"], row["lot"]) for row in result.rows}

    a, b = keys("clerk_a"), keys("clerk_b")
    assert a and b and not a & b
    assert keys("manager_a") == a and keys("manager_b") == b
    assert keys("hq") == a | b
    assert {location for location, _i, _l in a} == {"上海徐汇店"}


def test_sales_pivot_over_form_lines_sums_money_exactly(app, db, chain, metadata):
    result = run(app, db, chain, metadata, "sales_by_store_month", username="hq")
    assert result.pivot_values == ["2026-10", "2026-11"]
    assert srows(result, "store", "2026-10·amount", "2026-11·amount", "total·amount") == sorted(
        [
            ("上海徐汇店", D("0.30"), D("12.55"), D("12.85")),
            ("北京朝阳店", None, D("0.40"), D("0.40")),
        ],
        key=str,
    )
    assert result.totals["total·amount"] == D("13.25")
    mine = run(app, db, chain, metadata, "sales_by_store_month", username="manager_b")
    assert rows(mine, "store", "total·amount") == [("北京朝阳店", D("0.40"))]


def test_form_header_source_types_and_record_links(app, db, chain, metadata):
    result = run(app, db, chain, metadata, None, source="form:sales_order",
                 columns=[c("day", "sale_date"),
                          c("number", "number"),
                          c("store", "location.code")],
                 params={}, sort=["day"])  # fmt: skip
    assert [(row["day"], row["store"]) for row in result.rows] == [
        (dt.date(2025, 1, 1), "BJ01"), (dt.date(2026, 10, 5), "SH01"),
        (dt.date(2026, 11, 2), "BJ01"), (dt.date(2026, 11, 20), "SH01"),
    ]  # fmt: skip
    assert sorted(row["_record_id"] for row in result.rows) == sorted(chain.sales)


def _receive(app, db, chain, lines, state="done"):
    """A receipt of the chain's supplier at SH01 in ``state``; ``lines``: (item, received,
    accepted, unit cost) — what was not accepted was rejected."""
    with app.test_request_context(), db.transaction() as session:
        admin = session.get(User, chain.users["admin"])
        supplier = session.scalar(select(Record.id).where(Record.form == "supplier"))
        record = records.create(session, app.extensions["lianku.registry"], admin,
                                "purchase_receipt", {
            "location": chain.loc("SH01"), "supplier": supplier, "arrival_date": "2026-11-21",
            "lines": [{"item": chain.items[item], "quantity": received, "unit_cost": cost}
                      | ({"accepted_quantity": accepted,
                          "rejected_quantity": str(D(received) - D(accepted)),
                          "reject_reason": "破损"} if state == "done" else {})
                      for item, received, accepted, cost in lines],
        })  # fmt: skip
        record.state = state


@pytest.fixture
def inspected(app, db, chain):
    """Beside the chain's two draft receipts (18 received): two inspected ones — strips 10
    received, 8 accepted at 1.50, gloves 4 at 0.25; strips 2 at 3.00 — and a cancelled one."""
    _receive(app, db, chain, [("STRIP", "10", "8", "1.50"), ("GLOVE", "4", "4", "0.25")])
    _receive(app, db, chain, [("STRIP", "2", "2", "3.00")])
    _receive(app, db, chain, [("STRIP", "100", None, "9.00")], state="cancelled")


def test_purchases_by_supplier_count_inspected_goods_at_their_weighted_cost(
    app, db, chain, metadata, inspected
):
    """Only what was inspected and accepted was bought: drafts, cancelled receipts and rejected
    units are not; the average unit cost is what was paid per unit accepted (19.00 for 14), not
    the plain average of the lines' prices (1.5833)."""
    result = run(app, db, chain, metadata, "purchases_by_supplier", username="finance",
                 params={"period": "2026-11-01..2026-11-30"})  # fmt: skip
    [row] = result.rows
    assert (row["receipts"], row["quantity"], row["amount"]) == (2, D(14), D("19.00"))
    assert row["unit_cost"] == D("1.3571")  # 19.00 / 14
    assert result.totals["unit_cost"] == D("1.3571")


def test_what_awaited_its_invoice_on_a_day_is_read_as_of_that_day(app, db, chain, metadata):
    """未到票入库 as of a month-end, read afterwards: a receipt invoiced only later still awaited
    its invoice that day (the demo's PR-WH-CD-202611-00005, arrived 11-15, invoiced 11-23). Each
    figure counts from its own document's date: the arrival, the return credited, the invoice."""
    _receive(app, db, chain, [("STRIP", "10", "10", "1.50")])  # arrived 11-21, 15.00
    with app.test_request_context(), db.transaction() as session:
        finance = session.get(User, chain.users["finance"])
        receipt = session.scalar(select(Record).where(Record.form == "purchase_receipt",
                                                      Record.state == "done"))  # fmt: skip
        registry = app.extensions["lianku.registry"]
        invoice = records.create(session, registry, finance, "purchase_invoice", {
            "location": chain.loc("HQ"), "supplier": receipt.data["supplier"],
            "invoice_number": "12345678901234567890", "invoice_date": "2026-11-23",
            "lines": [{"purchase_receipt": receipt.id, "amount": "15.00", "tax_rate": "13"}],
        })  # fmt: skip
        engine.fire(session, registry, invoice, "confirm", finance)
        # goods sent back on the 22nd, credited 3.00: (the return's own workflow is tested
        # with the invoices; here only its date and credit count)
        admin = session.get(User, chain.users["admin"])
        credit = records.create(session, registry, admin, "supplier_return", {
            "location": chain.loc("SH01"), "supplier": receipt.data["supplier"],
            "purchase_receipt": receipt.id, "return_date": "2026-11-22",
            "reason": "near_expiry", "credit_amount": "3.00",
            "lines": [{"item": chain.items["STRIP"], "quantity": "2"}],
        })  # fmt: skip
        credit.state = "returned"

    def awaiting(day: str, username: str = "finance"):
        result = run(app, db, chain, metadata, "uninvoiced_receipts", username=username,
                     params={"as_of": day})  # fmt: skip
        return [
            (row["receipt"], row["total"], row["returned"], row["invoiced"], row["uninvoiced"])
            for row in result.rows if row["_level"] == 0
        ]  # fmt: skip

    assert awaiting("2026-11-20") == []  # not arrived yet
    assert awaiting("2026-11-21") == [(receipt.number, D("15.00"), None, None, D("15.00"))]
    assert awaiting("2026-11-22") == [(receipt.number, D("15.00"), D("3.00"), None, D("12.00"))]
    # billed in full after 3.00 came back: 3.00 to be reversed by a red-letter invoice
    assert awaiting("2026-11-23") == [
        (receipt.number, D("15.00"), D("3.00"), D("15.00"), D("-3.00"))
    ]
    # the store's manager reads its receipt with the invoice finance registered at HQ
    assert awaiting("2026-11-22", "manager_a") == awaiting("2026-11-22")
    assert awaiting("2026-11-22", "manager_b") == []  # another store's receipt


def test_a_receipt_invoiced_in_full_in_parts_no_longer_awaits(app, db, chain, metadata):
    """0.30 accepted, invoiced as 0.10 and 0.20: nothing is left, though binary floats (SQLite's
    sums) leave 0.30 - 0.10 - 0.20 a hair from zero."""
    _receive(app, db, chain, [("STRIP", "3", "3", "0.10")])
    with app.test_request_context(), db.transaction() as session:
        finance = session.get(User, chain.users["finance"])
        receipt = session.scalar(select(Record).where(Record.form == "purchase_receipt",
                                                      Record.state == "done"))  # fmt: skip
        invoice = records.create(session, app.extensions["lianku.registry"], finance,
                                 "purchase_invoice", {
            "location": chain.loc("HQ"), "supplier": receipt.data["supplier"],
            "invoice_number": "12345678901234567890", "invoice_date": "2026-11-23",
            "lines": [{"purchase_receipt": receipt.id, "amount": amount, "tax_rate": "13"}
                      for amount in ("0.10", "0.20")],
        })  # fmt: skip
        engine.fire(session, app.extensions["lianku.registry"], invoice, "confirm", finance)
    result = run(app, db, chain, metadata, "uninvoiced_receipts", username="finance",
                 params={"as_of": "2026-11-23"})  # fmt: skip
    assert result.rows == []
    before = run(app, db, chain, metadata, "uninvoiced_receipts", username="finance",
                 params={"as_of": "2026-11-22"})  # fmt: skip
    assert before.totals["uninvoiced"] == D("0.30")


def test_lines_joined_to_their_header(app, db, chain, metadata):
    result = run(app, db, chain, metadata, None, source="form:sales_order.lines",
                 columns=[c("number", "number"),
                          c("line", "line_no"),
                          c("item", "item.code"),
                          c("qty", "quantity"),
                          c("price", "unit_price")],
                 params={"x": "1"}, filters=[{"column": "location_id", "op": "eq",
                                              "value": chain.loc("SH01")}],
                 sort=["number", "line"])  # fmt: skip
    assert [row[1:] for row in rows(result, "number", "line", "item", "qty", "price")] == [
        (1, "STRIP", D(2), D("0.05")),
        (2, "GLOVE", D(1), D("0.20")),
        (1, "STRIP", D(1), D("12.55")),
    ]  # fmt: skip


def test_drill_gives_the_rows_behind_an_aggregate(app, db, chain, metadata, inspected):
    report = get_report(metadata, "purchases_by_supplier")
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["finance"])
        result = drill_rows(session, report, {"period": "2026-11-01..2026-11-30"}, user,
                            "supplier:鱼跃医疗", today=TODAY)  # fmt: skip
        assert sorted(row["quantity"] for row in result.rows) == [D(2), D(4), D(8)]
        assert all(row["_record_id"] for row in result.rows)
        with pytest.raises(ParamError):
            drill_rows(session, report, {}, user, "nope:1", today=TODAY)
        nothing = drill_rows(session, report, {}, user, "supplier:x' OR 1=1 --", today=TODAY)
        assert nothing.rows == []


def test_a_location_is_chosen_by_code_or_by_the_name_the_pages_show(app, db, chain, metadata):
    def locations(username, where):
        result = run(app, db, chain, metadata, "stock_on_hand", username=username,
                     params={"location": where})  # fmt: skip
        return {row["location"] for row in result.rows}

    assert locations("hq", "上海徐汇店") == locations("hq", "SH01") == {"上海徐汇店"}
    assert locations("hq", " 北京朝阳店 ") == {"北京朝阳店"}
    with pytest.raises(ParamError) as refused:  # another store's, by name too, is out of reach
        locations("clerk_a", "北京朝阳店")
    # said as what the clerk may see, whether or not it exists (nothing leaks, nothing misleads)
    said = str(refused.value)
    assert "北京朝阳店" in said and "未知" not in said and "unknown" not in said


def test_parameters_are_inert_against_injection(app, db, chain, metadata):
    evil = {"item": "STRIP' OR '1'='1", "status": "available"}
    assert run(app, db, chain, metadata, "stock_on_hand", params=evil).rows == []
    with pytest.raises(ParamError):
        run(app, db, chain, metadata, "stock_on_hand", params={"location": "1; DROP TABLE x"})
    with db.session() as session:
        assert session.scalar(select(User.id).where(User.username == "admin"))


@pytest.mark.parametrize(
    ("definition", "path", "message"),
    [
        ({"source": "form:sales_order",
          "columns": [c("x", "no_such_field")]},
         ("columns", 0, "column"), "unknown column 'no_such_field'"),
        ({"source": "form:sales_order",
          "columns": [c("x", "number", aggregate="sum")]},
         ("columns", 0, "aggregate"), "cannot sum a text column"),
        ({"source": "form:sales_order.lines",
          "columns": [c("x", "number", drill={"form": "no_such_form"})]},
         ("columns", 0, "drill", "form"), "unknown form 'no_such_form'"),
        ({"source": "form:no_such_form",
          "columns": [c("x", "number")]},
         ("source",), "unknown source"),
        ({"source": "form:sales_order.no_table",
          "columns": [c("x", "number")]},
         ("source",), "unknown source"),
        ({"source": "form:sales_order",
          "params": [{"name": "who", "type": "text", "label": {"zh_CN": "客户", "en": "Customer"},
                      "column": "number", "op": "covers"}],
          "columns": [c("x", "number")]},
         ("params", 0, "op"), "only a location parameter can compare as covers"),
    ],
)  # fmt: skip
def test_bad_form_source_definitions_name_the_path(metadata, definition, path, message):
    report, problems = compile_report({"name": "bad", "label": {"zh_CN": "坏", "en": "Bad"},
                                       **definition}, metadata)  # fmt: skip
    assert report is None
    assert any(p == path and message in text for p, text in problems), problems


def test_aggregates_below_the_links_give_the_figures_by_hand(app, db, chain, metadata):
    """Dimensions through links only: the balances are grouped by location id first, then named.
    SH01: STRIP L-EARLY 3, L-OLD 2, GLOVE 100; BJ01: STRIP L-EARLY 1, L-LATE 5; in transit 4."""
    definition = {
        "source": "balances",
        "columns": [c("location", "location.name"), c("rows", "on_hand", aggregate="count"),
                    c("items", "item_id", aggregate="count_distinct"),
                    c("least", "on_hand", aggregate="min"), c("most", "on_hand", aggregate="max"),
                    c("on_hand", "on_hand", aggregate="sum")],
        "filters": [{"column": "on_hand", "op": "gt", "value": 0}],
        "totals": True, "sort": ["location"],
    }  # fmt: skip
    result = run(app, db, chain, metadata, None, username="hq", **definition)
    by_name = {row["location"]: row for row in result.rows}
    figures = ("rows", "items", "least", "most", "on_hand")
    assert tuple(by_name["上海徐汇店"][name] for name in figures) == (3, 2, D(2), D(100), D(105))
    assert tuple(by_name["北京朝阳店"][name] for name in figures) == (2, 1, D(1), D(5), D(6))
    assert tuple(result.totals[name] for name in figures) == (6, 2, D(1), D(100), D(115))
    report = _compile(metadata, dict(definition))
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["hq"])
        sql = str(build_statement(report, {}, session, user, timezone="Asia/Shanghai"))
    assert "WITH aggregated AS" in sql and "GROUP BY stock_balances.location_id" in sql


def test_a_formula_that_copies_a_code_reads_as_that_code(metadata):
    """A return's sale kind copies its order's (a code with options, not a number): reports read
    it as text with the order's labels, as lists do (it was read as a number: 'hospital' is
    none)."""
    report = _compile(metadata, {
        "source": "form:customer_return",
        "columns": [c("number", "number"), c("sale_kind", "sale_kind")],
    })  # fmt: skip
    [_number, kind] = report.columns
    assert kind.type == "text" and kind.options["hospital"]["en"] == "Hospital or clinic"
