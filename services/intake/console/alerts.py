"""Pages: the zone's alerts, and one alert with its live progress, member responses and the
feedback that closes its deadline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.intake import access, repository
from services.intake.api import alerts as api
from services.intake.console import views
from services.intake.console.pages import Operator, PageConsole, PageRoute
from services.intake.domain.feedback import is_overdue
from shared.dependencies import Runtime
from shared.events import Channel, Language

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    async with runtime.pool.acquire() as conn:
        found = await views.recent_alerts(
            conn, access.zones_of(principal), PAGE_SIZE + 1, (page - 1) * PAGE_SIZE
        )
    return console.render(
        request,
        "alerts.html",
        {"alerts": found[:PAGE_SIZE], "page": page, "more": len(found) > PAGE_SIZE},
        principal,
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
async def alert_page(
    alert_id: uuid.UUID,
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
) -> HTMLResponse:
    alert = await api.get_alert(alert_id, runtime, principal)
    responses = await api.list_responses(alert_id, runtime, principal)
    async with runtime.pool.acquire() as conn:
        targets = await repository.bins(conn, alert.bin_ids)
    # The channels the fan-out may use: those asked for, else every BIN's plan (fallbacks
    # included), in the platform's order.
    planned = {str(c) for c in alert.channels} or {
        c for t in targets.values() for c in t["urgent_channels"]
    }
    return console.render(
        request,
        "alert.html",
        {
            "alert": alert,
            "targets": [targets[b] for b in alert.bin_ids if b in targets],
            "channels": [c.value for c in Channel if c.value in planned],
            "text_languages": [lang for lang in Language if lang in alert.texts],
            "responses": responses,
            "overdue": alert.feedback_due is not None
            and alert.feedback_at is None
            and is_overdue(alert.feedback_due, datetime.now(UTC)),
        },
        principal,
    )
