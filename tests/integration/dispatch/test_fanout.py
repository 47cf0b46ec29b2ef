"""Dispatch's fan-out against the real broker and database, with the gateway simulator."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from services.dispatch.handlers import AFTER_RECEIPTS_COMMITTED
from services.dispatch.sweeper import Sweeper
from shared import crash_points
from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language
from tests.helpers import drain, eventually
from tests.integration.dispatch.conftest import (
    SystemFactory,
    small_alert_overtakes,
    urgent_alert_overtakes_large_digest,
)


async def test_streamed_batches_reach_every_member_once(dispatch_system: SystemFactory) -> None:
    async with dispatch_system() as system:
        bins = [await system.seed_bin(300, ["sms"]) for _ in range(3)]
        alert_id = await system.issue_alert(bins)
        progress = await system.settled(alert_id, 900)
        assert progress["delivered"] == 900
        assert progress["channels"] == {"sms": {"delivered": 900, "sent": 900}}
        assert system.gateway_stats() == {"unique": 900, "duplicates": 0}


async def test_a_member_of_two_targeted_bins_is_alerted_once(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system() as system:
        north = await system.seed_bin(5, ["sms"])
        south = await system.seed_bin(5, ["sms"])
        await system.share_members(north, south)
        alert_id = await system.issue_alert([north, south])
        progress = await system.settled(alert_id, 10)
        assert progress["delivered"] == 10


async def test_a_member_an_earlier_bin_cannot_reach_is_reached_through_a_later_one(
    dispatch_system: SystemFactory,
) -> None:
    """The earlier BIN's plan (push) reaches none of its members; the same members are in a
    later BIN whose plan (e-mail) does: they are alerted through that one, once."""
    async with dispatch_system() as system:
        north = await system.seed_bin(5, ["push"])
        south = await system.seed_bin(5, ["email"])
        await system.share_members(north, south)
        alert_id = await system.issue_alert([north, south, north])
        progress = await system.settled(alert_id, 10)
        assert progress["channels"] == {"email": {"delivered": 10, "sent": 10}}


async def test_many_alerts_at_once_each_reach_their_members_once(
    dispatch_system: SystemFactory,
) -> None:
    """Alerts arriving side by side share their fan-out rows', batch records' and ends'
    writes (shared/coalesce.py); each alert still gets its own deliveries and records."""
    async with dispatch_system() as system:
        bins = [await system.seed_bin(7, ["sms"]) for _ in range(40)]
        alerts = await asyncio.gather(*(system.issue_alert([b]) for b in bins))
        for alert_id in alerts:
            await system.settled(alert_id, 7)

            async def recorded(alert_id: uuid.UUID = alert_id) -> dict[str, Any] | None:
                # The batch record and the end are written together for many alerts, after
                # the broker's confirm: the receipts may overtake them.
                found = await system.progress(alert_id)
                done = found is not None and found["status"] == "dispatched"
                return found if done and found["channels"]["sms"].get("sent") else None

            progress = await eventually(recorded, timeout=10, interval=0.05)
            assert progress["channels"] == {"sms": {"delivered": 7, "sent": 7}}
        assert system.gateway_stats() == {"unique": 280, "duplicates": 0}


async def test_copies_of_one_alert_at_once_reach_each_member_once(
    dispatch_system: SystemFactory,
) -> None:
    """The same alert.issued.v1 handled three times side by side (a redelivery racing the
    original): one creates the fan-out, the others find it and add nobody twice."""
    async with dispatch_system() as system:
        bin_id = await system.seed_bin(30, ["sms"])
        alert = AlertIssued.create(
            source="test",
            data=AlertIssuedData(alert_id=uuid.uuid4(), bin_ids=[bin_id], texts={Language.NL: "x"}),
        )
        await asyncio.gather(*(system.dispatch.publisher.publish(alert) for _ in range(3)))
        progress = await system.settled(alert.data.alert_id, 30)
        assert progress["targeted"] == progress["delivered"] == 30
        async with system.dispatch.pool.acquire() as conn:
            rows = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE source_id = $1", alert.data.alert_id
            )
        assert rows == 30


async def test_a_small_alert_does_not_wait_for_a_large_one_under_way(
    dispatch_system: SystemFactory,
) -> None:
    """Alerts fan out side by side: a 20-member alert issued while a 20,000-member alert is
    being fanned out is delivered before the large one has finished."""
    async with dispatch_system() as system:
        large_bins = [await system.seed_bin(2_000, ["sms"]) for _ in range(10)]
        large = await system.issue_alert(large_bins)
        await small_alert_overtakes(system, large, 20_000, interval=0.02)


async def test_temporary_failures_are_retried_until_delivered(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(
        gateway_temporary_failure_rate=0.2, gateway_max_temporary_failures=2, gateway_seed=3
    ) as system:
        bin_id = await system.seed_bin(500, ["sms"])
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 500)
        assert progress["delivered"] == 500
        assert progress["failed"] == 0
        async with system.dispatch.pool.acquire() as conn:
            retried = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE source_id = $1 AND attempts > 1", alert_id
            )
        assert 50 < retried < 150  # about 20% needed a second attempt


async def test_permanent_failure_falls_back_to_the_next_channel_of_the_plan(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(50, ["sms", "voice"])
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 50)
        assert progress["delivered"] == 50
        assert progress["channels"] == {
            "sms": {"permanent_failure": 50, "sent": 50},
            "voice": {"delivered": 50, "sent": 50},
        }


async def test_a_channel_that_fails_until_the_retries_run_out_falls_back_too(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(gateway_down_channels=["voice"]) as system:
        bin_id = await system.seed_bin(30, ["voice", "sms"])
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 30)
        assert progress["delivered"] == 30 and progress["failed"] == 0
        # Every call tried once and on each of the three retries, then given up on.
        assert progress["channels"] == {
            "voice": {"permanent_failure": 30, "sent": 120},
            "sms": {"delivered": 30, "sent": 30},
        }
        async with system.dispatch.pool.acquire() as conn:
            details = await conn.fetch(
                "SELECT DISTINCT detail FROM delivery WHERE source_id = $1 AND channel = 'voice'",
                alert_id,
            )
        assert [r["detail"] for r in details] == ["retries exhausted: simulated failure"]


async def test_retries_run_out_on_the_last_channel_and_the_member_fails(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(gateway_down_channels=["sms"]) as system:
        bin_id = await system.seed_bin(5, ["sms"])
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 5)
        assert progress["failed"] == 5
        assert progress["channels"] == {"sms": {"failed": 5, "sent": 20}}


async def test_a_replica_dying_right_after_a_permanent_failure_still_falls_back(
    dispatch_system: SystemFactory,
) -> None:
    """Dispatch stops dead right after committing permanent failures (an armed crash
    point): the fallbacks were written in that transaction, unsent, and the sweeper sends
    them. Before, the fallback was decided after the commit and the members stayed pending."""
    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(6, ["sms", "voice"])
        crash_points.arm(AFTER_RECEIPTS_COMMITTED)
        try:
            alert_id = await system.issue_alert([bin_id])

            async def fallbacks_written() -> int | None:
                async with system.dispatch.pool.acquire() as conn:
                    count: int = await conn.fetchval(
                        "SELECT count(*) FROM delivery WHERE source_id = $1 AND fallback",
                        alert_id,
                    )
                return count if count == 6 else None

            await eventually(fallbacks_written, timeout=20, interval=0.1)
            progress = await system.progress(alert_id)
            assert progress is not None and progress["channels"]["voice"] == {"queued": 6}
        finally:
            crash_points.disarm(AFTER_RECEIPTS_COMMITTED)
        sweeper = Sweeper(system.dispatch, system.dispatch_engine, stuck_after=0)
        assert await sweeper.sweep_once() == 6
        progress = await system.settled(alert_id, 6)
        assert progress["channels"]["voice"] == {"delivered": 6, "sent": 6}


async def test_no_channel_left_ends_in_the_dead_letter_queue_and_replays(
    dispatch_system: SystemFactory, amqp: AbstractRobustConnection
) -> None:
    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(3, ["sms"])
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 3)
        assert progress["failed"] == 3
        channel = await amqp.channel()
        dead_queue = system.dispatch.topology.dead_letter_queue_name(
            topo.DISPATCH_REDELIVERIES.name
        )
        dead = await eventually(lambda: drain(channel, dead_queue))
        assert len(dead) == 3
        headers = dead[0].headers or {}
        assert str(headers[topo.DEAD_LETTER_REASON_HEADER]).startswith("delivery failed")
        assert "permanent_failure" in str(headers["x-bin-delivery-history"])


async def test_a_replica_dying_right_after_a_failure_still_leaves_its_dead_letter(
    dispatch_system: SystemFactory, amqp: AbstractRobustConnection
) -> None:
    """Dispatch stops dead right after committing permanent failures with no channel left
    (an armed crash point): each failed delivery's dead-letter copy was written to the
    outbox in that transaction and is relayed from there. Before, the copy was published
    after the commit, and a replica dying in between left nothing to replay."""
    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(3, ["sms"])
        channel = await amqp.channel()
        dead_queue = system.dispatch.topology.dead_letter_queue_name(
            topo.DISPATCH_REDELIVERIES.name
        )
        crash_points.arm(AFTER_RECEIPTS_COMMITTED)
        try:
            alert_id = await system.issue_alert([bin_id])

            async def all_failed() -> bool:
                async with system.dispatch.pool.acquire() as conn:
                    failed: int = await conn.fetchval(
                        "SELECT count(*) FROM delivery WHERE source_id = $1 AND status = 'failed'",
                        alert_id,
                    )
                return failed == 3

            await eventually(all_failed, timeout=20, interval=0.1)
            taken: list[AbstractIncomingMessage] = []

            async def three_dead_letters() -> bool:
                taken.extend(await drain(channel, dead_queue))
                return len(taken) >= 3

            await eventually(three_dead_letters, timeout=20, interval=0.2)
        finally:
            crash_points.disarm(AFTER_RECEIPTS_COMMITTED)
        assert len(taken) == 3
        headers = taken[0].headers or {}
        assert str(headers[topo.DEAD_LETTER_REASON_HEADER]).startswith("delivery failed")
        assert "permanent_failure" in str(headers["x-bin-delivery-history"])


async def test_an_urgent_alert_overtakes_a_large_digest(dispatch_system: SystemFactory) -> None:
    async with dispatch_system() as system:
        await urgent_alert_overtakes_large_digest(system)


async def test_a_cancelled_alert_sends_nothing_more(dispatch_system: SystemFactory) -> None:
    async with dispatch_system() as system:
        bin_id = await system.seed_bin(10, ["sms"])
        alert_id = await system.issue_alert(
            [bin_id],
            expires_at="2000-01-01T00:00:00Z",  # already expired when it arrives
        )
        await eventually(lambda: system.progress(alert_id))
        await asyncio.sleep(0.5)
        progress = await system.progress(alert_id)
        assert progress is not None
        assert progress["targeted"] == 0
        assert system.gateway_stats()["unique"] == 0


async def test_a_dead_lettered_delivery_is_replayed_and_delivered(
    dispatch_system: SystemFactory,
) -> None:
    from shared.deadletters import list_dead_letters, replay

    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(2, ["sms"])
        alert_id = await system.issue_alert([bin_id])
        await system.settled(alert_id, 2)
        settings = system.dispatch.settings
        listed = await eventually(
            lambda: list_dead_letters(settings, topo.DISPATCH_REDELIVERIES.name, 10)
        )
        assert len(listed) == 2
        assert listed[0]["reason"] == "delivery failed: no channel left in the communication plan"
        # The gateway's SMS route is repaired; the operator replays the dead letters.
        system.gateway_app.state.behaviour.failing_channels = frozenset()
        assert await replay(settings, topo.DISPATCH_REDELIVERIES.name, 10) == 2

        async def delivered() -> bool:
            progress = await system.progress(alert_id)
            return progress is not None and progress["delivered"] == 2

        await eventually(delivered, timeout=20)


async def test_the_gateway_throughput_limit_is_held(dispatch_system: SystemFactory) -> None:
    async with dispatch_system() as system:
        async with system.dispatch.pool.acquire() as conn:
            from services.dispatch import rate_limit

            await rate_limit.configure(conn, {"sms": 200.0})
        system_engine = system.dispatch_engine
        system_engine.rate_limited = True
        try:
            bin_id = await system.seed_bin(600, ["sms"])
            alert_id = await system.issue_alert([bin_id])
            await system.settled(alert_id, 600)
        finally:
            system_engine.rate_limited = False
        async with system.dispatch.pool.acquire() as conn:
            sent = await conn.fetch(
                "SELECT sent_at FROM fanout_batch WHERE source_id = $1 ORDER BY sent_at",
                alert_id,
            )
        span = (sent[-1]["sent_at"] - sent[0]["sent_at"]).total_seconds()
        # 600 messages at 200/s with a burst of 200: the last batch leaves after about 2 s.
        assert span >= 1.5, f"600 SMS went out in {span:.2f} s, over the limit of 200/s"


async def test_sms_and_voice_costs_are_reported_per_municipality_and_bin(
    dispatch_system: SystemFactory,
) -> None:
    from datetime import UTC, datetime

    from services.dispatch.costs import cost_report

    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(10, ["sms", "voice"])
        alert_id = await system.issue_alert([bin_id])
        await system.settled(alert_id, 10)
        month = datetime.now(UTC).strftime("%Y-%m")
        async with system.dispatch.pool.acquire() as conn:
            report = await cost_report(conn, month, {"sms": 0.06, "voice": 0.12})
        (line,) = [b for m in report.municipalities for b in m.bins if b.bin_id == bin_id]
        # Every member: one SMS (failed, still billed) then one voice message.
        assert (line.sms, line.voice) == (10, 10)
        assert line.cost_eur == 1.8

        # Read over HTTP, each sees their own BINs: a coordinator theirs, a stranger none.
        from shared.auth import Principal, Role

        coordinator = Principal(subject="c", roles={Role.COORDINATOR}, bin_ids={bin_id})
        other = Principal(subject="o", roles={Role.COORDINATOR}, bin_ids={uuid.uuid4()})
        async with system.dispatch.pool.acquire() as conn:
            own = await cost_report(conn, month, {"sms": 0.06, "voice": 0.12}, coordinator)
            none = await cost_report(conn, month, {"sms": 0.06, "voice": 0.12}, other)
        assert [b.bin_id for m in own.municipalities for b in m.bins] == [bin_id]
        assert none.municipalities == []


async def test_progress_is_announced_on_the_public_exchange(
    dispatch_system: SystemFactory, amqp: AbstractRobustConnection
) -> None:
    from shared.events import Visibility
    from shared.events.dispatch import FanoutProgressed

    async with dispatch_system() as system:
        channel = await amqp.channel()
        listener = await channel.declare_queue(exclusive=True)
        await listener.bind(
            system.dispatch.topology.exchange_name(Visibility.PUBLIC), "fanout.progressed.v1"
        )
        bin_id = await system.seed_bin(300, ["sms"])
        alert_id = await system.issue_alert([bin_id])
        await system.settled(alert_id, 300)

        async def final() -> FanoutProgressed | None:
            while (message := await listener.get(no_ack=True, fail=False)) is not None:
                event = FanoutProgressed.model_validate_json(message.body)
                if event.data.source_id == alert_id and event.data.pending == 0:
                    return event
            return None

        event = await eventually(final, timeout=10)
        assert (event.data.targeted, event.data.delivered) == (300, 300)
        assert "+3247" not in event.model_dump_json()  # counts only, no addresses


async def test_the_progress_api_counts_once_per_max_age_however_many_poll(
    dispatch_system: SystemFactory,
) -> None:
    from shared.auth import AuthSettings, Role, mint_token

    admin = {"Authorization": f"Bearer {mint_token(AuthSettings(), 'test', [Role.ADMIN])}"}
    async with dispatch_system(dispatch_settings={"progress_max_age_seconds": 2}) as system:
        bin_id = await system.seed_bin(20, ["sms"])
        alert_id = await system.issue_alert([bin_id])
        await system.settled(alert_id, 20)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=system.dispatch_app), base_url="http://dispatch"
        ) as client:

            async def delivered() -> int:
                response = await client.get(f"/alerts/{alert_id}/progress", headers=admin)
                assert response.status_code == 200, response.text
                found: int = response.json()["delivered"]
                return found

            assert await delivered() == 20
            # Changed behind the shared answer: the pollers see it within max age, not before.
            async with system.dispatch.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE delivery SET status = 'failed' WHERE delivery_id = "
                    "(SELECT delivery_id FROM delivery WHERE source_id = $1 LIMIT 1)",
                    alert_id,
                )
            assert await delivered() == 20

            async def recounted() -> bool:
                return await delivered() == 19

            await eventually(recounted, timeout=10, interval=0.1)


async def stuck_alert(system: Any, members: int) -> uuid.UUID:
    """An alert whose deliveries a crash left in temporary failure an hour ago: a replica
    died after recording them, before parking their retries."""
    bin_id = await system.seed_bin(members, ["sms"])
    alert_id: uuid.UUID = await system.issue_alert([bin_id])
    await system.settled(alert_id, members)
    async with system.dispatch.pool.acquire() as conn:
        await conn.execute(
            "UPDATE delivery SET status = 'temporary_failure', "
            "updated_at = now() - interval '1 hour' WHERE source_id = $1",
            alert_id,
        )
    return alert_id


async def test_deliveries_a_crash_left_stuck_are_swept_up(dispatch_system: SystemFactory) -> None:
    async with dispatch_system() as system:
        alert_id = await stuck_alert(system, 4)
        sweeper = system.dispatch_app.state.sweeper
        assert await sweeper.sweep_once() == 4
        progress = await system.settled(alert_id, 4)
        assert progress["delivered"] == 4
        assert await sweeper.sweep_once() == 0


async def test_the_sweeper_leaves_deliveries_begun_before_its_horizon(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system() as system:
        alert_id = await stuck_alert(system, 4)
        async with system.dispatch.pool.acquire() as conn:
            # Two of them created eight days ago: past the week the sweeper looks back.
            await conn.execute(
                "UPDATE delivery SET created_at = now() - interval '8 days' WHERE delivery_id IN "
                "(SELECT delivery_id FROM delivery WHERE source_id = $1 LIMIT 2)",
                alert_id,
            )
        sweeper = system.dispatch_app.state.sweeper
        assert sweeper.horizon == timedelta(days=7)
        assert await sweeper.sweep_once() == 2
        assert await sweeper.sweep_once() == 0


async def test_a_suspended_member_receives_nothing_until_the_suspension_ends(
    dispatch_system: SystemFactory,
) -> None:
    from datetime import UTC, datetime, timedelta

    from shared.events import MemberChanged, MemberContact, MemberRegisteredData

    async with dispatch_system() as system:
        bin_id = await system.seed_bin(5, ["sms"])
        async with system.dispatch.pool.acquire() as conn:
            suspended, ended = [
                r["member_id"]
                for r in await conn.fetch(
                    "SELECT member_id FROM membership WHERE bin_id = $1 LIMIT 2", bin_id
                )
            ]
        for member_id, until in (
            (suspended, datetime.now(UTC) + timedelta(days=30)),
            (ended, datetime.now(UTC) - timedelta(days=1)),
        ):
            await system.dispatch.publisher.publish(
                MemberChanged.create(
                    source="registry",
                    data=MemberRegisteredData(
                        member_id=member_id,
                        bin_id=bin_id,
                        language=Language.NL,
                        contact=MemberContact(phones=["+32470000001"]),
                        suspended_until=until,
                    ),
                )
            )

        async def projected() -> bool:
            async with system.dispatch.pool.acquire() as conn:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM recipient WHERE suspended_until IS NOT NULL "
                        "AND member_id = ANY($1)",
                        [suspended, ended],
                    )
                    == 2
                )

        await eventually(projected)
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 4)
        assert progress["delivered"] == 4
        async with system.dispatch.pool.acquire() as conn:
            targeted = {
                r["member_id"]
                for r in await conn.fetch(
                    "SELECT member_id FROM delivery WHERE source_id = $1", alert_id
                )
            }
        assert suspended not in targeted and ended in targeted


async def test_stop_by_sms_ends_sms_with_a_confirmation_and_start_brings_them_back(
    dispatch_system: SystemFactory, amqp: AbstractRobustConnection
) -> None:
    from datetime import UTC, datetime

    from shared.events import DeliveryReceipted, Visibility
    from shared.events.dispatch import (
        DeliveryReceipt,
        DeliveryReceiptedData,
        MemberReply,
        MemberSmsOptOutChanged,
    )

    async with dispatch_system() as system:
        channel = await amqp.channel()
        probe = await channel.declare_queue(exclusive=True)
        await probe.bind(
            system.dispatch.topology.exchange_name(Visibility.PRIVATE),
            "member.sms_opt_out_changed.v1",
        )
        bin_id = await system.seed_bin(3, ["sms", "voice"])
        first = await system.issue_alert([bin_id])
        await system.settled(first, 3)
        async with system.dispatch.pool.acquire() as conn:
            delivery_id, member_id = await conn.fetchrow(
                "SELECT delivery_id, member_id FROM delivery WHERE source_id = $1 LIMIT 1", first
            )

        async def reply(text: str) -> None:
            now = datetime.now(UTC)
            await system.dispatch.publisher.publish(
                DeliveryReceipted.create(
                    source="test-gateway",
                    data=DeliveryReceiptedData(
                        gateway="test-gateway",
                        channel="sms",
                        receipts=[
                            DeliveryReceipt(delivery_id=delivery_id, outcome="delivered", at=now)
                        ],
                        replies=[MemberReply(delivery_id=delivery_id, text=text, received_at=now)],
                    ),
                )
            )

        async def confirmations() -> list[Any]:
            async with system.dispatch.pool.acquire() as conn:
                return list(
                    await conn.fetch(
                        "SELECT d.status, f.content FROM delivery d JOIN fanout f USING (source_id)"
                        " WHERE f.kind = 'confirmation' AND d.member_id = $1 ORDER BY d.created_at",
                        member_id,
                    )
                )

        await reply("STOP")
        [stop] = await eventually(
            lambda: _some(
                confirmations(), lambda rows: [r for r in rows if r["status"] == "delivered"]
            )
        )
        assert "START" in stop["content"]["texts"]["nl"]
        [event] = [
            MemberSmsOptOutChanged.model_validate_json(m.body)
            for m in await eventually(lambda: drain(channel, probe.name))
        ]
        assert event.data.member_id == member_id and event.data.opted_out is True

        second = await system.issue_alert([bin_id])
        await system.settled(second, 3)
        async with system.dispatch.pool.acquire() as conn:
            channels = dict(
                await conn.fetch(
                    "SELECT member_id, channel FROM delivery WHERE source_id = $1", second
                )
            )
        assert channels[member_id] == "voice"  # SMS is over for them; the plan's next channel
        assert set(channels.values()) == {"sms", "voice"}

        await reply("START")
        await eventually(
            lambda: _some(confirmations(), lambda rows: rows if len(rows) == 2 else [])
        )
        third = await system.issue_alert([bin_id])
        await system.settled(third, 3)
        async with system.dispatch.pool.acquire() as conn:
            again = await conn.fetchval(
                "SELECT channel FROM delivery WHERE source_id = $1 AND member_id = $2",
                third,
                member_id,
            )
        assert again == "sms"


async def _some(rows: Any, pick: Any) -> Any:
    return pick(await rows)


async def test_quiet_hours_hold_a_notice_until_they_end_and_let_an_urgent_alert_through(
    dispatch_system: SystemFactory,
) -> None:
    from datetime import UTC, datetime, timedelta

    from shared.events import MemberChanged, MemberContact, MemberRegisteredData
    from shared.events.intake import NoticePublished, NoticePublishedData
    from shared.working_days import BRUSSELS

    async with dispatch_system() as system:
        bin_id = await system.seed_bin(4, ["sms"], news=["sms"])
        async with system.dispatch.pool.acquire() as conn:
            quiet_member = await conn.fetchval(
                "SELECT member_id FROM membership WHERE bin_id = $1 LIMIT 1", bin_id
            )
        now = datetime.now(BRUSSELS)
        await system.dispatch.publisher.publish(
            MemberChanged.create(
                source="registry",
                data=MemberRegisteredData(
                    member_id=quiet_member,
                    bin_id=bin_id,
                    language=Language.NL,
                    contact=MemberContact(phones=["+32470000009"]),
                    # Quiet right now, for another hour.
                    quiet_from=(now - timedelta(hours=1)).time().replace(microsecond=0),
                    quiet_until=(now + timedelta(hours=1)).time().replace(microsecond=0),
                ),
            )
        )

        async def projected() -> bool:
            async with system.dispatch.pool.acquire() as conn:
                return bool(
                    await conn.fetchval(
                        "SELECT quiet_from IS NOT NULL FROM recipient WHERE member_id = $1",
                        quiet_member,
                    )
                )

        await eventually(projected)
        notice_id = uuid.uuid4()
        await system.dispatch.publisher.publish(
            NoticePublished.create(
                source="intake",
                data=NoticePublishedData(
                    notice_id=notice_id,
                    bin_ids=[bin_id],
                    subjects={Language.NL: "Preventietip"},
                    texts={Language.NL: "Sluit uw ramen."},
                ),
            )
        )

        async def statuses() -> dict[uuid.UUID, tuple[str, datetime | None]] | None:
            async with system.dispatch.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT member_id, status, hold_until FROM delivery WHERE source_id = $1",
                    notice_id,
                )
            found = {r["member_id"]: (r["status"], r["hold_until"]) for r in rows}
            delivered = [s for s, _ in found.values() if s == "delivered"]
            return found if len(found) == 4 and len(delivered) == 3 else None

        held = await eventually(statuses)
        status, until = held[quiet_member]
        assert status == "queued" and until is not None and until > datetime.now(UTC)

        # An urgent alert goes through: the plan lets urgent alerts override quiet hours.
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 4)
        assert progress["delivered"] == 4

        # The quiet hours end: the sweeper sends the held notice, not before.
        sweeper = system.dispatch_app.state.sweeper
        assert await sweeper.sweep_once() == 0
        async with system.dispatch.pool.acquire() as conn:
            await conn.execute(
                "UPDATE delivery SET hold_until = now() - interval '1 second' "
                "WHERE source_id = $1 AND member_id = $2",
                notice_id,
                quiet_member,
            )
        assert await sweeper.sweep_once() == 1

        async def released() -> bool:
            found = await statuses()
            return found is None and bool(
                await system.dispatch.pool.fetchval(
                    "SELECT count(*) FROM delivery WHERE source_id = $1 AND status = 'delivered'",
                    notice_id,
                )
                == 4
            )

        await eventually(released)
