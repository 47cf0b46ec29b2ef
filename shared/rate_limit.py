"""Throughput limits held across every replica of a service together: a token bucket per
key (a channel, a provider) in a table of the service's own schema, taken from with one
atomic UPDATE per batch, so replicas need no other coordination.

The table has the columns ``(<key> text PRIMARY KEY, per_second, burst, tokens,
refilled_at)``; see dispatch's ``gateway_rate`` and the connectors' ``provider_rate``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from shared.database import Connection

_UPSERT = """
INSERT INTO {table} ({key}, per_second, burst, tokens) VALUES ($1, $2, $3, $3)
ON CONFLICT ({key}) DO UPDATE SET per_second = EXCLUDED.per_second, burst = EXCLUDED.burst
"""
_DELETE_OTHERS = "DELETE FROM {table} WHERE NOT ({key} = ANY($1::text[]))"
# Refill for the time passed, then take n tokens if there are enough. Returns the tokens
# left, or (no row) nothing when the bucket is short, with what it holds in the second query.
_TAKE = """
UPDATE {table}
SET tokens = least(burst, tokens + per_second
                   * extract(epoch FROM clock_timestamp() - refilled_at)) - $2,
    refilled_at = clock_timestamp()
WHERE {key} = $1
  AND least(burst, tokens + per_second
            * extract(epoch FROM clock_timestamp() - refilled_at)) >= $2
RETURNING tokens
"""
_PEEK = """
SELECT per_second, burst,
       least(burst, tokens + per_second * extract(epoch FROM clock_timestamp() - refilled_at))
       AS available
FROM {table} WHERE {key} = $1
"""


@dataclass(frozen=True)
class TokenBuckets:
    """The buckets of one table; ``table`` and ``key`` are identifiers from code, never input."""

    table: str
    key: str

    def _sql(self, template: str) -> str:
        return template.format(table=self.table, key=self.key)

    async def configure(
        self, conn: Connection, limits: Mapping[str, float], burst_seconds: float = 1.0
    ) -> None:
        """Sets the limits (messages per second per key), ``burst_seconds`` of burst each;
        keys not named lose their limit."""
        for name, per_second in limits.items():
            await conn.execute(
                self._sql(_UPSERT), name, per_second, max(1.0, per_second * burst_seconds)
            )
        await conn.execute(self._sql(_DELETE_OTHERS), list(limits))

    async def take(self, conn: Connection, name: str, count: int) -> None:
        """Waits until ``count`` messages may go to ``name``; returns at once for a key
        without a limit. A batch larger than the burst is taken in burst-sized parts."""
        remaining = float(count)
        while remaining > 0:
            row = await conn.fetchrow(self._sql(_PEEK), name)
            if row is None:
                return
            part = min(remaining, row["burst"])
            if await conn.fetchval(self._sql(_TAKE), name, part) is not None:
                remaining -= part
                continue
            await asyncio.sleep(max(0.01, (part - row["available"]) / row["per_second"]))
