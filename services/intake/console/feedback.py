"""Page: activations still owing the BINs feedback, overdue first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.intake.api import alerts as api
from services.intake.console.pages import Operator, PageConsole, PageRoute
from shared.dependencies import Runtime

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)


@router.get("/feedback", response_class=HTMLResponse)
async def feedback_page(
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
    overdue: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    owed = await api.open_feedback(runtime, principal, overdue)
    return console.render(
        request, "feedback.html", {"owed": owed, "overdue_only": overdue}, principal
    )
