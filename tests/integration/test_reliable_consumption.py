"""A real broker: malformed messages are dead-lettered with a reason, transient failures are
retried through the delay queues, and the consumer keeps going through all of it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractRobustConnection

from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language, Visibility
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from tests.helpers import drain, eventually
from tests.infrastructure import new_prefix

SPEC = topo.QueueSpec("probe.alerts", ((Visibility.PUBLIC, "alert.issued.v1"),))


@dataclass
class Probe:
    runtime: ServiceRuntime
    handled: list[AlertIssued] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)


@pytest.fixture
async def probe(amqp_url: str, amqp: AbstractRobustConnection) -> AsyncIterator[Probe]:
    settings = ServiceSettings(
        amqp_url=amqp_url, topology_prefix=new_prefix(), retry_delays=(0.2, 0.4)
    )
    runtime = ServiceRuntime("probe", settings, queues=(SPEC,), uses_database=False)
    probe = Probe(runtime)

    @runtime.subscriber(SPEC)
    async def handle(event: AlertIssued) -> None:
        text = event.data.texts[Language.NL]
        if probe.failures_left.get(text, 0) > 0:
            probe.failures_left[text] -= 1
            raise ConnectionError("database away")
        probe.handled.append(event)

    await runtime.start()
    try:
        yield probe
    finally:
        await runtime.stop()
        channel = await amqp.channel()
        await topo.delete(channel, runtime.topology, (SPEC,))


def alert(text: str) -> AlertIssued:
    return AlertIssued.create(
        source="test",
        data=AlertIssuedData(alert_id=uuid.uuid4(), bin_ids=[uuid.uuid4()], texts={"nl": text}),
    )


async def publish(amqp: AbstractRobustConnection, probe: Probe, body: bytes) -> None:
    channel = await amqp.channel()
    exchange = await channel.get_exchange(probe.runtime.topology.exchange_name(Visibility.PUBLIC))
    await exchange.publish(
        aio_pika.Message(body, content_type="application/json", message_id=str(uuid.uuid4())),
        routing_key="alert.issued.v1",
    )


async def dead_letters(amqp: AbstractRobustConnection, probe: Probe) -> list[dict[str, str]]:
    channel = await amqp.channel()
    name = probe.runtime.topology.dead_letter_queue_name(SPEC.name)
    return [
        {
            "reason": str((m.headers or {})[topo.DEAD_LETTER_REASON_HEADER]),
            "queue": str((m.headers or {})[topo.DEAD_LETTER_QUEUE_HEADER]),
            "body": m.body.decode(errors="replace"),
        }
        for m in await drain(channel, name)
    ]


BAD_MESSAGES = {
    "not json": (b"{this is not json", "MalformedMessage"),
    "not utf-8": (b"\xff\xfe\x00garbage", "MalformedMessage"),
    "wrong schema": (b'{"type": "alert.issued.v1", "source": "x"}', "MalformedMessage"),
    "newer version": (
        orjson.dumps(alert("v2").model_dump(mode="json") | {"type": "alert.issued.v2"}),
        "MalformedMessage",
    ),
    "oversized": (b"x" * (8 * 1024 * 1024 + 1), "MessageTooLarge"),
}


async def test_bad_messages_are_dead_lettered_with_a_reason_and_the_consumer_goes_on(
    amqp: AbstractRobustConnection, probe: Probe
) -> None:
    for body, _ in BAD_MESSAGES.values():
        await publish(amqp, probe, body)
    await publish(amqp, probe, alert("after the bad ones").to_json())

    await eventually(lambda: _async(probe.handled))
    assert [e.data.texts[Language.NL] for e in probe.handled] == ["after the bad ones"]

    collected: list[dict[str, str]] = []

    async def all_dead() -> bool:
        collected.extend(await dead_letters(amqp, probe))
        return len(collected) >= len(BAD_MESSAGES)

    await eventually(all_dead)
    assert len(collected) == len(BAD_MESSAGES)
    reasons = sorted(d["reason"].split(":")[0] for d in collected)
    assert reasons == sorted(kind for _, kind in BAD_MESSAGES.values())
    assert all(d["queue"] == probe.runtime.topology.queue_name(SPEC.name) for d in collected)
    wrong_schema = next(d for d in collected if d["body"].startswith('{"type": "alert.issued.v1"'))
    assert "data" in wrong_schema["reason"]  # the reason names the missing field


async def test_transient_failure_is_retried_through_the_delay_queues(
    amqp: AbstractRobustConnection, probe: Probe
) -> None:
    probe.failures_left["flaky"] = 2
    await publish(amqp, probe, alert("flaky").to_json())
    await eventually(lambda: _async(probe.handled), timeout=10)
    assert [e.data.texts[Language.NL] for e in probe.handled] == ["flaky"]
    assert probe.failures_left["flaky"] == 0
    assert await dead_letters(amqp, probe) == []


async def test_retries_exhausted_ends_in_the_dead_letter_queue(
    amqp: AbstractRobustConnection, probe: Probe
) -> None:
    probe.failures_left["broken"] = 100
    await publish(amqp, probe, alert("broken").to_json())
    dead = await eventually(lambda: dead_letters(amqp, probe), timeout=10)
    assert len(dead) == 1
    assert dead[0]["reason"].startswith("retries exhausted after 3 attempts")
    assert probe.failures_left["broken"] == 100 - 3
    assert probe.handled == []


async def _async(value: list[AlertIssued]) -> list[AlertIssued]:
    return value


async def test_shutdown_finishes_the_message_in_flight(
    amqp_url: str, amqp: AbstractRobustConnection
) -> None:
    handled = await _run_slow_handler(amqp_url, amqp, handler_seconds=1.0, graceful_timeout=10)
    assert handled == {"finished": 1, "redelivered": 0}


async def test_shutdown_acks_nothing_unfinished(
    amqp_url: str, amqp: AbstractRobustConnection
) -> None:
    handled = await _run_slow_handler(amqp_url, amqp, handler_seconds=30, graceful_timeout=0.5)
    assert handled == {"finished": 0, "redelivered": 1}


async def _run_slow_handler(
    amqp_url: str,
    amqp: AbstractRobustConnection,
    handler_seconds: float,
    graceful_timeout: float,
) -> dict[str, int]:
    """Stops a runtime while its handler is mid-message, then looks at what the queue holds."""
    settings = ServiceSettings(
        amqp_url=amqp_url, topology_prefix=new_prefix(), graceful_timeout=graceful_timeout
    )
    runtime = ServiceRuntime("probe", settings, queues=(SPEC,), uses_database=False)
    started = asyncio.Event()
    finished = 0

    @runtime.subscriber(SPEC)
    async def slow(event: AlertIssued) -> None:
        nonlocal finished
        started.set()
        await asyncio.sleep(handler_seconds)
        finished += 1

    await runtime.start()
    channel = await amqp.channel()
    try:
        await publish(amqp, Probe(runtime), alert("slow").to_json())
        await asyncio.wait_for(started.wait(), 10)
        await runtime.stop()
        queue = runtime.topology.queue_name(SPEC.name)
        if finished:
            left = await drain(channel, queue)  # acked: nothing may come back
        else:
            left = await eventually(lambda: drain(channel, queue), timeout=5)
        return {"finished": finished, "redelivered": len(left)}
    finally:
        await topo.delete(channel, runtime.topology, (SPEC,))
