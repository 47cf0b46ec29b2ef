"""Web Push from the members' page to the push service: every service its own process, the
connectors sending push to a real push service (web-push-testing, which checks the VAPID
token and decrypts) and SMS to the SMSC simulator (the plan's fallback).

A member's device subscribes (the push service gives the subscription, as it would a
browser), the subscription is posted on the member's preferences page, an urgent alert
from intake's API arrives decrypted with high urgency; a subscription the push service has
expired fails permanently, the alert goes by SMS instead, and the registry forgets it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.connectors.vapid_keys import generate
from shared.safeguards import DEVELOPMENT_LINK_SECRET
from shared.signing import sign_member_token
from tests.e2e.api_client import coordinator_of
from tests.e2e.connectors_system import (
    connectors_system,
    follow,
    issue_alert,
    members,
    register_bin,
    smpp_provider,
    start,
)
from tests.e2e.system import RunningSystem
from tests.e2e.test_connectors_flow import by_channel, sms_texts
from tests.helpers import eventually
from tests.infrastructure import Infrastructure
from tests.peers.smsc import SmscSimulator
from tests.peers.webpush import PushService, browser_subscription

pytestmark = pytest.mark.e2e
ALERT = {
    "nl": "Verdachte wagen in de Abdijstraat. Bel 101 bij waarneming.",
    "fr": "Voiture suspecte rue de l'Abbaye. Appelez le 101.",
}
VAPID_PRIVATE, VAPID_PUBLIC = generate()


@pytest.fixture(scope="module")
def smsc() -> Iterator[SmscSimulator]:
    with SmscSimulator(dlr_delay=0.02) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def push() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture(scope="module")
def system(
    infra: Infrastructure, smsc: SmscSimulator, push: PushService,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningSystem]:  # fmt: skip
    logs = Path(tmp_path_factory.mktemp("push-logs"))
    with connectors_system(infra.database_url, infra.amqp_url, logs) as running:
        # Push is the connectors' here: the simulator answers voice only.
        running.service_env["gateway_simulator"] = {"BIN_GATEWAY_CHANNELS": '["voice"]'}
        running.service_env["registry"] = {"BIN_PUSH_VAPID_PUBLIC_KEY": VAPID_PUBLIC}
        webpush = {
            "name": "webpush",
            "kind": "webpush",
            "vapid_private_key": VAPID_PRIVATE,
            "vapid_subject": "mailto:bin@politie-leuven.be",
            "allowed_endpoint_hosts": ["127.0.0.1"],
        }
        start(running, [smpp_provider(smsc), webpush])
        yield running


async def subscribe_on_the_page(
    client: httpx.AsyncClient, system: RunningSystem, member_id: str, subscription: str
) -> httpx.Response:
    """What the page's script does once the browser gave a subscription: the page's form."""
    registry = system.url("registry")
    token = sign_member_token(DEVELOPMENT_LINK_SECRET, uuid.UUID(member_id), 3600)
    page = await client.get(f"{registry}/preferences/{token}")
    assert page.status_code == 200
    # The page offers it, with the platform's key for the browser to subscribe with.
    assert f'data-key="{VAPID_PUBLIC}"' in page.text
    return await client.post(
        f"{registry}/preferences/{token}",
        data={"action": "push", "subscription": subscription},
        headers={"Origin": registry},
    )


async def exported(
    client: httpx.AsyncClient, system: RunningSystem, bin_id: str, member_id: str
) -> dict[str, Any]:
    answer = await client.get(
        f"{system.url('registry')}/members/{member_id}", headers=coordinator_of(bin_id)
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.timeout(300)
async def test_a_subscribed_member_gets_the_alert_pushed_and_an_expired_one_gets_sms(
    system: RunningSystem, smsc: SmscSimulator, push: PushService
) -> None:
    listed = members(2, block=7, emails=False)
    kept, expiring = push.subscribe(VAPID_PUBLIC), push.subscribe(VAPID_PUBLIC)
    async with httpx.AsyncClient(timeout=30) as client:
        bin_id, ids = await register_bin(client, system, listed, urgent_channels=["push", "sms"])
        for member, subscription in ((listed[0], kept), (listed[1], expiring)):
            posted = await subscribe_on_the_page(
                client, system, ids[member.n], browser_subscription(subscription)
            )
            assert posted.status_code == 303, posted.text
        stored = await exported(client, system, bin_id, ids[listed[1].n])
        assert stored["push_subscription"]["endpoint"] == expiring["endpoint"]
        # Dispatch has both subscriptions as push addresses before the alert goes.
        await eventually(lambda: pushable(system, 2), timeout=60, interval=0.3)

        push.expire(expiring)
        await smsc.areset()
        alert = await issue_alert(client, system, bin_id, ALERT)
        progress = await follow(client, alert, targeted=2, timeout=90)

        # The registry forgot the expired subscription (and only that one).
        async def forgotten() -> bool:
            body = await exported(client, system, bin_id, ids[listed[1].n])
            return body["push_subscription"] is None

        await eventually(forgotten, timeout=30, interval=0.3)
        still = await exported(client, system, bin_id, ids[listed[0].n])
        assert still["push_subscription"]["endpoint"] == kept["endpoint"]
        # ...and dispatch's projection with it, by member.changed.v1.
        await eventually(lambda: pushable(system, 1), timeout=30, interval=0.3)

    assert progress["delivered"] == 2 and progress["failed"] == 0, progress
    assert by_channel(progress) == {
        "push": {"targeted": 2, "delivered": 1, "permanent_failure": 1},
        "sms": {"targeted": 1, "delivered": 1},
    }
    # Member 0 (Dutch) got it decrypted at the push service, with high urgency.
    [payload] = push.messages(kept)
    notification = json.loads(payload)
    assert (notification["body"], notification["lang"], notification["priority"]) == (
        ALERT["nl"], "nl", "urgent"
    )  # fmt: skip
    assert [h["urgency"] for h in push.headers(kept)] == ["high"]
    assert push.messages(expiring) == []
    assert [h["status"] for h in push.headers(expiring)] == [410]
    # Member 1 (French) got it by SMS instead.
    assert await sms_texts(smsc) == {listed[1].smsc_number: [ALERT["fr"]]}
    # No service wrote an endpoint into its log.
    for service in ("registry", "dispatch", "connectors"):
        assert kept["endpoint"] not in system.log(service)
        assert expiring["endpoint"] not in system.log(service)


async def pushable(system: RunningSystem, count: int) -> bool:
    """Dispatch's projection holds ``count`` members with a push address (a wait for the
    registry's events, read in dispatch's schema)."""
    conn = await asyncpg.connect(system.database_url)
    try:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM dispatch.recipient WHERE push_token IS NOT NULL"
        )
    finally:
        await conn.close()
    return found == count
