"""A fan-out's members are counted from its deliveries that are not fallbacks (migration
014), without a DISTINCT over every member; deliveries from before it are marked by it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from services.dispatch import repository
from services.dispatch.progress import deliveries_targeted, summarise
from shared.events import Channel, DeliveryOutcome
from shared.events.dispatch import DeliveryReceipt
from tests.integration.dispatch.conftest import SystemFactory

MIGRATION = Path(repository.__file__).parent / "sql" / "014_fallback_marker.sql"


async def test_a_member_reached_on_a_fallback_counts_once(dispatch_system: SystemFactory) -> None:
    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(4, ["sms", "voice"])
        alert_id = await system.issue_alert([bin_id])
        progress = await system.settled(alert_id, 4)
        assert (progress["targeted"], progress["delivered"], progress["failed"]) == (4, 4, 0)
        assert progress["channels"]["sms"]["permanent_failure"] == 4
        assert progress["channels"]["voice"]["delivered"] == 4


async def test_the_migration_marks_the_later_deliveries_of_a_member_as_fallbacks(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system() as system:
        bin_id = await system.seed_bin(2, ["sms"])
        alert_id = await system.issue_alert([bin_id])
        await system.settled(alert_id, 2)
        async with system.dispatch.pool.acquire() as conn:
            first, second = await conn.fetch(
                "SELECT delivery_id, member_id FROM delivery WHERE source_id = $1", alert_id
            )
            # As written before the migration: a second delivery of the first member on
            # another channel, later, and no row marked.
            later = uuid.uuid4()
            await conn.execute(
                "INSERT INTO delivery (delivery_id, source_id, member_id, bin_id, channel, "
                "language, created_at) SELECT $1, source_id, member_id, bin_id, 'voice', "
                "language, created_at + interval '1 minute' FROM delivery WHERE delivery_id = $2",
                later,
                first["delivery_id"],
            )
            await conn.execute(
                "UPDATE delivery SET fallback = false WHERE source_id = $1", alert_id
            )
            backfill = MIGRATION.read_text().split("ALTER TABLE delivery ADD COLUMN")[1]
            await conn.execute(backfill.split(";", 1)[1])
            marked = await conn.fetch(
                "SELECT delivery_id FROM delivery WHERE source_id = $1 AND fallback", alert_id
            )
            found = await repository.progress(conn, alert_id)
        assert [r["delivery_id"] for r in marked] == [later]
        assert found is not None and found.members["targeted"] == 2
        assert second["member_id"] != first["member_id"]


async def test_voice_calls_confirmed_by_a_key_press_show_apart_from_delivered(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system() as system:
        bin_id = await system.seed_bin(3, ["voice"])
        alert_id = await system.issue_alert([bin_id])
        await system.settled(alert_id, 3)
        async with system.dispatch.pool.acquire() as conn:
            ids = [r["delivery_id"] for r in await conn.fetch(
                "SELECT delivery_id FROM delivery WHERE source_id = $1 ORDER BY delivery_id",
                alert_id,
            )]  # fmt: skip
            # As if the simulator had not answered yet: the voice connector's receipts now.
            await conn.execute("UPDATE delivery SET status = 'sent' WHERE source_id = $1", alert_id)
            now = datetime.now(UTC)
            await repository.apply_receipts(
                conn,
                [
                    DeliveryReceipt(
                        delivery_id=ids[0],
                        outcome=DeliveryOutcome.DELIVERED,
                        at=now,
                        confirmed=True,
                    ),
                    DeliveryReceipt(
                        delivery_id=ids[1],
                        outcome=DeliveryOutcome.DELIVERED,
                        at=now,
                        confirmed=False,
                    ),
                    DeliveryReceipt(delivery_id=ids[2], outcome=DeliveryOutcome.DELIVERED, at=now),
                ],
            )
            stored = await conn.fetch(
                "SELECT confirmed FROM delivery WHERE source_id = $1 ORDER BY delivery_id", alert_id
            )
        progress = await system.progress(alert_id)
    assert [r["confirmed"] for r in stored] == [True, False, None]
    assert progress is not None
    assert progress["channels"]["voice"]["delivered"] == 3
    assert progress["channels"]["voice"]["confirmed"] == 1
    # Counted beside the states, not as one: three deliveries, not four.
    assert deliveries_targeted(progress["channels"]["voice"]) == 3
    event = summarise(alert_id, progress["channels"], progress)
    assert event.channels[Channel.VOICE].confirmed == 1
