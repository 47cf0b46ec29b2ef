"""The Web Push adapter against a real push service (web-push-testing: it checks the VAPID
token, decrypts the payload, expires subscriptions on request), then the connector around
it over the real broker: receipts for dispatch, the expired subscription for the registry."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from aio_pika.abc import AbstractRobustConnection
from pydantic import SecretStr

from services.connectors.adapters.webpush import WebPushConfig, WebPushProvider
from services.connectors.ports import OutgoingMessage, SubmitStatus
from services.connectors.vapid_keys import generate
from shared import topology as topo
from tests.integration.connectors.conftest import RecordingSink
from tests.integration.connectors.harness import running_connector
from tests.peers.webpush import PushService, browser_subscription

pytestmark = pytest.mark.integration
ALERT = "Inbraak gemeld in de Kerkstraat: twee personen in het zwart, richting station."


@pytest.fixture(scope="module")
def push() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture(scope="module")
def vapid() -> tuple[str, str]:
    return generate()


def push_config(private_key: str, **overrides: Any) -> WebPushConfig:
    settings: dict[str, Any] = {
        "name": "webpush",
        "vapid_private_key": SecretStr(private_key),
        "vapid_subject": "mailto:bin@politie.example.be",
        # The test push service is on loopback; production keeps the default push services.
        "allowed_endpoint_hosts": ("127.0.0.1",),
        **overrides,
    }
    return WebPushConfig(**settings)


@asynccontextmanager
async def running(config: WebPushConfig) -> AsyncIterator[WebPushProvider]:
    provider = WebPushProvider(config)
    await provider.start(RecordingSink())
    try:
        yield provider
    finally:
        await provider.stop()


def outgoing(
    subscription: dict[str, Any], priority: str = "urgent", **fields: Any
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=uuid.uuid4(),
        address=browser_subscription(subscription),
        language=fields.pop("language", "nl"),
        text=fields.pop("text", ALERT),
        priority=priority,
        **fields,
    )


async def test_an_urgent_alert_arrives_decrypted_with_high_urgency(
    push: PushService, vapid: tuple[str, str]
) -> None:
    private, public = vapid
    subscription = push.subscribe(public)
    message = outgoing(subscription)
    async with running(push_config(private)) as provider:
        [result] = await provider.send([message])
    assert result.status is SubmitStatus.DELIVERED, result.detail
    assert result.expired_endpoint is None
    [payload] = push.messages(subscription)
    notification = json.loads(payload)
    assert notification == {
        "delivery_id": str(message.delivery_id),
        "priority": "urgent",
        "lang": "nl",
        "title": "BIN-melding",
        "body": ALERT,
    }
    [headers] = push.headers(subscription)
    assert headers == {"urgency": "high", "ttl": str(4 * 3600), "topic": None, "status": 201}


async def test_bulk_goes_with_normal_urgency_a_longer_ttl_and_its_subject(
    push: PushService, vapid: tuple[str, str]
) -> None:
    private, public = vapid
    subscription = push.subscribe(public)
    message = outgoing(subscription, "bulk", subject="Conseil de prévention", language="fr",
                       text="Fermez vos fenêtres « même pour cinq minutes ».")  # fmt: skip
    async with running(push_config(private)) as provider:
        [result] = await provider.send([message])
    assert result.status is SubmitStatus.DELIVERED
    notification = json.loads(push.messages(subscription)[0])
    assert (notification["title"], notification["body"]) == (
        "Conseil de prévention", "Fermez vos fenêtres « même pour cinq minutes »."
    )  # fmt: skip
    assert push.headers(subscription)[0]["urgency"] == "normal"
    assert push.headers(subscription)[0]["ttl"] == str(24 * 3600)


async def test_an_expired_subscription_is_a_permanent_failure_naming_its_endpoint(
    push: PushService, vapid: tuple[str, str]
) -> None:
    private, public = vapid
    live, expired = push.subscribe(public), push.subscribe(public)
    push.expire(expired)
    to_live, to_expired = outgoing(live), outgoing(expired)
    async with running(push_config(private)) as provider:
        results = {r.delivery_id: r for r in await provider.send([to_live, to_expired])}
    assert results[to_live.delivery_id].status is SubmitStatus.DELIVERED
    gone = results[to_expired.delivery_id]
    assert (gone.status, gone.detail) == (
        SubmitStatus.PERMANENT_FAILURE,
        "410 subscription expired",
    )
    assert gone.expired_endpoint == expired["endpoint"]
    # Personal data stays out of what a log line would print.
    assert expired["endpoint"] not in repr(gone)
    assert push.messages(expired) == []


async def test_a_token_signed_with_another_key_is_refused_by_the_push_service(
    push: PushService, vapid: tuple[str, str]
) -> None:
    _, public = vapid
    subscription = push.subscribe(public)
    other_private, _ = generate()
    async with running(push_config(other_private)) as provider:
        [result] = await provider.send([outgoing(subscription)])
    # The subscription is fine, our key is not the one it was made with: no removal.
    assert result.status is SubmitStatus.PERMANENT_FAILURE
    assert result.detail == "400 push service refused"
    assert result.expired_endpoint is None
    assert push.messages(subscription) == []


async def test_an_endpoint_off_the_allowed_push_services_is_never_called(
    push: PushService, vapid: tuple[str, str]
) -> None:
    private, public = vapid
    subscription = push.subscribe(public)
    async with running(push_config(private, allowed_endpoint_hosts=("fcm.googleapis.com",))) as p:
        [result] = await p.send([outgoing(subscription)])
    assert result.status is SubmitStatus.PERMANENT_FAILURE
    assert result.detail == "push endpoint not on the allowed push services"
    assert push.headers(subscription) == []


async def test_an_unreachable_push_service_is_a_temporary_failure(vapid: tuple[str, str]) -> None:
    private, public = vapid
    with PushService() as gone_away:
        subscription = gone_away.subscribe(public)
    async with running(push_config(private)) as provider:
        [result] = await provider.send([outgoing(subscription)])
    assert result.status is SubmitStatus.TEMPORARY_FAILURE
    assert result.detail == "push service unreachable: ClientConnectorError"


async def test_the_connector_answers_dispatch_and_tells_the_registry_what_expired(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str,
    push: PushService, vapid: tuple[str, str],
) -> None:  # fmt: skip
    private, public = vapid
    live, expired = push.subscribe(public), push.subscribe(public)
    push.expire(expired)
    to_live, to_expired = uuid.uuid4(), uuid.uuid4()
    async with running_connector(amqp, amqp_url, database_url, [push_config(private)]) as c:
        # The registry's queue, as the registry declares it at its start (torn down with the
        # rest of the topology: it is in ALL_QUEUES).
        channel = await amqp.channel()
        wanted = (topo.REGISTRY_PUSH_SUBSCRIPTIONS,)
        await topo.declare(channel, c.runtime.topology, wanted)
        queue = await channel.get_queue(c.runtime.topology.queue_name(wanted[0].name))
        await c.send(
            [(to_live, browser_subscription(live), ALERT),
             (to_expired, browser_subscription(expired), ALERT)],
            channel="push",
        )  # fmt: skip
        outcomes = await c.receipts.wait([to_live, to_expired])
        message = await queue.get(timeout=10, fail=True)
        assert message is not None
        await message.ack()
        event = orjson.loads(message.body)
        assert await queue.get(fail=False) is None
        await channel.close()
    assert outcomes == {to_live: "delivered", to_expired: "permanent_failure"}
    assert c.receipts.outcomes[to_expired][-1] == ("permanent_failure", "410 subscription expired")
    assert event["type"] == "push.subscription_expired.v1"
    assert event["data"]["endpoint"] == expired["endpoint"]
    assert message.routing_key == "push.subscription_expired.v1"
    assert len(push.messages(live)) == 1
