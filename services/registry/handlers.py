"""The registry's subscribers: what members say by SMS that changes their record."""

from __future__ import annotations

from services.registry import repository
from shared import topology as topo
from shared.events.dispatch import MemberSmsOptOutChanged
from shared.messaging import inbox
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime) -> None:
    @runtime.subscriber(topo.REGISTRY_MEMBER_REPLIES, title="registry.member-replies")
    async def on_sms_opt_out_changed(event: MemberSmsOptOutChanged) -> None:
        """Records a member's STOP or START reply as their SMS preference."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, topo.REGISTRY_MEMBER_REPLIES.name, event.id):
                await repository.set_sms_opt_out(conn, event.data.member_id, event.data.opted_out)
