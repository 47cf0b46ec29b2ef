"""The registry's subscribers: what members say by SMS that changes their record, and the
push subscriptions push services dropped."""

from __future__ import annotations

from services.registry import push, repository
from shared import topology as topo
from shared.events.dispatch import MemberSmsOptOutChanged
from shared.events.push import PushSubscriptionExpired
from shared.logging import get_logger
from shared.messaging import inbox
from shared.runtime import ServiceRuntime

log = get_logger(__name__)


def register(runtime: ServiceRuntime) -> None:
    @runtime.subscriber(topo.REGISTRY_MEMBER_REPLIES, title="registry.member-replies")
    async def on_sms_opt_out_changed(event: MemberSmsOptOutChanged) -> None:
        """Records a member's STOP or START reply as their SMS preference."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, topo.REGISTRY_MEMBER_REPLIES.name, event.id):
                await repository.set_sms_opt_out(conn, event.data.member_id, event.data.opted_out)

    @runtime.subscriber(topo.REGISTRY_PUSH_SUBSCRIPTIONS, title="registry.push-subscriptions")
    async def on_push_subscription_expired(event: PushSubscriptionExpired) -> None:
        """Forgets a subscription its push service no longer has (404, 410): dispatch stops
        choosing push for the member once the member.changed.v1 snapshot reaches it."""
        forgotten = 0
        async with runtime.pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, topo.REGISTRY_PUSH_SUBSCRIPTIONS.name, event.id):
                forgotten = await push.forget_endpoint(conn, runtime, event.data.endpoint)
        # The count only: the endpoint is personal data.
        log.info("expired push subscription forgotten", members=forgotten)
