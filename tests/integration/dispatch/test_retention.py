"""Delivery details go after the retention period; the cost report and the evaluation figures
read the same before and after, from the aggregates the purge folds them into."""

from __future__ import annotations

from datetime import UTC, datetime

from services.dispatch import aggregates
from services.dispatch.costs import cost_report
from services.dispatch.evaluation import _part
from shared.evaluation import year_bounds
from tests.integration.dispatch.conftest import SystemFactory

PRICES = {"sms": 0.06, "voice": 0.12}


async def test_the_purge_keeps_the_cost_report_and_the_evaluation_figures(
    dispatch_system: SystemFactory,
) -> None:
    async with dispatch_system(gateway_failing_channels=["sms"]) as system:
        bin_id = await system.seed_bin(10, ["sms", "voice"])
        old = await system.issue_alert([bin_id])
        await system.settled(old, 10)
        recent = await system.issue_alert([bin_id])
        await system.settled(recent, 10)
        pool = system.dispatch.pool
        async with pool.acquire() as conn:
            # The first alert as if sent 400 days ago, past the default year of retention.
            started: datetime = await conn.fetchval(
                "UPDATE fanout SET created_at = created_at - interval '400 days' "
                "WHERE source_id = $1 RETURNING created_at",
                old,
            )
        month = started.astimezone(UTC).strftime("%Y-%m")
        start, end = year_bounds(started.year)
        scope = aggregates.Scope(start, end, bin_id=bin_id)

        async def figures() -> tuple[object, object]:
            async with pool.acquire() as conn:
                costs = await cost_report(conn, month, PRICES)
                part = await _part(conn, scope, started.year, PRICES)
            (line,) = [b for m in costs.municipalities for b in m.bins if b.bin_id == bin_id]
            return line, part

        before = await figures()
        line, part = before
        # One SMS (failed, billed) and one voice message per member, of the old alert only.
        assert (line.sms, line.voice, line.cost_eur) == (10, 10, 1.8)  # type: ignore[attr-defined]
        assert part.total.reach == 1.0 and part.total.timings.activations == 1  # type: ignore[attr-defined]

        purged = await system.dispatch_app.state.retention.purge()
        assert purged >= 1
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval("SELECT count(*) FROM delivery WHERE source_id = $1", old) == 0
            )
            content, purged_at = await conn.fetchrow(
                "SELECT content, details_purged_at FROM fanout WHERE source_id = $1", old
            )
            assert content == {} and purged_at is not None
            # The recent alert keeps its details.
            assert (
                await conn.fetchval("SELECT count(*) FROM delivery WHERE source_id = $1", recent)
                == 20
            )
        assert await figures() == before
        # A second run finds nothing more to purge and changes nothing.
        await system.dispatch_app.state.retention.purge()
        assert await figures() == before
