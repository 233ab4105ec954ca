"""How fast does ``post_movements`` post, next to the bare SQL it is made of?

On PostgreSQL (``LIANKU_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``;
the script creates and drops its own database), 16 threads each post single-line movements at
their own store for a fixed time, alternating a receipt and a sale of one lot:

* **kernel**: one ``post_movements`` per transaction (validation, sorted row locks, balance,
  ledger row, audit entry on the location's chain);
* **bare SQL** baseline, same run, same rows: one balance UPDATE + one ledger INSERT per
  transaction over plain psycopg.

Prints postings per second, p50/p99 latency of both, and the ratio (target: kernel ≥ 50 %).

    .venv/bin/python bench/kernel_posting.py [--seconds 10] [--threads 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import Database  # noqa: E402
from app.kernel import (  # noqa: E402
    Movement,
    Reason,
    StockBalance,
    add_item,
    add_location,
    get_or_create_lot,
    post_movements,
)
from app.kernel.items import business_today  # noqa: E402
from app.migrate import upgrade  # noqa: E402

SERVER = os.environ.get("LIANKU_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def create_database() -> tuple[str, str]:
    name = f"lianku_bench_{os.getpid()}"
    server = make_url(SERVER).set(drivername="postgresql")
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin, server.set(database=name).render_as_string(hide_password=False)


def drop_database(admin: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_up(db: Database, threads: int):
    """One store per thread, one lot with 1,000 on hand at each."""
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        stores = [
            add_location(session, f"S{n:02}", f"门店 {n}", "store", hq) for n in range(threads)
        ]
        item = add_item(session, "STRIP", "血糖试纸", tracking="lot", expiry_required=False)
        lot = get_or_create_lot(session, item, "L1")
        post_movements(
            session,
            [Movement(item=item, quantity=Decimal(1000), destination=store, lot=lot)
             for store in stores],
            reason=Reason.opening, document="OPEN",
        )  # fmt: skip
    with db.session() as session:
        balance_ids = {
            balance.location_id: balance.id for balance in session.query(StockBalance).all()
        }
    return stores, item, lot, balance_ids


def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each PostgreSQL backend serving ``url``'s
    database, read from /proc: only when the server runs on this machine (else empty)."""
    with psycopg.connect(url, autocommit=True) as connection:
        pids = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for (pid,) in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not on this machine, or gone
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return used


def run_phase(
    threads: int, seconds: float, make_worker, url: str
) -> tuple[list[float], float, float, float | None]:
    """Run ``threads`` workers for ``seconds``; return every latency, the elapsed time, the
    CPU time this process spent meanwhile (user + system, all threads) and the CPU time the
    PostgreSQL backends serving it spent (None when the server is not on this machine).

    Each worker posts one untimed receipt and sale first (opening its connection and letting
    psycopg prepare the statements), then all start together. A posting under way at the deadline
    is finished and counted, and the phase lasts until the last one ends, so the rate is the
    postings over the time they really took.
    """
    latencies: list[list[float]] = [[] for _ in range(threads)]
    clock = {"start": 0.0, "deadline": 0.0}

    def start() -> None:  # runs once all have arrived, before any is let through
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + seconds

    barrier = threading.Barrier(threads + 1, action=start)

    posts = [None] * threads  # kept until the end: a bare worker's connection lives with it

    def body(index: int) -> None:
        post = posts[index] = make_worker(index)
        post(1)
        post(-1)
        barrier.wait()
        sign = 1
        while time.perf_counter() < clock["deadline"]:
            started = time.perf_counter()
            post(sign)
            latencies[index].append(time.perf_counter() - started)
            sign = -sign

    workers = [threading.Thread(target=body, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    cpu_before = os.times()
    server_before = backend_cpu(url)
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - clock["start"]
    cpu_after = os.times()
    server_after = backend_cpu(url)
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    server = sum(
        server_after[pid] - used for pid, used in server_before.items() if pid in server_after
    )
    latencies = [latency for per_thread in latencies for latency in per_thread]
    return latencies, elapsed, cpu, server if server_before else None


def kernel_worker(db: Database, stores, item, lot, today):
    def make(index: int):
        store = stores[index]

        def post(sign: int) -> None:
            movement = (
                Movement(item=item, quantity=Decimal(1), destination=store, lot=lot)
                if sign > 0
                else Movement(item=item, quantity=Decimal(1), source=store, lot=lot)
            )
            reason = Reason.purchase_receipt if sign > 0 else Reason.sale
            with db.transaction() as session:
                post_movements(session, [movement], reason=reason, document="B-1", today=today)

        return post

    return make


def bare_sql_worker(url: str, stores, item, lot, balance_ids):
    def make(index: int):
        store = stores[index]
        balance_id = balance_ids[store.id]
        connection = psycopg.connect(url)

        def post(sign: int) -> None:
            with connection.transaction():
                connection.execute(
                    "UPDATE stock_balances SET on_hand = on_hand + %s WHERE id = %s",
                    (sign, balance_id),
                )
                connection.execute(
                    "INSERT INTO stock_ledger (at, location_id, item_id, lot_id, status, "
                    "quantity, document, reason) VALUES (now(), %s, %s, %s, 'available', %s, "
                    "'B-1', %s)",
                    (store.id, item.id, lot.id, sign, "purchase_receipt" if sign > 0 else "sale"),
                )

        return post

    return make


def report(
    name: str, latencies: list[float], elapsed: float, cpu: float, server: float | None
) -> float:
    rate = len(latencies) / elapsed
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)] * 1000
    server_cpu = "n/a" if server is None else f"{server / len(latencies) * 1000:.2f}"
    print(
        f"{name:<9} {rate:9.0f} postings/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
        f"   CPU ms/posting: Python {cpu / len(latencies) * 1000:.2f}, server {server_cpu}"
        f"   ({len(latencies)} in {elapsed:.1f} s)"
    )
    return rate


def added_up(phases: list[tuple]) -> tuple[list[float], float, float, float | None]:
    """The rounds of one phase as if it had run at one go."""
    servers = [phase[3] for phase in phases]
    return (
        [latency for phase in phases for latency in phase[0]],
        sum(phase[1] for phase in phases),
        sum(phase[2] for phase in phases),
        None if None in servers else sum(servers),
    )


def load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="alternate the phases this many times (each --seconds/rounds long) and add them up,"
        " so a load that rises or falls during the run weighs on both alike",
    )  # fmt: skip
    args = parser.parse_args()
    admin, url = create_database()
    db = Database(url, pool_size=args.threads, max_overflow=4)
    try:
        upgrade(db.engine)
        stores, item, lot, balance_ids = set_up(db, args.threads)
        today = business_today()
        print(
            f"{args.threads} threads, {args.seconds:.0f} s per phase"
            f" in {args.rounds} round(s), single-line postings"
        )
        print(f"before: {load()} ({os.cpu_count()} cores)")
        seconds = args.seconds / args.rounds
        kernel, bare = [], []
        for _round in range(args.rounds):
            kernel.append(
                run_phase(args.threads, seconds, kernel_worker(db, stores, item, lot, today), url)
            )
            bare.append(
                run_phase(
                    args.threads, seconds, bare_sql_worker(url, stores, item, lot, balance_ids), url
                )
            )
        kernel, bare = added_up(kernel), added_up(bare)
        print(f"after:  {load()}")
        kernel_rate = report("kernel", *kernel)
        bare_rate = report("bare SQL", *bare)
        print(f"ratio     {kernel_rate / bare_rate:9.0%} of bare SQL (target >= 50%)")
    finally:
        db.dispose()
        drop_database(admin, url)


if __name__ == "__main__":
    main()
