"""Members' Web Push subscriptions: set and removed by the member (their preferences page),
forgotten when a push service says they are gone; each change goes to dispatch as
member.changed.v1, the snapshot whose push_token is the subscription."""

from __future__ import annotations

import uuid
from typing import Any

from services.registry import events, push_repository
from shared.database import Connection
from shared.push_subscription import PushSubscription
from shared.runtime import ServiceRuntime


async def set_subscription(
    conn: Connection, runtime: ServiceRuntime, member_id: uuid.UUID,
    subscription: PushSubscription | None,
) -> Any:  # fmt: skip
    """The member's device subscribed (or, with None, no longer): in the caller's
    transaction, the event with it."""
    row = await push_repository.set_push_subscription(conn, member_id, subscription)
    if row is not None:
        await runtime.enqueue(conn, [events.member_changed(row)])
    return row


async def forget_endpoint(conn: Connection, runtime: ServiceRuntime, endpoint: str) -> int:
    """A push service said this endpoint is gone: the members who had it no longer do."""
    rows = await push_repository.forget_push_endpoint(conn, endpoint)
    if rows:
        await runtime.enqueue(conn, [events.member_changed(row) for row in rows])
    return len(rows)
