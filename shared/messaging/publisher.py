"""A publishing connection to RabbitMQ with publisher confirms.

Kept apart from FastStream's consuming connection, as RabbitMQ advises: flow control on a
busy publisher then never stalls the consumers of the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

import aio_pika
import aio_pika.exceptions
from aio_pika.abc import AbstractExchange, AbstractRobustChannel, AbstractRobustConnection

from shared import topology as topo
from shared.events.envelope import Envelope
from shared.logging import get_logger
from shared.messaging import nodes
from shared.topology import Topology

log = get_logger(__name__)


class Publisher:
    def __init__(self, amqp_url: str, topology: Topology, in_flight: int = 256) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        # Confirms pipeline: many publishes in flight, bounded so memory stays flat.
        self._in_flight = asyncio.Semaphore(in_flight)
        # Many publishes refused at once get the publisher one new channel, not one each.
        self._reopening = asyncio.Lock()

    async def connect(self) -> None:
        self._connection = await nodes.connect_robust(
            self.amqp_url, timeout=10, client_properties={"connection_name": "publisher"}
        )
        self._channel = await self._connection.channel(publisher_confirms=True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._channel = None
        self._exchanges.clear()

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def channel(self) -> AbstractRobustChannel:
        if self._channel is None or self._connection is None:
            raise RuntimeError("publisher is not connected")
        if self._channel.is_closed and not self._connection.is_closed:
            # The broker closes a channel on a failed publish (an exchange deleted under us,
            # say); the robust connection only restores channels it lost with itself, so a
            # publisher that did not open a new one would fail every publish from then on.
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._exchanges.clear()
        return self._channel

    async def declare(self, queues: tuple[topo.QueueSpec, ...], *, passive: bool = False) -> None:
        await topo.declare(await self.channel(), self.topology, queues, passive=passive)

    async def _exchange(self, name: str) -> AbstractExchange:
        channel = await self.channel()  # first: a reopened channel empties the cache
        if name == "":  # the default exchange: straight into the queue named by the key
            return channel.default_exchange
        if name not in self._exchanges:
            self._exchanges[name] = await channel.get_exchange(name, ensure=False)
        return self._exchanges[name]

    async def publish_raw(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        correlation_id: str,
        message_type: str,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publishes one persistent JSON message and waits for the broker's confirm."""
        channel = await self.channel()
        target = await self._exchange(exchange)
        message = _message(body, message_id, correlation_id, message_type, headers)
        async with self._in_flight:
            await self._confirmed(channel, target.publish(message, routing_key=routing_key,
                                                          timeout=30))  # fmt: skip

    async def send_to_queue(
        self, event: Envelope[Any], queue: str, expiration: float | None = None
    ) -> None:
        """Straight into one queue through the default exchange, confirmed: work a service
        hands itself (a fan-out's slices, retries through a delay queue with ``expiration``
        seconds), which nobody else subscribes to."""
        channel = await self.channel()
        message = _message(
            event.to_json(), str(event.id), event.correlationid, event.type, None, expiration
        )
        async with self._in_flight:
            await self._confirmed(
                channel, channel.default_exchange.publish(message, routing_key=queue, timeout=30)
            )

    async def _confirmed(self, channel: AbstractRobustChannel, publishing: Awaitable[Any]) -> None:
        """Awaits a publish's confirm. A nack (the broker refused the message) gets the
        publisher a new channel before it is raised: with RabbitMQ 3.10, a channel opened
        while a quorum queue's leader was being elected after a node loss was refused every
        publish to that queue from then on (the connectors' receipts, nacked for minutes in
        tests/faults/test_cluster_faults.py), where a new channel asks for the new leader."""
        try:
            await publishing
        except aio_pika.exceptions.DeliveryError:
            async with self._reopening:
                if channel is self._channel and self._connection is not None:
                    log.warning("publish refused by the broker; opening a new channel")
                    self._channel = await self._connection.channel(publisher_confirms=True)
                    self._exchanges.clear()
                    with contextlib.suppress(Exception):
                        await channel.close()
            raise

    async def publish(
        self, event: Envelope[Any], routing_key: str | None = None, body: bytes | None = None
    ) -> None:
        """Publishes the event; ``body``, when given, is its JSON already serialised (a hot
        path that builds it faster than the model would)."""
        await self.publish_raw(
            self.topology.exchange_name(event.visibility),
            routing_key or event.type,
            body if body is not None else event.to_json(),
            message_id=str(event.id),
            correlation_id=event.correlationid,
            message_type=event.type,
        )


def _message(
    body: bytes,
    message_id: str,
    correlation_id: str,
    message_type: str,
    headers: dict[str, Any] | None = None,
    expiration: float | None = None,
) -> aio_pika.Message:
    return aio_pika.Message(
        body=body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
        correlation_id=correlation_id,
        type=message_type,
        headers=headers or {},
        expiration=expiration,
    )
