"""Picks up deliveries a crash left behind, so none waits forever.

Two windows exist: a replica dies after recording a temporary failure but before parking
the retry in a delay queue; or after claiming a retry or a fallback but before publishing it.
Every minute the sweeper looks for deliveries stuck well past the longest retry delay and
sends them again (same delivery ids, so a gateway drops what it already has). It also sends
the deliveries held for a member's quiet hours or pause once that has ended.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

from services.dispatch import repository
from services.dispatch.engine import FanoutEngine
from shared.logging import get_logger
from shared.periodic import PeriodicJob
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

# Both look only at deliveries whose life began within the horizon ($2): created then
# (delivery_created_brin), or released from a hold then (delivery_held_idx). A retry chain
# lasts minutes; what a crash leaves is found within a minute while any replica runs.
STUCK_RETRIES = """
SELECT delivery_id FROM delivery
WHERE status = 'temporary_failure' AND updated_at < clock_timestamp() - $1::interval
  AND created_at > now() - $2::interval
UNION
SELECT delivery_id FROM delivery
WHERE status = 'temporary_failure' AND updated_at < clock_timestamp() - $1::interval
  AND hold_until > now() - $2::interval AND hold_until <= now()
LIMIT 5000
"""
STUCK_UNSENT = """
SELECT d.source_id FROM delivery d
WHERE d.status = 'queued' AND d.batch_id IS NULL AND d.hold_until IS NULL
  AND d.updated_at < clock_timestamp() - $1::interval AND d.created_at > now() - $2::interval
UNION
-- held for a member's quiet hours or pause, and now due
SELECT d.source_id FROM delivery d
WHERE d.status = 'queued' AND d.batch_id IS NULL
  AND d.hold_until > now() - $2::interval AND d.hold_until <= now()
"""
DISPATCHED = (
    "SELECT source_id FROM fanout WHERE source_id = ANY($1::uuid[]) AND status = 'dispatched'"
)


class Sweeper:
    def __init__(
        self,
        runtime: ServiceRuntime,
        engine: FanoutEngine,
        stuck_after: float,
        horizon: timedelta = timedelta(days=7),
    ) -> None:
        self.runtime = runtime
        self.engine = engine
        self.stuck_after = timedelta(seconds=stuck_after)
        # Deliveries whose life began longer ago are not looked at: urgent news a week old
        # is no news, and a dispatch stopped that long needs an operator anyway.
        self.horizon = horizon
        self.job = PeriodicJob("delivery sweep", 60.0, self.sweep_once, first_run_after=60.0)

    async def sweep_once(self) -> int:
        """Sends stuck deliveries again; returns how many."""
        async with self.runtime.pool.acquire() as conn:
            stuck = [
                r["delivery_id"]
                for r in await conn.fetch(STUCK_RETRIES, self.stuck_after, self.horizon)
            ]
            claimed: list[tuple[uuid.UUID, repository.Work]] = (
                await repository.claim_retries(conn, stuck) if stuck else []
            )
            sources = [
                r["source_id"]
                for r in await conn.fetch(STUCK_UNSENT, self.stuck_after, self.horizon)
            ]
            unsent_sources = (
                [r["source_id"] for r in await conn.fetch(DISPATCHED, sources)] if sources else []
            )
        by_source: dict[uuid.UUID, list[repository.Work]] = defaultdict(list)
        for source_id, retry in claimed:
            by_source[source_id].append(retry)
        for source_id in unsent_sources:
            async with self.runtime.pool.acquire() as conn:
                by_source[source_id].extend(await repository.unsent_work(conn, source_id))
        swept = 0
        for source_id, work in by_source.items():
            async with self.runtime.pool.acquire() as conn:
                fanout = await repository.get_fanout(conn, source_id)
            if fanout is None or not work:
                continue
            unique = list({w.delivery_id: w for w in work}.values())
            await self.engine.send_work(fanout, unique, correlation_id=f"sweep-{source_id}")
            swept += len(unique)
        if swept:
            log.warning("stuck deliveries sent again", deliveries=swept)
        return swept
