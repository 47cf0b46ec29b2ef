"""The CSV import page: the file goes to the API's import as it is, and the API's row report
(accepted rows, refused rows with their reasons) is shown in the page."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.registry import member_csv
from services.registry.console.guard import bin_in_reach
from services.registry.console.setup import PagesDep
from shared.dependencies import Runtime
from shared.web.session import ConsoleUser

router = APIRouter(include_in_schema=False)


@router.get("/console/bins/{bin_id}/import", response_class=HTMLResponse)
async def import_page(
    bin_id: uuid.UUID, request: Request, runtime: Runtime, pages: PagesDep, principal: ConsoleUser
) -> HTMLResponse:
    async with runtime.pool.acquire() as conn:
        row = await bin_in_reach(conn, request, pages, principal, bin_id)
    if isinstance(row, HTMLResponse):
        return row
    context = {
        "bin": row,
        "columns": member_csv.COLUMNS,
        "required": member_csv.REQUIRED,
        "section": "import",
    }
    return pages.coordinators.render(request, "import.html", context, principal)
