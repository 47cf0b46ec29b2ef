"""Server-sent event streams for an alert's page: delivery progress (polled from dispatch
about once a second, ``done`` when final) and members' responses as they arrive.

A stream holds no database connection while it waits: each poll borrows one and gives it
back. No stream lives longer than :data:`MAX_STREAM_SECONDS`; the browser then reconnects,
so a forgotten tab costs one poll a second, not a connection for ever.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.intake import repository
from services.intake.api import alerts as api
from services.intake.console import views
from services.intake.console.dispatch_client import DispatchUnavailable, ProgressClient
from services.intake.console.pages import Operator, PageConsole, PageRoute
from services.intake.console.progress import final, view
from shared.auth import presented_token
from shared.dependencies import Runtime
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)

POLL_SECONDS = 1.0
RESPONSES_POLL_SECONDS = 2.0
MAX_STREAM_SECONDS = 600.0
# Proxies must pass events on at once; the browser retries after 2 s when a stream ends.
STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
RETRY = b"retry: 2000\n\n"

Text = Callable[..., str]


def event(data: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n".encode() if name else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/alerts/{alert_id}/progress/stream")
async def progress_stream(
    alert_id: uuid.UUID,
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
) -> StreamingResponse:
    await api.get_alert(alert_id, runtime, principal)  # in the caller's zone, or refused
    text = partial(console.catalogues.text, console.language(request))
    dispatch_url = str(request.app.state.dispatch_url)
    return stream(progress_events(alert_id, dispatch_url, presented_token(request), text))


async def progress_events(
    alert_id: uuid.UUID, dispatch_url: str, token: str | None, text: Text
) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + MAX_STREAM_SECONDS
    yield RETRY
    async with ProgressClient(dispatch_url, token) as dispatch:
        while time.monotonic() < deadline:
            try:
                progress = await dispatch.progress(alert_id)
            except DispatchUnavailable:
                yield event({"state": text("progress_dispatch_unavailable")})
                await asyncio.sleep(POLL_SECONDS)
                continue
            shown = view(progress)
            if final(progress):
                yield event({**shown, "state": text("progress_done")}, "done")
                return
            state = "progress_sending" if progress is not None else "progress_waiting"
            yield event({**shown, "state": text(state)})
            await asyncio.sleep(POLL_SECONDS)


@router.get("/alerts/{alert_id}/responses/stream")
async def responses_stream(
    alert_id: uuid.UUID,
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
) -> StreamingResponse:
    await api.get_alert(alert_id, runtime, principal)
    template = console.templates.get_template("_responses.html")
    text = partial(console.catalogues.text, console.language(request))

    def rows(found: list[Any]) -> str:
        return template.render(responses=found, t=text)

    return stream(response_events(alert_id, runtime, rows))


async def response_events(
    alert_id: uuid.UUID, runtime: ServiceRuntime, rows: Callable[[list[Any]], str]
) -> AsyncIterator[bytes]:
    shown = -1
    deadline = time.monotonic() + MAX_STREAM_SECONDS
    yield RETRY
    while time.monotonic() < deadline:
        async with runtime.pool.acquire() as conn:
            count = await views.response_count(conn, alert_id)
            found = await repository.responses(conn, alert_id) if count != shown else None
        if found is not None:
            shown = count
            yield event({"count": count, "rows": rows(found)})
        await asyncio.sleep(RESPONSES_POLL_SECONDS)
