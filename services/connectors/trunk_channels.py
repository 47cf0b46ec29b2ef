"""A SIP trunk's channel count held across every connector replica together.

The router's per-provider limits are a rate (a token bucket in PostgreSQL, shared) and a
concurrency per replica; a trunk's channel count is neither: it is a number of calls at
once, whichever replica places them. So each channel is a row of ``trunk_channel``; a call
takes a free one, owned by the replica's lease key (:mod:`services.connectors.lease`), and
gives it back when the call ends. A replica that dies mid-call leaves its rows owned by a
lease PostgreSQL has already ended: they count as free at once, with no sweeper.

Waiting is by polling (every ``poll`` seconds while all channels are taken): urgent calls go
first within a replica (the adapter's priority gate), not across replicas.
"""

from __future__ import annotations

import asyncio

import asyncpg

from services.connectors.lease import Lease
from services.connectors.ledger import LEASE_NAMESPACE

CONFIGURE = """
INSERT INTO trunk_channel (provider, slot)
SELECT $1, s FROM generate_series(0, $2 - 1) AS s
ON CONFLICT DO NOTHING
"""
DROP_EXTRA = "DELETE FROM trunk_channel WHERE provider = $1 AND slot >= $2"
# The lowest free channel: nobody's, or a dead replica's (its lease lock is gone).
TAKE = """
UPDATE trunk_channel c SET owner = $2, taken_at = clock_timestamp()
FROM (
    SELECT slot FROM trunk_channel t
    WHERE t.provider = $1
      AND (t.owner IS NULL OR NOT EXISTS (
          SELECT 1 FROM pg_locks
          WHERE locktype = 'advisory' AND classid = $3 AND objsubid = 2 AND granted
            AND objid::bigint = t.owner))
    ORDER BY slot LIMIT 1
    FOR UPDATE SKIP LOCKED
) free
WHERE c.provider = $1 AND c.slot = free.slot
RETURNING c.slot
"""
GIVE_BACK = """
UPDATE trunk_channel SET owner = NULL, taken_at = NULL
WHERE provider = $1 AND slot = $2 AND owner = $3
"""
IN_USE = """
SELECT count(*) FROM trunk_channel t
WHERE t.provider = $1 AND t.owner IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND classid = $2 AND objsubid = 2 AND granted
      AND objid::bigint = t.owner)
"""


class TrunkChannels:
    def __init__(
        self, pool: asyncpg.Pool, lease: Lease, provider: str, channels: int, poll: float = 0.2
    ) -> None:
        self.pool = pool
        self.lease = lease
        self.provider = provider
        self.channels = channels
        self.poll = poll

    async def configure(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(CONFIGURE, self.provider, self.channels)
            await conn.execute(DROP_EXTRA, self.provider, self.channels)

    async def take(self) -> tuple[int, int]:
        """Waits for a free channel; returns it and the lease key it was taken under."""
        while True:
            owner = await self.lease.current()
            async with self.pool.acquire() as conn:
                slot = await conn.fetchval(TAKE, self.provider, owner, LEASE_NAMESPACE)
            if slot is not None:
                return int(slot), owner
            await asyncio.sleep(self.poll)

    async def give_back(self, slot: int, owner: int) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(GIVE_BACK, self.provider, slot, owner)

    async def in_use(self) -> int:
        async with self.pool.acquire() as conn:
            return int(await conn.fetchval(IN_USE, self.provider, LEASE_NAMESPACE))
