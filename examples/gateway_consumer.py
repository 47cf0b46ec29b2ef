"""A minimal SMS gateway adapter, for gateway implementers: take work, send, answer receipts.

Run it beside the platform instead of the simulator (`python examples/gateway_consumer.py`);
replace `send_sms` with the provider's API call.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import aio_pika

AMQP_URL = os.environ.get("BIN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PREFIX = os.environ.get("BIN_TOPOLOGY_PREFIX", "bin")
sent: set[str] = set()  # a real adapter keeps this in its own store


async def send_sms(address: str, text: str) -> str:
    """Call the provider here; return delivered / temporary_failure / permanent_failure."""
    return "delivered"


async def main() -> None:
    connection = await aio_pika.connect_robust(AMQP_URL)
    channel = await connection.channel(publisher_confirms=True)
    await channel.set_qos(prefetch_count=10)
    receipts = await channel.get_exchange(f"{PREFIX}.gateway", ensure=False)
    work = await channel.get_queue(f"{PREFIX}.gateway.sms.urgent", ensure=False)

    async with work.iterator() as messages:
        async for message in messages:
            batch: dict[str, Any] = json.loads(message.body)
            outcomes = []
            for item in batch["data"]["deliveries"]:
                # The delivery id is the idempotency key: never send the same one twice.
                if item["delivery_id"] in sent:
                    outcome = "delivered"
                else:
                    outcome = await send_sms(item["address"], item["text"])
                    if outcome != "temporary_failure":
                        sent.add(item["delivery_id"])
                outcomes.append(
                    {
                        "delivery_id": item["delivery_id"],
                        "outcome": outcome,
                        "at": datetime.now(UTC).isoformat(),
                    }
                )
            receipt = {
                "specversion": "1.0",
                "id": str(uuid4()),
                "type": "delivery.receipted.v1",
                "source": "example-sms-gateway",
                "time": datetime.now(UTC).isoformat(),
                "correlationid": batch["correlationid"],
                "data": {"gateway": "example-sms", "channel": "sms", "receipts": outcomes},
            }
            await receipts.publish(
                aio_pika.Message(
                    json.dumps(receipt).encode(),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=receipt["id"],
                ),
                routing_key="delivery.receipted.v1",
            )
            # Ack only once the receipts are confirmed: a crash before it redelivers the batch,
            # and the idempotency key keeps the members from a second SMS.
            await message.ack()


if __name__ == "__main__":
    asyncio.run(main())
