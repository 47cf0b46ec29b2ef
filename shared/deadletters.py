"""Inspect and replay dead letters: ``python -m shared.deadletters list|replay QUEUE``.

QUEUE is a consuming queue's short name (``dispatch.alerts``, ``dispatch.redeliveries``,
...); its dead letters wait in ``{prefix}.{QUEUE}.dead`` with the reason in a header.
``list`` shows them without taking them; ``replay`` moves them back to the work queue with
their attempt count reset, one confirmed publish before each ack, so none is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import aio_pika

from shared.messaging import nodes
from shared.settings import ServiceSettings
from shared.topology import (
    ATTEMPT_HEADER,
    DEAD_LETTER_QUEUE_HEADER,
    DEAD_LETTER_REASON_HEADER,
    Topology,
)

_DEAD_LETTER_HEADERS = (DEAD_LETTER_REASON_HEADER, DEAD_LETTER_QUEUE_HEADER, ATTEMPT_HEADER)


def summary(message: aio_pika.abc.AbstractIncomingMessage) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "message_id": message.message_id,
        "type": message.type,
        "reason": str(headers.get(DEAD_LETTER_REASON_HEADER, "dead-lettered by the broker")),
        "bytes": len(message.body),
    }


async def list_dead_letters(
    settings: ServiceSettings, queue: str, limit: int
) -> list[dict[str, Any]]:
    topology = Topology(prefix=settings.topology_prefix)
    connection = await nodes.connect_robust(settings.amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        dead = await channel.get_queue(topology.dead_letter_queue_name(queue), ensure=True)
        seen: list[dict[str, Any]] = []
        taken: list[aio_pika.abc.AbstractIncomingMessage] = []
        while len(seen) < limit and (message := await dead.get(no_ack=False, fail=False)):
            seen.append(summary(message))
            taken.append(message)
        for message in taken:  # looked at, not taken: back to the dead-letter queue
            await message.nack(requeue=True)
        return seen
    finally:
        await connection.close()


async def replay(settings: ServiceSettings, queue: str, limit: int) -> int:
    topology = Topology(prefix=settings.topology_prefix)
    connection = await nodes.connect_robust(settings.amqp_url, timeout=10)
    replayed = 0
    try:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.get_queue(topology.dead_letter_queue_name(queue), ensure=True)
        while replayed < limit and (message := await dead.get(no_ack=False, fail=False)):
            headers = {
                k: v for k, v in (message.headers or {}).items() if k not in _DEAD_LETTER_HEADERS
            }
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    content_type=message.content_type,
                    correlation_id=message.correlation_id,
                    message_id=message.message_id,
                    type=message.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=topology.queue_name(queue),
            )
            await message.ack()
            replayed += 1
    finally:
        await connection.close()
    return replayed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.deadletters", description=__doc__)
    parser.add_argument("command", choices=("list", "replay"))
    parser.add_argument("queue", help="the work queue's short name, e.g. dispatch.alerts")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    settings = ServiceSettings()
    if args.command == "list":
        for item in asyncio.run(list_dead_letters(settings, args.queue, args.limit)):
            print(json.dumps(item))
    else:
        count = asyncio.run(replay(settings, args.queue, args.limit))
        print(f"replayed {count} message(s) to {settings.topology_prefix}.{args.queue}")


if __name__ == "__main__":
    main()
