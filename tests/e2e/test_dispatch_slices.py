"""A large fan-out sliced by member (BIN_FANOUT_SLICES) and shared by dispatch replicas
running as processes: both take slices, a replica killed mid-slice loses nothing and sends
nothing twice, and a member of two targeted BINs is reached once."""

from __future__ import annotations

import signal
import uuid

import asyncpg

from tests.e2e.replicas import Replicas, exactly_once, handed_at_least, seed
from tests.helpers import eventually

MEMBERS = 30_000
# Members of the first BIN who are members of the second one too.
SHARED = 2_000


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


async def test_two_replicas_share_the_slices_of_one_alert(
    replicas: Replicas, database_url: str, amqp_url: str
) -> None:
    await replicas.start_gateway_and_dispatch(["dispatch-a", "dispatch-b"], BIN_FANOUT_SLICES="2")
    bins = await seed_with_overlap(database_url)
    alert_id = await replicas.issue_alert(bins)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:
        await exactly_once(replicas, conn, alert_id, MEMBERS)
    finally:
        await conn.close()
    assert replicas.logged("dispatch-a", "fanned out slice") == 1
    assert replicas.logged("dispatch-b", "fanned out slice") == 1


async def test_a_replica_killed_mid_slice_loses_nothing_and_sends_nothing_twice(
    replicas: Replicas, database_url: str, amqp_url: str
) -> None:
    # Small batches, one in flight: slow enough to be caught in the middle of its slices.
    slow = {"BIN_FANOUT_SLICES": "4", "BIN_BATCH_SIZE": "50", "BIN_BATCHES_IN_FLIGHT": "1"}
    await replicas.start_gateway_and_dispatch(["dispatch-a", "dispatch-b"], **slow)
    bins = await seed_with_overlap(database_url)
    alert_id = await replicas.issue_alert(bins)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:
        handed_before_kill = await eventually(
            lambda: handed_at_least(conn, alert_id, 2_000), timeout=30, interval=0.02
        )
        replicas.processes["dispatch-a"].send_signal(signal.SIGKILL)
        replicas.processes["dispatch-a"].wait(10)
        assert handed_before_kill < MEMBERS, "the fan-out finished before the kill"
        done_at_kill = await conn.fetchval(
            "SELECT count(*) FROM fanout_slice WHERE source_id = $1 AND done_at IS NOT NULL",
            alert_id,
        )
        assert done_at_kill < 4
        await exactly_once(replicas, conn, alert_id, MEMBERS)
    finally:
        await conn.close()
    # The survivor finished its own slices and at least one the killed replica held.
    assert replicas.logged("dispatch-b", "fanned out slice") >= 3
    print(f"\nkilled after {handed_before_kill} handed")
