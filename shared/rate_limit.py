"""Throughput limits held across every replica of a service together: a token bucket per
key (a channel, a provider, a caller) in a table of the service's own schema, taken from
with one atomic UPDATE, so replicas need no other coordination.

Two ways to use them: configured keys that a sender waits on (:meth:`TokenBuckets.take`:
dispatch's gateways, the connectors' providers), and buckets made on first use that answer
at once how long to wait (:meth:`TokenBuckets.take_now`: intake's callers), their number
bounded by forgetting only full buckets (a missing bucket starts full, so forgetting a full
one changes nobody's limit).

The table has the columns ``(<key> text PRIMARY KEY, per_second, burst, tokens,
refilled_at)``; see dispatch's ``gateway_rate``, the connectors' ``provider_rate`` and
the services' ``request_rate`` (shared/sql/005).
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

# The same, with the limits the caller holds now ($3 per second, $4 burst), written to the
# bucket: a bucket made under other limits (a setting changed since) takes the new ones at
# once rather than once it is forgotten.
_TAKE_AT = """
UPDATE {table}
SET per_second = $3, burst = $4,
    tokens = least($4, tokens + $3 * extract(epoch FROM clock_timestamp() - refilled_at)) - $2,
    refilled_at = clock_timestamp()
WHERE {key} = $1
  AND least($4, tokens + $3 * extract(epoch FROM clock_timestamp() - refilled_at)) >= $2
RETURNING tokens
"""
_PEEK_AT = """
SELECT least($3, tokens + $2 * extract(epoch FROM clock_timestamp() - refilled_at))
       AS available
FROM {table} WHERE {key} = $1
"""

# A new bucket, full, unless the table already holds $4 buckets (NULL: no bound).
_CREATE = """
INSERT INTO {table} ({key}, per_second, burst, tokens)
SELECT $1, $2, $3, $3 WHERE $4::bigint IS NULL OR (SELECT count(*) FROM {table}) < $4
ON CONFLICT ({key}) DO NOTHING
"""
_FORGET_FULL = """
DELETE FROM {table}
WHERE tokens + per_second * extract(epoch FROM clock_timestamp() - refilled_at) >= burst
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

    async def take_now(
        self,
        conn: Connection,
        name: str,
        per_second: float,
        burst: float,
        max_keys: int | None = None,
    ) -> float | None:
        """Takes one token from ``name``'s bucket, made full with these limits on first use.
        Returns 0 when taken, else the seconds until one is there; None when the bucket is
        new and the table holds ``max_keys`` buckets that are not full (nobody's bucket is
        taken away to make room)."""
        for _ in range(3):  # a bucket forgotten between the calls is made again
            taken = await conn.fetchval(self._sql(_TAKE_AT), name, 1.0, per_second, burst)
            if taken is not None:
                return 0.0
            row = await conn.fetchrow(self._sql(_PEEK_AT), name, per_second, burst)
            if row is not None:
                return max(0.0, float((1.0 - row["available"]) / per_second))
            if await self._create(conn, name, per_second, burst, max_keys):
                continue
            await conn.execute(self._sql(_FORGET_FULL))
            if not await self._create(conn, name, per_second, burst, max_keys):
                return None
        return 0.0  # the bucket keeps vanishing: the table is being emptied, let it pass

    async def _create(
        self, conn: Connection, name: str, per_second: float, burst: float, max_keys: int | None
    ) -> bool:
        status = await conn.execute(self._sql(_CREATE), name, per_second, burst, max_keys)
        # A concurrent replica may have made it first: it exists either way.
        return status.endswith(" 1") or await conn.fetchrow(self._sql(_PEEK), name) is not None
