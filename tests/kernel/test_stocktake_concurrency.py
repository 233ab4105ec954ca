"""A count's lock and snapshot under real concurrency (PostgreSQL, threads with own connections).

What must hold: a posting that was in flight when the count opened is in the snapshot (the
opener waited for it) or is refused ``LocationLocked`` having written nothing; no posting lands
after the snapshot; and counters scanning at the same time never lose a line.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.kernel import (
    CountEntry,
    KernelError,
    LocationLocked,
    Movement,
    Reason,
    StocktakeError,
    add_count,
    approve_stocktake,
    open_stocktake,
    post_movements,
    stocktake_of,
)
from app.kernel.stock import LedgerEntry, StockBalance
from app.kernel.stocktake import CountBelowZero, StocktakeSnapshot
from tests.kernel.conftest import TODAY, assert_balances_match_ledger, receive
from tests.races import wait_until_blocked

pytestmark = pytest.mark.postgres_only


def _sell(session, world, quantity=1):
    post_movements(
        session,
        [Movement(item=world.gloves, quantity=Decimal(quantity), source=world.s1)],
        reason=Reason.sale, document="SO", today=TODAY,
    )  # fmt: skip


def _books(db, world) -> tuple[Decimal, Decimal | None, int]:
    """(on hand of gloves at S1, its snapshot, number of ledger rows)."""
    with db.session() as session:
        on_hand = session.scalar(
            select(StockBalance.on_hand).where(
                StockBalance.location_id == world.s1.id, StockBalance.item_id == world.gloves.id
            )
        )
        snapshot = session.scalar(select(StocktakeSnapshot.quantity))
        ledger = session.scalar(select(func.count()).select_from(LedgerEntry))
        assert_balances_match_ledger(session)
    return on_hand, snapshot, ledger


def test_a_posting_in_flight_is_waited_for_and_lands_in_the_snapshot(db, world):
    receive(db, world.gloves, 10, world.s1)
    seller = db.session(write=True)
    seller.begin()
    _sell(seller, world)  # in flight: holds S1 share-locked, not committed
    opened: list = []
    opener = threading.Thread(target=lambda: opened.append(_open_in_own_transaction(db, world)))
    opener.start()
    wait_until_blocked(db, 1)
    assert opened == []  # the count waits for the sale
    seller.commit()
    seller.close()
    opener.join(timeout=20)
    assert opened == ["ST-1"]
    on_hand, snapshot, _ledger = _books(db, world)
    assert on_hand == snapshot == Decimal(9)


def _open_in_own_transaction(db, world) -> str:
    with db.transaction() as session:
        return open_stocktake(session, "ST-1", world.s1, world.clerk).document


def test_a_posting_that_waited_for_the_opening_is_refused_and_writes_nothing(db, world):
    """The seller's first read started before the count committed: its second look refuses."""
    receive(db, world.gloves, 10, world.s1)
    _on_hand, _snapshot, ledger_before = _books(db, world)
    opener = db.session(write=True)
    opener.begin()
    open_stocktake(opener, "ST-1", world.s1, world.clerk)  # S1 locked FOR UPDATE, not committed
    outcome: list = []

    def sell_once():
        try:
            with db.transaction() as session:
                _sell(session, world)
            outcome.append("sold")
        except KernelError as error:
            outcome.append(error)

    seller = threading.Thread(target=sell_once)
    seller.start()
    wait_until_blocked(db, 1)
    opener.commit()
    opener.close()
    seller.join(timeout=20)
    assert len(outcome) == 1 and isinstance(outcome[0], LocationLocked), outcome
    assert "being counted since" in str(outcome[0]) and "店员 刘洋" in str(outcome[0])
    on_hand, snapshot, ledger = _books(db, world)
    assert on_hand == snapshot == Decimal(10)
    assert ledger == ledger_before


def test_sellers_racing_a_count_opening_never_land_after_the_snapshot(db, world):
    """Six sellers sell one at a time; a count opens mid-way. Every sale that committed is in
    the snapshot, every other one was refused LocationLocked, and the books did not move after.

    The sellers never pause: the count gate (a queueing lock) still lets the count open.
    """
    receive(db, world.gloves, 1000, world.s1)
    outcomes: Counter = Counter()
    crashes: list[BaseException] = []
    guard = threading.Lock()
    barrier = threading.Barrier(7)

    def seller() -> None:
        barrier.wait()
        for _attempt in range(200):
            try:
                with db.transaction() as session:
                    _sell(session, world)
                result = "sold"
            except LocationLocked:
                result = "locked"
            except BaseException as error:  # a crash: reported below
                with guard:
                    crashes.append(error)
                return
            with guard:
                outcomes[result] += 1
            if result == "locked":
                return

    def opener() -> None:
        barrier.wait()
        while True:
            with guard:
                if outcomes["sold"] >= 20:
                    break
            time.sleep(0.005)
        _open_in_own_transaction(db, world)

    threads = [threading.Thread(target=seller) for _n in range(6)]
    threads.append(threading.Thread(target=opener))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert crashes == [], crashes[:3]
    assert outcomes["locked"] == 6 and outcomes["sold"] >= 20, outcomes
    on_hand, snapshot, _ledger = _books(db, world)
    assert snapshot == Decimal(1000 - outcomes["sold"])
    assert on_hand == snapshot


def test_concurrent_counters_never_lose_a_line(db, world):
    receive(db, world.gloves, 100, world.s1)
    _open_in_own_transaction(db, world)
    counters, scans = 8, 25
    crashes: list[BaseException] = []
    barrier = threading.Barrier(counters)

    def counter() -> None:
        barrier.wait()
        for _scan in range(scans):
            try:
                with db.transaction() as session:
                    stocktake = stocktake_of(session, "ST-1")
                    add_count(session, stocktake, world.gloves, Decimal(1), user=world.clerk)
            except BaseException as error:
                crashes.append(error)
                return

    threads = [threading.Thread(target=counter) for _n in range(counters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert crashes == [], crashes[:3]
    with db.transaction() as session:
        entries = approve_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)
    assert [(e.reason, e.quantity) for e in entries] == [("count_surplus", Decimal(100))]
    on_hand, _snapshot, _ledger = _books(db, world)
    assert on_hand == counters * scans


def test_scans_racing_the_approval_are_posted_or_refused_never_lost(db, world):
    """Approval waits for the scans in flight; the scans after it are refused. So what was
    posted equals exactly the count entries that were written."""
    receive(db, world.gloves, 5, world.s1)
    _open_in_own_transaction(db, world)
    refused: Counter = Counter()
    crashes: list[BaseException] = []
    barrier = threading.Barrier(5)

    def counter() -> None:
        barrier.wait()
        for _scan in range(100):
            try:
                with db.transaction() as session:
                    add_count(session, stocktake_of(session, "ST-1"), world.gloves, Decimal(1))
            except StocktakeError:
                refused["closed"] += 1
                return
            except BaseException as error:
                crashes.append(error)
                return

    def approver() -> None:
        barrier.wait()
        time.sleep(0.05)
        with db.transaction() as session:
            approve_stocktake(session, stocktake_of(session, "ST-1"), world.clerk)

    threads = [threading.Thread(target=counter) for _n in range(4)]
    threads.append(threading.Thread(target=approver))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert crashes == [], crashes[:3]
    with db.session() as session:
        counted = session.scalar(select(func.sum(CountEntry.quantity)))
    on_hand, _snapshot, _ledger = _books(db, world)
    assert on_hand == counted
    assert refused["closed"] >= 1  # at least one scan came after the approval


def test_two_take_backs_at_once_never_leave_the_count_below_zero(db, world):
    """Two counters each take back 6 of the 10 counted, at the same moment: the second waits for
    the first, then sees it, and is refused; the count stays at 4."""
    receive(db, world.gloves, 10, world.s1)
    _open_in_own_transaction(db, world)
    with db.transaction() as session:
        add_count(session, stocktake_of(session, "ST-1"), world.gloves, Decimal(10))
    taken, release = threading.Event(), threading.Event()
    outcomes: list[str] = []

    def first() -> None:
        with db.transaction() as session:
            add_count(session, stocktake_of(session, "ST-1"), world.gloves, Decimal(-6))
            taken.set()
            release.wait(timeout=10)  # still uncommitted while the second one tries
        outcomes.append("first taken back")

    def second() -> None:
        try:
            with db.transaction() as session:
                add_count(session, stocktake_of(session, "ST-1"), world.gloves, Decimal(-6))
            outcomes.append("second taken back")
        except CountBelowZero:
            outcomes.append("second refused")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert taken.wait(timeout=10)
    threads[1].start()
    try:
        wait_until_blocked(db, 1)  # the second take-back queues behind the first
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(outcomes) == ["first taken back", "second refused"]
    with db.session() as session:
        assert session.scalar(select(func.sum(CountEntry.quantity))) == Decimal(4)
