"""Fast decoders for the two gateway messages that carry a thousand items each.

``delivery.receipted.v1`` (dispatch consumes it) and ``delivery.requested.v1`` (gateways
consume it) are validated here by msgspec against mirrors of their pydantic schemas: same
fields, same limits, unknown fields refused, so a malformed message is still dead-lettered
with its reason (msgspec's errors are ``ValueError``s, which the reliable-consumption
middleware treats as malformed). Measured on 1,000 receipts: 0.44 ms against pydantic's
2.3 ms, a fifth of dispatch's CPU during a 100,000-recipient fan-out.

What the decoders return is the pydantic envelope (the handlers' signatures, hence the
AsyncAPI contract, are unchanged) built without a second validation, its items the msgspec
structs: read-only objects with the same attribute names and types as
``DeliveryReceipt`` / ``DeliveryWork``. Such an envelope is for reading, not for dumping.
The mirrors are kept honest by ``tests/unit/test_gateway_codec.py``, which feeds both
decoders the same valid and malformed messages.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import Meta

from shared.events.common import Channel, DeliveryOutcome, Language, Priority
from shared.events.dispatch import (
    DeliveryReceipt,
    DeliveryReceipted,
    DeliveryReceiptedData,
    DeliveryRequested,
    DeliveryRequestedData,
    DeliveryWork,
    MemberReply,
)
from shared.events.envelope import utc_now

_Short = Annotated[str, Meta(min_length=1, max_length=200)]
_Source = Annotated[str, Meta(min_length=1, max_length=100)]
_CorrelationId = Annotated[str, Meta(max_length=100)]


class Receipt(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Mirror of ``DeliveryReceipt``."""

    delivery_id: uuid.UUID
    outcome: DeliveryOutcome
    at: datetime
    detail: Annotated[str, Meta(max_length=500)] | None = None
    confirmed: bool | None = None


class _Reply(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    delivery_id: uuid.UUID
    text: Annotated[str, Meta(min_length=1, max_length=1600)]
    received_at: datetime


class _ReceiptedData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gateway: _Short
    channel: Channel
    receipts: Annotated[list[Receipt], Meta(max_length=5000)] = []
    replies: Annotated[list[_Reply], Meta(max_length=5000)] = []


class Work(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Mirror of ``DeliveryWork``."""

    delivery_id: uuid.UUID
    address: Annotated[str, Meta(min_length=1, max_length=4096)]
    language: Language
    text: Annotated[str, Meta(min_length=1, max_length=200_000)]
    subject: Annotated[str, Meta(max_length=200)] | None = None
    html: Annotated[str, Meta(max_length=500_000)] | None = None
    unsubscribe_url: Annotated[str, Meta(max_length=2000)] | None = None


class _RequestedData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    batch_id: uuid.UUID
    channel: Channel
    priority: Priority
    source_id: uuid.UUID
    deliveries: Annotated[list[Work], Meta(min_length=1, max_length=5000)]


class _Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Defaults as ``Envelope``'s: only source and data are required.
    specversion: str = "1.0"
    id: uuid.UUID = msgspec.field(default_factory=uuid.uuid4)
    source: _Source
    time: datetime = msgspec.field(default_factory=utc_now)
    datacontenttype: str = "application/json"
    correlationid: _CorrelationId = msgspec.field(default_factory=lambda: str(uuid.uuid4()))


class _Receipted(_Envelope, frozen=True, forbid_unknown_fields=True, kw_only=True):
    type: Literal["delivery.receipted.v1"] = "delivery.receipted.v1"
    data: _ReceiptedData


class _Requested(_Envelope, frozen=True, forbid_unknown_fields=True, kw_only=True):
    type: Literal["delivery.requested.v1"] = "delivery.requested.v1"
    data: _RequestedData


# strict=False: numbers for datetimes, as pydantic's lax mode takes them.
_receipted = msgspec.json.Decoder(_Receipted, strict=False)
_requested = msgspec.json.Decoder(_Requested, strict=False)


def _envelope_fields(event: _Envelope) -> dict[str, Any]:
    return {
        "specversion": event.specversion,
        "id": event.id,
        "source": event.source,
        "time": event.time,
        "datacontenttype": event.datacontenttype,
        "correlationid": event.correlationid,
    }


def decode_receipted(body: bytes) -> DeliveryReceipted:
    event = _receipted.decode(body)
    data = event.data
    return DeliveryReceipted.model_construct(
        **_envelope_fields(event),
        type=event.type,
        data=DeliveryReceiptedData.model_construct(
            gateway=data.gateway,
            channel=data.channel,
            # Same attributes, read-only: see the module's docstring.
            receipts=cast(list[DeliveryReceipt], data.receipts),
            # Replies are few and travel on to intake: real models.
            replies=[MemberReply.model_validate(msgspec.structs.asdict(r)) for r in data.replies],
        ),
    )


def decode_requested(body: bytes) -> DeliveryRequested:
    event = _requested.decode(body)
    data = event.data
    return DeliveryRequested.model_construct(
        **_envelope_fields(event),
        type=event.type,
        data=DeliveryRequestedData.model_construct(
            batch_id=data.batch_id,
            channel=data.channel,
            priority=data.priority,
            source_id=data.source_id,
            deliveries=cast(list[DeliveryWork], data.deliveries),
        ),
    )
