"""Intake's SQL: the BIN projection, reports and evaluations, alerts, notices, police news,
responses and the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.intake.domain.targets import KnownBin
from shared.areas import Parity, StreetSegment, normalise_name
from shared.database import Connection
from shared.events import BinAreaChangedData, BinRegisteredData, BinStatusChangedData

# --- the BIN projection ---------------------------------------------------------------------------

UPSERT_BIN = """
INSERT INTO bin (bin_id, bin_name, kind, municipality, police_zone, urgent_channels,
                 news_channels, languages)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (bin_id) DO UPDATE SET
    bin_name = EXCLUDED.bin_name, kind = EXCLUDED.kind, municipality = EXCLUDED.municipality,
    police_zone = EXCLUDED.police_zone, urgent_channels = EXCLUDED.urgent_channels,
    news_channels = EXCLUDED.news_channels, languages = EXCLUDED.languages
"""
UPSERT_STATUS = """
INSERT INTO bin (bin_id, status, status_at) VALUES ($1, $2, $3)
ON CONFLICT (bin_id) DO UPDATE SET status = EXCLUDED.status, status_at = EXCLUDED.status_at
WHERE bin.status_at < EXCLUDED.status_at
"""
UPSERT_AREA = """
INSERT INTO bin (bin_id, municipality, neighbour_ids, area_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (bin_id) DO UPDATE SET neighbour_ids = EXCLUDED.neighbour_ids,
                                   area_at = EXCLUDED.area_at
WHERE bin.area_at < EXCLUDED.area_at
RETURNING bin_id
"""
DELETE_STREETS = "DELETE FROM bin_street WHERE bin_id = $1"
INSERT_STREET = """
INSERT INTO bin_street (bin_id, street, street_key, from_number, to_number, parity)
VALUES ($1, $2, $3, $4, $5, $6)
"""
BIN_COLUMNS = """
bin_id, bin_name, kind, municipality, police_zone, status, urgent_channels, news_channels,
languages, neighbour_ids
"""
SELECT_BINS = f"SELECT {BIN_COLUMNS} FROM bin WHERE bin_id = ANY($1::uuid[])"
SELECT_ZONE_BINS = f"""
SELECT {BIN_COLUMNS} FROM bin WHERE police_zone = $1 AND status = 'active' ORDER BY bin_name
"""
SELECT_ACTIVE_BINS = f"""
SELECT {BIN_COLUMNS} FROM bin WHERE status = 'active' ORDER BY police_zone, bin_name
"""
SELECT_MUNICIPALITY_BINS = f"""
SELECT {BIN_COLUMNS} FROM bin
WHERE lower(municipality) = lower($1) AND status = 'active' ORDER BY bin_name
"""
# The BINs with a street of that name, and their neighbours: all a proposal needs.
SELECT_CANDIDATES = """
WITH covering AS (SELECT DISTINCT bin_id FROM bin_street WHERE street_key = $1)
SELECT b.bin_id, b.municipality, b.status, b.neighbour_ids
FROM bin b
WHERE b.bin_id IN (SELECT bin_id FROM covering)
   OR b.bin_id IN (SELECT unnest(n.neighbour_ids) FROM bin n JOIN covering c USING (bin_id))
"""
SELECT_STREETS = """
SELECT bin_id, street, from_number, to_number, parity FROM bin_street
WHERE bin_id = ANY($1::uuid[])
"""


async def project_bin(conn: Connection, data: BinRegisteredData) -> None:
    plan = data.communication_plan
    await conn.execute(
        UPSERT_BIN,
        data.bin_id,
        data.bin_name,
        data.kind.value,
        data.municipality,
        data.police_zone,
        [c.value for c in plan.urgent_channels],
        [c.value for c in plan.news_channels],
        [lang.value for lang in plan.languages],
    )


async def project_status(conn: Connection, data: BinStatusChangedData) -> None:
    await conn.execute(UPSERT_STATUS, data.bin_id, data.status.value, data.changed_at)


async def project_area(conn: Connection, data: BinAreaChangedData, at: datetime) -> None:
    newer = await conn.fetchval(UPSERT_AREA, data.bin_id, data.municipality, data.neighbour_ids, at)
    if newer is None:
        return  # an older snapshot than the one we have
    await conn.execute(DELETE_STREETS, data.bin_id)
    await conn.executemany(
        INSERT_STREET,
        [
            (
                data.bin_id,
                s.street_name,
                normalise_name(s.street_name),
                s.from_number,
                s.to_number,
                s.parity,
            )
            for s in data.streets
        ],
    )


async def bins(conn: Connection, bin_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return {r["bin_id"]: r for r in await conn.fetch(SELECT_BINS, list(bin_ids))}


async def active_bins_of_zone(conn: Connection, police_zone: str) -> list[Any]:
    return list(await conn.fetch(SELECT_ZONE_BINS, police_zone))


async def active_bins(conn: Connection) -> list[Any]:
    return list(await conn.fetch(SELECT_ACTIVE_BINS))


async def active_bins_of_municipality(conn: Connection, municipality: str) -> list[Any]:
    return list(await conn.fetch(SELECT_MUNICIPALITY_BINS, municipality))


async def candidate_bins(conn: Connection, street: str) -> dict[uuid.UUID, KnownBin]:
    rows = await conn.fetch(SELECT_CANDIDATES, normalise_name(street))
    streets: dict[uuid.UUID, list[StreetSegment]] = {r["bin_id"]: [] for r in rows}
    for s in await conn.fetch(SELECT_STREETS, list(streets)):
        streets[s["bin_id"]].append(
            StreetSegment(s["street"], s["from_number"], s["to_number"], Parity(s["parity"]))
        )
    return {
        r["bin_id"]: KnownBin(
            r["bin_id"], r["municipality"] or "", r["status"], streets[r["bin_id"]],
            list(r["neighbour_ids"]),
        )
        for r in rows
    }  # fmt: skip


# --- reports and evaluations ----------------------------------------------------------------------

INSERT_REPORT = """
INSERT INTO report (report_id, police_zone, source, category, facts, municipality, street,
                    house_number, occurred_at, suspects, vehicles, logged_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING logged_at
"""
REPORT_COLUMNS = """
r.report_id, r.police_zone, r.source, r.category, r.facts, r.municipality, r.street,
r.house_number, r.occurred_at, r.suspects, r.vehicles, r.logged_by, r.logged_at, r.status,
e.decision, e.reason, e.bin_ids, e.outcome_id, e.decided_by, e.decided_at
"""
SELECT_REPORT = f"""
SELECT {REPORT_COLUMNS} FROM report r LEFT JOIN evaluation e USING (report_id)
WHERE r.report_id = $1
"""
SELECT_REPORT_FOR_UPDATE = "SELECT report_id FROM report WHERE report_id = $1 FOR UPDATE"
SELECT_REPORTS = f"""
SELECT {REPORT_COLUMNS} FROM report r LEFT JOIN evaluation e USING (report_id)
WHERE r.police_zone = ANY($1::text[]) AND ($2::text IS NULL OR r.status = $2)
ORDER BY r.logged_at DESC LIMIT $3 OFFSET $4
"""
SELECT_ALL_REPORTS = f"""
SELECT {REPORT_COLUMNS} FROM report r LEFT JOIN evaluation e USING (report_id)
WHERE ($1::text IS NULL OR r.status = $1)
ORDER BY r.logged_at DESC LIMIT $2 OFFSET $3
"""
INSERT_EVALUATION = """
INSERT INTO evaluation (report_id, decision, reason, bin_ids, outcome_id, decided_by)
VALUES ($1, $2, $3, $4, $5, $6)
"""
MARK_EVALUATED = "UPDATE report SET status = 'evaluated' WHERE report_id = $1"


async def insert_report(conn: Connection, report_id: uuid.UUID, values: dict[str, Any]) -> Any:
    return await conn.fetchval(
        INSERT_REPORT,
        report_id,
        values["police_zone"],
        values["source"],
        values["category"],
        values["facts"],
        values["municipality"],
        values["street"],
        values["house_number"],
        values["occurred_at"],
        values["suspects"],
        values["vehicles"],
        values["logged_by"],
    )


async def get_report(conn: Connection, report_id: uuid.UUID, *, lock: bool = False) -> Any:
    if lock and await conn.fetchval(SELECT_REPORT_FOR_UPDATE, report_id) is None:
        return None
    return await conn.fetchrow(SELECT_REPORT, report_id)


async def list_reports(
    conn: Connection, zones: list[str] | None, status: str | None, limit: int, offset: int
) -> list[Any]:
    if zones is None:
        return list(await conn.fetch(SELECT_ALL_REPORTS, status, limit, offset))
    return list(await conn.fetch(SELECT_REPORTS, zones, status, limit, offset))


async def record_evaluation(
    conn: Connection,
    report_id: uuid.UUID,
    decision: str,
    reason: str,
    bin_ids: list[uuid.UUID],
    outcome_id: uuid.UUID | None,
    by: str,
) -> None:
    await conn.execute(INSERT_EVALUATION, report_id, decision, reason, bin_ids, outcome_id, by)
    await conn.execute(MARK_EVALUATED, report_id)


# --- alerts ---------------------------------------------------------------------------------------

INSERT_ALERT = """
INSERT INTO alert (alert_id, bin_ids, texts, channels, expires_at, correlation_id, police_zone,
                   issued_by, report_id, follows_alert_id, privacy_changes, attachments,
                   feedback_due, approval_reasons, reach)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""
ALERT_COLUMNS = """
alert_id, bin_ids, texts, channels, expires_at, issued_at, police_zone, issued_by, report_id,
follows_alert_id, privacy_changes, attachments, cancelled_at, cancelled_reason,
feedback_due, feedback_notice_id, feedback_at, correlation_id, approval_reasons, reach,
approved_by, approved_at
"""
SELECT_ALERT = f"SELECT {ALERT_COLUMNS} FROM alert WHERE alert_id = $1"
SELECT_ALERT_FOR_UPDATE = f"SELECT {ALERT_COLUMNS} FROM alert WHERE alert_id = $1 FOR UPDATE"
CANCEL_ALERT = """
UPDATE alert SET cancelled_at = now(), cancelled_reason = $2 WHERE alert_id = $1
"""
SELECT_FOLLOW_UPS = "SELECT alert_id FROM alert WHERE follows_alert_id = $1 ORDER BY issued_at"
CLOSE_FEEDBACK = """
UPDATE alert SET feedback_notice_id = $2, feedback_at = now()
WHERE alert_id = $1 AND feedback_at IS NULL
"""
# Open feedback of the given zones (NULL: all), oldest deadline first; a cancelled alert
# owes no feedback.
SELECT_OPEN_FEEDBACK = f"""
SELECT {ALERT_COLUMNS} FROM alert
WHERE feedback_at IS NULL AND feedback_due IS NOT NULL AND cancelled_at IS NULL
  AND ($1::text[] IS NULL OR police_zone = ANY($1::text[]))
  AND ($2::date IS NULL OR feedback_due < $2)
ORDER BY feedback_due, issued_at
LIMIT 500
"""


async def insert_alert(conn: Connection, alert_id: uuid.UUID, values: dict[str, Any]) -> None:
    await conn.execute(
        INSERT_ALERT,
        alert_id,
        values["bin_ids"],
        values["texts"],
        values["channels"],
        values["expires_at"],
        values["correlation_id"],
        values["police_zone"],
        values["issued_by"],
        values.get("report_id"),
        values.get("follows_alert_id"),
        values["privacy_changes"],
        values["attachments"],
        values.get("feedback_due"),
        values.get("approval_reasons", []),
        values.get("reach"),
    )


async def get_alert(conn: Connection, alert_id: uuid.UUID, *, lock: bool = False) -> Any:
    return await conn.fetchrow(SELECT_ALERT_FOR_UPDATE if lock else SELECT_ALERT, alert_id)


async def cancel_alert(conn: Connection, alert_id: uuid.UUID, reason: str) -> None:
    await conn.execute(CANCEL_ALERT, alert_id, reason)


async def close_feedback(conn: Connection, alert_id: uuid.UUID, notice_id: uuid.UUID) -> None:
    await conn.execute(CLOSE_FEEDBACK, alert_id, notice_id)


async def open_feedback(
    conn: Connection, zones: list[str] | None, overdue_before: Any | None
) -> list[Any]:
    return list(await conn.fetch(SELECT_OPEN_FEEDBACK, zones, overdue_before))


async def follow_ups(conn: Connection, alert_id: uuid.UUID) -> list[uuid.UUID]:
    return [r["alert_id"] for r in await conn.fetch(SELECT_FOLLOW_UPS, alert_id)]


# --- notices and police news ----------------------------------------------------------------------

INSERT_NOTICE = """
INSERT INTO notice (notice_id, police_zone, scope, bin_ids, subjects, texts, channels,
                    follows_alert_id, privacy_changes, issued_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING issued_at
"""
INSERT_NEWS = """
INSERT INTO police_news (news_id, police_zone, category, place, occurred_at, published_info,
                         publishable, report_id, recorded_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING recorded_at
"""
SELECT_NEWS = """
SELECT news_id, police_zone, category, place, occurred_at, published_info, publishable,
       report_id, recorded_by, recorded_at
FROM police_news WHERE $1::text[] IS NULL OR police_zone = ANY($1::text[])
ORDER BY recorded_at DESC LIMIT $2
"""
SELECT_NEWS_ITEM = """
SELECT news_id, police_zone, category, place, occurred_at, published_info, publishable,
       report_id, recorded_by, recorded_at
FROM police_news WHERE news_id = $1
"""


async def insert_notice(conn: Connection, notice_id: uuid.UUID, values: dict[str, Any]) -> Any:
    return await conn.fetchval(
        INSERT_NOTICE,
        notice_id,
        values["police_zone"],
        values["scope"],
        values["bin_ids"],
        values["subjects"],
        values["texts"],
        values["channels"],
        values.get("follows_alert_id"),
        values["privacy_changes"],
        values["issued_by"],
    )


async def insert_news(conn: Connection, news_id: uuid.UUID, values: dict[str, Any]) -> Any:
    return await conn.fetchval(
        INSERT_NEWS,
        news_id,
        values["police_zone"],
        values["category"],
        values["place"],
        values["occurred_at"],
        values["published_info"],
        values["publishable"],
        values.get("report_id"),
        values["recorded_by"],
    )


async def list_news(conn: Connection, zones: list[str] | None, limit: int) -> list[Any]:
    return list(await conn.fetch(SELECT_NEWS, zones, limit))


async def get_news(conn: Connection, news_id: uuid.UUID) -> Any:
    return await conn.fetchrow(SELECT_NEWS_ITEM, news_id)


# --- responses ------------------------------------------------------------------------------------

INSERT_RESPONSE = """
INSERT INTO response (response_id, alert_id, member_id, bin_id, channel, text, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (response_id) DO NOTHING
"""
SELECT_RESPONSES = """
SELECT response_id, alert_id, member_id, bin_id, channel, text, received_at
FROM response WHERE alert_id = $1 ORDER BY received_at
"""
ALERT_EXISTS = "SELECT EXISTS (SELECT 1 FROM alert WHERE alert_id = $1)"


async def alert_exists(conn: Connection, alert_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(ALERT_EXISTS, alert_id))


async def insert_response(conn: Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        INSERT_RESPONSE,
        values["response_id"],
        values["alert_id"],
        values["member_id"],
        values["bin_id"],
        values["channel"],
        values["text"],
        values["received_at"],
    )


async def responses(conn: Connection, alert_id: uuid.UUID) -> list[Any]:
    return list(await conn.fetch(SELECT_RESPONSES, alert_id))


# --- audit ----------------------------------------------------------------------------------------

INSERT_AUDIT = """
INSERT INTO audit_log (actor, action, police_zone, subject_kind, subject_id, detail)
VALUES ($1, $2, $3, $4, $5, $6)
"""
SELECT_AUDIT = """
SELECT position, at, actor, action, police_zone, subject_kind, subject_id, detail
FROM audit_log
WHERE ($1::uuid IS NULL OR subject_id = $1) AND ($2::text IS NULL OR police_zone = $2)
  AND ($3::text IS NULL OR actor = $3)
ORDER BY position DESC LIMIT $4
"""


async def audit(
    conn: Connection,
    actor: str,
    action: str,
    police_zone: str | None,
    subject_kind: str,
    subject_id: uuid.UUID | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One line in the append-only audit log, in the caller's transaction: the change and
    its record commit together."""
    await conn.execute(
        INSERT_AUDIT, actor, action, police_zone, subject_kind, subject_id, detail or {}
    )


async def audit_trail(
    conn: Connection,
    subject_id: uuid.UUID | None,
    police_zone: str | None,
    actor: str | None,
    limit: int,
) -> list[Any]:
    return list(await conn.fetch(SELECT_AUDIT, subject_id, police_zone, actor, limit))
