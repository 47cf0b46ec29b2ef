"""Delivery details (who got what on which channel, the gateways' answers, the texts) are
kept only as long as configured; a job (hourly) folds each old fan-out's figures into the
aggregates and deletes its details in the same transaction, a batch of fan-outs at a time.
The fan-out row stays, without its texts, so a redelivered alert still finds it done."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.dispatch import aggregates
from shared.logging import get_logger
from shared.periodic import PeriodicJob
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

# SKIP LOCKED: replicas running the job at once take different fan-outs.
CLAIM_DUE = """
SELECT source_id FROM fanout
WHERE details_purged_at IS NULL AND created_at < $1
ORDER BY created_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
DELETE_BATCHES = "DELETE FROM fanout_batch WHERE source_id = ANY($1::uuid[])"
DELETE_DELIVERIES = "DELETE FROM delivery WHERE source_id = ANY($1::uuid[])"
MARK_PURGED = """
UPDATE fanout SET details_purged_at = now(), content = '{}'::jsonb
WHERE source_id = ANY($1::uuid[])
"""


class DeliveryRetention:
    def __init__(
        self,
        runtime: ServiceRuntime,
        days: int,
        *,
        batch: int = 200,
        interval: float = 3600.0,
    ) -> None:
        self.runtime = runtime
        self.days = days
        self.batch = batch
        self.job = PeriodicJob("delivery retention", interval, self.purge_and_log)

    async def purge(self, now: datetime | None = None) -> int:
        """Purges every fan-out older than the period; returns how many."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.days)
        purged = 0
        while True:
            async with self.runtime.pool.acquire() as conn, conn.transaction():
                due: list[uuid.UUID] = [
                    r["source_id"] for r in await conn.fetch(CLAIM_DUE, cutoff, self.batch)
                ]
                if not due:
                    return purged
                await aggregates.fold(conn, due)
                await conn.execute(DELETE_BATCHES, due)
                await conn.execute(DELETE_DELIVERIES, due)
                await conn.execute(MARK_PURGED, due)
            purged += len(due)

    async def purge_and_log(self) -> None:
        purged = await self.purge()
        if purged:
            log.info("delivery details purged", fanouts=purged, older_than_days=self.days)
