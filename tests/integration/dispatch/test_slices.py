"""A fan-out cut into slices by member (BIN_FANOUT_SLICES > 1), in this process."""

from __future__ import annotations

import uuid

import asyncpg
from prometheus_client import REGISTRY

from services.dispatch import repository
from services.dispatch.domain.content import Content
from services.dispatch.repository import Fanout
from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language, Priority
from tests.helpers import eventually
from tests.integration.dispatch.conftest import (
    DispatchSystem,
    SystemFactory,
    urgent_alert_overtakes_large_digest,
)

SLICED = {"fanout_slices": 4}
TEXTS = {Language.NL: "Let op"}


async def deliveries_per_member(system: DispatchSystem, source_id: uuid.UUID) -> set[int]:
    async with system.dispatch.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT count(*) AS n FROM delivery WHERE source_id = $1 GROUP BY member_id",
            source_id,
        )
    return {r["n"] for r in rows}


async def slice_rows(system: DispatchSystem, source_id: uuid.UUID) -> list[tuple[int, bool]]:
    async with system.dispatch.pool.acquire() as conn:
        return [
            (part.index, done) for part, done in await repository.fanout_slices(conn, source_id)
        ]


async def test_slices_reach_every_member_once_members_of_two_bins_included(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(dispatch_settings=SLICED) as system:
        north = await system.seed_bin(1_000, ["sms"])
        south = await system.seed_bin(1_000, ["sms"])
        await system.share_members(north, south, 300)
        alert_id = await system.issue_alert([north, south])
        await assert_reached_once(system, alert_id, 2_000)
        assert await deliveries_per_member(system, alert_id) == {1}


async def plan_sliced_alert(system: DispatchSystem, bin_id: uuid.UUID) -> uuid.UUID:
    """A replica recorded an alert's fan-out and its 4 slices, then died before publishing
    them; the alert's id."""
    alert_id = uuid.uuid4()
    async with system.dispatch.pool.acquire() as conn:
        await repository.create_sliced_fanout(
            conn,
            Fanout(
                source_id=alert_id,
                kind="alert",
                priority=Priority.URGENT.value,
                bin_ids=[bin_id],
                channels=[],
                content=Content(texts=dict(TEXTS)).to_json(),
            ),
            4,
        )
    return alert_id


async def redeliver_alert(system: DispatchSystem, alert_id: uuid.UUID, bin_id: uuid.UUID) -> None:
    """The broker hands the unacked alert to a replica again, which publishes the slices."""
    await system.dispatch.publisher.publish(
        AlertIssued.create(
            source="test",
            data=AlertIssuedData(alert_id=alert_id, bin_ids=[bin_id], texts=TEXTS),
        )
    )


async def assert_reached_once(system: DispatchSystem, alert_id: uuid.UUID, members: int) -> None:
    progress = await system.settled(alert_id, members)
    assert progress["delivered"] == members
    assert system.gateway_stats() == {"unique": members, "duplicates": 0}

    async def dispatched() -> bool:
        found = await system.progress(alert_id)
        return found is not None and found["status"] == "dispatched"

    await eventually(dispatched, timeout=10)
    assert await slice_rows(system, alert_id) == [(k, True) for k in range(4)]


async def test_an_alert_back_after_a_crash_before_its_slices_were_published_completes(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(dispatch_settings=SLICED) as system:
        bin_id = await system.seed_bin(500, ["sms"])
        alert_id = await plan_sliced_alert(system, bin_id)
        await redeliver_alert(system, alert_id, bin_id)
        await assert_reached_once(system, alert_id, 500)


async def slice_lock_waiters(conn: asyncpg.Connection) -> int:
    waiting: int = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    )
    return waiting


async def test_a_slice_whose_dead_replica_still_holds_its_lock_is_fanned_out_after_all(
    dispatch_system: SystemFactory, database_url: str
) -> None:
    # SIGKILL a replica mid-slice: the broker hands its slice message to another replica at
    # once, while PostgreSQL may not have ended the dead replica's session (and released its
    # lock on the slice) yet. The copy must wait for the lock, not be dropped.
    async with dispatch_system(dispatch_settings=SLICED) as system:
        bin_id = await system.seed_bin(500, ["sms"])
        alert_id = await plan_sliced_alert(system, bin_id)
        dead_session = await asyncpg.connect(database_url)
        await dead_session.execute("BEGIN")
        await dead_session.execute(repository.LOCK_SLICE, alert_id, 0)
        await redeliver_alert(system, alert_id, bin_id)
        observer = await asyncpg.connect(database_url)
        try:
            await eventually(lambda: slice_lock_waiters(observer), timeout=10, interval=0.05)
        finally:
            await observer.close()
        dead_session.terminate()
        await assert_reached_once(system, alert_id, 500)


async def test_a_slice_locked_past_the_wait_is_retried_not_dropped(
    dispatch_system: SystemFactory, database_url: str
) -> None:
    settings = {**SLICED, "slice_lock_wait_seconds": 0.3}
    async with dispatch_system(dispatch_settings=settings) as system:
        queue = system.dispatch.topology.queue_name(topo.DISPATCH_SLICES_URGENT.name)

        def retried() -> float:
            sample = REGISTRY.get_sample_value(
                "bin_messages_consumed_total", {"queue": queue, "outcome": "retried"}
            )
            return sample or 0.0

        bin_id = await system.seed_bin(500, ["sms"])
        alert_id = await plan_sliced_alert(system, bin_id)
        holder = await asyncpg.connect(database_url)
        try:
            async with holder.transaction():
                await holder.execute(repository.LOCK_SLICE, alert_id, 0)
                await redeliver_alert(system, alert_id, bin_id)

                async def gave_up_waiting() -> bool:
                    return retried() > 0

                await eventually(gave_up_waiting, timeout=10, interval=0.05)
                assert await slice_rows(system, alert_id) != [(k, True) for k in range(4)]
        finally:
            await holder.close()
        await assert_reached_once(system, alert_id, 500)


async def test_an_urgent_alert_overtakes_a_large_sliced_digest(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(dispatch_settings={"fanout_slices": 2}) as system:
        digest_id = await urgent_alert_overtakes_large_digest(system)
        assert await deliveries_per_member(system, digest_id) == {1}
