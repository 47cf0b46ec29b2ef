"""The SQL of members' Web Push subscriptions (kept as ``member.push_subscription``)."""

from __future__ import annotations

import uuid
from typing import Any

from services.registry.repository import MEMBER_COLUMNS
from shared.database import Connection
from shared.push_subscription import PushSubscription

SET_PUSH_SUBSCRIPTION = f"""
UPDATE member SET push_subscription = $2, updated_at = now() WHERE member_id = $1
RETURNING {MEMBER_COLUMNS}
"""
# Only the subscription with this endpoint: one the member made since is kept.
FORGET_PUSH_ENDPOINT = f"""
UPDATE member SET push_subscription = NULL, updated_at = now()
WHERE push_subscription ->> 'endpoint' = $1 AND push_subscription IS NOT NULL
RETURNING {MEMBER_COLUMNS}
"""


async def set_push_subscription(
    conn: Connection, member_id: uuid.UUID, subscription: PushSubscription | None
) -> Any:
    """The member's subscription replaced (one device per member), or removed with None."""
    value = subscription.model_dump() if subscription is not None else None
    return await conn.fetchrow(SET_PUSH_SUBSCRIPTION, member_id, value)


async def forget_push_endpoint(conn: Connection, endpoint: str) -> list[Any]:
    """The members whose subscription had this endpoint, now without one."""
    return list(await conn.fetch(FORGET_PUSH_ENDPOINT, endpoint))
