"""Intake's part of the yearly evaluation report, for the registry to compose: a BIN's or a
police zone's activations, follow-ups, cancellations, members' replies (those purged after
their retention period included) and feedback on time, late or missing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path

from services.intake.domain.evaluation import AlertInBin, Replies, activity_part
from services.intake.errors import NotFound
from shared.auth import CurrentPrincipal
from shared.database import Connection
from shared.dependencies import Runtime
from shared.evaluation import (
    ActivityPart,
    Year,
    require_bin_reader,
    require_zone_reader,
    year_bounds,
)

router = APIRouter(tags=["evaluation"])

SELECT_BIN = "SELECT police_zone, municipality FROM bin WHERE bin_id = $1"
# One row per alert and BIN it targeted; $3: one BIN or NULL, $4: one zone or NULL.
SELECT_ALERTS = """
SELECT a.alert_id, t.bin_id, a.issued_at, a.follows_alert_id IS NOT NULL AS follow_up,
       a.cancelled_at IS NOT NULL AS cancelled, a.feedback_due, a.feedback_at
FROM alert a
CROSS JOIN LATERAL unnest(a.bin_ids) AS t(bin_id)
LEFT JOIN bin b ON b.bin_id = t.bin_id
WHERE a.issued_at >= $1 AND a.issued_at < $2
  AND ($3::uuid IS NULL OR t.bin_id = $3) AND ($4::text IS NULL OR b.police_zone = $4)
"""
# Replies still kept and those the retention purge counted before deleting them. A reply from
# an app that named no BIN belongs to its alert's BIN when the alert had only one.
REPLY_BIN = "coalesce(r.bin_id, CASE WHEN cardinality(a.bin_ids) = 1 THEN a.bin_ids[1] END)"
SELECT_REPLIES = f"""
WITH alerts AS (SELECT alert_id, bin_ids FROM alert WHERE alert_id = ANY($1::uuid[]))
SELECT alert_id, bin_id, sum(replies)::int AS replies FROM (
    SELECT r.alert_id, {REPLY_BIN} AS bin_id, count(*)::int AS replies
    FROM alerts a JOIN response r ON r.alert_id = a.alert_id
    GROUP BY 1, 2
    UNION ALL
    SELECT t.alert_id, t.bin_id, t.replies
    FROM alerts a JOIN reply_tally t ON t.alert_id = a.alert_id
) counted
GROUP BY alert_id, bin_id
"""


async def _part(
    conn: Connection, year: int, bin_id: uuid.UUID | None, police_zone: str | None
) -> ActivityPart:
    start, end = year_bounds(year)
    alerts = [_alert(r) for r in await conn.fetch(SELECT_ALERTS, start, end, bin_id, police_zone)]
    rows = await conn.fetch(SELECT_REPLIES, list({a.alert_id for a in alerts}))
    replies: Replies = {(r["alert_id"], r["bin_id"]): r["replies"] for r in rows}
    return activity_part(year, alerts, replies, datetime.now(UTC), bin_id=bin_id)


def _alert(row: Any) -> AlertInBin:
    return AlertInBin(
        row["alert_id"],
        row["bin_id"],
        row["issued_at"],
        row["follow_up"],
        row["cancelled"],
        row["feedback_due"],
        row["feedback_at"],
    )


@router.get(
    "/bins/{bin_id}/evaluation/{year}",
    response_model=ActivityPart,
    summary="A BIN's activations, replies and feedback of a year",
)
async def bin_evaluation(
    bin_id: uuid.UUID, year: Year, runtime: Runtime, principal: CurrentPrincipal
) -> ActivityPart:
    async with runtime.pool.acquire() as conn:
        found = await conn.fetchrow(SELECT_BIN, bin_id)
        if found is None:
            raise NotFound(f"intake knows no BIN {bin_id}")
        require_bin_reader(
            principal, bin_id, found["police_zone"] or "", found["municipality"] or ""
        )
        return await _part(conn, year, bin_id, None)


@router.get(
    "/zones/{police_zone}/evaluation/{year}",
    response_model=ActivityPart,
    summary="A police zone's activations, replies and feedback of a year, per BIN",
)
async def zone_evaluation(
    police_zone: Annotated[str, Path(min_length=1, max_length=100)],
    year: Year,
    runtime: Runtime,
    principal: CurrentPrincipal,
) -> ActivityPart:
    require_zone_reader(principal, police_zone)
    async with runtime.pool.acquire() as conn:
        return await _part(conn, year, None, police_zone)
