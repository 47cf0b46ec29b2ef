"""Read-only queries only the console needs (lists the JSON API does not offer); everything
else the pages read through the API's own functions or the repository."""

from __future__ import annotations

import uuid
from typing import Any

from shared.database import Connection

# An alert spanning several zones keeps them comma-separated in police_zone.
SELECT_ALERTS = """
SELECT alert_id, bin_ids, texts, issued_at, issued_by, police_zone, report_id,
       follows_alert_id, cancelled_at, feedback_due, feedback_at
FROM alert
WHERE $1::text[] IS NULL OR string_to_array(police_zone, ',') && $1::text[]
ORDER BY issued_at DESC LIMIT $2 OFFSET $3
"""
SELECT_NOTICES = """
SELECT notice_id, police_zone, scope, bin_ids, subjects, issued_at, issued_by, follows_alert_id
FROM notice WHERE $1::text[] IS NULL OR police_zone = ANY($1::text[])
ORDER BY issued_at DESC LIMIT $2
"""
# Newest first, a page at a time: keyset on the log's position, stable while lines arrive.
SELECT_AUDIT_PAGE = """
SELECT position, at, actor, action, police_zone, subject_kind, subject_id, detail
FROM audit_log
WHERE ($1::bigint IS NULL OR position < $1)
  AND ($2::uuid IS NULL OR subject_id = $2) AND ($3::text IS NULL OR police_zone = $3)
  AND ($4::text IS NULL OR actor = $4)
ORDER BY position DESC LIMIT $5
"""
COUNT_RESPONSES = "SELECT count(*) FROM response WHERE alert_id = $1"


async def recent_alerts(
    conn: Connection, zones: list[str] | None, limit: int, offset: int
) -> list[Any]:
    return list(await conn.fetch(SELECT_ALERTS, zones, limit, offset))


async def recent_notices(conn: Connection, zones: list[str] | None, limit: int) -> list[Any]:
    return list(await conn.fetch(SELECT_NOTICES, zones, limit))


async def audit_page(
    conn: Connection,
    before: int | None,
    subject_id: uuid.UUID | None,
    police_zone: str | None,
    actor: str | None,
    limit: int,
) -> list[Any]:
    return list(await conn.fetch(SELECT_AUDIT_PAGE, before, subject_id, police_zone, actor, limit))


async def response_count(conn: Connection, alert_id: uuid.UUID) -> int:
    return int(await conn.fetchval(COUNT_RESPONSES, alert_id))
