"""The production topology (quorum queues) is accepted by the real broker, and a message
takes the retry path through it. The rest of the suite runs on classic queues."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from shared import topology as topo
from shared.events import Visibility
from tests.helpers import drain, eventually
from tests.infrastructure import new_prefix

SPEC = topo.QueueSpec("probe.quorum", ((Visibility.PUBLIC, "probe.quorum.v1"),))


async def test_quorum_topology_declares_and_routes_a_retry_back(
    amqp: AbstractRobustConnection,
) -> None:
    topology = topo.Topology(prefix=new_prefix(), retry_delays=(0.2,), queue_type="quorum")
    channel = await amqp.channel()
    await topo.declare(channel, topology, (SPEC,))
    try:
        work = await channel.declare_queue(topology.queue_name(SPEC.name), passive=True)
        assert work.declaration_result.message_count == 0
        # A message parked in the delay queue comes back to the work queue by itself.
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=topology.retry_queue_name(SPEC.name, 0),
        )
        back = await eventually(lambda: drain(channel, topology.queue_name(SPEC.name)))
        assert [m.body for m in back] == [b"{}"]
    finally:
        await topo.delete(channel, topology, (SPEC,))
