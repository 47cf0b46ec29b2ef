"""Dispatch replicas as real processes: a replica killed mid-fan-out loses nothing, and the
gateway is offered each delivery once, or drops the copy by its delivery id."""

from __future__ import annotations

import asyncio
import signal
import uuid

import asyncpg

from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language
from shared.messaging.publisher import Publisher
from tests.e2e.replicas import Replicas, exactly_once, handed_at_least, seed
from tests.helpers import eventually

MEMBERS = 30_000


async def test_a_replica_killed_mid_fanout_loses_nothing_and_sends_nothing_twice(
    replicas: Replicas, database_url: str, amqp_url: str
) -> None:
    # Small batches, one in flight: slow enough to be caught in the middle.
    slow = {"BIN_BATCH_SIZE": "50", "BIN_BATCHES_IN_FLIGHT": "1"}
    await replicas.start_gateway_and_dispatch(["dispatch-a"], **slow)
    bins = await seed(database_url, MEMBERS)

    alert_id = await replicas.issue_alert(bins)

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:
        handed_before_kill = await eventually(
            lambda: handed_at_least(conn, alert_id, 2_000), timeout=30, interval=0.02
        )
        replicas.start("dispatch-b", "services.dispatch", **slow)
        replicas.processes["dispatch-a"].send_signal(signal.SIGKILL)
        replicas.processes["dispatch-a"].wait(10)
        assert handed_before_kill < MEMBERS, "the fan-out finished before the kill"

        # Copies a resumed fan-out offered again (work written but not yet confirmed when
        # the replica died) were dropped by the gateway by delivery id.
        stats = await exactly_once(replicas, conn, alert_id, MEMBERS)
    finally:
        await conn.close()
    print(
        f"\nkilled after {handed_before_kill} handed; duplicates dropped by the gateway: "
        f"{stats['duplicates']}"
    )


async def test_two_replicas_share_the_fanouts(
    replicas: Replicas, database_url: str, amqp_url: str
) -> None:
    await replicas.start_gateway_and_dispatch(["dispatch-a", "dispatch-b"], BIN_PREFETCH="2")
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
        name: replicas.logged(name, "fanned out") for name in ("dispatch-a", "dispatch-b")
    }
    assert sum(fanned_out.values()) == 12
    assert min(fanned_out.values()) >= 1, fanned_out
