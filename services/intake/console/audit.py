"""Page: the audit trail, newest first, a page at a time; for admins, like the API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.intake.console import views
from services.intake.console.pages import Operator, PageConsole, PageRoute
from services.intake.errors import OutsideZone
from shared.dependencies import Runtime

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
    before: Annotated[int | None, Query(ge=1)] = None,
    subject_id: uuid.UUID | None = None,
    police_zone: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    if not principal.is_admin:
        raise OutsideZone("the audit trail is for admins")
    async with runtime.pool.acquire() as conn:
        found = await views.audit_page(
            conn, before, subject_id, police_zone or None, actor or None, PAGE_SIZE + 1
        )
    entries = found[:PAGE_SIZE]
    return console.render(
        request,
        "audit.html",
        {
            "entries": entries,
            "next_before": entries[-1]["position"] if len(found) > PAGE_SIZE else None,
            "filters": {
                "subject_id": subject_id or "",
                "police_zone": police_zone or "",
                "actor": actor or "",
            },
        },
        principal,
    )
