"""A service given several RabbitMQ nodes connects to the first that answers: here a node
that is down (a port nobody listens on) listed before the machine's broker."""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.messaging.nodes import cluster_broker
from shared.messaging.publisher import Publisher
from shared.topology import Topology
from tests.ports import free_port


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
