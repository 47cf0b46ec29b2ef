"""``make bench`` (dispatch sweep): what one sweep costs PostgreSQL on a delivery table the
size of a zone's year, before and after migration 016 (the sweeper reads only deliveries
whose life began within its horizon, through a BRIN index on ``created_at``).

Seeds dispatch's schema in a database of its own with ``BENCH_SWEEP_DELIVERIES`` (default
2,000,000) final deliveries spread over 300 days, in the order they were written, plus
what a crash leaves in the last hour: 500 temporary failures, 500 claimed but unsent
deliveries, and 100 held deliveries now due. Each query, the sweeper's before 016 and now,
runs ``BENCH_REPEATS`` (5) times; medians of the time each took (EXPLAIN ANALYZE's own
execution time, and the shared buffers it read) go to bench/results/dispatch_sweep.json.
Both must find the same deliveries: the benchmark fails otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
from datetime import timedelta
from typing import Any

import asyncpg

from bench.harness import ROOT, bench_system, say
from services.dispatch.sweeper import STUCK_RETRIES, STUCK_UNSENT

RESULTS = ROOT / "bench" / "results" / "dispatch_sweep.json"
DELIVERIES = int(os.environ.get("BENCH_SWEEP_DELIVERIES", "2000000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
STUCK_AFTER = timedelta(seconds=120)
HORIZON = timedelta(days=7)

# The sweeper's queries before migration 016, for the comparison.
BEFORE_RETRIES = """
SELECT delivery_id FROM delivery
WHERE status = 'temporary_failure' AND updated_at < clock_timestamp() - $1::interval
LIMIT 5000
"""
BEFORE_UNSENT = """
SELECT DISTINCT d.source_id FROM delivery d JOIN fanout f ON f.source_id = d.source_id
WHERE d.status = 'queued' AND d.batch_id IS NULL AND f.status = 'dispatched'
  AND ((d.hold_until IS NULL AND d.updated_at < clock_timestamp() - $1::interval)
       OR d.hold_until <= now())
"""

SEED_FANOUTS = """
INSERT INTO fanout (source_id, kind, priority, bin_ids, content, status, created_at)
SELECT gen_random_uuid(), 'alert', 'urgent', ARRAY[gen_random_uuid()], '{}'::jsonb,
       'dispatched', now() - make_interval(days => 300 - g)
FROM generate_series(0, 299) AS g
"""
# Written in time order, as production writes them; each fan-out's own day.
SEED_FINAL = """
INSERT INTO delivery (delivery_id, source_id, member_id, bin_id, channel, language, status,
                      created_at, updated_at, batch_id)
SELECT gen_random_uuid(), f.source_id, gen_random_uuid(), f.bin_ids[1], 'sms', 'nl',
       'delivered', f.created_at, f.created_at + interval '1 minute', gen_random_uuid()
FROM fanout f CROSS JOIN generate_series(1, $1) AS g
ORDER BY f.created_at
"""
SEED_RECENT = """
WITH recent AS (
    INSERT INTO fanout (source_id, kind, priority, bin_ids, content, status, created_at)
    VALUES (gen_random_uuid(), 'alert', 'urgent', ARRAY[gen_random_uuid()], '{}'::jsonb,
            'dispatched', now() - interval '1 hour')
    RETURNING source_id, bin_ids[1] AS bin_id
)
INSERT INTO delivery (delivery_id, source_id, member_id, bin_id, channel, language, status,
                      created_at, updated_at, hold_until)
SELECT gen_random_uuid(), r.source_id, gen_random_uuid(), r.bin_id, 'sms', 'nl', s.status,
       now() - interval '1 hour', now() - interval '1 hour', s.hold_until
FROM recent r CROSS JOIN (
    SELECT 'temporary_failure' AS status, NULL::timestamptz AS hold_until
    FROM generate_series(1, 500)
    UNION ALL SELECT 'queued', NULL FROM generate_series(1, 500)
    UNION ALL SELECT 'queued', now() - interval '5 minutes' FROM generate_series(1, 100)
) AS s
"""


async def timed(conn: asyncpg.Connection, query: str, *args: Any) -> dict[str, float]:
    plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", *args)
    top = json.loads(plan)[0]
    buffers = top["Plan"].get("Shared Hit Blocks", 0) + top["Plan"].get("Shared Read Blocks", 0)
    return {"milliseconds": top["Execution Time"], "buffers": buffers}


async def measure(conn: asyncpg.Connection, query: str, *args: Any) -> dict[str, Any]:
    runs = [await timed(conn, query, *args) for _ in range(REPEATS)]
    found = sorted(str(r[0]) for r in await conn.fetch(query, *args))
    return {
        "median_milliseconds": round(statistics.median(r["milliseconds"] for r in runs), 2),
        "median_buffers": statistics.median(r["buffers"] for r in runs),
        "runs": runs,
        "found": len(found),
        "_ids": found,
    }


async def main() -> int:
    async with bench_system() as system:
        system.migrate("dispatch")
        conn = await asyncpg.connect(
            system.database_url, server_settings={"search_path": "dispatch"}
        )
        try:
            say(f"seeding {DELIVERIES:,} final deliveries over 300 days and a crash's leftovers")
            await conn.execute(SEED_FANOUTS)
            await conn.execute(SEED_FINAL, max(1, DELIVERIES // 300))
            await conn.execute(SEED_RECENT)
            await conn.execute("VACUUM ANALYZE delivery")
            await conn.execute("VACUUM ANALYZE fanout")
            size = await conn.fetchval("SELECT pg_size_pretty(pg_table_size('delivery'))")
            cases = {
                "stuck_retries": (BEFORE_RETRIES, (STUCK_AFTER,), STUCK_RETRIES,
                                  (STUCK_AFTER, HORIZON)),
                "stuck_unsent": (BEFORE_UNSENT, (STUCK_AFTER,), STUCK_UNSENT,
                                 (STUCK_AFTER, HORIZON)),
            }  # fmt: skip
            results: dict[str, Any] = {
                "inputs": {"deliveries": DELIVERIES, "repeats": REPEATS, "table_size": size},
                "cases": {},
            }
            failed = False
            for name, (before, before_args, after, after_args) in cases.items():
                old = await measure(conn, before, *before_args)
                new = await measure(conn, after, *after_args)
                same = set(old.pop("_ids")) == set(new.pop("_ids"))
                failed |= not same
                results["cases"][name] = {
                    "before": old,
                    "after": new,
                    "same_found": same,
                    "before_over_after": round(
                        old["median_milliseconds"] / max(new["median_milliseconds"], 0.001), 1
                    ),
                }
                say(
                    f"{name}: before {old['median_milliseconds']} ms "
                    f"({old['median_buffers']} buffers), after {new['median_milliseconds']} ms "
                    f"({new['median_buffers']} buffers), found {old['found']}/{new['found']}"
                    + ("" if same else "  DIFFERENT RESULTS")
                )
        finally:
            await conn.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    say(f"written to {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
