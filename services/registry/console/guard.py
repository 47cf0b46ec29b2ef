"""Who may open a coordinator page: the same rule as the API (access.keeps_members), with
the refusal shown as a page instead of a problem document."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.registry import access, repository
from services.registry.console.setup import Pages
from shared.auth import Principal
from shared.database import Connection


async def bin_in_reach(
    conn: Connection, request: Request, pages: Pages, principal: Principal, bin_id: uuid.UUID
) -> Any | HTMLResponse:
    """The BIN's row, or the page to answer with instead. Access is checked before the BIN
    is looked up, so another BIN's page says nothing about whether it exists."""
    console = pages.coordinators
    t = console.catalogues.text
    language = console.language(request)
    if not access.keeps_members(principal, bin_id):
        return console.refuse(request, t(language, "refused_not_your_bin"), principal)
    row = await repository.bin_row(conn, bin_id)
    if row is None:
        return console.refuse(request, t(language, "no_such_bin"), principal, status_code=404)
    return row
