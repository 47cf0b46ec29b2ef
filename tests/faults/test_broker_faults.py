"""Faults injected while dispatch fans an urgent alert out to 20,000 members, the services
running as processes on a RabbitMQ node and a PostgreSQL of the test's own (tests/peers:
the machine's broker and database, shared with everyone, are never restarted), on quorum
queues as in production:

* the broker connection cut and restored through a TCP fault proxy (with latency), twice;
* RabbitMQ restarted (its application stopped and started: every connection dropped);
* PostgreSQL restarted.

Afterwards the total-queue checker (tests/faults/total_queue.py) compares, id by id, what
dispatch recorded as handed over with what the gateway received: nothing lost, nothing
unexpected, copies within the in-flight window of each fault struck; every member has
exactly one delivery, delivered; dispatch is ready again without anyone restarting it. The
figures are asserted (docs/guarantees.md quotes them) and printed (``make test-faults``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.replicas import Replicas, seed
from tests.faults.proxy import FaultProxy
from tests.faults.total_queue import check, delivery_counts, handed_over
from tests.helpers import eventually
from tests.peers.postgres_standby import PostgresPair
from tests.peers.rabbitmq_cluster import RabbitCluster

MEMBERS = 20_000
BATCH_SIZE = 100
BATCHES_IN_FLIGHT = 2
GATEWAY_PREFETCH = 10
# What one fault can have offered to the gateway twice: the batches dispatch had published
# and not seen confirmed (published again), and those the gateway had taken and not acked
# (redelivered), BATCH_SIZE deliveries each. A PostgreSQL restart adds no more: a batch whose
# hand-over dispatch could not record is one of its unconfirmed ones, published again.
IN_FLIGHT_WINDOW = (BATCHES_IN_FLIGHT + GATEWAY_PREFETCH) * BATCH_SIZE


@pytest.fixture
async def proxy(own_rabbit: RabbitCluster) -> AsyncIterator[FaultProxy]:
    node = own_rabbit.nodes[0]
    running = FaultProxy(node.host, node.port, latency=0.002)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.mark.parametrize("fault", ["connection_cut", "rabbitmq_restart", "postgres_restart"])
async def test_a_fanout_survives_the_fault_exactly_once(
    own_replicas: Replicas,
    own_rabbit: RabbitCluster,
    own_postgres: PostgresPair,
    proxy: FaultProxy,
    fault: str,
) -> None:
    replicas = own_replicas
    database_url = replicas.database_url
    broker = urlsplit(replicas.amqp_url)
    credentials = broker.netloc.rsplit("@", 1)[0]
    through_proxy = broker._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}").geturl()
    node = own_rabbit.nodes[0]

    async def cut_connections() -> None:
        proxy.cut()

    async def restart_rabbitmq() -> None:
        await asyncio.to_thread(own_rabbit.ctl, node, "stop_app")
        await asyncio.to_thread(own_rabbit.ctl, node, "start_app")

    async def restart_postgres() -> None:
        await asyncio.to_thread(own_postgres.restart_primary)

    injections: dict[str, Callable[[], Awaitable[None]]] = {
        "connection_cut": cut_connections,
        "rabbitmq_restart": restart_rabbitmq,
        "postgres_restart": restart_postgres,
    }
    replicas.start(
        "gateway",
        "services.gateway_simulator",
        BIN_GATEWAY_LATENCY_MS="0",
        BIN_PREFETCH=str(GATEWAY_PREFETCH),
    )
    dispatch_amqp = through_proxy if fault == "connection_cut" else replicas.amqp_url
    replicas.start(
        "dispatch",
        "services.dispatch",
        BIN_AMQP_URL=dispatch_amqp,
        BIN_BATCH_SIZE=str(BATCH_SIZE),
        BIN_BATCHES_IN_FLIGHT=str(BATCHES_IN_FLIGHT),
    )
    await replicas.ready("gateway")
    await replicas.ready("dispatch")
    bins = await seed(database_url, MEMBERS)

    alert_id = await replicas.issue_alert(bins)

    faults_at = []
    for threshold in (2_000, 8_000) if fault == "connection_cut" else (3_000,):

        async def past(threshold: int = threshold) -> int:
            handed = handed_over(await delivery_counts(database_url, alert_id))
            return handed if handed >= threshold else 0

        faults_at.append(await eventually(past, timeout=60, interval=0.02))
        await injections[fault]()
        await asyncio.sleep(1)
    assert faults_at[-1] < MEMBERS, "the fan-out finished before the fault"

    async def all_delivered() -> dict[str, int] | None:
        counts = await delivery_counts(database_url, alert_id)
        done = counts.get("delivered") == MEMBERS and len(counts) == 2
        return counts if done else None

    counts = await eventually(all_delivered, timeout=240, interval=1)
    assert counts == {"delivered": MEMBERS, "members": MEMBERS}

    async def ready_again() -> bool:
        async with httpx.AsyncClient() as client:
            try:
                ready = await client.get(f"http://127.0.0.1:{replicas.ports['dispatch']}/readyz")
            except httpx.HTTPError:
                return False
        return ready.status_code == 200

    await eventually(ready_again, timeout=60, interval=0.5)
    # Quorum queues, as in production, every one of the run's.
    types = await asyncio.to_thread(own_rabbit.queue_types, f"{replicas.prefix}.")
    assert types and set(types.values()) == {"quorum"}, types
    checked = await check(database_url, f"http://127.0.0.1:{replicas.ports['gateway']}", alert_id)
    print(
        f"\n{fault} at {faults_at} of {MEMBERS} handed over: {counts['members']} members, each "
        f"with one delivery, all delivered; {checked}; dispatch ready again on its own"
    )
    assert checked.handed == checked.received == MEMBERS
    assert checked.lost == frozenset(), f"{len(checked.lost)} handed over, never received"
    assert checked.unexpected == frozenset(), f"{len(checked.unexpected)} never handed over"
    assert checked.duplicates <= IN_FLIGHT_WINDOW * len(faults_at)
