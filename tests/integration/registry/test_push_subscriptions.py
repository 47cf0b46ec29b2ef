"""Members' Web Push subscriptions in the registry: posted on the member's preferences page,
carried to dispatch on member.changed.v1 as the push address, forgotten when a push service
says they are gone (push.subscription_expired.v1 from the connectors), removed by the member
and by erasure."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractRobustConnection

from shared.events import MemberChanged, Visibility
from shared.events.push import PushSubscriptionExpired, PushSubscriptionExpiredData
from shared.safeguards import DEVELOPMENT_LINK_SECRET
from shared.signing import sign_member_token
from tests.helpers import drain, eventually
from tests.integration.registry.conftest import ADMIN, Registry, coordinator, member_body


def subscription(endpoint: str | None = None) -> dict[str, Any]:
    """What a browser's ``JSON.stringify(pushSubscription)`` gives."""
    p256dh = base64.urlsafe_b64encode(b"\x04" + os.urandom(64)).decode().rstrip("=")
    auth = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    return {
        "endpoint": endpoint or f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}",
        "expirationTime": None,
        "keys": {"p256dh": p256dh, "auth": auth},
    }


async def post_on_page(registry: Registry, member_id: str, **form: str) -> Any:
    token = sign_member_token(DEVELOPMENT_LINK_SECRET, uuid.UUID(member_id), 3600)
    return await registry.client.post(f"/preferences/{token}", data=form)


async def new_member(registry: Registry, n: int) -> tuple[str, str]:
    bin_id = await registry.new_bin()
    created = await registry.client.post(
        f"/bins/{bin_id}/members", json=member_body(n), headers=coordinator(bin_id)
    )
    assert created.status_code == 201, created.text
    return bin_id, created.json()["member_id"]


async def stored(registry: Registry, member_id: str) -> Any:
    answer = await registry.client.get(f"/members/{member_id}", headers=ADMIN)
    return answer.json()["push_subscription"] if answer.status_code == 200 else "gone"


async def test_a_subscription_posted_on_the_page_reaches_dispatch_and_an_expired_one_is_forgotten(
    registry: Registry, amqp: AbstractRobustConnection
) -> None:
    channel = await amqp.channel()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(
        registry.runtime.topology.exchange_name(Visibility.PRIVATE), "member.changed.v1"
    )
    _, member_id = await new_member(registry, 31)
    device = subscription()
    posted = await post_on_page(registry, member_id, action="push", subscription=json.dumps(device))
    assert posted.status_code == 303, posted.text
    assert await stored(registry, member_id) == {k: device[k] for k in ("endpoint", "keys")}

    async def changes() -> list[MemberChanged]:
        return [
            event
            for event in (
                MemberChanged.model_validate_json(m.body) for m in await drain(channel, probe.name)
            )
            if str(event.data.member_id) == member_id
        ]

    [changed] = await eventually(changes)
    token = changed.data.contact.push_token
    assert token is not None
    assert json.loads(token) == {"endpoint": device["endpoint"], "keys": device["keys"]}

    # Another endpoint expired: this member keeps theirs.
    await publish_expired(registry, "https://fcm.googleapis.com/fcm/send/someone-else")
    expired = await publish_expired(registry, device["endpoint"])
    await eventually(lambda: forgotten(registry, member_id), timeout=15)
    [changed] = await eventually(changes)
    assert changed.data.contact.push_token is None

    # The member subscribes the same device again; a redelivered copy of the old event
    # (same id) is recognised and leaves the new subscription alone.
    await post_on_page(registry, member_id, action="push", subscription=json.dumps(device))
    _, other_id = await new_member(registry, 34)
    other = subscription()
    await post_on_page(registry, other_id, action="push", subscription=json.dumps(other))
    await registry.runtime.publisher.publish(expired)
    await publish_expired(registry, other["endpoint"])
    # The queue is in order: once the later event is applied, the copy was seen before it.
    await eventually(lambda: forgotten(registry, other_id), timeout=15)
    assert (await stored(registry, member_id))["endpoint"] == device["endpoint"]
    await channel.close()


async def forgotten(registry: Registry, member_id: str) -> bool:
    return await stored(registry, member_id) is None


async def publish_expired(registry: Registry, endpoint: str) -> PushSubscriptionExpired:
    """What the connectors publish when a push service answers 410."""
    event = PushSubscriptionExpired.create(
        source="connectors",
        data=PushSubscriptionExpiredData(endpoint=endpoint, at=datetime.now(UTC)),
    )
    await registry.runtime.publisher.publish(event)
    return event


async def test_the_member_turns_it_off_and_a_broken_one_is_refused(registry: Registry) -> None:
    _, member_id = await new_member(registry, 32)
    broken = json.dumps({"endpoint": "https://x.example/1"})  # no keys
    refused = await post_on_page(registry, member_id, action="push", subscription=broken)
    assert refused.status_code == 422
    assert "kon niet aangemeld worden" in refused.text
    assert await stored(registry, member_id) is None

    device = subscription()
    await post_on_page(registry, member_id, action="push", subscription=json.dumps(device))
    assert (await stored(registry, member_id))["endpoint"] == device["endpoint"]
    off = await post_on_page(registry, member_id, action="push_off")
    assert off.status_code == 303
    assert await stored(registry, member_id) is None


async def test_erasure_deletes_the_subscription_with_the_member(registry: Registry) -> None:
    bin_id, member_id = await new_member(registry, 33)
    device = subscription()
    await post_on_page(registry, member_id, action="push", subscription=json.dumps(device))
    assert (await stored(registry, member_id))["endpoint"] == device["endpoint"]
    erased = await registry.client.delete(f"/members/{member_id}", headers=coordinator(bin_id))
    assert erased.status_code == 204
    async with registry.runtime.pool.acquire() as conn:
        left = await conn.fetchval(
            "SELECT count(*) FROM member WHERE push_subscription ->> 'endpoint' = $1",
            device["endpoint"],
        )
    assert left == 0
