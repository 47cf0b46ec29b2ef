"""The publisher on the real broker: a publish the broker refuses (nacks) is raised to the
caller, which keeps the message and publishes it again, and the publisher moves to a new
channel first, so one refused publish does not leave every later one to a channel whose
state the broker got wrong (RabbitMQ 3.10 after a quorum queue's leader moved)."""

from __future__ import annotations

import uuid

import aio_pika.exceptions
import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.events import AlertIssued, AlertIssuedData, Language
from shared.messaging.publisher import Publisher
from shared.topology import Topology
from tests.helpers import drain
from tests.infrastructure import new_prefix

pytestmark = pytest.mark.integration


def an_event() -> AlertIssued:
    return AlertIssued.create(
        source="test",
        data=AlertIssuedData(alert_id=uuid.uuid4(), bin_ids=[uuid.uuid4()],
                             texts={Language.NL: "Let op"}),
    )  # fmt: skip


async def test_a_refused_publish_is_raised_and_the_next_goes_out_on_a_new_channel(
    amqp: AbstractRobustConnection, amqp_url: str
) -> None:
    channel = await amqp.channel()
    prefix = new_prefix()
    # A queue that refuses every message: the broker nacks what is published to it.
    full = await channel.declare_queue(
        f"{prefix}.full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
    )
    taking = await channel.declare_queue(f"{prefix}.taking")
    publisher = Publisher(amqp_url, Topology(prefix=prefix))
    await publisher.connect()
    try:
        first = await publisher.channel()
        with pytest.raises(aio_pika.exceptions.DeliveryError):
            await publisher.send_to_queue(an_event(), full.name)
        assert await publisher.channel() is not first
        assert first.is_closed
        await publisher.send_to_queue(an_event(), taking.name)
        assert len(await drain(channel, taking.name)) == 1
    finally:
        await publisher.close()
        await full.delete()
        await taking.delete()
