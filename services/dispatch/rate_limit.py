"""Gateway throughput limits (an SMS provider's messages per second), held across every
dispatch replica together: a token bucket per channel in PostgreSQL, taken from with one
atomic UPDATE per batch, so replicas need no other coordination."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from shared.database import Connection

UPSERT_RATE = """
INSERT INTO gateway_rate (channel, per_second, burst, tokens) VALUES ($1, $2, $3, $3)
ON CONFLICT (channel) DO UPDATE SET per_second = EXCLUDED.per_second, burst = EXCLUDED.burst
"""
DELETE_OTHER_RATES = "DELETE FROM gateway_rate WHERE NOT (channel = ANY($1::text[]))"
# Refill for the time passed, then take n tokens if there are enough. Returns the tokens
# left, or (no row) nothing when the bucket is short, with what it holds in the second query.
TAKE_TOKENS = """
UPDATE gateway_rate
SET tokens = least(burst, tokens + per_second
                   * extract(epoch FROM clock_timestamp() - refilled_at)) - $2,
    refilled_at = clock_timestamp()
WHERE channel = $1
  AND least(burst, tokens + per_second
            * extract(epoch FROM clock_timestamp() - refilled_at)) >= $2
RETURNING tokens
"""
PEEK = """
SELECT per_second, burst,
       least(burst, tokens + per_second * extract(epoch FROM clock_timestamp() - refilled_at))
       AS available
FROM gateway_rate WHERE channel = $1
"""


async def configure(conn: Connection, limits: Mapping[str, float]) -> None:
    """Sets the limits (messages per second per channel); a second of burst each."""
    for channel, per_second in limits.items():
        await conn.execute(UPSERT_RATE, channel, per_second, per_second)
    await conn.execute(DELETE_OTHER_RATES, list(limits))


async def take(conn: Connection, channel: str, count: int) -> None:
    """Waits until ``count`` messages may go to ``channel``'s gateway; returns at once for a
    channel without a limit. A batch larger than the burst is taken in burst-sized parts."""
    remaining = float(count)
    while remaining > 0:
        row = await conn.fetchrow(PEEK, channel)
        if row is None:
            return
        part = min(remaining, row["burst"])
        if await conn.fetchval(TAKE_TOKENS, channel, part) is not None:
            remaining -= part
            continue
        await asyncio.sleep(max(0.01, (part - row["available"]) / row["per_second"]))
