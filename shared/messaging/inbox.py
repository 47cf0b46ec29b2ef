"""Idempotent consumption: an event id is handled once per consumer.

Call :func:`claim` first inside the handler's transaction; when the transaction commits, the
claim commits with the state change, and a redelivered copy finds it and is skipped.
"""

from __future__ import annotations

import uuid

from shared import metrics
from shared.database import Connection

CLAIM_EVENT = """
INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""


async def claim(conn: Connection, consumer: str, event_id: uuid.UUID) -> bool:
    """True the first time; False for a duplicate, which the caller then skips."""
    status = await conn.execute(CLAIM_EVENT, consumer, event_id)
    first = bool(status == "INSERT 0 1")
    if not first:
        metrics.DUPLICATES_SKIPPED.labels(consumer).inc()
    return first
