"""Dispatch replicas as real processes: a replica killed mid-fan-out loses nothing, and the
gateway is offered each delivery once, or drops the copy by its delivery id."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language
from shared.messaging.publisher import Publisher
from tests.e2e.system import ROOT, free_port
from tests.helpers import eventually
from tests.infrastructure import new_prefix

MEMBERS = 30_000


class Replicas:
    def __init__(self, amqp_url: str, database_url: str, logs: Path) -> None:
        self.amqp_url = amqp_url
        self.database_url = database_url
        self.logs = logs
        self.prefix = new_prefix()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def env(self, name: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "BIN_AMQP_URL": self.amqp_url,
            "BIN_DATABASE_URL": self.database_url,
            "BIN_TOPOLOGY_PREFIX": self.prefix,
            "BIN_HTTP_PORT": str(self.ports[name]),
            "BIN_LOG_FORMAT": "json",
            **extra,
        }

    def start(self, name: str, module: str, **extra: str) -> None:
        self.ports[name] = free_port()
        log = (self.logs / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", module],
            env=self.env(name, **extra),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, name: str) -> None:
        async def answers() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    response = await client.get(f"http://127.0.0.1:{self.ports[name]}/readyz")
                return response.status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, timeout=30, interval=0.2)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
async def replicas(amqp_url: str, database_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    running = Replicas(amqp_url, database_url, tmp_path)
    subprocess.run(  # noqa: ASYNC221 - a one-off migration before anything runs
        [sys.executable, "-m", "services.dispatch", "migrate"],
        env={**os.environ, "BIN_DATABASE_URL": database_url},
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield running
    finally:
        running.stop_all()
        publisher = Publisher(amqp_url, topo.Topology(prefix=running.prefix))
        await publisher.connect()
        await topo.delete(await publisher.channel(), publisher.topology, topo.ALL_QUEUES)
        await publisher.close()


async def seed(database_url: str, members: int) -> list[uuid.UUID]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:
        bins = [uuid.uuid4() for _ in range(10)]
        await conn.executemany(
            "INSERT INTO bin_projection VALUES "
            "($1, 'Leuven', 'Leuven', '{sms}', '{email}', '{nl}')",
            [(b,) for b in bins],
        )
        ids = [uuid.uuid4() for _ in range(members)]
        await conn.copy_records_to_table(
            "recipient",
            records=[(m, "nl", [f"+3247{n:07d}"], None, None, True) for n, m in enumerate(ids)],
            columns=("member_id", "language", "phones", "email", "push_token", "subsidised_sms"),
        )
        await conn.copy_records_to_table(
            "membership",
            records=[(bins[n % 10], m) for n, m in enumerate(ids)],
            columns=("bin_id", "member_id"),
        )
        return bins
    finally:
        await conn.close()


async def test_a_replica_killed_mid_fanout_loses_nothing_and_sends_nothing_twice(
    replicas: Replicas, database_url: str, amqp_url: str
) -> None:
    # Small batches, one in flight: slow enough to be caught in the middle.
    slow = {"BIN_BATCH_SIZE": "50", "BIN_BATCHES_IN_FLIGHT": "1"}
    replicas.start("gateway", "services.gateway_simulator", BIN_GATEWAY_LATENCY_MS="0")
    replicas.start("dispatch-a", "services.dispatch", **slow)
    await replicas.ready("gateway")
    await replicas.ready("dispatch-a")
    bins = await seed(database_url, MEMBERS)

    alert_id = uuid.uuid4()
    publisher = Publisher(amqp_url, topo.Topology(prefix=replicas.prefix, queue_type="classic"))
    await publisher.connect()
    await publisher.publish(
        AlertIssued.create(
            source="test",
            data=AlertIssuedData(alert_id=alert_id, bin_ids=bins, texts={Language.NL: "Let op"}),
        )
    )
    await publisher.close()

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:

        async def under_way() -> int:
            handed: int = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE source_id = $1 AND status <> 'queued'",
                alert_id,
            )
            return handed if handed >= 2_000 else 0

        handed_before_kill = await eventually(under_way, timeout=30, interval=0.02)
        replicas.start("dispatch-b", "services.dispatch", **slow)
        replicas.processes["dispatch-a"].send_signal(signal.SIGKILL)
        replicas.processes["dispatch-a"].wait(10)
        assert handed_before_kill < MEMBERS, "the fan-out finished before the kill"

        async def all_delivered() -> bool:
            rows = await conn.fetch(
                "SELECT status, count(*) AS n FROM delivery WHERE source_id = $1 GROUP BY status",
                alert_id,
            )
            counts = {row["status"]: row["n"] for row in rows}
            return counts == {"delivered": MEMBERS}

        await eventually(all_delivered, timeout=120, interval=0.5)
        members = await conn.fetchval(
            "SELECT count(DISTINCT member_id) FROM delivery WHERE source_id = $1", alert_id
        )
        assert members == MEMBERS
    finally:
        await conn.close()

    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"http://127.0.0.1:{replicas.ports['gateway']}/stats")).json()
    # Every delivery was sent exactly once; copies a resumed fan-out offered again (work that
    # was written but not yet confirmed when the replica died) were dropped by delivery id.
    assert stats["unique"] == MEMBERS
    print(
        f"\nkilled after {handed_before_kill} handed; duplicates dropped by the gateway: "
        f"{stats['duplicates']}"
    )


async def test_two_replicas_share_the_fanouts(
    replicas: Replicas, database_url: str, amqp_url: str
) -> None:
    few = {"BIN_PREFETCH": "2"}
    replicas.start("gateway", "services.gateway_simulator", BIN_GATEWAY_LATENCY_MS="0")
    replicas.start("dispatch-a", "services.dispatch", **few)
    replicas.start("dispatch-b", "services.dispatch", **few)
    for name in ("gateway", "dispatch-a", "dispatch-b"):
        await replicas.ready(name)
    bins = await seed(database_url, 5_000)
    publisher = Publisher(amqp_url, topo.Topology(prefix=replicas.prefix))
    await publisher.connect()
    alert_ids = [uuid.uuid4() for _ in range(12)]
    await asyncio.gather(
        *(
            publisher.publish(
                AlertIssued.create(
                    source="test",
                    data=AlertIssuedData(alert_id=a, bin_ids=bins, texts={Language.NL: "x"}),
                )
            )
            for a in alert_ids
        )
    )
    await publisher.close()
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:

        async def all_delivered() -> bool:
            delivered = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE source_id = ANY($1) AND status = 'delivered'",
                alert_ids,
            )
            return bool(delivered == 12 * 5_000)

        await eventually(all_delivered, timeout=120, interval=0.5)
    finally:
        await conn.close()
    fanned_out = {
        name: (replicas.logs / f"{name}.log").read_text().count('"event": "fanned out"')
        for name in ("dispatch-a", "dispatch-b")
    }
    assert sum(fanned_out.values()) == 12
    assert min(fanned_out.values()) >= 1, fanned_out
