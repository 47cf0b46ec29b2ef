"""Faults injected while dispatch fans an urgent alert out to 20,000 members, the services
running as processes on the real broker and database:

* the broker connection cut and restored through a TCP fault proxy (with latency), twice;
* RabbitMQ restarted (its application stopped and started: every connection dropped);
* PostgreSQL restarted.

Afterwards every member has exactly one delivery, delivered; the gateway saw every delivery
id (copies re-sent after a fault are dropped by id, and counted); dispatch is ready again
without anyone restarting it. The counts are printed (``make test-faults`` shows them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.replicas import Replicas, seed
from tests.faults.proxy import FaultProxy
from tests.faults.total_queue import delivery_counts
from tests.helpers import eventually

MEMBERS = 20_000
POSTGRES_VERSION = "15"


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[FaultProxy]:
    broker = urlsplit(amqp_url)
    running = FaultProxy(broker.hostname or "127.0.0.1", broker.port or 5672, latency=0.002)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, error = await process.communicate()
    assert process.returncode == 0, f"{' '.join(command)}: {error.decode()}"


async def restart_rabbitmq() -> None:
    await run("rabbitmqctl", "stop_app")
    await run("rabbitmqctl", "start_app")


async def restart_postgres() -> None:
    await run("pg_ctlcluster", "--skip-systemctl-redirect", POSTGRES_VERSION, "main", "restart")


@pytest.mark.parametrize("fault", ["connection_cut", "rabbitmq_restart", "postgres_restart"])
async def test_a_fanout_survives_the_fault_exactly_once(
    replicas: Replicas, proxy: FaultProxy, database_url: str, amqp_url: str, fault: str
) -> None:
    broker = urlsplit(amqp_url)
    credentials = broker.netloc.rsplit("@", 1)[0]
    through_proxy = broker._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}").geturl()

    async def cut_connections() -> None:
        proxy.cut()

    injections: dict[str, Callable[[], Awaitable[None]]] = {
        "connection_cut": cut_connections,
        "rabbitmq_restart": restart_rabbitmq,
        "postgres_restart": restart_postgres,
    }
    slow = {"BIN_BATCH_SIZE": "100", "BIN_BATCHES_IN_FLIGHT": "2"}
    replicas.start("gateway", "services.gateway_simulator", BIN_GATEWAY_LATENCY_MS="0")
    dispatch_amqp = through_proxy if fault == "connection_cut" else amqp_url
    replicas.start("dispatch", "services.dispatch", BIN_AMQP_URL=dispatch_amqp, **slow)
    await replicas.ready("gateway")
    await replicas.ready("dispatch")
    bins = await seed(database_url, MEMBERS)

    alert_id = await replicas.issue_alert(bins)

    faults_at = []
    for threshold in (2_000, 8_000) if fault == "connection_cut" else (3_000,):

        async def past(threshold: int = threshold) -> int:
            counts = await delivery_counts(database_url, alert_id)
            handed = sum(n for status, n in counts.items() if status not in ("queued", "members"))
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

    async def ready_again() -> dict[str, object] | None:
        async with httpx.AsyncClient() as client:
            try:
                stats = await client.get(f"http://127.0.0.1:{replicas.ports['gateway']}/stats")
                ready = await client.get(f"http://127.0.0.1:{replicas.ports['dispatch']}/readyz")
            except httpx.HTTPError:
                return None
        return stats.json() if ready.status_code == 200 else None

    stats = await eventually(ready_again, timeout=60, interval=0.5)
    assert stats["unique"] == MEMBERS
    print(
        f"\n{fault} at {faults_at} of {MEMBERS} handed: {counts['members']} members, each "
        f"with one delivery, all delivered; the gateway saw {stats['unique']} delivery ids and "
        f"dropped {stats['duplicates']} re-sent copies; dispatch ready again on its own"
    )
