"""The work subscriber: claim in the ledger, hand to a provider, record, answer.

claim the batch (committed) → per chunk: mark submitting, call the provider, record its
answers (committed, receipts in the outbox) → ack. A copy of the batch finds each delivery
in the ledger and is answered from it; only the chunks that were in a provider call when the
replica died are in doubt, sent again and counted (``submission.submits`` > 1).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from faststream.message import StreamMessage

from services.connectors import ledger, metrics
from services.connectors.domain.address_key import address_key
from services.connectors.lease import Lease
from services.connectors.ledger import Receipt, Submitted
from services.connectors.ports import OutgoingMessage
from services.connectors.receipts import enqueue_receipts, expiry_events
from services.connectors.reports import observe
from services.connectors.router import ChannelRouter
from shared import topology as topo
from shared.database import Connection
from shared.events import DeliveryRequested
from shared.events.gateway_codec import decode_requested
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

# The database going away between the provider's answer and the record must not turn
# accepted messages into in-doubt ones: the record is retried this long first.
# A deadlock or serialization failure aborts one transaction of two: trying it again is
# PostgreSQL's own advice.
_TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
              asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
              asyncpg.DeadlockDetectedError, asyncpg.SerializationError)  # fmt: skip


@dataclass
class ConnectorDeps:
    runtime: ServiceRuntime
    router: ChannelRouter
    lease: Lease
    address_secret: bytes
    record_for: float = 60.0
    # Deliveries this replica is sending right now (see ledger.claim), and the tasks doing it.
    in_flight: set[uuid.UUID] = field(default_factory=set)
    sending: set[asyncio.Task[None]] = field(default_factory=set)


async def handle_work(event: DeliveryRequested, deps: ConnectorDeps) -> None:
    data = event.data
    channel, priority = data.channel.value, data.priority.value
    work = {w.delivery_id: w for w in data.deliveries}
    keyed = [
        (d, address_key(deps.address_secret, w.address) if channel == "sms" else None)
        for d, w in work.items()
    ]
    owner = await deps.lease.current()
    async with deps.runtime.pool.acquire() as conn, conn.transaction():
        claim = await ledger.claim(
            conn, keyed, channel=channel, priority=priority, source_id=data.source_id,
            owner=owner, in_flight=deps.in_flight,
        )  # fmt: skip
        await enqueue_receipts(deps.runtime, conn, claim.answered, event.correlationid)
    if claim.answered:
        metrics.COPIES_ANSWERED.labels(channel).inc(len(claim.answered))
    if claim.in_doubt:
        metrics.IN_DOUBT.labels(channel).inc(len(claim.in_doubt))
        log.warning("deliveries in doubt sent again", batch_id=str(data.batch_id),
                    count=len(claim.in_doubt))  # fmt: skip
    to_send = claim.to_send
    if not to_send:
        return
    # The provider calls and their record run in a task of their own, shielded: when the
    # broker connection drops, the message's handler is cancelled, and a provider call cut
    # off half-way would leave its deliveries in doubt. The task finishes what it handed
    # over and records it; the redelivered copy of the batch finds them in flight here.
    deps.in_flight.update(to_send)
    task = asyncio.create_task(_send(deps, channel, priority, [work[d] for d in to_send],
                                     event.correlationid))  # fmt: skip
    deps.sending.add(task)
    task.add_done_callback(deps.sending.discard)
    await asyncio.shield(task)


async def _send(
    deps: ConnectorDeps, channel: str, priority: str, items: list[Any], correlation_id: str
) -> None:
    try:
        messages = [_outgoing(item, priority) for item in items]
        recorder = _LedgerRecorder(deps, correlation_id)
        await deps.router.send(channel, priority, messages, recorder)
    finally:
        deps.in_flight.difference_update(item.delivery_id for item in items)


async def finish_sending(deps: ConnectorDeps, within: float) -> None:
    """At shutdown, after the consumers stopped: lets handed-over work be recorded."""
    if deps.sending:
        await asyncio.wait(set(deps.sending), timeout=within)


def _outgoing(item: Any, priority: str) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=item.delivery_id,
        address=item.address,
        language=str(item.language),
        text=item.text,
        priority=priority,
        subject=item.subject,
        html=item.html,
        unsubscribe_url=getattr(item, "unsubscribe_url", None),
    )


class _LedgerRecorder:
    """The router's steps, written to the ledger; each write retried while the database is
    away (for up to ``record_for``), so a restart of PostgreSQL between the provider's
    answer and the record does not turn accepted messages into in-doubt ones."""

    def __init__(self, deps: ConnectorDeps, correlation_id: str) -> None:
        self.deps = deps
        self.correlation_id = correlation_id

    async def submitting(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        async def mark(conn: Connection) -> None:
            await ledger.mark_submitting(conn, delivery_ids)

        await self._persistently(mark)

    async def in_doubt(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        async def mark(conn: Connection) -> None:
            await ledger.mark_in_doubt(conn, delivery_ids)

        await self._persistently(mark)

    async def answered(self, answers: Sequence[Submitted]) -> None:
        if not answers:
            return
        receipts: list[Receipt] = []
        expired = expiry_events(answers, self.correlation_id)

        async def record(conn: Connection) -> None:
            nonlocal receipts
            receipts = await ledger.record_submitted(conn, answers)
            await enqueue_receipts(self.deps.runtime, conn, receipts, self.correlation_id)
            # In the same transaction: a subscription the push service dropped is forgotten
            # by the registry exactly when its delivery is recorded as failed.
            if expired:
                await self.deps.runtime.enqueue(conn, expired)

        await self._persistently(record)
        observe(receipts)

    async def _persistently(self, write: Callable[[Connection], Awaitable[None]]) -> None:
        deadline = time.monotonic() + self.deps.record_for
        pause = 0.2
        while True:
            try:
                async with self.deps.runtime.pool.acquire() as conn, conn.transaction():
                    await write(conn)
                return
            except _TRANSIENT as error:
                if time.monotonic() > deadline:
                    raise
                log.warning("ledger not reachable, trying again", error=repr(error))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)


def register(runtime: ServiceRuntime, deps: ConnectorDeps) -> None:
    for channel in deps.router.channels:
        for priority in topo.PRIORITIES:
            spec = topo.gateway_queue(channel, priority)

            async def on_work(event: DeliveryRequested) -> None:
                await handle_work(event, deps)

            runtime.subscriber(spec, title=f"connectors-{spec.name}", decoder=_work)(on_work)


async def _work(message: StreamMessage[Any]) -> DeliveryRequested:
    return decode_requested(message.body)
