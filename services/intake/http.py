"""Intake's HTTP API (skeleton: issuing an alert; reports, evaluation and the rest follow)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request, status

from services.intake import repository
from services.intake.schemas import Alert, AlertAccepted, AlertRequest
from shared.dependencies import Runtime
from shared.events import AlertIssued, AlertIssuedData

router = APIRouter(tags=["alerts"])
SOURCE = "intake"


@router.post(
    "/alerts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertAccepted,
    summary="Issue an urgent alert to BINs; returns at once with where to follow it",
)
async def issue_alert(body: AlertRequest, request: Request, runtime: Runtime) -> AlertAccepted:
    alert_id = uuid.uuid4()
    event = AlertIssued.create(
        source=SOURCE,
        data=AlertIssuedData(
            alert_id=alert_id,
            bin_ids=body.bin_ids,
            texts=body.texts,
            channels=body.channels,
            expires_at=body.expires_at,
        ),
        correlation_id=request.headers.get("x-correlation-id"),
    )
    # The outbox commits the alert and its event together: the request never waits on the
    # broker, and no alert is lost if the broker is away.
    async with runtime.pool.acquire() as conn, conn.transaction():
        await repository.insert_alert(conn, alert_id, body, event.correlationid)
        await runtime.enqueue(conn, [event])
    dispatch_url = str(request.app.state.dispatch_url).rstrip("/")
    return AlertAccepted(
        alert_id=alert_id,
        status_url=str(request.url_for("get_alert", alert_id=alert_id)),
        progress_url=f"{dispatch_url}/alerts/{alert_id}/progress",
    )


@router.get("/alerts/{alert_id}", response_model=Alert)
async def get_alert(alert_id: uuid.UUID, runtime: Runtime) -> Alert:
    async with runtime.pool.acquire() as conn:
        found = await repository.get_alert(conn, alert_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert with id {alert_id}")
    return found
