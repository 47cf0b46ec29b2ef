"""The connectors service in this process, fed gateway work over the real broker, its
receipts read back from the queue dispatch consumes: what dispatch would see."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractRobustConnection

from services.connectors.main import build
from services.connectors.settings import ConnectorSettings
from shared import topology as topo
from shared.events import Channel, DeliveryRequested, DeliveryRequestedData, DeliveryWork, Language
from shared.events.common import Priority
from shared.runtime import ServiceRuntime
from tests.infrastructure import new_prefix
from tests.integration.serving import serving


@dataclass
class Receipts:
    """Every receipt and reply the connector published, by delivery id."""

    outcomes: dict[uuid.UUID, list[tuple[str, str | None]]] = field(default_factory=dict)
    replies: list[dict[str, Any]] = field(default_factory=list)
    # Voice: the receipts' ``confirmed`` (pressed 1), by delivery id, every copy in turn.
    confirmed: dict[uuid.UUID, list[bool | None]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, body: bytes) -> None:
        data = orjson.loads(body)["data"]
        for receipt in data["receipts"]:
            self.outcomes.setdefault(uuid.UUID(receipt["delivery_id"]), []).append(
                (receipt["outcome"], receipt["detail"])
            )
            self.confirmed.setdefault(uuid.UUID(receipt["delivery_id"]), []).append(
                receipt.get("confirmed")
            )
        self.replies += data["replies"]
        self.changed.set()

    def final(self) -> dict[uuid.UUID, str]:
        return {
            d: seen[-1][0]
            for d, seen in self.outcomes.items()
            if seen[-1][0] in ("delivered", "permanent_failure")
        }

    async def wait(self, ids: Sequence[uuid.UUID], timeout: float = 30.0) -> dict[uuid.UUID, str]:
        """Until every id has a final receipt; the final outcomes."""
        async with asyncio.timeout(timeout):
            while not set(ids) <= set(self.final()):
                self.changed.clear()
                await self.changed.wait()
        final = self.final()
        return {d: final[d] for d in ids}

    def count(self) -> int:
        return sum(len(seen) for seen in self.outcomes.values())

    async def wait_count(self, count: int, timeout: float = 20.0) -> None:
        """Until ``count`` receipts in all (copies answered again count too)."""
        async with asyncio.timeout(timeout):
            while self.count() < count:
                self.changed.clear()
                await self.changed.wait()

    async def wait_replies(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.replies) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.replies


@dataclass
class RunningConnector:
    runtime: ServiceRuntime
    receipts: Receipts
    amqp: AbstractRobustConnection

    async def send(
        self,
        deliveries: Sequence[tuple[uuid.UUID, str, str]],
        channel: str = "sms",
        priority: str = "urgent",
        **extra: Any,
    ) -> DeliveryRequested:
        """Publishes one batch of (delivery id, address, text) as dispatch would."""
        work = DeliveryRequested.create(
            source="dispatch",
            data=DeliveryRequestedData(
                batch_id=uuid.uuid4(),
                channel=Channel(channel),
                priority=Priority(priority),
                source_id=uuid.uuid4(),
                deliveries=[
                    DeliveryWork(delivery_id=d, address=a, language=Language.NL, text=t, **extra)
                    for d, a, t in deliveries
                ],
            ),
        )
        await self.publish(work)
        return work

    async def publish(self, work: DeliveryRequested) -> None:
        await self.runtime.publisher.publish(
            work,
            routing_key=topo.gateway_routing_key(work.data.channel.value, work.data.priority.value),
        )


@asynccontextmanager
async def running_connector(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str, providers: list[Any],
    **settings: Any,
) -> AsyncIterator[RunningConnector]:  # fmt: skip
    config = ConnectorSettings(
        amqp_url=amqp_url,
        database_url=database_url,
        topology_prefix=new_prefix(),
        connector_providers=providers,
        connector_sweep_interval=0.5,
        **settings,
    )
    runtime, app = build(config)
    receipts = Receipts()
    async with serving(runtime, app, amqp, database_url):
        channel = await amqp.channel()
        queue = await channel.get_queue(runtime.topology.queue_name(topo.DISPATCH_RECEIPTS.name))

        async def on_receipt(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                receipts.add(message.body)

        tag = await queue.consume(on_receipt)
        try:
            yield RunningConnector(runtime, receipts, amqp)
        finally:
            await queue.cancel(tag)
            await channel.close()


def numbers(count: int, prefix: str = "3247") -> list[str]:
    """Distinct Belgian mobile numbers, one per member."""
    return [f"+{prefix}{i:07d}" for i in range(count)]
