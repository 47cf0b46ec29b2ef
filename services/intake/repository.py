"""Intake's SQL."""

from __future__ import annotations

import uuid

from services.intake.schemas import Alert, AlertRequest
from shared.database import Connection

INSERT_ALERT = """
INSERT INTO alert (alert_id, bin_ids, texts, channels, expires_at, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6)
"""
SELECT_ALERT = """
SELECT alert_id, bin_ids, texts, channels, expires_at, issued_at
FROM alert WHERE alert_id = $1
"""


async def insert_alert(
    conn: Connection, alert_id: uuid.UUID, request: AlertRequest, correlation_id: str
) -> None:
    await conn.execute(
        INSERT_ALERT,
        alert_id,
        request.bin_ids,
        {lang.value: text for lang, text in request.texts.items()},
        [c.value for c in request.channels],
        request.expires_at,
        correlation_id,
    )


async def get_alert(conn: Connection, alert_id: uuid.UUID) -> Alert | None:
    row = await conn.fetchrow(SELECT_ALERT, alert_id)
    if row is None:
        return None
    return Alert.model_validate(dict(row))
