"""post_stock: a stock posting's locks, free-stock check and writes in one PostgreSQL call

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-03 07:00:00

On PostgreSQL ``post_movements`` validates its movements in Python, as on SQLite, and then hands
the rest of the posting to ``lianku_post_stock`` in one round trip instead of two statements and
the Python between them (see ``app/kernel/stock.py``, ``_lock_and_apply_on_postgresql``). The
function does what the Python did, in the same order: lock the balance rows in key order (creating
the missing ones), lock the locations' audit chain heads (by location id, creating the missing
ones), refuse if a count opened meanwhile, refuse a line that takes more than is free (lines
applied in order), then write the balances, the ledger rows, one audit entry per location and the
new heads. It decides nothing else: every rule on locations, lots and units stays in Python.

The audit entry's hash is computed here over the same canonical JSON text that
``app.kernel.audit.canonical`` makes in Python (keys sorted, no spaces, strings escaped as Python's
``json.dumps(ensure_ascii=False)`` escapes them, which is what ``to_json`` does), so
``audit.verify`` checks these entries like any other.
SQLite has no such function: the kernel runs the steps one by one there.
"""

from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

#: ``p`` is ``{"rows": [[location_id, item_id, lot_id, unit_id, status, quantity, unit_cost,
#: document_line, reason, counterpart_location_id, corrects_id], …], "at": ISO text, "document",
#: "user_id", "username", "request_id", "client_addr", "note", "own_lock"}``: the ledger rows to
#: write, in the posting's order (a row is one side of a movement: quantity signed), and the
#: posting's context. Returns ``{"locked": [location ids]}`` (a count holds them: nothing written),
#: ``{"short": row index from 0, "available": text}`` (the first row taking more than is free:
#: nothing written but missing balance rows), or ``{"ids": [ledger ids in row order],
#: "balances": [[id, on_hand], …], "heads": [[chain, seq, hash], …]}``.
POST_STOCK_FUNCTION = r"""
CREATE OR REPLACE FUNCTION lianku_post_stock(p jsonb) RETURNS jsonb
LANGUAGE plpgsql
-- plan each statement once per connection: left to choose, PostgreSQL keeps planning them anew
-- for every call (a plan for the given posting looks cheaper than the generic one), which cost
-- 2.5 times the call itself
SET plan_cache_mode = force_generic_plan
AS $function$
DECLARE
    attempt integer;
    checked record;
    result jsonb;
BEGIN
    -- 1. lock the balance rows in key order, then (all of them found) the chain heads by
    --    location id, and check on the locked rows: a count opened at a location while the
    --    posting waited (this snapshot is taken after the count gate's wait), the first row
    --    that takes more than is free (rows applied in order)
    FOR attempt IN 1..2 LOOP
        WITH posted AS MATERIALIZED (
            SELECT x.n, (x.r->>0)::integer AS location_id, (x.r->>1)::integer AS item_id,
                coalesce((x.r->>2)::integer, 0) AS lot_key, x.r->>4 AS status,
                (x.r->>5)::numeric AS quantity
            FROM jsonb_array_elements(p->'rows') WITH ORDINALITY AS x (r, n)
        ), wanted AS MATERIALIZED (
            SELECT * FROM (SELECT DISTINCT location_id, item_id, lot_key, status FROM posted) AS k
            ORDER BY location_id, item_id, lot_key, status COLLATE "C"
        ), locations AS MATERIALIZED (
            SELECT DISTINCT location_id FROM posted ORDER BY location_id
        ), balances AS MATERIALIZED (
            -- one lookup by key per wanted row, in the order of wanted (a LATERAL with its own
            -- FOR UPDATE is not flattened into a join the planner could run as a scan)
            SELECT b.* FROM wanted AS w CROSS JOIN LATERAL (
                SELECT b.id, b.location_id, b.item_id, b.lot_key, b.status, b.on_hand, b.reserved
                FROM stock_balances AS b
                WHERE b.location_id = w.location_id AND b.item_id = w.item_id
                    AND b.lot_key = w.lot_key AND b.status = w.status
                FOR UPDATE) AS b
        ), heads AS MATERIALIZED (
            SELECT h.chain FROM locations AS l CROSS JOIN LATERAL (
                SELECT h.chain FROM audit_chain_heads AS h
                WHERE h.chain = 'location:' || l.location_id
                    AND (SELECT count(*) FROM balances) = (SELECT count(*) FROM wanted)
                FOR UPDATE) AS h
        ), short AS (
            SELECT s.n - 1 AS n, s.free_after - s.quantity AS available FROM (
                SELECT r.n, r.quantity, b.on_hand - b.reserved
                    + sum(r.quantity) OVER (PARTITION BY b.id ORDER BY r.n) AS free_after
                FROM posted AS r JOIN balances AS b
                    ON (b.location_id, b.item_id, b.lot_key, b.status)
                    = (r.location_id, r.item_id, r.lot_key, r.status)) AS s
            WHERE s.quantity < 0 AND s.free_after < 0 ORDER BY s.n LIMIT 1
        )
        SELECT (SELECT count(*) FROM wanted) AS keys, (SELECT count(*) FROM balances) AS balances,
            (SELECT count(*) FROM locations) AS chains, (SELECT count(*) FROM heads) AS heads,
            (SELECT array_agg(id) FROM balances) AS balance_ids,
            (SELECT array_agg(chain) FROM heads) AS chain_ids,
            (SELECT array_agg(s.location_id ORDER BY s.location_id) FROM stock_locks AS s
             WHERE s.location_id = ANY (SELECT location_id FROM locations)
               AND s.id IS DISTINCT FROM (p->>'own_lock')::integer) AS locked,
            (SELECT n FROM short) AS short, (SELECT available FROM short) AS available
        INTO checked;
        EXIT WHEN checked.balances = checked.keys AND checked.heads = checked.chains;
        -- the first posting of a balance or at a location: create the missing rows (sorted,
        -- the old ones are locked already), then lock and check again
        INSERT INTO stock_balances
            (location_id, item_id, lot_id, lot_key, status, on_hand, reserved)
        SELECT location_id, item_id, nullif(lot_key, 0), lot_key, status, 0, 0 FROM (
            SELECT DISTINCT (r->>0)::integer AS location_id, (r->>1)::integer AS item_id,
                coalesce((r->>2)::integer, 0) AS lot_key, r->>4 AS status
            FROM jsonb_array_elements(p->'rows') AS r) AS keys
        ORDER BY location_id, item_id, lot_key, status COLLATE "C"
        ON CONFLICT (location_id, item_id, lot_key, status) DO NOTHING;
        INSERT INTO audit_chain_heads (chain, seq, hash)
        SELECT DISTINCT 'location:' || (r->>0), 0, repeat('0', 64)
        FROM jsonb_array_elements(p->'rows') AS r
        ON CONFLICT (chain) DO NOTHING;
    END LOOP;
    IF checked.balances < checked.keys OR checked.heads < checked.chains THEN
        RAISE EXCEPTION 'lianku_post_stock: balance rows or chain heads missing after creation';
    END IF;
    IF checked.locked IS NOT NULL THEN
        RETURN jsonb_build_object('locked', to_jsonb(checked.locked));
    END IF;
    IF checked.short IS NOT NULL THEN
        RETURN jsonb_build_object('short', checked.short, 'available', checked.available::text);
    END IF;

    -- 2. the writes: balances, ledger rows (ids taken now, after the locks, in row order),
    --    one audit entry per location on its chain, the new heads
    WITH posted AS MATERIALIZED (
        SELECT nextval('stock_ledger_id_seq') AS id, x.n, (x.r->>0)::integer AS location_id,
            (x.r->>1)::integer AS item_id, (x.r->>2)::integer AS lot_id,
            (x.r->>3)::integer AS unit_id, x.r->>4 AS status,
            (x.r->>5)::numeric(18, 4) AS quantity, (x.r->>6)::numeric(18, 4) AS unit_cost,
            (x.r->>7)::integer AS document_line, x.r->>8 AS reason,
            (x.r->>9)::integer AS counterpart_location_id, (x.r->>10)::integer AS corrects_id
        FROM jsonb_array_elements(p->'rows') WITH ORDINALITY AS x (r, n)
    ), new_balances AS (
        UPDATE stock_balances AS b SET on_hand = b.on_hand + (
            SELECT sum(r.quantity) FROM posted AS r
            WHERE (r.location_id, r.item_id, coalesce(r.lot_id, 0), r.status)
                = (b.location_id, b.item_id, b.lot_key, b.status))
        WHERE b.id = ANY (checked.balance_ids)
        RETURNING b.id, b.on_hand
    ), ledger AS (
        INSERT INTO stock_ledger (id, at, location_id, item_id, lot_id, unit_id, status, quantity,
            unit_cost, document, document_line, reason, user_id, counterpart_location_id,
            corrects_id)
        SELECT id, (p->>'at')::timestamptz, location_id, item_id, lot_id, unit_id, status,
            quantity, unit_cost, p->>'document', document_line, reason,
            (p->>'user_id')::integer, counterpart_location_id, corrects_id
        FROM posted
    ), entries AS (
        SELECT e.chain, (e.head).seq + 1 AS seq, (e.head).hash AS prev_hash, e.changes
        FROM (SELECT c.*, (SELECT h FROM audit_chain_heads AS h WHERE h.chain = c.chain) AS head
              FROM (SELECT 'location:' || location_id AS chain,
                      '{"lines":[' || string_agg(
                          '[' || id || ',' || item_id || ',' || coalesce(lot_id::text, 'null')
                          || ',' || coalesce(unit_id::text, 'null') || ',' || to_json(status)
                          || ',' || to_json(quantity::text) || ',' || to_json(reason) || ']',
                          ',' ORDER BY n) || ']}' AS changes
                    FROM posted GROUP BY location_id) AS c) AS e
    ), hashed AS (
        SELECT e.*, encode(sha256(convert_to(
            '{"action":"stock.posted","at":' || to_json(p->>'at')
            || ',"chain":' || to_json(e.chain) || ',"changes":' || e.changes
            || ',"client_addr":' || coalesce(to_json(p->>'client_addr')::text, 'null')
            || ',"entity":"stock_ledger","entity_id":'
            || coalesce(to_json(p->>'document')::text, 'null')
            || ',"prev_hash":' || to_json(e.prev_hash)
            || ',"reason":' || coalesce(to_json(p->>'note')::text, 'null')
            || ',"request_id":' || coalesce(to_json(p->>'request_id')::text, 'null')
            || ',"seq":' || e.seq
            || ',"user_id":' || coalesce((p->>'user_id')::integer::text, 'null')
            || ',"username":' || coalesce(to_json(p->>'username')::text, 'null') || '}',
            'UTF8')), 'hex') AS hash
        FROM entries AS e
    ), appended AS (
        INSERT INTO audit_log (chain, seq, at, user_id, username, action, entity, entity_id,
            changes, reason, request_id, client_addr, prev_hash, hash)
        SELECT chain, seq, (p->>'at')::timestamptz, (p->>'user_id')::integer, p->>'username',
            'stock.posted', 'stock_ledger', p->>'document', changes::json, p->>'note',
            p->>'request_id', p->>'client_addr', prev_hash, hash
        FROM hashed
    ), moved AS (
        UPDATE audit_chain_heads AS h
        SET (seq, hash) = (SELECT x.seq, x.hash FROM hashed AS x WHERE x.chain = h.chain)
        WHERE h.chain = ANY (checked.chain_ids)
    )
    SELECT jsonb_build_object(
        'ids', (SELECT jsonb_agg(id ORDER BY n) FROM posted),
        'balances', (SELECT jsonb_agg(jsonb_build_array(id, on_hand::text)) FROM new_balances),
        'heads', (SELECT jsonb_agg(jsonb_build_array(chain, seq, hash)) FROM hashed))
    INTO result;
    RETURN result;
END
$function$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POST_STOCK_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lianku_post_stock(jsonb)")
