"""The work subscriber: claim in the ledger, hand to a provider, record, answer.

claim (committed) → provider call → record (committed, receipts in the outbox) → ack.
A crash before the claim commits sends nothing; after it, a copy of the batch finds each
delivery claimed and is answered from the ledger, except the deliveries that were in the
provider call when the replica died: those are in doubt and sent again (counted).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from faststream.message import StreamMessage

from services.connectors import ledger, metrics
from services.connectors.domain.address_key import address_key
from services.connectors.lease import Lease
from services.connectors.ledger import Submitted
from services.connectors.ports import OutgoingMessage
from services.connectors.receipts import enqueue_receipts
from services.connectors.reports import observe
from services.connectors.router import ChannelRouter
from shared import topology as topo
from shared.events import DeliveryRequested
from shared.events.gateway_codec import decode_requested
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

# The database going away between the provider's answer and the record must not turn
# accepted messages into in-doubt ones: the record is retried this long first.
_TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
              asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError)  # fmt: skip


@dataclass
class ConnectorDeps:
    runtime: ServiceRuntime
    router: ChannelRouter
    lease: Lease
    address_secret: bytes
    record_for: float = 60.0
    # Deliveries this replica is sending right now (see ledger.claim).
    in_flight: set[uuid.UUID] = field(default_factory=set)


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
    deps.in_flight.update(to_send)
    try:
        messages = [_outgoing(work[d], priority) for d in to_send]
        answers = await deps.router.send(channel, priority, messages)
        await _record(deps, answers, event.correlationid)
    finally:
        deps.in_flight.difference_update(to_send)


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


async def _record(deps: ConnectorDeps, answers: list[Submitted], correlation_id: str) -> None:
    deadline = time.monotonic() + deps.record_for
    pause = 0.2
    while True:
        try:
            async with deps.runtime.pool.acquire() as conn, conn.transaction():
                receipts = await ledger.record_submitted(conn, answers)
                await enqueue_receipts(deps.runtime, conn, receipts, correlation_id)
            break
        except _TRANSIENT as error:
            if time.monotonic() > deadline:
                raise
            log.warning("answers not recorded yet, trying again", error=repr(error),
                        deliveries=len(answers))  # fmt: skip
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
    observe(receipts)
    for status, count in Counter(a.result.status.value for a in answers).items():
        log.debug("recorded", status=status, count=count)


def register(runtime: ServiceRuntime, deps: ConnectorDeps) -> None:
    for channel in deps.router.channels:
        for priority in topo.PRIORITIES:
            spec = topo.gateway_queue(channel, priority)

            async def on_work(event: DeliveryRequested) -> None:
                await handle_work(event, deps)

            runtime.subscriber(spec, title=f"connectors-{spec.name}", decoder=_work)(on_work)


async def _work(message: StreamMessage[Any]) -> DeliveryRequested:
    return decode_requested(message.body)
