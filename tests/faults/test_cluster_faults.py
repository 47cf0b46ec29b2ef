"""Faults of the distributed engine while dispatch fans an urgent alert out to 20,000 members
through the gateway simulator, on quorum queues replicated on a three-node RabbitMQ cluster
and with PostgreSQL as a primary and a synchronous standby (tests/peers):

* the node leading the urgent SMS work queue killed with SIGKILL;
* the PostgreSQL primary stopped with ``-m immediate`` and the standby promoted;
* a rolling restart of the three nodes, one at a time.

The services are given every node (``BIN_AMQP_URL`` with three hosts) and both databases
(``BIN_DATABASE_URL`` with two) and nobody restarts them. Afterwards the total-queue checker
compares, id by id, what dispatch recorded as handed over with what the gateway received:
nothing lost, nothing unexpected, copies within the in-flight window; every member has
exactly one delivery, delivered. The figures are asserted (docs/guarantees.md quotes them)
and printed (``make test-cluster`` shows them).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared import topology as topo
from tests.e2e.replicas import Replicas, migrate_dispatch, seed
from tests.faults.total_queue import TotalQueue, check, delivery_counts, handed_over
from tests.helpers import eventually
from tests.peers.postgres_standby import PostgresPair
from tests.peers.rabbitmq_cluster import RabbitCluster

pytestmark = pytest.mark.cluster

MEMBERS = 20_000
BATCH_SIZE = 100
BATCHES_IN_FLIGHT = 2
GATEWAY_PREFETCH = 10
# What can be offered to the gateway twice after a fault: the work dispatch had published
# and not seen confirmed (re-sent), and the work the gateway had taken and not acked
# (redelivered), each a batch of deliveries.
IN_FLIGHT_WINDOW = (BATCHES_IN_FLIGHT + GATEWAY_PREFETCH) * BATCH_SIZE
FAULT_AT = 3_000  # deliveries handed over when the fault strikes
# From the fault to the first delivery handed over after it coming back delivered.
RECOVERY_BOUND = 30.0
FANOUT_TIMEOUT = 150.0
# Per work message of BATCH_SIZE deliveries, GATEWAY_PREFETCH at a time: at most 2,000
# deliveries a second, so that the fan-out is still going when a fault has been struck
# (finding the leader takes a second; unslowed, the rest of the fan-out can take less).
GATEWAY_LATENCY_MS = 500
# The same, at most 400
# deliveries a second, so the fan-out lasts through a rolling restart of the three nodes
# (about 6 s each here).
ROLLING_GATEWAY_LATENCY_MS = 2_500


# How many deliveries of the fan-out are delivered now (a fault reads it between its steps).
Progress = Callable[[], Awaitable[int]]
Fault = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    fault_at: int  # deliveries handed over when the fault struck
    fault_took: float  # seconds from the fault's first step to its last (kill: none)
    recovered_in: float  # seconds from the fault's end until new work came back delivered
    total_in: float  # seconds from the fault's start until every member was reached
    checked: TotalQueue

    def __str__(self) -> str:
        return (
            f"fault at {self.fault_at} of {MEMBERS} handed over, lasting {self.fault_took:.1f} s; "
            f"recovered {self.recovered_in:.1f} s after it, all delivered {self.total_in:.1f} s "
            f"after its start; {self.checked}"
        )


@pytest.fixture(scope="module")
def rabbit_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitCluster]:
    with RabbitCluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture
def postgres_pair() -> Iterator[PostgresPair]:
    with PostgresPair() as pair:
        yield pair


@pytest.fixture
async def cluster_replicas(
    rabbit_cluster: RabbitCluster, postgres_pair: PostgresPair, tmp_path: Path
) -> AsyncIterator[Replicas]:
    # A test that failed half-way may have left a node down: every test starts on three.
    for node in rabbit_cluster.nodes:
        if node not in rabbit_cluster.alive():
            await asyncio.to_thread(rabbit_cluster.start_node, node)
    running = Replicas(rabbit_cluster.url, postgres_pair.url, tmp_path)
    await asyncio.to_thread(migrate_dispatch, postgres_pair.url)
    try:
        yield running
    finally:
        running.stop_all()
        await running.delete_topology()


async def fan_out_through(
    replicas: Replicas, fault: Fault, gateway_latency_ms: int = GATEWAY_LATENCY_MS
) -> Outcome:
    """Starts the gateway and one dispatch on quorum queues, issues an alert to MEMBERS,
    strikes ``fault`` once FAULT_AT deliveries are handed over, and checks the outcome."""
    quorum = {"BIN_QUEUE_TYPE": "quorum"}
    replicas.start(
        "gateway",
        "services.gateway_simulator",
        BIN_GATEWAY_LATENCY_MS=str(gateway_latency_ms),
        BIN_PREFETCH=str(GATEWAY_PREFETCH),
        **quorum,
    )
    replicas.start(
        "dispatch",
        "services.dispatch",
        BIN_BATCH_SIZE=str(BATCH_SIZE),
        BIN_BATCHES_IN_FLIGHT=str(BATCHES_IN_FLIGHT),
        **quorum,
    )
    await replicas.ready("gateway")
    await replicas.ready("dispatch")
    database_url = replicas.database_url
    alert_id = await replicas.issue_alert(await seed(database_url, MEMBERS))

    async def handed(at_least: int) -> int:
        count = handed_over(await delivery_counts(database_url, alert_id))
        return count if count >= at_least else 0

    async def delivered() -> int:
        return (await delivery_counts(database_url, alert_id)).get("delivered", 0)

    fault_at = await eventually(lambda: handed(FAULT_AT), timeout=60, interval=0.02)
    struck = time.monotonic()
    await fault(delivered)
    ended = time.monotonic()
    delivered_at_end = await delivered()
    # Only work handed over after the fault's end can take the delivered count this far.
    target = min(
        MEMBERS, handed_over(await delivery_counts(database_url, alert_id)) + IN_FLIGHT_WINDOW
    )

    async def recovered() -> bool:
        return await delivered() >= target

    await eventually(recovered, timeout=FANOUT_TIMEOUT, interval=0.1)
    recovered_in = time.monotonic() - ended

    async def all_delivered() -> dict[str, int] | None:
        counts = await delivery_counts(database_url, alert_id)
        return counts if counts.get("delivered") == MEMBERS else None

    counts = await eventually(all_delivered, timeout=FANOUT_TIMEOUT, interval=0.5)
    total_in = time.monotonic() - struck
    # The fault struck mid-fan-out: more than a window of deliveries came after its end.
    assert delivered_at_end < MEMBERS - IN_FLIGHT_WINDOW, f"{delivered_at_end} delivered by then"
    # Every member exactly one delivery, and it is delivered.
    assert counts == {"delivered": MEMBERS, "members": MEMBERS}
    await replicas.ready("dispatch")  # ready again on its own, never restarted
    checked = await check(database_url, f"http://127.0.0.1:{replicas.ports['gateway']}", alert_id)
    return Outcome(fault_at, ended - struck, recovered_in, total_in, checked)


def assert_nothing_lost(outcome: Outcome) -> None:
    checked = outcome.checked
    assert checked.handed == MEMBERS
    assert checked.lost == frozenset(), f"{len(checked.lost)} handed over, never received"
    assert checked.unexpected == frozenset(), f"{len(checked.unexpected)} never handed over"
    assert checked.received == MEMBERS
    assert checked.duplicates <= IN_FLIGHT_WINDOW
    assert outcome.recovered_in < RECOVERY_BOUND


def urgent_sms_queue(replicas: Replicas) -> str:
    return topo.Topology(prefix=replicas.prefix).queue_name(
        topo.gateway_queue("sms", "urgent").name
    )


async def test_the_node_leading_the_urgent_queue_is_killed(
    cluster_replicas: Replicas, rabbit_cluster: RabbitCluster
) -> None:
    killed: list[str] = []

    async def kill_the_leader(_: Progress) -> None:
        leader = await asyncio.to_thread(rabbit_cluster.leader, urgent_sms_queue(cluster_replicas))
        rabbit_cluster.kill(leader)
        killed.append(leader.name)

    outcome = await fan_out_through(cluster_replicas, kill_the_leader)
    print(f"\nleader {killed[0]} killed with SIGKILL: {outcome}")
    assert_nothing_lost(outcome)
    # The queue has a new leader among the two nodes left.
    leader = await asyncio.to_thread(rabbit_cluster.leader, urgent_sms_queue(cluster_replicas))
    assert leader.name != killed[0]
    # Back to three, as an operator would: it rejoins and its queue members catch up.
    down = next(n for n in rabbit_cluster.nodes if n.name == killed[0])
    await asyncio.to_thread(rabbit_cluster.start_node, down)


async def test_the_postgres_primary_stops_and_the_standby_is_promoted(
    cluster_replicas: Replicas, postgres_pair: PostgresPair
) -> None:
    async def fail_over(_: Progress) -> None:
        await asyncio.to_thread(postgres_pair.stop_primary)
        # A failover manager takes a moment to decide; the services meanwhile find no
        # primary at all (the standby refuses read-write sessions).
        await asyncio.sleep(2)
        await asyncio.to_thread(postgres_pair.promote)

    outcome = await fan_out_through(cluster_replicas, fail_over)
    print(f"\nprimary stopped -m immediate, standby promoted: {outcome}")
    assert_nothing_lost(outcome)
    promoted = await asyncio.to_thread(
        postgres_pair.psql, postgres_pair.standby_port, "SELECT pg_is_in_recovery()"
    )
    assert promoted.strip() == "f"


async def test_a_rolling_restart_of_the_three_nodes(
    cluster_replicas: Replicas, rabbit_cluster: RabbitCluster
) -> None:
    delivered_between: list[int] = []

    async def restart_each(delivered: Progress) -> None:
        for node in rabbit_cluster.nodes:
            delivered_between.append(await delivered())
            await asyncio.to_thread(rabbit_cluster.stop_node, node)
            await asyncio.to_thread(rabbit_cluster.start_node, node)
        delivered_between.append(await delivered())

    # The gateway slowed down, so that the fan-out lasts through all three restarts.
    outcome = await fan_out_through(cluster_replicas, restart_each, ROLLING_GATEWAY_LATENCY_MS)
    print(
        f"\nrolling restart of {len(rabbit_cluster.nodes)} nodes: {outcome}; delivered before, "
        f"between and after the restarts: {delivered_between}"
    )
    assert_nothing_lost(outcome)
    # Deliveries went on while each node was away: the fan-out never waited for a node.
    assert all(a < b for a, b in itertools.pairwise(delivered_between)), delivered_between
    assert delivered_between[-1] < MEMBERS, "the fan-out ended before the last restart did"
