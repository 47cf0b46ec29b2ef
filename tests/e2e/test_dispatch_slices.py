"""A large fan-out sliced by member (BIN_FANOUT_SLICES) and shared by dispatch replicas
running as processes: both take slices, a replica killed mid-slice loses nothing and sends
nothing twice, and a member of two targeted BINs is reached once."""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared import topology as topo
from shared.messaging.publisher import Publisher
from tests.e2e.replicas import Replicas, exactly_once, seed
from tests.helpers import eventually

MEMBERS = 30_000
# Members of the first BIN who are members of the second one too.
SHARED = 2_000


@pytest.fixture
async def sliced(replicas: Replicas, amqp_url: str) -> AsyncIterator[Replicas]:
    try:
        yield replicas
    finally:
        replicas.stop_all()
        publisher = Publisher(amqp_url, topo.Topology(prefix=replicas.prefix))
        await publisher.connect()
        await topo.delete(await publisher.channel(), publisher.topology, topo.DISPATCH_SLICE_QUEUES)
        await publisher.close()


async def seed_with_overlap(database_url: str) -> list[uuid.UUID]:
    bins = await seed(database_url, MEMBERS)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:
        await conn.execute(
            "INSERT INTO membership (bin_id, member_id) "
            "SELECT $1, member_id FROM membership WHERE bin_id = $2 LIMIT $3",
            bins[1],
            bins[0],
            SHARED,
        )
    finally:
        await conn.close()
    return bins


def slices_logged(replicas: Replicas, name: str) -> int:
    return (replicas.logs / f"{name}.log").read_text().count('"event": "fanned out slice"')


async def test_two_replicas_share_the_slices_of_one_alert(
    sliced: Replicas, database_url: str, amqp_url: str
) -> None:
    env = {"BIN_FANOUT_SLICES": "2"}
    sliced.start("gateway", "services.gateway_simulator", BIN_GATEWAY_LATENCY_MS="0")
    sliced.start("dispatch-a", "services.dispatch", **env)
    sliced.start("dispatch-b", "services.dispatch", **env)
    for name in ("gateway", "dispatch-a", "dispatch-b"):
        await sliced.ready(name)
    bins = await seed_with_overlap(database_url)
    alert_id = await sliced.issue_alert(bins)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:
        await exactly_once(sliced, conn, alert_id, MEMBERS)
    finally:
        await conn.close()
    assert slices_logged(sliced, "dispatch-a") == 1
    assert slices_logged(sliced, "dispatch-b") == 1


async def test_a_replica_killed_mid_slice_loses_nothing_and_sends_nothing_twice(
    sliced: Replicas, database_url: str, amqp_url: str
) -> None:
    # Small batches, one in flight: slow enough to be caught in the middle of its slices.
    slow = {"BIN_FANOUT_SLICES": "4", "BIN_BATCH_SIZE": "50", "BIN_BATCHES_IN_FLIGHT": "1"}
    sliced.start("gateway", "services.gateway_simulator", BIN_GATEWAY_LATENCY_MS="0")
    sliced.start("dispatch-a", "services.dispatch", **slow)
    sliced.start("dispatch-b", "services.dispatch", **slow)
    for name in ("gateway", "dispatch-a", "dispatch-b"):
        await sliced.ready(name)
    bins = await seed_with_overlap(database_url)
    alert_id = await sliced.issue_alert(bins)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:

        async def under_way() -> int:
            handed: int = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE source_id = $1 AND status <> 'queued'",
                alert_id,
            )
            return handed if handed >= 2_000 else 0

        handed_before_kill = await eventually(under_way, timeout=30, interval=0.02)
        sliced.processes["dispatch-a"].send_signal(signal.SIGKILL)
        sliced.processes["dispatch-a"].wait(10)
        assert handed_before_kill < MEMBERS, "the fan-out finished before the kill"
        done_at_kill = await conn.fetchval(
            "SELECT count(*) FROM fanout_slice WHERE source_id = $1 AND done_at IS NOT NULL",
            alert_id,
        )
        assert done_at_kill < 4
        await exactly_once(sliced, conn, alert_id, MEMBERS)
    finally:
        await conn.close()
    # The survivor finished its own slices and at least one the killed replica held.
    assert slices_logged(sliced, "dispatch-b") >= 3
    print(f"\nkilled after {handed_before_kill} handed")
