"""The production topology (quorum queues) is accepted by the real broker, a message takes
the retry path through it, and its dead letters survive being listed. The rest of the suite
runs on classic queues."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from shared import topology as topo
from shared.deadletters import list_dead_letters
from shared.events import Visibility
from shared.settings import ServiceSettings
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


async def test_listing_quorum_dead_letters_again_and_again_keeps_every_one(
    amqp: AbstractRobustConnection, amqp_url: str
) -> None:
    """Listing peeks by taking and handing back (nack, requeue): on a quorum queue with a
    delivery limit, the eleventh look would drop a message. Dead-letter queues have no
    limit, so looking fifteen times, more than the work queues' limit of 10, loses none."""
    prefix = new_prefix()
    topology = topo.Topology(prefix=prefix, retry_delays=(0.2,), queue_type="quorum")
    channel = await amqp.channel()
    await topo.declare(channel, topology, (SPEC,))
    try:
        for n in range(3):
            await channel.default_exchange.publish(
                aio_pika.Message(
                    b"{}", message_id=f"dead-{n}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                ),
                routing_key=topology.dead_letter_queue_name(SPEC.name),
            )
        settings = ServiceSettings(amqp_url=amqp_url, topology_prefix=prefix)
        for _ in range(topology.delivery_limit + 5):
            listed = await list_dead_letters(settings, SPEC.name, limit=10)
            assert sorted(m["message_id"] for m in listed) == ["dead-0", "dead-1", "dead-2"]
        kept = await eventually(
            lambda: drain(channel, topology.dead_letter_queue_name(SPEC.name)), timeout=10
        )
        assert sorted(m.message_id or "" for m in kept) == ["dead-0", "dead-1", "dead-2"]
    finally:
        await topo.delete(channel, topology, (SPEC,))
