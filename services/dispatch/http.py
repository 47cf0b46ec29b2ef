"""Dispatch's HTTP API: delivery progress per alert, notice or digest."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from services.dispatch import repository
from services.dispatch.progress import deliveries_targeted, summarise
from shared.dependencies import Runtime

router = APIRouter(tags=["deliveries"])


class ChannelProgress(BaseModel):
    targeted: int
    queued: int = 0
    # Handed to the gateway, retries included.
    sent: int = 0
    delivered: int = 0
    temporary_failure: int = 0
    permanent_failure: int = 0
    failed: int = 0
    cancelled: int = 0


class Progress(BaseModel):
    source_id: uuid.UUID
    # Members: a member moved to a second channel after a permanent failure counts once.
    targeted: int
    delivered: int
    failed: int
    pending: int
    complete: bool
    # Delivery attempts per channel, by state.
    channels: dict[str, ChannelProgress]


async def _progress(source_id: uuid.UUID, runtime: Runtime) -> Progress:
    async with runtime.pool.acquire() as conn:
        found = await repository.progress(conn, source_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{source_id} is not known to dispatch (yet): it may still be on its way",
        )
    by_channel, members = found
    summary = summarise(source_id, by_channel, members)
    return Progress(
        source_id=source_id,
        targeted=summary.targeted,
        delivered=summary.delivered,
        failed=summary.failed,
        pending=summary.pending,
        complete=summary.pending == 0,
        channels={
            channel: ChannelProgress(targeted=deliveries_targeted(by_status), **by_status)
            for channel, by_status in by_channel.items()
        },
    )


@router.get("/alerts/{alert_id}/progress", response_model=Progress)
async def alert_progress(alert_id: uuid.UUID, runtime: Runtime) -> Progress:
    return await _progress(alert_id, runtime)


@router.get("/fanouts/{source_id}/progress", response_model=Progress)
async def fanout_progress(source_id: uuid.UUID, runtime: Runtime) -> Progress:
    """Progress of any fan-out: an alert, a notice or a digest, by its id."""
    return await _progress(source_id, runtime)
