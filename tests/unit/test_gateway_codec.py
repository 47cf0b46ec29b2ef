"""The fast gateway decoders accept and refuse what the pydantic models do."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import pydantic
import pytest
from pydantic import TypeAdapter

from services.dispatch import repository
from shared.events import (
    Channel,
    DeliveryOutcome,
    DeliveryReceipt,
    DeliveryReceipted,
    DeliveryReceiptedData,
    DeliveryRequested,
    DeliveryRequestedData,
    Language,
    Priority,
)
from shared.events.dispatch import DeliveryWork, MemberReply
from shared.events.gateway_codec import decode_receipted, decode_requested
from shared.messaging.retry import DeadLetter, decide

NOW = datetime(2026, 11, 23, 4, 10, tzinfo=UTC)


def receipted() -> dict[str, Any]:
    event = DeliveryReceipted.create(
        source="gateway",
        data=DeliveryReceiptedData(
            gateway="simulated-sms",
            channel=Channel.SMS,
            receipts=[
                DeliveryReceipt(delivery_id=uuid.uuid4(), outcome=outcome, at=NOW, detail=detail)
                for outcome, detail in (
                    (DeliveryOutcome.DELIVERED, None),
                    (DeliveryOutcome.TEMPORARY_FAILURE, "busy"),
                )
            ],
            replies=[MemberReply(delivery_id=uuid.uuid4(), text="gezien", received_at=NOW)],
        ),
    )
    message: dict[str, Any] = orjson.loads(event.to_json())
    return message


def requested() -> dict[str, Any]:
    event = DeliveryRequested.create(
        source="dispatch",
        data=DeliveryRequestedData(
            batch_id=uuid.uuid4(),
            channel=Channel.EMAIL,
            priority=Priority.URGENT,
            source_id=uuid.uuid4(),
            deliveries=[
                DeliveryWork(
                    delivery_id=uuid.uuid4(),
                    address="lid@voorbeeld.be",
                    language=Language.NL,
                    text="Verdachte wagen",
                    subject="BIN",
                )
            ],
        ),
    )
    message: dict[str, Any] = orjson.loads(event.to_json())
    return message


def test_a_receipted_message_decodes_to_the_same_values() -> None:
    body = orjson.dumps(receipted())
    fast = decode_receipted(body)
    slow = TypeAdapter(DeliveryReceipted).validate_json(body)
    assert (fast.id, fast.source, fast.time, fast.correlationid) == (
        slow.id,
        slow.source,
        slow.time,
        slow.correlationid,
    )
    assert (fast.data.gateway, fast.data.channel) == (slow.data.gateway, slow.data.channel)
    assert [(r.delivery_id, r.outcome, r.at, r.detail) for r in fast.data.receipts] == [
        (r.delivery_id, r.outcome, r.at, r.detail) for r in slow.data.receipts
    ]
    assert fast.data.replies == slow.data.replies


def test_a_requested_message_decodes_to_the_same_values() -> None:
    body = orjson.dumps(requested())
    fast = decode_requested(body)
    slow = TypeAdapter(DeliveryRequested).validate_json(body)
    assert (fast.data.batch_id, fast.data.channel, fast.data.priority, fast.data.source_id) == (
        slow.data.batch_id,
        slow.data.channel,
        slow.data.priority,
        slow.data.source_id,
    )
    assert [
        (w.delivery_id, w.address, w.language, w.text, w.subject, w.html)
        for w in fast.data.deliveries
    ] == [
        (w.delivery_id, w.address, w.language, w.text, w.subject, w.html)
        for w in slow.data.deliveries
    ]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(message: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = message
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return change


_DELETE = object()

MALFORMED_RECEIPTS = {
    "bad delivery id": _set("data.receipts.0.delivery_id", "not-a-uuid"),
    "unknown outcome": _set("data.receipts.0.outcome", "lost"),
    "unknown field in a receipt": _set("data.receipts.0.cost", 1),
    "unknown field in data": _set("data.extra", 1),
    "unknown field in the envelope": _set("extra", 1),
    "detail too long": _set("data.receipts.0.detail", "x" * 501),
    "gateway empty": _set("data.gateway", ""),
    "unknown channel": _set("data.channel", "pigeon"),
    "no data": _set("data", _DELETE),
    "no source": _set("source", _DELETE),
    "other type": _set("type", "delivery.requested.v1"),
    "bad time": _set("time", "yesterday"),
    "reply text empty": _set("data.replies.0.text", ""),
    "too many receipts": lambda m: m["data"].update(receipts=m["data"]["receipts"] * 2501),
}
MALFORMED_WORK = {
    "no deliveries": _set("data.deliveries", []),
    "bad source id": _set("data.source_id", "x"),
    "empty address": _set("data.deliveries.0.address", ""),
    "unknown language": _set("data.deliveries.0.language", "xx"),
    "unknown priority": _set("data.priority", "whenever"),
    "subject too long": _set("data.deliveries.0.subject", "x" * 201),
    "unknown field in work": _set("data.deliveries.0.cost", 1),
}


@pytest.mark.parametrize("change", MALFORMED_RECEIPTS.values(), ids=MALFORMED_RECEIPTS.keys())
def test_malformed_receipts_are_refused_by_both_and_dead_lettered(
    change: Callable[[dict[str, Any]], None],
) -> None:
    message = receipted()
    change(message)
    body = orjson.dumps(message)
    with pytest.raises(pydantic.ValidationError):
        TypeAdapter(DeliveryReceipted).validate_json(body)
    # A ValueError, which the middleware takes for malformed.
    with pytest.raises(msgspec.ValidationError) as refused:
        decode_receipted(body)
    assert isinstance(decide(refused.value, 1, 3), DeadLetter)


@pytest.mark.parametrize("change", MALFORMED_WORK.values(), ids=MALFORMED_WORK.keys())
def test_malformed_work_is_refused_by_both(change: Callable[[dict[str, Any]], None]) -> None:
    message = requested()
    change(message)
    body = orjson.dumps(message)
    with pytest.raises(pydantic.ValidationError):
        TypeAdapter(DeliveryRequested).validate_json(body)
    with pytest.raises(msgspec.ValidationError):
        decode_requested(body)


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[]", b"null"])
def test_bodies_that_are_no_json_object_are_refused(body: bytes) -> None:
    with pytest.raises(msgspec.DecodeError) as refused:
        decode_receipted(body)
    assert isinstance(decide(refused.value, 1, 3), DeadLetter)


def test_receipts_reach_postgresql_as_the_same_json_from_msgspec_or_pydantic() -> None:
    """Receipts decoded by msgspec and receipts built as models become the same parameter."""
    receipts = [
        {"delivery_id": str(uuid.uuid4()), "outcome": "delivered", "at": "2026-11-23T10:00:00Z"},
        {
            "delivery_id": str(uuid.uuid4()),
            "outcome": "temporary_failure",
            "at": "2026-11-23T10:00:01+01:00",
            "detail": "busy",
        },
    ]
    body = orjson.dumps(
        {
            "source": "gateway",
            "type": "delivery.receipted.v1",
            "data": {"gateway": "g", "channel": "sms", "receipts": receipts},
        }
    )
    decoded = decode_receipted(body).data.receipts
    models = [DeliveryReceipt.model_validate(r) for r in receipts]
    as_json = orjson.loads(repository.receipts_json(decoded))
    assert as_json == orjson.loads(repository.receipts_json(models))
    assert [r["delivery_id"] for r in as_json] == [r["delivery_id"] for r in receipts]
    assert [r["outcome"] for r in as_json] == ["delivered", "temporary_failure"]
    assert as_json[1]["detail"] == "busy"
