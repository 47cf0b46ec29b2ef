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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aio_pika.exceptions
import asyncpg
import orjson
from aio_pika.exceptions import ChannelNotFoundEntity
from asyncpg.pool import PoolConnectionProxy

from shared import metrics
from shared.database import Connection
from shared.events.envelope import Envelope
from shared.logging import get_logger
from shared.messaging.publisher import Publisher
from shared.topology import Topology

log = get_logger(__name__)

INSERT_EVENT = """
INSERT INTO outbox (event_id, event_type, exchange, routing_key, body, correlation_id, headers)
VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)
"""
# COPY leaves headers out (NULL): the pool's jsonb codec has no binary form for COPY.
COPY_COLUMNS = ("event_id", "event_type", "exchange", "routing_key", "body", "correlation_id")
COPY_THRESHOLD = 50
NOTIFY = "SELECT pg_notify($1, '')"
# Rows whose last attempt failed for want of their exchange wait for their next attempt
# (migration 003), so they hold up no other.
CLAIM_PENDING = """
SELECT position, event_id, event_type, exchange, routing_key, body, correlation_id, attempts,
       headers::text AS headers
FROM outbox WHERE next_attempt_at IS NULL OR next_attempt_at <= now()
ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED
"""
DELETE_RELAYED = "DELETE FROM outbox WHERE position = ANY($1::bigint[])"
POSTPONE = """
UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + $2::interval,
                  last_error = $3
WHERE position = $1
"""
# A row that cannot be published is tried again after 5 s, 10 s, 20 s, ... at most an hour.
POSTPONE_FIRST_SECONDS = 5.0
POSTPONE_MAX_SECONDS = 3600.0


def postponement(attempts: int) -> timedelta:
    """How long a row waits after its ``attempts``-th failed attempt (counted from 0)."""
    return timedelta(seconds=min(POSTPONE_MAX_SECONDS, POSTPONE_FIRST_SECONDS * 2**attempts))


COUNT_PENDING = "SELECT count(*) FROM outbox"


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


@dataclass(frozen=True)
class ToQueue:
    """An outbox item published through the default exchange straight into ``queue``, with
    ``headers``: work or a copy a service leaves for itself or an operator (a dead letter),
    not an event for subscribers."""

    event: Envelope[Any]
    queue: str
    headers: dict[str, str]


OutboxItem = Envelope[Any] | tuple[Envelope[Any], str] | ToQueue


def _row(topology: Topology, item: OutboxItem) -> tuple[Any, ...]:
    if isinstance(item, ToQueue):
        event, exchange, routing_key = item.event, "", item.queue
        headers: str | None = orjson.dumps(item.headers).decode()
    else:
        event, routing_key = item if isinstance(item, tuple) else (item, item.type)
        exchange, headers = topology.exchange_name(event.visibility), None
    return (event.id, event.type, exchange, routing_key, event.to_json(), event.correlationid,
            headers)  # fmt: skip


async def enqueue(
    conn: Connection,
    topology: Topology,
    schema: str,
    events: Iterable[OutboxItem],
) -> None:
    """Adds events to the outbox within the caller's transaction.

    An item is an event (routed by its type), an (event, routing key) pair, or a
    :class:`ToQueue` (into one queue, with headers).
    """
    rows = [_row(topology, item) for item in events]
    if not rows:
        return
    # Headers go in as text cast to jsonb: the pool's jsonb codec (Python values) and a bare
    # connection's (text) would each read a str differently, and COPY has neither a cast nor
    # the codec's binary form: rows with headers (dead letters, a few at a time) are inserted
    # one statement each.
    if len(rows) >= COPY_THRESHOLD and all(row[-1] is None for row in rows):
        # A bulk change (a member list imported): one COPY instead of a statement per event.
        records = [row[:-1] for row in rows]
        await conn.copy_records_to_table("outbox", records=records, columns=COPY_COLUMNS)
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
            try:
                await asyncio.gather(*(self._publish(row) for row in rows))
                published = list(rows)
            except aio_pika.exceptions.AMQPChannelError:
                # One row's exchange missing closes the channel under the whole batch (the
                # others then fail as closed): one at a time, to tell that row from the rest.
                # Rows the broker had confirmed already go out twice; inboxes drop copies.
                published = await self._one_by_one(conn, rows)
            await conn.execute(DELETE_RELAYED, [row["position"] for row in published])
        for row in published:
            metrics.OUTBOX_PUBLISHED.labels(row["exchange"]).inc()
        return len(published)

    async def _one_by_one(
        self, conn: Connection, rows: list[asyncpg.Record]
    ) -> list[asyncpg.Record]:
        """Publishes rows in order; a row whose exchange is missing is postponed (it stays
        in the outbox, with the error); any other error ends the batch, keeping what went out
        before it."""
        published = []
        for row in rows:
            try:
                await self._publish(row)
            except Exception as error:  # noqa: BLE001 - logged; the rest waits for the next round
                if not isinstance(error, ChannelNotFoundEntity):
                    metrics.OUTBOX_RELAY_ERRORS.inc()
                    log.warning("outbox relay failed, will retry", error=repr(error))
                    break
                metrics.OUTBOX_RELAY_ERRORS.inc()
                log.warning(
                    "outbox event not published: its exchange is missing; postponed",
                    event_type=row["event_type"],
                    exchange=row["exchange"],
                    attempts=row["attempts"] + 1,
                )
                await conn.execute(
                    POSTPONE, row["position"], postponement(row["attempts"]), repr(error)[:500]
                )
                continue
            published.append(row)
        return published

    async def _publish(self, row: asyncpg.Record) -> None:
        await self.publisher.publish_raw(
            row["exchange"],
            row["routing_key"],
            bytes(row["body"]),
            message_id=str(row["event_id"]),
            correlation_id=row["correlation_id"],
            message_type=row["event_type"],
            headers=orjson.loads(row["headers"]) if row["headers"] is not None else None,
        )

    async def pending(self) -> int:
        async with self.pool.acquire() as conn:
            count: int = await conn.fetchval(COUNT_PENDING)
        return count
