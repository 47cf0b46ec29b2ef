"""A fan-out cut into slices by member (BIN_FANOUT_SLICES > 1), in this process."""

from __future__ import annotations

import uuid

from services.dispatch import repository
from services.dispatch.domain.content import Content
from services.dispatch.repository import Fanout
from shared.events import AlertIssued, AlertIssuedData, Language, Priority
from tests.helpers import eventually
from tests.integration.dispatch.conftest import DispatchSystem, SystemFactory

SLICED = {"fanout_slices": 4}


async def overlap(system: DispatchSystem, into: uuid.UUID, source: uuid.UUID, n: int) -> None:
    """Makes ``n`` members of ``source`` members of ``into`` too."""
    async with system.dispatch.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO membership (bin_id, member_id) "
            "SELECT $1, member_id FROM membership WHERE bin_id = $2 LIMIT $3",
            into,
            source,
            n,
        )


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
        await overlap(system, south, north, 300)
        alert_id = await system.issue_alert([north, south])
        progress = await system.settled(alert_id, 2_000)
        assert progress["delivered"] == 2_000
        assert await deliveries_per_member(system, alert_id) == {1}
        assert system.gateway_stats() == {"unique": 2_000, "duplicates": 0}

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
        alert_id = uuid.uuid4()
        texts = {Language.NL: "Let op"}
        # The replica recorded the fan-out and its slices, then died before publishing them.
        async with system.dispatch.pool.acquire() as conn:
            await repository.create_sliced_fanout(
                conn,
                Fanout(
                    source_id=alert_id,
                    kind="alert",
                    priority=Priority.URGENT.value,
                    bin_ids=[bin_id],
                    channels=[],
                    content=Content(texts=dict(texts)).to_json(),
                ),
                4,
            )
        # The broker hands the unacked alert to a replica again.
        await system.dispatch.publisher.publish(
            AlertIssued.create(
                source="test",
                data=AlertIssuedData(alert_id=alert_id, bin_ids=[bin_id], texts=texts),
            )
        )
        progress = await system.settled(alert_id, 500)
        assert progress["delivered"] == 500
        assert system.gateway_stats() == {"unique": 500, "duplicates": 0}

        async def dispatched() -> bool:
            found = await system.progress(alert_id)
            return found is not None and found["status"] == "dispatched"

        await eventually(dispatched, timeout=10)


async def test_an_urgent_alert_overtakes_a_large_sliced_digest(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(dispatch_settings={"fanout_slices": 2}) as system:
        digest_bin = await system.seed_bin(20_000, ["sms"], news=["email"])
        alert_bin = await system.seed_bin(20, ["sms"])
        digest_id = await system.publish_digest(
            digest_bin, text="x" * 2000, html="<p>" + "x" * 4000 + "</p>"
        )

        # The digest's slices are under way when the alert is issued.
        async def digest_under_way() -> bool:
            found = await system.progress(digest_id)
            return found is not None and found["targeted"] > 0

        await eventually(digest_under_way, timeout=20, interval=0.05)
        alert_id = await system.issue_alert([alert_bin])
        await system.settled(alert_id, 20, timeout=30)
        digest_progress = await system.progress(digest_id)
        assert digest_progress is not None
        assert digest_progress["delivered"] < 20_000, "the alert waited for the whole digest"
        await system.settled(digest_id, 20_000, timeout=120)
        assert await deliveries_per_member(system, digest_id) == {1}
