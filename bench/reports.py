"""How fast do metadata reports run, next to hand-written SQL doing the same aggregation?

On PostgreSQL (``LIANKU_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``;
the script creates and drops its own database):

* **stock by location** — the shipped ``stock_by_location`` report (count of items, on hand and
  available per location, with totals) over ``--balances`` balance rows and ``--ledger`` ledger
  rows, next to the same aggregation written by hand (``GROUP BY ROLLUP``);
* **sales pivot** — the shipped ``sales_by_store_month`` report (sales amount per store × month,
  with row, column and grand totals) over ``--lines`` sales-order lines in the records' JSON, next
  to hand-written SQL (``jsonb_array_elements`` + ``GROUPING SETS``);
* **Excel export** of ``--export-rows`` rows of a stock detail report: time and peak memory.

Prints p50 of ``--runs`` runs of each, and the ratio report / hand-written (target ≤ 1.5×; stock
report ≤ 1 s; export ≤ 30 s and ≤ 300 MB peak RSS of the whole process).

**Bulk loader.** The kernel has no bulk path (``post_movements`` validates and locks row by row,
far too slow for 10M rows), so the data is generated here with ``INSERT … SELECT
generate_series`` straight into the kernel's tables, keeping the kernel's invariant: the ledger
is generated first (one receipt per balance key, then sales of 1 that never go below zero), and
the balances are then INSERTed as ``SUM(quantity)`` of the ledger grouped by their key. Locations
go through ``add_location`` (their tree paths); items and lots are bulk-inserted rows. The ledger
and balances are loaded as PostgreSQL's manual advises for a bulk load ("Populating a
Database"): their secondary indexes and foreign keys are dropped first and put back afterwards,
so each index is built once by a sort and each foreign key is checked once by a join
(``ALTER TABLE … ADD CONSTRAINT`` validates every row) instead of 10M times one row at a time.

``--keep`` leaves the loaded database in place and prints its name; ``--database NAME`` runs the
measurements again on such a database without loading anything.

    .venv/bin/python bench/reports.py [--balances 1000000] [--ledger 10000000] [--lines 1000000]
                                      [--export-rows 100000] [--runs 5] [--keep]
                                      [--database NAME] [--every-report]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import psycopg
from sqlalchemy import make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app.workflow  # noqa: E402,F401
from app.db import Database  # noqa: E402
from app.kernel import add_location  # noqa: E402
from app.meta import load_metadata  # noqa: E402
from app.meta.access import PermissionDenied  # noqa: E402
from app.meta.reports import (  # noqa: E402
    Page,
    ParamError,
    compile_report,
    get_report,
    run_report,
    stream_report,
)
from app.meta.reports.export import write_xlsx  # noqa: E402
from app.migrate import upgrade  # noqa: E402

SERVER = os.environ.get("LIANKU_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LOTS_PER_ITEM = 5


class HeadOffice:
    """An HQ manager: every report, every location."""

    is_authenticated = True
    is_api_token = False
    role_names = ["hq_manager"]
    location_ids: list[int] = []
    id = None


def server_urls(name: str) -> tuple[str, str]:
    """The server's URL (to create and drop databases) and the URL of database ``name``."""
    server = make_url(SERVER).set(drivername="postgresql")
    return (
        server.render_as_string(hide_password=False),
        server.set(database=name).render_as_string(hide_password=False),
    )


def create_database() -> tuple[str, str]:
    admin, url = server_urls(f"lianku_bench_reports_{os.getpid()}")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{make_url(url).database}"')
    return admin, url


def drop_database(admin: str, url: str) -> None:
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@contextlib.contextmanager
def bulk_loading(session, *tables: str):
    """Drop the secondary indexes and foreign keys of ``tables``, and put them back after: one
    sort per index and one validating join per foreign key instead of a check per row."""
    names = list(tables)
    indexes = session.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " WHERE i.tablename = ANY(:names) AND i.indexname NOT IN ("
            "  SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))"
        ),
        {"names": names},
    ).all()
    keys = session.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(:names)"
        ),
        {"names": names},
    ).all()
    for table, name, _definition in keys:
        session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    yield
    for _name, definition in indexes:
        session.execute(text(definition))
    for table, name, definition in keys:
        session.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def load_stock(session, store0: int, keys: int, lots: int, lot0: int, ledger: int) -> None:
    """The ledger, then the balances as the sum of the ledger per key."""
    session.execute(
        text(
            "INSERT INTO stock_ledger (at, location_id, item_id, lot_id, status, quantity,"
            " unit_cost, document, document_line, reason)"
            " SELECT now() - (g % 365) * interval '1 day',"
            " :store0 + ((g - 1) % :keys) / :lots, l.item_id, l.id, 'available',"
            " CASE WHEN g <= :keys THEN 100 + :ledger / :keys ELSE -1 END,"
            " CASE WHEN g <= :keys THEN 1.25 + (g % 7) ELSE NULL END,"
            " 'BULK-' || (g / 10), (g % 10) + 1,"
            " CASE WHEN g <= :keys THEN 'purchase_receipt' ELSE 'sale' END"
            " FROM generate_series(1, :ledger) g"
            " JOIN lots l ON l.id = :lot0 + ((g - 1) % :keys) % :lots"
        ),
        {"store0": store0, "keys": keys, "lots": lots, "lot0": lot0, "ledger": ledger},
    )
    session.execute(
        text(
            "INSERT INTO stock_balances (location_id, item_id, lot_id, lot_key, status,"
            " on_hand, reserved)"
            " SELECT location_id, item_id, lot_id, lot_id, status, sum(quantity), 0"
            " FROM stock_ledger GROUP BY location_id, item_id, lot_id, status"
        )
    )


def load(db: Database, balances: int, ledger: int, lines: int) -> None:
    """Stores, items and lots; ledger then balances (= sum of ledger); sales orders."""
    stores = 200
    lots = max(1, balances // stores)
    items = max(1, lots // LOTS_PER_ITEM)
    started = time.perf_counter()
    with db.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        regions = [add_location(session, f"R{n}", f"区域 {n}", "region", hq) for n in range(4)]
        for n in range(stores):
            add_location(session, f"S{n:03}", f"门店 {n:03}", "store", regions[n % 4])
        session.flush()
        store0 = session.execute(text("SELECT min(id) FROM locations WHERE type = 'store'"))
        store0 = store0.scalar()
        session.execute(
            text(
                "INSERT INTO items (code, name, unit_of_measure, device_class, tracking,"
                " expiry_required, storage_condition, near_expiry_days, active, created_at)"
                " SELECT 'I' || g, '商品 ' || g, 'EA', 'II', 'lot', true, 'ambient', 90, true,"
                " now()"
                " FROM generate_series(1, :n) g"
            ),
            {"n": items},
        )
        session.execute(
            text(
                "INSERT INTO lots (item_id, lot_number, expiry_date, status, created_at)"
                " SELECT i.id, 'L' || i.id || '-' || k, current_date + (i.id * 7 + k * 30) % 900,"
                " 'released', now() FROM items i, generate_series(1, :k) k ORDER BY i.id, k"
            ),
            {"k": LOTS_PER_ITEM},
        )
        lot0 = session.execute(text("SELECT min(id) FROM lots")).scalar()
        lot_count = session.execute(text("SELECT count(*) FROM lots")).scalar()
        keys = stores * lot_count
        # one receipt per balance key first, then sales of 1: a key gets ≤ ledger/keys sales
        with bulk_loading(session, "stock_ledger", "stock_balances"):
            load_stock(session, store0, keys, lot_count, lot0, ledger)
        orders = max(1, lines // 5)
        session.execute(
            text(
                "INSERT INTO records (form, number, state, location_id, created_at, updated_at,"
                " version, meta_version, data)"
                " SELECT 'sales_order', 'SO-' || g, 'delivered', :store0 + g % :stores, now(),"
                " now(), 1, 1, jsonb_build_object('location', :store0 + g % :stores,"
                "  'sale_date', to_char(current_date - (g % 365), 'YYYY-MM-DD'),"
                "  'lines', (SELECT jsonb_agg(jsonb_build_object('item', 1 + (g + k) % :items,"
                "   'quantity', (1 + k)::text, 'unit_price', '12.50',"
                "   'amount', (12.50 * (1 + k))::text)) FROM generate_series(0, 4) k))"
                " FROM generate_series(1, :orders) g"
            ),
            {"store0": store0, "stores": stores, "items": items, "orders": orders},
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # as autovacuum would after a load: statistics, and the visibility map that lets the
        # reports read the covering indexes without visiting the table
        for table in ("stock_ledger", "stock_balances", "records", "lots", "items", "locations"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    with db.session() as session:
        counts = {
            table: session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("stock_balances", "stock_ledger", "records")
        }
        mismatched = session.execute(
            text(
                "SELECT count(*) FROM stock_balances b JOIN (SELECT location_id, item_id, lot_id,"
                " status, sum(quantity) q FROM stock_ledger GROUP BY 1, 2, 3, 4) l"
                " USING (location_id, item_id, lot_id, status) WHERE b.on_hand <> l.q"
            )
        ).scalar()
    print(
        f"loaded in {time.perf_counter() - started:.0f} s: {counts['stock_balances']:,} balances,"
        f" {counts['stock_ledger']:,} ledger rows, {counts['records']:,} sales orders"
        f" ({counts['records'] * 5:,} lines); balances ≠ sum(ledger): {mismatched}"
    )


#: Each hand-written query returns what the report's first screen shows: the first page of
#: detail rows (PAGE, in the report's order) and the totals over every row, in one statement.
PAGE = 100

#: Stock by location as a careful hand would write it: sum per location and item first (in the
#: order of the on-hand index), then the names joined to those groups, the first page, totals.
HAND_STOCK = f"""
WITH per_item AS (
  SELECT location_id, item_id, sum(on_hand) AS on_hand, sum(on_hand - reserved) AS available
  FROM stock_balances WHERE on_hand > 0 GROUP BY location_id, item_id),
by_location AS (
  SELECT l.name, count(DISTINCT p.item_id) AS items, sum(p.on_hand) AS on_hand,
         sum(p.available) AS available, GROUPING(l.name) AS total
  FROM per_item p LEFT JOIN locations l ON l.id = p.location_id GROUP BY ROLLUP (l.name))
(SELECT * FROM by_location WHERE total = 0 ORDER BY name LIMIT {PAGE + 1})
UNION ALL SELECT * FROM by_location WHERE total = 1
"""
#: The same, written the obvious way (join, then group by name): printed for reference.
NAIVE_STOCK = """
SELECT l.name, count(DISTINCT b.item_id), sum(b.on_hand), sum(b.on_hand - b.reserved)
FROM stock_balances b LEFT JOIN locations l ON l.id = b.location_id
WHERE b.on_hand > 0 GROUP BY ROLLUP (l.name) ORDER BY l.name
"""
#: Stock by location, item and lot (the list): one page of balances with their names, expiry,
#: days to expiry and what is in transit to them, sorted; totals over every balance. Two
#: branches as the report has (a CTE read twice would be written out in full first).
TRANSIT = """
  LEFT JOIN (SELECT destination_id, item_id, coalesce(lot_id, 0) AS lot_key,
                    sum(shipped - received - damaged - returned) AS quantity
             FROM transfer_lines GROUP BY 1, 2, 3) t
         ON t.destination_id = b.location_id AND t.item_id = b.item_id AND t.lot_key = b.lot_key
"""
HAND_STOCK_LIST = f"""
(SELECT l.name AS location, i.code, i.name, lo.lot_number, b.status, lo.expiry_date,
        lo.expiry_date - current_date, i.near_expiry_days, sum(b.on_hand), sum(b.reserved),
        sum(b.on_hand - b.reserved), sum(coalesce(t.quantity, 0))
 FROM stock_balances b {TRANSIT}
  LEFT JOIN locations l ON l.id = b.location_id
  LEFT JOIN items i ON i.id = b.item_id
  LEFT JOIN lots lo ON lo.id = b.lot_id
 WHERE b.on_hand > 0
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 6, 4 LIMIT {PAGE + 1})
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, sum(b.on_hand), sum(b.reserved),
       sum(b.on_hand - b.reserved), sum(coalesce(t.quantity, 0))
FROM stock_balances b {TRANSIT} WHERE b.on_hand > 0
"""
HAND_SALES = """
SELECT l.name, to_char(CAST(r.data ->> 'sale_date' AS date), 'YYYY-MM'),
       sum(CAST(line ->> 'amount' AS numeric(28, 8))), sum(CAST(line ->> 'quantity' AS numeric))
FROM records r CROSS JOIN jsonb_array_elements(r.data -> 'lines') line
LEFT JOIN locations l ON l.id = r.location_id
WHERE r.form = 'sales_order' AND r.state IN ('confirmed', 'picked', 'delivered')
  AND r.data ->> 'parent_order' IS NULL
  AND CAST(r.data ->> 'sale_date' AS date) >= current_date - 365
  AND CAST(r.data ->> 'sale_date' AS date) <= current_date
GROUP BY GROUPING SETS ((1, 2), (1), (2), ())
"""


def hand(db: Database, sql: str) -> None:
    with db.session() as session:
        session.execute(text(sql)).all()


def timed(runs: int, work) -> float:
    times = []
    for _run in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def compare(db: Database, metadata, name: str, hand_sql: str, runs: int, paged: bool) -> None:
    """p50 of the report as its page shows it (the first page of detail rows and the totals;
    ``paged=False``: a pivot, every cell) next to ``hand_sql`` returning the same."""
    report = get_report(metadata, name)
    user = HeadOffice()
    page = Page(1, PAGE) if paged else None

    def via_report():
        with db.session() as session:
            run_report(session, report, {}, user, page=page)

    def by_hand():
        hand(db, hand_sql)

    via_report()  # warm caches and the connection pool
    report_p50, hand_p50 = timed(runs, via_report), timed(runs, by_hand)
    print(
        f"{name:24} report p50 {report_p50 * 1000:8.1f} ms   hand-written SQL p50"
        f" {hand_p50 * 1000:8.1f} ms   ratio {report_p50 / hand_p50:.2f}×"
    )


def every_report(db: Database, metadata) -> None:
    """One run of each shipped report as HQ (first 100 detail rows): none may be pathological."""
    for name in sorted(metadata.reports):
        report = get_report(metadata, name)
        started = time.perf_counter()
        with db.session() as session:
            try:
                result = run_report(session, report, {}, HeadOffice(), limit=100)
            except PermissionDenied:
                print(f"  {name:24} not for HQ managers")
                continue
            except ParamError as exc:  # one customer's statement, one item's card: not timed
                print(f"  {name:24} needs a {exc.param}")
                continue
        print(f"  {name:24} {time.perf_counter() - started:7.2f} s  {len(result.rows):4} rows")


def export(db: Database, metadata, rows: int) -> None:
    definition = {
        "name": "stock_export",
        "label": {"zh_CN": "库存导出", "en": "Stock export"},
        "source": "balances",
        "columns": [
            {"name": n, "column": c, "label": {"zh_CN": n, "en": n}}
            for n, c in [
                ("location", "location.code"),
                ("item", "item.code"),
                ("lot", "lot.lot_number"),
                ("expiry", "lot.expiry_date"),
                ("on_hand", "on_hand"),
                ("available", "available"),
            ]
        ],  # fmt: skip
        "limit": rows,
    }
    report, problems = compile_report(definition, metadata)
    assert not problems, problems
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    buffer = io.BytesIO()
    with db.session() as session:  # as the export job: rows stream from the cursor to the file
        result = stream_report(session, report, {}, HeadOffice())
        written = write_xlsx(result, buffer, "zh_CN", "Asia/Shanghai")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # the same without tracemalloc, whose bookkeeping slows every allocation
    started, cpu_started = time.perf_counter(), time.process_time()
    with db.session() as session:
        write_xlsx(stream_report(session, report, {}, HeadOffice()), io.BytesIO(), "zh_CN", "UTC")
    print(
        f"Excel export of {written:,} rows: {time.perf_counter() - started:.1f} s wall, this"
        f" process's CPU {time.process_time() - cpu_started:.1f} s (traced run: {wall:.1f} s,"
        f" CPU {cpu:.1f} s); Python peak {python_peak / 2**20:.0f} MB (tracemalloc), peak RSS"
        f" {peak / 1024:.0f} MB (before: {rss_before / 1024:.0f} MB);"
        f" file {len(buffer.getvalue()) / 2**20:.1f} MB; load {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--balances", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=10_000_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--database", help="measure on this loaded database; load nothing")
    parser.add_argument("--every-report", action="store_true", help="also time each report once")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.database:
        admin, url = server_urls(args.database)
    else:
        admin, url = create_database()
    db = Database(url)
    try:
        if not args.database:
            upgrade(db.engine)
            load(db, args.balances, max(args.ledger, args.balances), args.lines)
        metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")
        compare(db, metadata, "stock_by_location", HAND_STOCK, args.runs, paged=True)
        naive = timed(args.runs, lambda: hand(db, NAIVE_STOCK))
        print(f"{'':24} (the same by hand, joined before grouping: p50 {naive * 1000:8.1f} ms)")
        compare(db, metadata, "stock_on_hand", HAND_STOCK_LIST, args.runs, paged=True)
        compare(db, metadata, "sales_by_store_month", HAND_SALES, args.runs, paged=False)
        export(db, metadata, args.export_rows)
        if args.every_report:
            every_report(db, metadata)
    finally:
        db.dispose()
        if args.keep or args.database:
            print(f"database kept: {make_url(url).database}")
        else:
            drop_database(admin, url)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
