"""Transactional outbox: events are written with the state change, relayed after commit.

:func:`enqueue` runs inside the caller's transaction, so an event exists exactly when the
change it reports does. :class:`OutboxRelay` publishes pending rows with publisher confirms
and deletes them once confirmed; rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several
replicas relay side by side. A crash between confirm and delete publishes a row again:
consumers' inboxes absorb that. ``NOTIFY`` wakes the relay at commit; polling covers a missed
notification.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared import metrics
from shared.database import Connection
from shared.events.envelope import Envelope
from shared.logging import get_logger
from shared.messaging.publisher import Publisher
from shared.topology import Topology

log = get_logger(__name__)

INSERT_EVENT = """
INSERT INTO outbox (event_id, event_type, exchange, routing_key, body, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6)
"""
OUTBOX_COLUMNS = ("event_id", "event_type", "exchange", "routing_key", "body", "correlation_id")
COPY_THRESHOLD = 50
NOTIFY = "SELECT pg_notify($1, '')"
CLAIM_PENDING = """
SELECT position, event_id, event_type, exchange, routing_key, body, correlation_id
FROM outbox ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED
"""
DELETE_RELAYED = "DELETE FROM outbox WHERE position = ANY($1::bigint[])"
COUNT_PENDING = "SELECT count(*) FROM outbox"


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


async def enqueue(
    conn: Connection,
    topology: Topology,
    schema: str,
    events: Iterable[Envelope[Any] | tuple[Envelope[Any], str]],
) -> None:
    """Adds events to the outbox within the caller's transaction.

    An item is an event (routed by its type) or an (event, routing key) pair.
    """
    rows = []
    for item in events:
        event, routing_key = item if isinstance(item, tuple) else (item, item.type)
        rows.append(
            (
                event.id,
                event.type,
                topology.exchange_name(event.visibility),
                routing_key,
                event.to_json(),
                event.correlationid,
            )
        )
    if not rows:
        return
    if len(rows) >= COPY_THRESHOLD:
        # A bulk change (a member list imported): one COPY instead of a statement per event.
        await conn.copy_records_to_table("outbox", records=rows, columns=OUTBOX_COLUMNS)
    else:
        await conn.executemany(INSERT_EVENT, rows)
    await conn.execute(NOTIFY, notify_channel(schema))


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        schema: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.schema = schema
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: PoolConnectionProxy | None = None

    async def start(self) -> None:
        listener = await self.pool.acquire()
        await listener.add_listener(notify_channel(self.schema), self._on_notify)
        self._listener = listener
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.schema}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(notify_channel(self.schema), self._on_notify)
            await self.pool.release(self._listener)
            self._listener = None

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                relayed = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001
                # Broker or database away: keep the rows, try again after a pause.
                metrics.OUTBOX_RELAY_ERRORS.inc()
                log.warning("outbox relay failed, will retry", error=repr(error))
                relayed = 0
            if relayed >= self.batch_size:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)

    async def relay_once(self) -> int:
        """Publishes one batch of pending events; returns how many."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM_PENDING, self.batch_size)
            if not rows:
                metrics.OUTBOX_PENDING.set(0)
                return 0
            await asyncio.gather(*(self._publish(row) for row in rows))
            await conn.execute(DELETE_RELAYED, [row["position"] for row in rows])
        for row in rows:
            metrics.OUTBOX_PUBLISHED.labels(row["exchange"]).inc()
        return len(rows)

    async def _publish(self, row: asyncpg.Record) -> None:
        await self.publisher.publish_raw(
            row["exchange"],
            row["routing_key"],
            bytes(row["body"]),
            message_id=str(row["event_id"]),
            correlation_id=row["correlation_id"],
            message_type=row["event_type"],
        )

    async def pending(self) -> int:
        async with self.pool.acquire() as conn:
            count: int = await conn.fetchval(COUNT_PENDING)
        return count
