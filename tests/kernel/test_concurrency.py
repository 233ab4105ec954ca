"""Real concurrency on PostgreSQL: many writers on the same few lots, nothing ever wrong.

Sixteen threads, each with its own connection, sell, transfer, reserve and receive the same lots
at random for a fixed number of operations. Afterwards the books must balance exactly and every
refusal must have been a typed KernelError — never a crash, a deadlock or a negative balance.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.db import Database
from app.kernel import (
    KernelError,
    Movement,
    Reason,
    ReceiveLine,
    ShipLine,
    consume,
    post_movements,
    receive,
    release,
    reserve,
    ship,
)
from app.kernel.retry import run_in_transaction
from app.kernel.stock import LedgerEntry, StockBalance
from tests.kernel import conftest
from tests.kernel.conftest import TODAY, assert_balances_match_ledger

THREADS = 16
OPERATIONS_PER_THREAD = 12
SEED = int(os.environ.get("LIANKU_TEST_SEED", "1000"))


@pytest.mark.postgres_only
def test_many_writers_on_the_same_lots_keep_the_books_exact(db, world):
    locations = [world.wh, world.s1, world.s2]
    lots = [world.early, world.late]
    for location in locations[:2]:
        for lot in lots:
            conftest.receive(db, world.strips, 20, location, lot)
    outcomes: Counter = Counter()
    crashes: list[BaseException] = []
    barrier = threading.Barrier(THREADS)
    lock = threading.Lock()

    def operations(rng: random.Random, thread: int, number: int):
        """One business action as one or two transactions (each kernel call its own)."""
        kind = rng.choice(["sell", "sell", "transfer", "reserve", "receive"])
        location, lot = rng.choice(locations), rng.choice(lots)
        quantity = Decimal(rng.randint(1, 6))
        document = f"T{thread}-{number}"
        if kind == "sell":
            yield kind, lambda session: post_movements(
                session,
                [Movement(item=world.strips, quantity=quantity, source=location, lot=lot)],
                reason=Reason.sale, document=document, today=TODAY,
            )  # fmt: skip
        elif kind == "receive":
            yield kind, lambda session: post_movements(
                session,
                [Movement(item=world.strips, quantity=quantity, destination=location, lot=lot)],
                reason=Reason.purchase_receipt, document=document, today=TODAY,
            )  # fmt: skip
        elif kind == "transfer":
            destination = rng.choice([other for other in locations if other is not location])
            yield kind, lambda session: ship(
                session, document, location, destination,
                [ShipLine(world.strips, quantity, lot=lot)], today=TODAY,
            )  # fmt: skip
            received = Decimal(rng.randint(0, int(quantity)))
            lines = [ReceiveLine(1, received, quantity - received)]
            yield "transfer in", lambda session: receive(session, document, lines)
        else:
            yield (
                kind,
                lambda session: reserve(
                    session, document, 1, world.strips, quantity, location, today=TODAY
                ),
            )
            if rng.random() < 0.5:
                yield "consume", lambda session: consume(session, document, 1, today=TODAY)
            else:
                yield "release", lambda session: release(session, document, 1)

    def worker(thread: int) -> None:
        rng = random.Random(SEED + thread)
        barrier.wait()
        for number in range(OPERATIONS_PER_THREAD):
            for kind, work in operations(rng, thread, number):
                try:
                    with db.transaction() as session:
                        work(session)
                    result = f"{kind} done"
                except KernelError as error:
                    result = f"refused: {type(error).__name__}"
                except BaseException as error:  # a crash: the test fails below with it
                    with lock:
                        crashes.append(error)
                    break
                with lock:
                    outcomes[result] += 1
                if result.startswith("refused"):
                    break  # the rest of this action makes no sense any more

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert crashes == [], f"untyped failures: {crashes[:3]}"
    assert sum(outcomes.values()) >= THREADS * OPERATIONS_PER_THREAD
    assert outcomes["sell done"] > 0 and outcomes["transfer done"] > 0
    assert any(key.startswith("refused") for key in outcomes), outcomes

    with db.session() as session:
        assert_balances_match_ledger(session)
        assert session.scalar(select(func.min(StockBalance.on_hand))) >= 0
        totals = dict(
            session.execute(
                select(LedgerEntry.reason, func.sum(LedgerEntry.quantity)).group_by(
                    LedgerEntry.reason
                )
            ).all()
        )
        stock = session.scalar(select(func.sum(StockBalance.on_hand)))
        receipts = totals.get("purchase_receipt", 0)
        sales = -totals.get("sale", 0)
        assert stock == receipts - sales
        moves_net = sum(
            totals.get(reason, 0) for reason in ("transfer_out", "transfer_in", "transfer_return")
        )
        assert moves_net == 0


@pytest.mark.postgres_only
def test_compound_transactions_are_rerun_after_a_deadlock(db, world, database_url):
    """Ship and receive in ONE transaction can deadlock; run_in_transaction reruns the loser."""
    conftest.receive(db, world.strips, 200, world.wh, world.late)
    conftest.receive(db, world.strips, 200, world.s1, world.late)
    # Detect deadlocks in 50 ms instead of 1 s, so the test stays fast (superuser-only setting).
    fast = Database(database_url, connect_args={"options": "-c deadlock_timeout=50"})
    crashes: list[BaseException] = []
    done: Counter = Counter()
    barrier = threading.Barrier(6)
    lock = threading.Lock()

    def worker(thread: int) -> None:
        rng = random.Random(SEED + thread)
        barrier.wait()
        for number in range(3):
            source, destination = rng.sample([world.wh, world.s1], 2)
            document = f"C{thread}-{number}"

            def work(session, source=source, destination=destination, document=document):
                ship(session, document, source, destination,
                     [ShipLine(world.strips, Decimal(1), lot=world.late)], today=TODAY)  # fmt: skip
                receive(session, document, [ReceiveLine(1, Decimal(1))])

            try:
                run_in_transaction(fast, work, attempts=10)
            except BaseException as error:
                with lock:
                    crashes.append(error)
                return
            with lock:
                done["moved"] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    fast.dispose()
    assert crashes == [], crashes[:3]
    assert done["moved"] == 18
    with db.session() as session:
        assert_balances_match_ledger(session)
        assert session.scalar(select(func.sum(StockBalance.on_hand))) == 400
