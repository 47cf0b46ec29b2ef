"""Reliable consumption for every subscriber: ack after success, retry with backoff, dead letters.

One FastStream broker middleware, applied to all subscribers of a service (which run with
``AckPolicy.MANUAL``), so no handler acks by itself and none can forget to:

* success: ack, after the handler (and so its database transaction) has finished;
* malformed or permanently failing message: a copy goes to ``{queue}.dead`` with the reason in
  a header, then the original is acked; the consumer goes on with the next message;
* transient failure: a copy goes to the next delay queue with ``x-bin-attempt`` + 1, then the
  original is acked; after the last delay, dead-letter with "retries exhausted";
* cancelled (shutdown): nothing is acked; the broker redelivers the message elsewhere.

The copies are published with publisher confirms before the ack, so a crash in between can
only duplicate a message (which the inbox absorbs), never lose it.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, cast

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from faststream import BaseMiddleware
from faststream._internal.context.repository import ContextRepo
from faststream.message import StreamMessage

from shared import metrics
from shared.logging import get_logger
from shared.messaging.errors import MessageTooLarge
from shared.messaging.retry import DeadLetter, Retry, decide
from shared.topology import (
    ATTEMPT_HEADER,
    DEAD_LETTER_QUEUE_HEADER,
    DEAD_LETTER_REASON_HEADER,
    Topology,
)

log = get_logger(__name__)


class ReliableConsumption:
    """The middleware factory FastStream calls once per incoming message."""

    def __init__(
        self,
        topology: Topology,
        channel_provider: Any,
        max_message_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.topology = topology
        # A zero-argument coroutine function returning the aio-pika channel to publish on.
        self.channel_provider = channel_provider
        self.max_message_bytes = max_message_bytes

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _ReliableConsumption:
        return _ReliableConsumption(msg, context=context, factory=self)


class _ReliableConsumption(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, factory: ReliableConsumption) -> None:
        super().__init__(msg, context=context)
        self.factory = factory
        self.started = time.perf_counter()

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        if len(msg.body) > self.factory.max_message_bytes:
            raise MessageTooLarge(
                f"{len(msg.body)} bytes, over the limit of {self.factory.max_message_bytes}"
            )
        return await call_next(msg)

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        raw = cast(AbstractIncomingMessage, self.msg)
        queue = self._queue_name()
        metrics.MESSAGE_HANDLING_SECONDS.labels(queue).observe(time.perf_counter() - self.started)
        if exc_val is None:
            await raw.ack()
            metrics.MESSAGES_CONSUMED.labels(queue, "ok").inc()
            return False
        if isinstance(exc_val, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            # Shutting down mid-message: leave it unacked so the broker redelivers it.
            return False
        attempt = _attempt_of(raw)
        decision = decide(exc_val, attempt, len(self.factory.topology.retry_delays))
        try:
            if isinstance(decision, Retry):
                await self._retry(raw, queue, decision)
            else:
                await self._dead_letter(raw, queue, decision)
        except Exception as publish_error:  # noqa: BLE001
            # Could not park the message anywhere: give it back to the broker, which
            # redelivers it (and dead-letters it itself after the delivery limit).
            log.error("message could not be parked", queue=queue, error=repr(publish_error))
            await raw.nack(requeue=True)
            return True
        await raw.ack()
        return True

    def _queue_name(self) -> str:
        handler = self.context.get_local("handler_") or self.context.get("handler_")
        return str(handler.queue.name) if handler is not None else "unknown"

    async def _retry(self, raw: AbstractIncomingMessage, queue: str, decision: Retry) -> None:
        spec_name = queue.removeprefix(self.factory.topology.prefix + ".")
        target = self.factory.topology.retry_queue_name(spec_name, decision.level)
        headers = {**(raw.headers or {}), ATTEMPT_HEADER: decision.attempt}
        await self._publish_copy(raw, target, headers)
        metrics.MESSAGES_CONSUMED.labels(queue, "retried").inc()
        log.warning(
            "message will be retried",
            queue=queue,
            attempt=decision.attempt,
            delay_seconds=self.factory.topology.retry_delays[decision.level],
            message_id=raw.message_id,
        )

    async def _dead_letter(
        self, raw: AbstractIncomingMessage, queue: str, decision: DeadLetter
    ) -> None:
        spec_name = queue.removeprefix(self.factory.topology.prefix + ".")
        target = self.factory.topology.dead_letter_queue_name(spec_name)
        headers = {
            **(raw.headers or {}),
            DEAD_LETTER_REASON_HEADER: decision.reason,
            DEAD_LETTER_QUEUE_HEADER: queue,
        }
        await self._publish_copy(raw, target, headers)
        metrics.MESSAGES_CONSUMED.labels(queue, "dead_lettered").inc()
        metrics.DEAD_LETTERS.labels(queue).inc()
        log.error(
            "message dead-lettered", queue=queue, reason=decision.reason, message_id=raw.message_id
        )

    async def _publish_copy(
        self, raw: AbstractIncomingMessage, queue: str, headers: dict[str, Any]
    ) -> None:
        channel = await self.factory.channel_provider()
        message = aio_pika.Message(
            body=raw.body,
            headers=headers,
            content_type=raw.content_type,
            content_encoding=raw.content_encoding,
            correlation_id=raw.correlation_id,
            message_id=raw.message_id,
            timestamp=raw.timestamp,
            type=raw.type,
            app_id=raw.app_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        # Default exchange, routed by queue name: straight into the sibling queue.
        await channel.default_exchange.publish(message, routing_key=queue, mandatory=True)


def _attempt_of(raw: AbstractIncomingMessage) -> int:
    value = (raw.headers or {}).get(ATTEMPT_HEADER, 1)
    try:
        return max(1, int(str(value)))
    except ValueError:
        return 1
