"""An operator's alert reaches every member through the gateway: every hop real, every
service its own process, over the real broker and database."""

from __future__ import annotations

import json
import signal
import uuid

import aio_pika
import httpx

from shared import topology as topo
from shared.events import Visibility
from tests.e2e.api_client import (
    OPERATOR,
    coordinator_of,
    issue_alert_and_follow,
    projected,
    register_bin_with_members,
    registry_events_consumed,
    seeded_member,
)
from tests.e2e.system import SERVICES, RunningSystem
from tests.helpers import drain, eventually


async def test_an_alert_reaches_every_member_through_the_gateway(system: RunningSystem) -> None:
    # Everything published on the public exchange during the story, to scan for personal data.
    connection = await aio_pika.connect_robust(system.amqp_url)
    channel = await connection.channel()
    public = await channel.declare_queue(exclusive=True)
    await public.bind(topo.Topology(prefix=system.prefix).exchange_name(Visibility.PUBLIC), "#")
    async with httpx.AsyncClient(timeout=10) as client:
        bin_id, members = await register_bin_with_members(client, system, 30)
        # Wait for dispatch's projection: the registry's events travel through the broker.
        await eventually(lambda: projected(client, system, bin_id, len(members)), timeout=30)

        progress = await issue_alert_and_follow(client, system, bin_id, expected=len(members))
        assert progress["delivered"] == 30 and progress["failed"] == 0
        channels = progress["channels"]
        assert isinstance(channels, dict)
        assert {c: v["targeted"] for c, v in channels.items()} == {
            "sms": 10,
            "voice": 10,
            "email": 10,
        }

        stats = (await client.get(f"{system.url('gateway_simulator')}/stats")).json()
        assert sum(stats["sent"].values()) == 30
        assert stats["duplicates"] == 0

    public_events = b"\n".join(m.body for m in await drain(channel, public.name))
    await connection.close()
    assert b"member.joined.v1" in public_events and b"alert.issued.v1" in public_events
    for member in members:
        for value in (member["email"], member["full_name"], *member["phones"]):  # type: ignore[misc]
            assert str(value).encode() not in public_events
            assert str(value).replace(" ", "")[1:].encode() not in public_events

    # Personal data of the seeded members appears in no log line of any service.
    logs = "\n".join(system.log(s) for s in SERVICES)
    for member in members:
        assert str(member["email"]) not in logs
        assert str(member["full_name"]) not in logs
        for phone in member["phones"]:  # type: ignore[attr-defined]
            assert phone.replace(" ", "")[1:] not in logs.replace(" ", "")


async def test_a_malformed_message_on_every_queue_is_dead_lettered_and_the_system_goes_on(
    system: RunningSystem,
) -> None:
    topology = topo.Topology(prefix=system.prefix)
    connection = await aio_pika.connect_robust(system.amqp_url)
    try:
        channel = await connection.channel()
        for spec in topo.ALL_QUEUES:
            await channel.default_exchange.publish(
                aio_pika.Message(b'{"type": "nonsense", "data": ', content_type="application/json"),
                routing_key=topology.queue_name(spec.name),
            )
        reasons: dict[str, str] = {}

        async def every_queue_dead_lettered() -> bool:
            for spec in topo.ALL_QUEUES:
                for message in await drain(channel, topology.dead_letter_queue_name(spec.name)):
                    reasons[spec.name] = str(
                        (message.headers or {})[topo.DEAD_LETTER_REASON_HEADER]
                    )
            return len(reasons) == len(topo.ALL_QUEUES)

        await eventually(every_queue_dead_lettered, timeout=30)
        assert all(reason.startswith("MalformedMessage") for reason in reasons.values()), reasons
    finally:
        await connection.close()

    for service in SERVICES:
        system.wait_ready(service, timeout=5)
    async with httpx.AsyncClient(timeout=10) as client:
        bin_id, members = await register_bin_with_members(client, system, 3)
        await eventually(
            lambda: projected(client, system, bin_id, 30 + 1 + len(members)), timeout=30
        )
        progress = await issue_alert_and_follow(client, system, bin_id, expected=len(members))
        assert progress["delivered"] == len(members)


async def test_an_erased_member_is_exported_then_forgotten_by_dispatch(
    system: RunningSystem,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        bin_id, _ = await register_bin_with_members(client, system, 0)
        registry = system.url("registry")
        coordinator = coordinator_of(bin_id)
        created = [
            (
                await client.post(
                    f"{registry}/bins/{bin_id}/members", json=seeded_member(n), headers=coordinator
                )
            ).json()
            for n in (1, 2)
        ]
        member_url = f"{registry}/members/{created[0]['member_id']}"
        export = (await client.get(member_url, headers=coordinator)).json()
        assert export["email"] == seeded_member(1)["email"]

        consumed_before = await registry_events_consumed(client, system)
        erased = await client.delete(member_url, headers=coordinator)
        assert erased.status_code == 204
        assert (await client.get(member_url, headers=coordinator)).status_code == 404

        # member.left.v1 and member.erased.v1 reach dispatch through the broker.
        async def erasure_applied() -> bool:
            return await registry_events_consumed(client, system) >= consumed_before + 2

        await eventually(erasure_applied, timeout=30)
        progress = await issue_alert_and_follow(client, system, bin_id, expected=1)
        assert progress["delivered"] == 1


def test_bad_requests_get_a_reason(system: RunningSystem) -> None:
    response = httpx.post(
        f"{system.url('intake')}/alerts", json={"bin_ids": [], "texts": {}}, headers=OPERATOR
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert ("body", "bin_ids") in fields and ("body", "texts") in fields
    progress_url = f"{system.url('dispatch')}/alerts/{uuid.uuid4()}/progress"
    missing = httpx.get(progress_url, headers=OPERATOR)
    assert missing.status_code == 404 and "not known" in missing.json()["detail"]
    assert httpx.get(progress_url).status_code == 401


def test_every_service_shuts_down_cleanly_on_sigterm(system: RunningSystem) -> None:
    codes = system.stop()
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught, so the
    # exit status says "ended by SIGTERM" (as process supervisors expect), not a crash.
    assert codes == {service: -signal.SIGTERM for service in SERVICES}
    for service in SERVICES:
        lines = [
            json.loads(line) for line in system.log(service).splitlines() if line.startswith("{")
        ]
        assert any(line.get("event") == "service stopped" for line in lines), service
