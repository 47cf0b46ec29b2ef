"""Dispatch replicas and a gateway simulator as real processes, for the replica, slicing and
fault tests: start, wait until ready, kill; seed a projection; issue an alert; check it was
delivered exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language
from shared.messaging.publisher import Publisher
from tests.e2e.system import ROOT
from tests.helpers import eventually
from tests.infrastructure import new_prefix
from tests.ports import free_port


class Replicas:
    def __init__(
        self, amqp_url: str, database_url: str, logs: Path, env: dict[str, str] | None = None
    ) -> None:
        self.amqp_url = amqp_url
        self.extra_env = env or {}  # for every process started (before each one's own)
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
            **self.extra_env,
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

    async def issue_alert(self, bins: list[uuid.UUID]) -> uuid.UUID:
        alert_id = uuid.uuid4()
        publisher = Publisher(self.amqp_url, topo.Topology(prefix=self.prefix))
        await publisher.connect()
        await publisher.publish(
            AlertIssued.create(
                source="test",
                data=AlertIssuedData(
                    alert_id=alert_id, bin_ids=bins, texts={Language.NL: "Let op"}
                ),
            )
        )
        await publisher.close()
        return alert_id

    async def gateway_stats(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{self.ports['gateway']}/stats")
        stats: dict[str, Any] = response.json()
        return stats

    async def start_gateway_and_dispatch(self, replicas: list[str], **env: str) -> None:
        """The gateway simulator answering at once and dispatch replicas named ``replicas``
        with ``env``, all ready."""
        self.start("gateway", "services.gateway_simulator", BIN_GATEWAY_LATENCY_MS="0")
        for name in replicas:
            self.start(name, "services.dispatch", **env)
        for name in ("gateway", *replicas):
            await self.ready(name)

    def logged(self, name: str, event: str) -> int:
        """How often process ``name`` logged ``event`` (JSON logs)."""
        return (self.logs / f"{name}.log").read_text().count(f'"event": "{event}"')

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)

    async def delete_topology(self, timeout: float = 120.0) -> None:
        """Removes the run's exchanges and queues, so runs leave the broker as found; raises
        TimeoutError after ``timeout`` (a cluster left unwell by a fault can take a quorum
        queue's deletion for ever)."""
        publisher = Publisher(self.amqp_url, topo.Topology(prefix=self.prefix))
        try:
            async with asyncio.timeout(timeout):
                await publisher.connect()
                await topo.delete(
                    await publisher.channel(),
                    publisher.topology,
                    (*topo.ALL_QUEUES, *topo.DISPATCH_SLICE_QUEUES),
                )
        finally:
            with contextlib.suppress(Exception):
                await publisher.close()


def migrate_dispatch(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "services.dispatch", "migrate"],
        env={**os.environ, "BIN_DATABASE_URL": database_url},
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
async def replicas(amqp_url: str, database_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    running = Replicas(amqp_url, database_url, tmp_path)
    migrate_dispatch(database_url)  # a one-off migration, before anything runs
    try:
        yield running
    finally:
        running.stop_all()
        await running.delete_topology()


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


async def handed_at_least(conn: asyncpg.Connection, alert_id: uuid.UUID, count: int) -> int:
    """How many of the alert's deliveries were handed to the gateway, once ``count`` or more
    were (0 before): the moment to kill a replica mid-fan-out."""
    handed: int = await conn.fetchval(
        "SELECT count(*) FROM delivery WHERE source_id = $1 AND status <> 'queued'", alert_id
    )
    return handed if handed >= count else 0


async def exactly_once(
    replicas: Replicas, conn: asyncpg.Connection, alert_id: uuid.UUID, members: int
) -> dict[str, Any]:
    """Every member one delivery, all delivered, the fan-out dispatched, and the gateway
    offered each delivery id once (or dropped the copy); the gateway's stats."""

    by_status: dict[str, int] = {}

    async def all_delivered() -> bool:
        rows = await conn.fetch(
            "SELECT status, count(*) AS n FROM delivery WHERE source_id = $1 GROUP BY status",
            alert_id,
        )
        by_status.clear()
        by_status.update((row["status"], row["n"]) for row in rows)
        return by_status == {"delivered": members}

    try:
        await eventually(all_delivered, timeout=120, interval=0.5)
    except AssertionError as failed:
        slices_done = await conn.fetch(
            "SELECT slice, done_at IS NOT NULL AS done FROM fanout_slice WHERE source_id = $1 "
            "ORDER BY slice",
            alert_id,
        )
        raise AssertionError(
            f"{members} members; deliveries by status: {by_status}; "
            f"slices done: {[(r['slice'], r['done']) for r in slices_done]}"
        ) from failed
    reached = await conn.fetchval(
        "SELECT count(DISTINCT member_id) FROM delivery WHERE source_id = $1", alert_id
    )
    assert reached == members

    async def dispatched() -> bool:
        status = await conn.fetchval("SELECT status FROM fanout WHERE source_id = $1", alert_id)
        return bool(status == "dispatched")

    await eventually(dispatched, timeout=30, interval=0.2)
    stats: dict[str, Any] = await replicas.gateway_stats()
    assert stats["unique"] == members
    return stats
