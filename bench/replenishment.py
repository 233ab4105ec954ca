"""How long does a replenishment plan of a whole chain take? Target: ≤ 10 s for 2,000 stores ×
20,000 items.

On PostgreSQL (``LIANKU_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``;
the script creates and drops its own database), bulk-loaded with ``INSERT … SELECT
generate_series`` like ``bench/reports.py`` (its ``bulk_loading`` drops and restores indexes):

* ``--stores`` stores (default 2,000) and ``--warehouses`` warehouses (50) in 10 regions, with
  coordinates spread over eastern China; ``--items`` items (20,000), 3 lots each (one within its
  near-expiry threshold, two later), a third of the items with a 30-day threshold, the rest 90;
* **density**: each store carries ``--carried`` items (1,000, so 2M stock policies as
  ``stock_policy`` records in JSON and their typed copies in ``stock_policies``, and 2M store
  balances); each warehouse carries a fifth of the items in two lots (4,000 items, 400k
  balances in all). Store stock: 10 % of the positions at or
  below their reorder point (2–4; maximum 4× that), 3 % above their maximum, the rest between;
  10 % of the store positions hold the near-expiry lot. Sales: 0–5 sales of one unit per position
  in the last 28 days (about 0.09 a day, 5M ledger rows); one receipt per balance, so balances =
  Σ ledger as in the kernel; ``--open`` open transfer requests (2 lines) and purchase orders
  (3 lines) as records, the commitments the plan subtracts.

Measured: the plan (``app.workflow.replenishment.make_plan``: the typed policies and the
commitments over the records, the kernel's staging statements, the reads and the matching in
Python) p50 of ``--runs`` runs and the process's peak RSS; next to a **baseline** in the same run:
one hand-written statement finding the needs alone (the typed policies, stock and 28-day sales
aggregated, ``projected ≤ reorder point``), i.e. what any set-based plan must at least read.
``--write`` also times what the job does next, once: writing the plan's suggestions as
``replenishment`` records through the record service (every rule of the form; one record per
location), rolled back afterwards. ``--steps`` times each step of one more plan (the staging
statements, the reads, the matching). The plan's **digest** (SHA-256 over every field of every
line, in order) tells whether a change of the code changed the plan.

    .venv/bin/python bench/replenishment.py [--stores 2000] [--warehouses 50] [--items 20000]
                                            [--carried 1000] [--runs 3] [--keep] [--database NAME]
                                            [--write] [--steps]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import hashlib
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app.workflow  # noqa: E402,F401
from app.db import Database  # noqa: E402
from app.kernel import replenishment  # noqa: E402
from app.kernel.items import business_today  # noqa: E402
from app.meta.registry import build  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.workflow.replenishment import (  # noqa: E402
    chain_planner,
    make_plan,
    write_suggestions,
)
from bench.reports import bulk_loading, server_urls  # noqa: E402

SERVER = os.environ.get("LIANKU_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REGIONS = 10


def create_database() -> tuple[str, str]:
    admin, url = server_urls(f"lianku_bench_replenishment_{os.getpid()}")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{make_url(url).database}"')
    return admin, url


def load(db: Database, stores: int, warehouses: int, items: int, carried: int, opened: int):
    step = max(1, items // carried)  # store s carries the items i with (i + s) % step = 0
    started = time.perf_counter()
    sql = {
        "stores": stores, "warehouses": warehouses, "items": items, "step": step,
        "regions": REGIONS, "opened": opened, "today": business_today(),
    }  # fmt: skip
    with db.transaction() as session:

        def run(statement: str, **extra) -> None:
            session.execute(text(statement), {**sql, **extra})

        run("INSERT INTO locations (code, name, type, path, active, created_at)"
            " VALUES ('HQ', '总部', 'hq', '/', true, now())")  # fmt: skip
        run("UPDATE locations SET path = '/' || id || '/'")
        run(
            "INSERT INTO locations (code, name, type, parent_id, path, active, created_at)"
            " SELECT 'R' || g, '区域 ' || g, 'region', h.id, '', true, now()"
            " FROM generate_series(0, :regions - 1) g, locations h WHERE h.code = 'HQ'"
        )
        # stores S<n> and warehouses W<n>: latitude 22–40, longitude 104–122, spread by hashes
        run(
            "INSERT INTO locations (code, name, type, parent_id, path, latitude, longitude,"
            " active, created_at)"
            " SELECT kind || g, kind || g, CASE kind WHEN 'S' THEN 'store' ELSE 'warehouse' END,"
            " r.id, '', 22 + (g * 37 % 180) / 10.0 + (CASE kind WHEN 'W' THEN 0.05 ELSE 0 END),"
            " 104 + (g * 53 % 180) / 10.0, true, now()"
            " FROM (SELECT 'S' kind, g FROM generate_series(0, :stores - 1) g"
            "       UNION ALL SELECT 'W', g FROM generate_series(0, :warehouses - 1) g) k"
            " JOIN locations r ON r.code = 'R' || (k.g % :regions)"
        )
        run(
            "UPDATE locations c SET path = p.path || c.id || '/' FROM locations p"
            " WHERE c.parent_id = p.id AND c.type = 'region'"
        )
        run(
            "UPDATE locations c SET path = p.path || c.id || '/' FROM locations p"
            " WHERE c.parent_id = p.id AND c.type IN ('store', 'warehouse')"
        )
        run(
            "INSERT INTO items (code, name, unit_of_measure, device_class, tracking,"
            " expiry_required, storage_condition, near_expiry_days, active, created_at)"
            " SELECT 'I' || g, '商品 ' || g, 'EA', 'II', 'lot', true, 'normal',"
            " CASE WHEN g % 3 = 0 THEN 30 ELSE 90 END, true, now()"
            " FROM generate_series(0, :items - 1) g"
        )
        # lot 0 within its threshold, 1 and 2 later
        run(
            "INSERT INTO lots (item_id, lot_number, expiry_date, status, created_at)"
            " SELECT i.id, 'L' || i.code || '-' || k, CAST(:today AS date) + CASE k"
            "  WHEN 0 THEN 5 + (i.id % (i.near_expiry_days - 5))"
            "  WHEN 1 THEN 150 + i.id % 200 ELSE 400 + i.id % 300 END, 'released', now()"
            " FROM items i, generate_series(0, 2) k ORDER BY i.id, k"
        )
        session.execute(text("ANALYZE locations; ANALYZE items; ANALYZE lots"))
        with bulk_loading(session, "stock_ledger", "stock_balances", "records", "stock_policies"):
            load_positions(session, sql)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in (
            "stock_ledger", "stock_balances", "records", "stock_policies", "lots", "items",
            "locations",
        ):  # fmt: skip
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    with db.session() as session:
        counts = {
            name: session.execute(text(query)).scalar()
            for name, query in {
                "policies": "SELECT count(*) FROM stock_policies",
                "balances": "SELECT count(*) FROM stock_balances",
                "sales": "SELECT count(*) FROM stock_ledger WHERE reason = 'sale'",
                "ledger": "SELECT count(*) FROM stock_ledger",
            }.items()
        }
    print(
        f"loaded in {time.perf_counter() - started:.0f} s: {counts['policies']:,} policies,"
        f" {counts['balances']:,} balances, {counts['ledger']:,} ledger rows"
        f" ({counts['sales']:,} sales in the last 28 days)"
    )


#: The store positions: (store, item, lot, on hand, sold, reorder point, max stock)
STORE_POSITIONS = """
WITH carried AS (
  SELECT s.id location_id, i.id item_id, i.code,
         abs(hashtext(s.id || ':' || i.id)) % 100 h,
         abs(hashtext(i.id || '/' || s.id)) % 10 near,
         2 + i.id % 3 reorder_point, abs(hashtext(s.id || '/' || i.id)) % 6 sold
  FROM locations s JOIN items i ON (i.id + s.id) % :step = 0 WHERE s.type = 'store'
)
SELECT c.location_id, c.item_id, l.id lot_id, c.reorder_point, 4 * c.reorder_point max_stock,
       c.sold,
       CASE WHEN c.h < 10 THEN c.h % (c.reorder_point + 1)
            WHEN c.h < 13 THEN 4 * c.reorder_point + 1 + c.h % 5
            ELSE c.reorder_point + 1 + c.h % (3 * c.reorder_point) END on_hand
FROM carried c JOIN lots l ON l.item_id = c.item_id
 AND l.lot_number = 'L' || c.code || '-' || CASE WHEN c.near = 3 THEN 0 ELSE 1 + c.h % 2 END
"""


def load_positions(session, sql: dict) -> None:
    """Ledger first (receipts, then sales), balances as its sum; policies and open documents."""
    session.execute(text(f"CREATE TEMP TABLE bench_positions AS {STORE_POSITIONS}"), sql)
    session.execute(
        text(
            "INSERT INTO stock_ledger (at, location_id, item_id, lot_id, status, quantity,"
            " unit_cost, document, document_line, reason)"
            " SELECT now() - interval '40 days', location_id, item_id, lot_id, 'available',"
            " on_hand + sold, 5.00, 'PR-BULK-' || location_id, 1, 'purchase_receipt'"
            " FROM bench_positions WHERE on_hand + sold > 0"
            " UNION ALL"
            " SELECT now() - interval '40 days', w.id, l.item_id, l.id, 'available',"
            " 50 + (l.item_id * w.id) % 100, 5.00, 'PR-BULK-' || w.id, 1, 'purchase_receipt'"
            " FROM locations w JOIN lots l ON l.item_id % 5 = w.id % 5"
            "  AND right(l.lot_number, 1) IN ('1', '2')"
            " WHERE w.type = 'warehouse'"
            " UNION ALL"
            " SELECT now() - ((g * 5 + (p.location_id + p.item_id) % 5) || ' days')::interval,"
            " p.location_id, p.item_id, p.lot_id, 'available', -1, NULL,"
            " 'SO-BULK-' || p.location_id, 1, 'sale'"
            " FROM bench_positions p JOIN generate_series(0, 4) g ON g < p.sold"
        ),
        sql,
    )
    session.execute(
        text(
            "INSERT INTO stock_balances (location_id, item_id, lot_id, lot_key, status,"
            " on_hand, reserved)"
            " SELECT location_id, item_id, lot_id, lot_id, status, sum(quantity), 0"
            " FROM stock_ledger GROUP BY location_id, item_id, lot_id, status"
        )
    )
    session.execute(
        text(
            "INSERT INTO records (form, state, location_id, created_at, updated_at, version,"
            " meta_version, data)"
            " SELECT 'stock_policy', 'draft', location_id, now(), now(), 1, 1,"
            " jsonb_build_object('location', location_id, 'item', item_id, 'safety_stock', '1',"
            "  'reorder_point', reorder_point::text, 'max_stock', max_stock::text)"
            " FROM bench_positions"
        ),
        sql,
    )
    # the kernel's typed copy of the policies (the record service keeps it in step; this bulk
    # load writes around it, as migration 0024's back-fill would)
    session.execute(
        text(
            "INSERT INTO stock_policies (location_id, item_id, safety_stock, reorder_point,"
            " max_stock, record_id)"
            " SELECT location_id, item_id, 1, reorder_point, max_stock, id FROM ("
            "  SELECT id, CAST(data ->> 'location' AS integer) location_id,"
            "   CAST(data ->> 'item' AS integer) item_id,"
            "   CAST(data ->> 'reorder_point' AS numeric) reorder_point,"
            "   CAST(data ->> 'max_stock' AS numeric) max_stock"
            "  FROM records WHERE form = 'stock_policy') p"
        )
    )
    # open documents: transfer requests in approval (to a store, from a warehouse) and approved
    # purchase orders, each on items the store carries
    session.execute(
        text(
            "INSERT INTO records (form, number, state, location_id, created_at, updated_at,"
            " version, meta_version, data)"
            " SELECT form, upper(form) || '-' || g, state, p.location_id, now(), now(), 1, 1,"
            "  CASE form WHEN 'transfer_request' THEN jsonb_build_object('to_location',"
            "   p.location_id, 'from_location', w.id, 'lines', jsonb_build_array("
            "   jsonb_build_object('item', p.item_id, 'quantity', '3', 'unit_price', '5'),"
            "   jsonb_build_object('item', p.item_id, 'quantity', '2', 'unit_price', '5')))"
            "  ELSE jsonb_build_object('location', p.location_id, 'supplier', 1, 'lines',"
            "   jsonb_build_array(jsonb_build_object('item', p.item_id, 'quantity', '4',"
            "   'unit_price', '5'))) END"
            " FROM generate_series(1, :opened) g"
            " JOIN (SELECT location_id, item_id, row_number() OVER () n FROM bench_positions"
            "       WHERE on_hand <= reorder_point LIMIT :opened) p ON p.n = g"
            " JOIN locations w ON w.type = 'warehouse' AND w.code = 'W' || (g % :warehouses)"
            " CROSS JOIN (VALUES ('transfer_request', 'in_approval'),"
            "                    ('purchase_order', 'approved')) f(form, state)"
        ),
        sql,
    )
    session.execute(text("DROP TABLE bench_positions"))


BASELINE = """
SELECT count(*) FROM stock_policies p
LEFT JOIN (SELECT location_id, item_id, sum(on_hand - reserved) sellable
           FROM stock_balances WHERE status = 'available' GROUP BY 1, 2) b
  USING (location_id, item_id)
LEFT JOIN (SELECT location_id, item_id, -sum(quantity) sold FROM stock_ledger
           WHERE reason = 'sale' AND at >= now() - interval '28 days' GROUP BY 1, 2) s
  USING (location_id, item_id)
WHERE coalesce(b.sellable, 0) <= p.reorder_point AND coalesce(s.sold, 0) >= 0
"""


def timed(runs: int, work) -> tuple[float, object]:
    times, result = [], None
    for _run in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure_write(db: Database, registry, planner, plan) -> None:
    """The job's second half: ``plan``'s suggestions written as records (rolled back)."""
    with db.session() as session:
        started = time.perf_counter()
        created = write_suggestions(session, registry, planner, plan)
        took = time.perf_counter() - started
        session.rollback()
    print(
        f"writing the suggestions: {took:.1f} s for {len(created):,} records of"
        f" {len(plan.lines):,} lines ({took / max(len(plan.lines), 1) * 1000:.2f} ms a line)"
    )


def digest(plan, today: dt.date) -> str:
    """A fingerprint of the plan: every field of every line, in order; dates as days from
    ``today``, so that the same chain loaded on another day gives the same fingerprint."""
    fields = [field.name for field in dataclasses.fields(replenishment.SuggestionLine)]

    def relative(value):
        return (value - today).days if isinstance(value, dt.date) else value

    lines = [tuple(relative(getattr(line, name)) for name in fields) for line in plan.lines]
    return hashlib.sha256(repr(lines).encode()).hexdigest()[:16]


#: The steps of a plan ``--steps`` times: (class, method) of the kernel's staging and matching.
STEPS = [
    (replenishment._Staging, name)
    for name in ("_stage_sales", "_stage_commitments", "_stage_excess", "_stage_matter",
                 "read_places", "read_positions", "read_excess", "read_lots")
] + [
    (replenishment._Matcher, name) for name in ("__init__", "move_near_expiry", "replenish")
]  # fmt: skip


def measure_steps(plan) -> None:
    """One more plan with a clock around each step (the methods are wrapped for it only)."""
    took: dict[str, float] = {}

    def clocked(method):
        @functools.wraps(method)
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                took[method.__name__] = time.perf_counter() - started

        return run

    originals = [(owner, name, getattr(owner, name)) for owner, name in STEPS]
    for owner, name, method in originals:
        setattr(owner, name, clocked(method))
    try:
        started = time.perf_counter()
        plan()
        total = time.perf_counter() - started
    finally:
        for owner, name, method in originals:
            setattr(owner, name, method)
    steps = ", ".join(f"{name.strip('_')} {seconds:.2f}" for name, seconds in took.items())
    print(f"steps of one plan ({total:.2f} s), seconds: {steps}")


def measure(db: Database, runs: int, write: bool = False, steps: bool = False) -> None:
    registry = build(ROOT / "metadata", ROOT / "workflows")
    planner = chain_planner()

    def plan():
        with db.session() as session:
            return make_plan(session, registry, planner)

    def baseline():
        with db.session() as session:
            return session.execute(text(BASELINE)).scalar()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    plan_p50, result = timed(runs, plan)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base_p50, needs = timed(runs, baseline)
    actions: dict[tuple, int] = {}
    for line in result.lines:
        actions[line.reason, line.action] = actions.get((line.reason, line.action), 0) + 1
    print(
        f"plan p50 {plan_p50:.2f} s over {runs} runs (target ≤ 10 s): {len(result.lines):,} lines"
        f" {dict(sorted(actions.items()))}; counts {dict(result.counts)};"
        f" digest {digest(result, business_today())}"
    )
    print(f"peak RSS {peak / 1024:.0f} MB (before the plan: {rss_before / 1024:.0f} MB)")
    print(
        f"baseline (the needs alone, one hand-written statement) p50 {base_p50:.2f} s:"
        f" {needs:,} needs; plan / baseline {plan_p50 / base_p50:.1f}×"
    )
    if steps:
        measure_steps(plan)
    if write:
        measure_write(db, registry, planner, result)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=2000)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--carried", type=int, default=1000)
    parser.add_argument("--open", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--database")
    parser.add_argument("--write", action="store_true", help="also time writing the suggestions")
    parser.add_argument("--steps", action="store_true", help="also time each step of one plan")
    options = parser.parse_args()
    if options.database:
        admin, url = server_urls(options.database)
    else:
        admin, url = create_database()
    db = Database(url)
    try:
        if not options.database:
            upgrade(db.engine)
            load(db, options.stores, options.warehouses, options.items, options.carried,
                 options.open)  # fmt: skip
        measure(db, options.runs, options.write, options.steps)
    finally:
        db.dispose()
        if options.keep or options.database:
            print(f"database kept: {make_url(url).database}")
        else:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(
                    f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'
                )


if __name__ == "__main__":
    main()
