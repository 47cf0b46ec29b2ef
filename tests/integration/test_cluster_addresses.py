"""A service given several RabbitMQ nodes connects to the first that answers: here a node
that is down (a port nobody listens on) listed before the machine's broker; and leaves a node
that answers the connection but never a channel (a fault proxy in front of the broker)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import aio_pika
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from shared.messaging import nodes
from shared.messaging.nodes import cluster_broker
from shared.messaging.publisher import Publisher
from shared.topology import Topology
from tests.faults.proxy import FaultProxy
from tests.helpers import eventually
from tests.ports import free_port

# Short here, so that the test waits a few seconds; services use nodes.RESTORE_TIMEOUT.
RESTORE_TIMEOUT = 3.0


def down_node_first(amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    credentials = parts.netloc.rpartition("@")[0]
    live = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{credentials}@127.0.0.1:{free_port()},{live}").geturl()


async def test_the_publisher_skips_a_node_that_is_down(amqp_url: str) -> None:
    publisher = Publisher(down_node_first(amqp_url), Topology(prefix="unused"))
    await publisher.connect()
    try:
        assert publisher.is_connected
        channel = await publisher.channel()
        queue = await channel.declare_queue(exclusive=True)
        await publisher.publish_raw(
            "", queue.name, b"{}", message_id="1", correlation_id="1", message_type="t"
        )
        assert (await queue.get(timeout=5)).body == b"{}"
    finally:
        await publisher.close()


async def test_the_consumers_broker_skips_a_node_that_is_down(amqp_url: str) -> None:
    broker = cluster_broker(down_node_first(amqp_url), timeout=10)
    try:
        await broker.connect()
        assert await broker.ping(timeout=5)
    finally:
        await broker.stop()


async def test_a_node_that_never_serves_a_channel_is_left_for_the_next(amqp_url: str) -> None:
    """After its node goes, the connection moves to a node that accepts it and then answers
    nothing on any channel (heartbeats still flowing): restoring the channels there times
    out and the attempt goes on to a node that serves. aio-pika alone would wait there for
    good, and so would every publish of the process."""
    broker = urlsplit(amqp_url)
    credentials = broker.netloc.rpartition("@")[0]
    serving = FaultProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    stalled = FaultProxy(broker.hostname or "127.0.0.1", broker.port or 5672, stall_channels=True)
    await serving.start()
    await stalled.start()
    nodes_url = (
        f"amqp://{credentials}@127.0.0.1:{serving.port},127.0.0.1:{stalled.port}/"
        "?reconnect_interval=0.5"
    )
    connection = await nodes.connect_robust(nodes_url, restore_timeout=RESTORE_TIMEOUT)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"probe-{uuid.uuid4().hex}", auto_delete=True)
        serving.cut()  # its node goes: the next attempt starts with the stalled one
        cut = time.monotonic()

        async def published() -> bool:
            try:
                await channel.default_exchange.publish(
                    aio_pika.Message(b"after"), routing_key=queue.name, timeout=1
                )
            except (*CONNECTION_EXCEPTIONS, TimeoutError):
                return False
            return True

        await eventually(published, timeout=RESTORE_TIMEOUT + 10, interval=0.2)
        recovered_in = time.monotonic() - cut
        assert (await queue.get(timeout=5)).body == b"after"
        # It did go to the stalled node first and came away within the timeout.
        assert stalled.accepted >= 1
        assert RESTORE_TIMEOUT <= recovered_in < RESTORE_TIMEOUT + 5, recovered_in
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
        await serving.stop()
        await stalled.stop()
