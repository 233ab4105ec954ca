"""The replenishment plan on a small chain with real coordinates, every expected line worked out
by hand (see ``tests/replenishment_chain.py`` for the chain, its stock and its sales).

Reading the figures: velocity v = units sold in 28 days / 28; projected = sellable + in transit
+ open incoming − open outgoing; a need (projected ≤ reorder point) is max stock − projected; a
lot goes to a destination only as far as ``ahead + q ≤ v × (days to expiry − near-expiry days)``,
``ahead`` being the destination's projected stock plus what the plan already sends it.
"""

from __future__ import annotations

import gc
import threading
from decimal import Decimal

import pytest
from sqlalchemy import text

from app.kernel import replenishment
from app.kernel.geo import great_circle_km
from app.kernel.items import business_today
from tests import replenishment_chain as chain

D = Decimal


@pytest.fixture
def ids(db):
    with db.transaction() as session:
        return chain.build(session)


def plan(db, ids, policies=None, commitments=None, **options):
    with db.session() as session:
        return replenishment.plan(
            session, chain.policies(ids, policies or chain.POLICIES), commitments, **options
        )


def lines_of(result, ids) -> list[tuple]:
    """(reason, action, from, to, item, lot, quantity) with codes for ids, in plan order."""
    items = {ids["STRIP"]: "STRIP", ids["GAUZE"]: "GAUZE"}
    codes = {ids[code]: code for code in chain.COORDINATES}
    lots = {value: key[4:] for key, value in ids.items() if key.startswith("lot:")}
    return [
        (line.reason, line.action, codes.get(line.from_location_id), codes.get(line.to_location_id),
         items[line.item_id], lots.get(line.lot_id), line.quantity)
        for line in result.lines
    ]  # fmt: skip


def test_great_circle_distance_of_real_cities():
    # Shanghai → Beijing is about 1 067 km; one point to itself is 0; a missing coordinate: None
    assert great_circle_km(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(1067.3, abs=0.1)
    assert great_circle_km(D("31.2304"), D("121.4737"), D("31.2304"), D("121.4737")) == 0
    assert great_circle_km(None, 121.4737, 39.9042, 116.4074) is None


def test_the_whole_chain_plan(db, ids):
    result = plan(db, ids)
    assert lines_of(result, ids) == [
        # GAUZE lot N20 at S-BJ (20 days left, threshold 30: near expiry): S-BJ sells 0.5/day, so
        # 0.5 × 20 = 10 of its 40 sell there; 30 would expire. Faster stores first:
        # S-SH (v 2, projected 20): 2 × (20 − 3 days on the road) − 20 = 14;
        ("near_expiry", "transfer", "S-BJ", "S-SH", "GAUZE", "N20", D(14)),
        # S-SZ (v 1, projected 10): 1 × 17 − 10 = 7;
        ("near_expiry", "transfer", "S-BJ", "S-SZ", "GAUZE", "N20", D(7)),
        # the other 9 go back to the supplier they came from.
        ("near_expiry", "return", "S-BJ", None, "GAUZE", "N20", D(9)),
        # (S-SH's own GAUZE lot M25 sells there in time: 2 × 25 = 50 ≥ 20 — nothing to do.)
        # STRIP: S-SH (v 3, projected 0 ≤ 20) needs 45 − 0 = 45 and is served first (fastest).
        # Nearest source WH-SH (1.7 km), lots FEFO: E95 may go as far as 3 × (95 − 90) − 0 = 15
        # → all 5; A100: 3 × 10 − 5 = 25 of 30; B300: the remaining 15.
        ("reorder", "transfer", "WH-SH", "S-SH", "STRIP", "E95", D(5)),
        ("reorder", "transfer", "WH-SH", "S-SH", "STRIP", "A100", D(25)),
        ("reorder", "transfer", "WH-SH", "S-SH", "STRIP", "B300", D(15)),
        # S-SZ (v 2, projected 10) needs 60 − 10 = 50. WH-SH (84.8 km) has A100 5 (2 × 10 − 10
        # = 10 allowed) and B300 5 left; then S-HZ (121.1 km) gives what it holds above its
        # maximum: 20 − 15 = 5; then WH-NJ (189.2 km) its 8.
        ("reorder", "transfer", "WH-SH", "S-SZ", "STRIP", "A100", D(5)),
        ("reorder", "transfer", "WH-SH", "S-SZ", "STRIP", "B300", D(5)),
        ("reorder", "transfer", "S-HZ", "S-SZ", "STRIP", "H400", D(5)),
        ("reorder", "transfer", "WH-NJ", "S-SZ", "STRIP", "C500", D(8)),
        # 50 − 23 = 27 remain: a purchase for S-SZ.
        ("reorder", "purchase", None, "S-SZ", "STRIP", None, D(27)),
    ]
    # every line carries its figures: the needing location's (or the source's, for near expiry)
    by_key = {
        (line.from_location_id, line.to_location_id, line.lot_id): line for line in result.lines
    }
    purchase = by_key[None, ids["S-SZ"], None]
    assert (purchase.projected, purchase.reorder_point, purchase.velocity) == (D(10), D(20), D(2))
    assert purchase.days_of_cover == D(5) and purchase.distance_km is None
    moved = by_key[ids["WH-SH"], ids["S-SZ"], ids["lot:A100"]]
    assert moved.distance_km == D("84.8")
    assert moved.expiry_date == business_today() + __import__("datetime").timedelta(days=100)
    returned = by_key[ids["S-BJ"], None, ids["lot:N20"]]
    assert returned.receipt_document == "PR-S-BJ"
    assert (returned.projected, returned.velocity, returned.days_of_cover) == (
        D(40),
        D("0.5"),
        D(80),
    )
    assert result.counts["needs"] == 2 and result.counts["near_expiry_lots"] == 1


def only_s_sz_needs_strip() -> list[tuple]:
    """S-SZ alone (v 2, projected 10, needs 50): WH-SH's E95 is NOT sent — 2 × (95 − 90) − 10
    = 0: it would turn near-expiry before S-SZ sold it. A100: 2 × 10 − 10 = 10 of 30;
    B300: 2 × 210 − 20 = 400 allowed, all 20; S-HZ 5; WH-NJ 8 → 43; 7 to buy."""
    return [
        ("reorder", "transfer", "WH-SH", "S-SZ", "STRIP", "A100", D(10)),
        ("reorder", "transfer", "WH-SH", "S-SZ", "STRIP", "B300", D(20)),
        ("reorder", "transfer", "S-HZ", "S-SZ", "STRIP", "H400", D(5)),
        ("reorder", "transfer", "WH-NJ", "S-SZ", "STRIP", "C500", D(8)),
        ("reorder", "purchase", None, "S-SZ", "STRIP", None, D(7)),
    ]


#: Without a GAUZE policy anywhere, no store takes S-BJ's near-expiry GAUZE: of its 40, the 10
#: that sell at S-BJ by expiry (0.5 × 20) stay and 30 go back to the supplier.
GAUZE_BACK = ("near_expiry", "return", "S-BJ", None, "GAUZE", "N20", D(30))


def test_a_lot_that_would_expire_before_it_sells_is_not_sent(db, ids):
    policies = {key: value for key, value in chain.POLICIES.items() if key[1] == "STRIP"}
    del policies["S-SH", "STRIP"]
    assert lines_of(plan(db, ids, policies), ids) == [GAUZE_BACK, *only_s_sz_needs_strip()]


def test_the_planners_scope_limits_whose_needs_are_planned(db, ids):
    # S-SH's need and S-BJ's near-expiry stock are someone else's: S-SZ's plan is as if alone
    result = plan(db, ids, locations={ids["S-SZ"]})
    assert lines_of(result, ids) == only_s_sz_needs_strip()


def test_open_incoming_and_outgoing_prevent_double_ordering(db, ids):
    # S-SH has 45 on order (an open purchase order): projected 45 > 20, no need.
    # WH-SH has promised 30 (a transfer not shipped yet): they leave FEFO, E95 5 and A100 25,
    # so it gives 55 − 30 = 25: A100 5 (2 × 10 − 10 = 10 allowed) and B300 20; S-SZ's need
    # of 50 gets 25 + S-HZ 5 + WH-NJ 8 = 38, and 12 are bought.
    commitments = chain.rows_select(
        [
            {
                "location_id": ids["S-SH"],
                "item_id": ids["STRIP"],
                "incoming": D(45),
                "outgoing": D(0),
            },
            {
                "location_id": ids["WH-SH"],
                "item_id": ids["STRIP"],
                "incoming": D(0),
                "outgoing": D(30),
            },
        ],
        chain.COMMITMENT_TYPES,
    )
    policies = {key: value for key, value in chain.POLICIES.items() if key[1] == "STRIP"}
    assert lines_of(plan(db, ids, policies, commitments), ids) == [
        GAUZE_BACK,
        ("reorder", "transfer", "WH-SH", "S-SZ", "STRIP", "A100", D(5)),
        ("reorder", "transfer", "WH-SH", "S-SZ", "STRIP", "B300", D(20)),
        ("reorder", "transfer", "S-HZ", "S-SZ", "STRIP", "H400", D(5)),
        ("reorder", "transfer", "WH-NJ", "S-SZ", "STRIP", "C500", D(8)),
        ("reorder", "purchase", None, "S-SZ", "STRIP", None, D(12)),
    ]


def test_a_warehouse_reserve_and_no_need_without_a_policy(db, ids):
    # Each warehouse keeps 50 of each item: WH-SH gives 5 of its 55, the earliest lot it may
    # send S-SZ (A100, of which 10 are allowed); WH-NJ's 8 all stay; S-HZ gives its 5 above
    # maximum; 50 − 5 − 5 = 40 to buy.
    policies = {("S-SZ", "STRIP"): chain.POLICIES["S-SZ", "STRIP"], ("S-HZ", "STRIP"): (2, 5, 15)}
    settings = replenishment.PlanSettings(warehouse_reserve=D(50))
    assert lines_of(plan(db, ids, policies, settings=settings), ids) == [
        GAUZE_BACK,
        ("reorder", "transfer", "WH-SH", "S-SZ", "STRIP", "A100", D(5)),
        ("reorder", "transfer", "S-HZ", "S-SZ", "STRIP", "H400", D(5)),
        ("reorder", "purchase", None, "S-SZ", "STRIP", None, D(40)),
    ]


def test_nothing_to_do_when_every_location_is_above_its_reorder_point(db, ids):
    # S-HZ holds 20 > 5 of STRIP, S-SZ 10 > 5 of GAUZE; none of their lots is near expiry
    policies = {("S-HZ", "STRIP"): (2, 5, 40), ("S-SZ", "GAUZE"): (2, 5, 20)}
    result = plan(db, ids, policies, locations={ids["S-HZ"], ids["S-SZ"]})
    assert result.lines == []


def test_the_collector_paused_for_the_plan_runs_again_after_it(db, ids, monkeypatch):
    """The plan pauses Python's cycle collector while it builds its objects: afterwards it runs
    again, also when the plan failed, and stays off for a process that had turned it off."""
    seen = []
    monkeypatch.setattr(
        replenishment._Matcher, "replenish", lambda matcher: seen.append(gc.isenabled())
    )
    assert gc.isenabled()
    plan(db, ids)
    assert seen == [False] and gc.isenabled()

    def failing(_matcher):
        raise RuntimeError("matching failed")

    monkeypatch.setattr(replenishment._Matcher, "replenish", failing)
    with pytest.raises(RuntimeError):
        plan(db, ids)
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuntimeError):
            plan(db, ids)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_one_plan_at_a_time(db, ids):
    """While one planner holds the plan lock (planning, then writing its suggestions in as many
    transactions as it takes), a second is refused at once, saying why, from another thread as
    from another connection; once the first has finished, planning works again."""
    outcome = {}

    def second():
        try:
            with replenishment.planning(db):
                outcome["second"] = "planned"
        except replenishment.PlanInProgress as exc:
            outcome["second"] = exc

    with replenishment.planning(db):
        first = plan(db, ids).lines
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(30)
        assert plan(db, ids).lines == first  # (the holder's own transactions go on)
    assert isinstance(outcome.get("second"), replenishment.PlanInProgress)
    assert "Another replenishment plan is being made" in str(outcome["second"])
    with replenishment.planning(db):
        assert len(plan(db, ids).lines) == len(first) > 0


def test_a_planner_that_fails_lets_the_next_one_plan(db, ids):
    with pytest.raises(RuntimeError), replenishment.planning(db):
        raise RuntimeError("the plan failed")
    with replenishment.planning(db):
        assert plan(db, ids).lines


@pytest.mark.postgres_only
def test_a_plan_lock_whose_connection_was_cut_is_gone_with_it(db, ids):
    """The server ends the holder's connection mid-run (a restart, an admin): its advisory lock
    goes with it, and the run's end does not fail on releasing it."""
    with replenishment.planning(db):
        with db.transaction() as session:
            ended = session.scalar(
                text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks"  # (waits for it to end)
                    " WHERE locktype = 'advisory' AND objsubid = 1 AND granted"  # (one key)
                    " AND database = (SELECT oid FROM pg_database"
                    "                 WHERE datname = current_database())"
                )
            )
        assert ended
    with replenishment.planning(db):
        assert plan(db, ids).lines


def commitments_of(result) -> object:
    """The plan's lines as the open documents they become: incoming where goods go, outgoing where
    they leave (what ``app.workflow.replenishment.commitments`` reads from the suggestions)."""
    rows = []
    for line in result.lines:
        if line.to_location_id is not None:
            rows.append(
                {"location_id": line.to_location_id, "item_id": line.item_id,
                 "incoming": line.quantity, "outgoing": D(0)}
            )  # fmt: skip
        if line.from_location_id is not None:
            rows.append(
                {"location_id": line.from_location_id, "item_id": line.item_id,
                 "incoming": D(0), "outgoing": line.quantity}
            )  # fmt: skip
    return chain.rows_select(rows, chain.COMMITMENT_TYPES)


def test_near_expiry_stock_sent_away_is_refilled_in_the_same_plan(db, ids):
    """S-BJ's reorder point of GAUZE is 15: its 40 units looked like plenty, but 30 of them are
    near-expiry stock the plan sends away (14 + 7) or back (9). The 10 left are at or below the
    reorder point, so the same plan buys 25 − 10 = 15 for it (nobody has GAUZE to spare) — before,
    only the next run saw the gap and added the refill then."""
    policies = {**chain.POLICIES, ("S-BJ", "GAUZE"): (1, 15, 25)}
    result = plan(db, ids, policies)
    lines = lines_of(result, ids)
    assert lines[:3] == [
        ("near_expiry", "transfer", "S-BJ", "S-SH", "GAUZE", "N20", D(14)),
        ("near_expiry", "transfer", "S-BJ", "S-SZ", "GAUZE", "N20", D(7)),
        ("near_expiry", "return", "S-BJ", None, "GAUZE", "N20", D(9)),
    ]
    assert lines[-1] == ("reorder", "purchase", None, "S-BJ", "GAUZE", None, D(15))
    refill, returned = result.lines[-1], result.lines[2]
    # the refill says what S-BJ will hold once the near-expiry stock is gone; the near-expiry
    # lines what it holds now
    assert (refill.projected, refill.reorder_point, refill.velocity) == (D(10), D(15), D("0.5"))
    assert refill.days_of_cover == D(20)
    assert returned.projected == D(40)
    # and a second run, with the first one's suggestions open, has nothing more to suggest
    assert plan(db, ids, policies, commitments_of(result)).lines == []


def test_a_store_that_sold_none_is_fed_from_stock_that_keeps_not_bought_for(db, ids):
    """S-BJ sold no STRIP and asks for 10 (its policy: safety stock, not sales): the chain's
    long-dated lots go there, nearest first — WH-NJ's C500 8, then WH-SH's B300 2 — rather than
    a purchase (before: all 10 bought). WH-SH's E95 and A100 are 5 and 10 days clear of STRIP's
    90-day threshold, under the plan's 14 cover days: they stay."""
    policies = {("S-BJ", "STRIP"): (2, 4, 10)}
    lines = lines_of(plan(db, ids, policies, locations={ids["S-BJ"]}), ids)
    assert lines == [
        GAUZE_BACK,
        ("reorder", "transfer", "WH-NJ", "S-BJ", "STRIP", "C500", D(8)),
        ("reorder", "transfer", "WH-SH", "S-BJ", "STRIP", "B300", D(2)),
    ]
