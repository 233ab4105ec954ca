"""The expiry dashboard: the shipped ``expired_lots`` report lists the lots past expiry still on
hand, by location, inside the user's scope; QA and the warehouses get a dashboard of near-expiry
and expired lots (the warehouses' with what waits to leave first), store managers and HQ an
expired-lots card on their own (see report_chain for the stock: SH01 holds 2 of L-OLD, expired
the day before the business day)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import app.workflow  # noqa: F401  (the workflow checks load with the metadata)
from app.kernel.users import User
from app.meta import load_metadata
from app.meta.dashboards import dashboard_for
from app.meta.reports import get_report, run_report
from tests.report_chain import TODAY, make_report_chain

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def chain(app, db):
    return make_report_chain(app, db)


def expired(app, db, chain, username: str) -> list[tuple]:
    report = get_report(load_metadata(ROOT / "metadata", ROOT / "workflows"), "expired_lots")
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users[username])
        result = run_report(session, report, {}, user, today=TODAY)
    return [(row["location"], row["lot"], row["days_to_expiry"], row["on_hand"])
            for row in result.rows]  # fmt: skip


def test_expired_lots_by_location_inside_the_scope(app, db, chain):
    assert expired(app, db, chain, "hq") == [("上海徐汇店", "L-OLD", -1, Decimal(2))]
    assert expired(app, db, chain, "manager_a") == [("上海徐汇店", "L-OLD", -1, Decimal(2))]
    assert expired(app, db, chain, "manager_b") == []  # BJ01 holds nothing expired


def test_who_sees_the_expiry_cards():
    metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")

    def cards(*roles):
        return [
            card["report"] for card in dashboard_for(metadata, list(roles), lambda _: True)["cards"]
        ]

    assert cards("qa") == ["returns_to_ship", "near_expiry", "expired_lots"]
    # the warehouses' own dashboard puts what waits to leave first
    assert cards("warehouse_supervisor") == cards("warehouse_clerk") == [
        "transfers_to_ship", "picking_summary", "returns_to_ship", "awaiting_review",
        "near_expiry", "expired_lots",
    ]  # fmt: skip
    assert {"near_expiry", "expired_lots"} <= set(cards("store_manager"))
    assert "expired_lots" in cards("hq_manager")


def test_the_near_expiry_cards_leave_the_expired_lots_to_their_own_card(app, db, chain):
    """Each dashboard's near-expiry card (近效期批次（180天内）) asks the report for what has not
    expired yet; the report itself, opened from the menu, still lists both."""
    metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")
    for roles in (["qa"], ["warehouse_clerk"], ["store_manager"]):
        dashboard = dashboard_for(metadata, roles, lambda _: True)
        [card] = [card for card in dashboard["cards"] if card["report"] == "near_expiry"]
        assert card["params"] == {"at_least": 0}, roles
    report = get_report(metadata, "near_expiry")
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users["hq"])
        lots = {
            params.get("at_least"): {row["lot"] for row in run_report(
                session, report, params, user, today=TODAY).rows}
            for params in ({}, {"at_least": "0"})
        }  # fmt: skip
    assert "L-OLD" in lots[None] and "L-OLD" not in lots["0"]
    assert lots["0"] == lots[None] - {"L-OLD"}
