"""Four-eyes approval in the console, live: the zone's alerts waiting for a second operator
(a stream on the alerts page, each with its one-click approval), and on a held alert's own
page its state, until a colleague approves it (who and when) or it is cancelled.

Both streams poll the database about once a second and hold no connection while they wait,
as the progress streams do (:mod:`services.intake.console.live`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.intake import access, four_eyes, repository
from services.intake.api import alerts as api
from services.intake.console.formatting import local_time
from services.intake.console.live import MAX_STREAM_SECONDS, RETRY, event, stream
from services.intake.console.pages import Operator, PageConsole, PageRoute
from shared.dependencies import Runtime
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)

POLL_SECONDS = 1.0

Text = Callable[..., str]


@router.get("/approvals/stream")
async def approvals_stream(
    request: Request, console: PageConsole, runtime: Runtime, principal: Operator
) -> StreamingResponse:
    template = console.templates.get_template("_approvals.html")
    text = partial(console.catalogues.text, console.language(request))

    def rows(found: list[Any]) -> str:
        return template.render(awaiting=found, viewer=principal.subject, t=text)

    return stream(awaiting_events(runtime, access.zones_of(principal), rows))


async def awaiting_events(
    runtime: ServiceRuntime, zones: list[str] | None, rows: Callable[[list[Any]], str]
) -> AsyncIterator[bytes]:
    shown: list[uuid.UUID] | None = None
    deadline = time.monotonic() + MAX_STREAM_SECONDS
    yield RETRY
    while time.monotonic() < deadline:
        async with runtime.pool.acquire() as conn:
            found = await four_eyes.awaiting_approval(conn, zones)
        ids = [r["alert_id"] for r in found]
        if ids != shown:
            shown = ids
            yield event({"count": len(found), "rows": rows(found)})
        await asyncio.sleep(POLL_SECONDS)


@router.get("/alerts/{alert_id}/approval/stream")
async def approval_stream(
    alert_id: uuid.UUID,
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
) -> StreamingResponse:
    await api.get_alert(alert_id, runtime, principal)  # in the caller's zone, or refused
    text = partial(console.catalogues.text, console.language(request))
    return stream(approval_events(alert_id, runtime, text))


def approval_view(row: Any, text: Text) -> tuple[dict[str, Any], bool]:
    """What the held alert's page shows, and whether that is final."""
    if row["approved_at"] is not None:
        state = text("approval_approved", who=row["approved_by"], at=local_time(row["approved_at"]))
        return {"state": state, "approved_by": row["approved_by"]}, True
    if row["cancelled_at"] is not None:
        return {"state": text("approval_cancelled")}, True
    return {"state": text("approval_waiting")}, False


async def approval_events(
    alert_id: uuid.UUID, runtime: ServiceRuntime, text: Text
) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + MAX_STREAM_SECONDS
    yield RETRY
    while time.monotonic() < deadline:
        async with runtime.pool.acquire() as conn:
            row = await repository.get_alert(conn, alert_id)
        shown, final = approval_view(row, text)
        if final:
            yield event(shown, "done")
            return
        yield event(shown)
        await asyncio.sleep(POLL_SECONDS)
