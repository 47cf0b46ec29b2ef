"""Receipts and replies as ``delivery.receipted.v1`` events, put in the connectors' outbox
inside the transaction that recorded them: published once committed, never lost."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from services.connectors.ledger import Receipt, Submitted
from shared.database import Connection
from shared.events import (
    Channel,
    DeliveryOutcome,
    DeliveryReceipt,
    DeliveryReceipted,
    DeliveryReceiptedData,
)
from shared.events.dispatch import MemberReply
from shared.events.push import PushSubscriptionExpired, PushSubscriptionExpiredData
from shared.runtime import ServiceRuntime

SOURCE = "connectors"
GATEWAY = "bin-connectors"
PER_EVENT = 1000  # the contract's batches: at most 5,000 a message


def receipt_events(
    receipts: Sequence[Receipt], correlation_id: str | None = None
) -> list[DeliveryReceipted]:
    now = datetime.now(UTC)
    by_channel: dict[str, list[DeliveryReceipt]] = defaultdict(list)
    for receipt in receipts:
        by_channel[receipt.channel].append(
            DeliveryReceipt(
                delivery_id=receipt.delivery_id,
                outcome=DeliveryOutcome(receipt.outcome),
                at=now,
                detail=(receipt.detail or None) and receipt.detail[:500],
                confirmed=receipt.confirmed,
            )
        )
    return [
        DeliveryReceipted.create(
            source=SOURCE,
            correlation_id=correlation_id,
            data=DeliveryReceiptedData(
                gateway=GATEWAY, channel=Channel(channel), receipts=items[i : i + PER_EVENT]
            ),
        )
        for channel, items in by_channel.items()
        for i in range(0, len(items), PER_EVENT)
    ]


def reply_event(
    channel: str, replies: Sequence[tuple[uuid.UUID, str, datetime]]
) -> DeliveryReceipted:
    return DeliveryReceipted.create(
        source=SOURCE,
        data=DeliveryReceiptedData(
            gateway=GATEWAY,
            channel=Channel(channel),
            replies=[
                MemberReply(delivery_id=d, text=text, received_at=at) for d, text, at in replies
            ],
        ),
    )


def expiry_events(
    answers: Sequence[Submitted], correlation_id: str | None = None
) -> list[PushSubscriptionExpired]:
    """For the registry: the push subscriptions the push service said are gone."""
    now = datetime.now(UTC)
    return [
        PushSubscriptionExpired.create(
            source=SOURCE,
            correlation_id=correlation_id,
            data=PushSubscriptionExpiredData(endpoint=answer.result.expired_endpoint, at=now),
        )
        for answer in answers
        if answer.result.expired_endpoint is not None
    ]


async def enqueue_receipts(
    runtime: ServiceRuntime,
    conn: Connection,
    receipts: Sequence[Receipt],
    correlation_id: str | None = None,
) -> None:
    if receipts:
        await runtime.enqueue(conn, receipt_events(receipts, correlation_id))
