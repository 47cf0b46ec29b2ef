"""Idempotent consumption: an event id is handled once per consumer.

Call :func:`claim` first inside the handler's transaction; when the transaction commits, the
claim commits with the state change, and a redelivered copy finds it and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta

import asyncpg

from shared import metrics
from shared.database import Connection
from shared.logging import get_logger

log = get_logger(__name__)

CLAIM_EVENT = """
INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""


async def claim(conn: Connection, consumer: str, event_id: uuid.UUID) -> bool:
    """True the first time; False for a duplicate, which the caller then skips."""
    status = await conn.execute(CLAIM_EVENT, consumer, event_id)
    first = bool(status == "INSERT 0 1")
    if not first:
        metrics.DUPLICATES_SKIPPED.labels(consumer).inc()
    return first


# Claims older than any copy of their event can arrive: a lost ack is redelivered within
# seconds, an outbox row published twice within seconds of its relay's restart, and a dead
# letter replayed was never claimed (its handling failed). A week is far past all of them.
PRUNE_CLAIMS = """
DELETE FROM inbox WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM inbox WHERE received_at < now() - $1::interval LIMIT $2))
"""
PRUNE_BATCH = 10_000


async def prune(pool: asyncpg.Pool, older_than: timedelta, batch: int = PRUNE_BATCH) -> int:
    """Deletes claims older than ``older_than`` in batches (short transactions, no long lock
    on the table); returns how many."""
    pruned = 0
    while True:
        async with pool.acquire() as conn:
            status = await conn.execute(PRUNE_CLAIMS, older_than, batch)
        deleted = int(status.split()[-1])
        pruned += deleted
        if deleted < batch:
            return pruned


class InboxPruning:
    """Prunes the service's inbox every ``interval`` seconds, started and stopped with it."""

    def __init__(self, pool: asyncpg.Pool, older_than: timedelta, interval: float = 3600) -> None:
        self.pool = pool
        self.older_than = older_than
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox pruning")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                pruned = await prune(self.pool, self.older_than)
                if pruned:
                    log.info("inbox pruned", claims=pruned)
            except Exception as error:  # noqa: BLE001 - tried again next time
                log.warning("inbox not pruned", error=repr(error))
            await asyncio.sleep(self.interval)
