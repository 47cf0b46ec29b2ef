"""Dispatch's HTTP API: delivery progress per alert, notice or digest."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from services.dispatch.progress import ProgressRead, deliveries_targeted, summarise
from shared.auth import CurrentPrincipal, Principal
from shared.evaluation import may_read_bin_evaluation

router = APIRouter(tags=["deliveries"])


class ChannelProgress(BaseModel):
    targeted: int
    queued: int = 0
    # Handed to the gateway, retries included.
    sent: int = 0
    delivered: int = 0
    # Voice: of the delivered, the calls where the member pressed 1 (a person heard it);
    # delivered minus confirmed reached the phone or its voicemail.
    confirmed: int = 0
    temporary_failure: int = 0
    permanent_failure: int = 0
    failed: int = 0
    cancelled: int = 0


class Progress(BaseModel):
    source_id: uuid.UUID
    # planning: members are still being targeted (counts grow); dispatched: all targeted.
    status: str
    # Members: a member moved to a second channel after a permanent failure counts once.
    targeted: int
    delivered: int
    # Members who confirmed a voice call by pressing 1 (a part of delivered).
    confirmed: int = 0
    failed: int
    pending: int
    # Every member targeted and every delivery final: only once the fan-out is dispatched,
    # since it is recorded before its deliveries are written.
    complete: bool
    # Delivery attempts per channel, by state.
    channels: dict[str, ChannelProgress]


def may_follow(principal: Principal, bins: list[Any]) -> bool:
    """Whoever reads the figures of one of the targeted BINs: its police zone, its
    municipality, its coordinator, admins."""
    return (
        any(
            may_read_bin_evaluation(principal, b["bin_id"], b["police_zone"], b["municipality"])
            for b in bins
        )
        or principal.is_admin
    )


async def _progress(source_id: uuid.UUID, request: Request, principal: Principal) -> Progress:
    # Shared by everyone polling this fan-out on this replica (main.py): up to
    # BIN_PROGRESS_MAX_AGE_SECONDS old. Who may see it is decided per request.
    read: ProgressRead = request.app.state.progress
    found = await read(source_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{source_id} is not known to dispatch (yet): it may still be on its way",
        )
    if not may_follow(principal, found.bins):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "none of the fan-out's BINs is in your zone or care"
        )
    summary = summarise(source_id, found.by_channel, found.members)
    return Progress(
        source_id=source_id,
        status=found.status,
        targeted=summary.targeted,
        delivered=summary.delivered,
        confirmed=sum(c.get("confirmed", 0) for c in found.by_channel.values()),
        failed=summary.failed,
        pending=summary.pending,
        complete=found.status != "planning" and summary.pending == 0,
        channels={
            channel: ChannelProgress(targeted=deliveries_targeted(by_status), **by_status)
            for channel, by_status in found.by_channel.items()
        },
    )


@router.get("/alerts/{alert_id}/progress", response_model=Progress)
async def alert_progress(
    alert_id: uuid.UUID, request: Request, principal: CurrentPrincipal
) -> Progress:
    return await _progress(alert_id, request, principal)


@router.get("/fanouts/{source_id}/progress", response_model=Progress)
async def fanout_progress(
    source_id: uuid.UUID, request: Request, principal: CurrentPrincipal
) -> Progress:
    """Progress of any fan-out: an alert, a notice or a digest, by its id."""
    return await _progress(source_id, request, principal)
