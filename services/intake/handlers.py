"""Intake's subscribers: its projection of the registry's BINs, and members' replies."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from services.intake import repository
from shared import topology as topo
from shared.events import BinAreaChanged, BinRegistered, BinStatusChanged
from shared.events.dispatch import MemberReplied
from shared.logging import get_logger
from shared.messaging import inbox
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

BinEvent = Annotated[BinRegistered | BinStatusChanged | BinAreaChanged, Field(discriminator="type")]


def register(runtime: ServiceRuntime) -> None:
    @runtime.subscriber(topo.INTAKE_REGISTRY, title="intake.registry")
    async def on_bin_event(event: BinEvent) -> None:
        """Keeps intake's view of the BINs: zone, plan, lifecycle status, streets, neighbours."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, topo.INTAKE_REGISTRY.name, event.id):
                return
            match event:
                case BinRegistered():
                    await repository.project_bin(conn, event.data)
                case BinStatusChanged():
                    await repository.project_status(conn, event.data)
                case BinAreaChanged():
                    await repository.project_area(conn, event.data, event.time)

    @runtime.subscriber(topo.INTAKE_REPLIES, title="intake.replies")
    async def on_member_replied(event: MemberReplied) -> None:
        """Attaches a member's SMS reply to its alert, for the operators."""
        data = event.data
        async with runtime.pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, topo.INTAKE_REPLIES.name, event.id):
                return
            if not await repository.alert_exists(conn, data.alert_id):
                # A reply to a notice or digest: nobody evaluates those here.
                log.info("reply to something other than an alert", source_id=str(data.alert_id))
                return
            await repository.insert_response(
                conn,
                {
                    # The event id names the reply: a redelivered copy is the same response.
                    "response_id": uuid.UUID(str(event.id)),
                    "alert_id": data.alert_id,
                    "member_id": data.member_id,
                    "bin_id": data.bin_id,
                    "channel": data.channel.value,
                    "text": data.text,
                    "received_at": data.received_at,
                },
            )
