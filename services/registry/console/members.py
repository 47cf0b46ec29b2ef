"""A BIN's member list (searched and paged on the server) and one member's page; adding,
changing and removing go through the JSON API from the pages' forms."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.registry import access, repository
from services.registry.console import views
from services.registry.console.guard import bin_in_reach
from services.registry.console.paging import PAGE_SIZE, Paging
from services.registry.console.setup import PagesDep
from shared.dependencies import Runtime
from shared.events import Channel, Language
from shared.web.session import ConsoleUser

router = APIRouter(include_in_schema=False)


@router.get("/console/bins/{bin_id}/members", response_class=HTMLResponse)
async def member_list(
    bin_id: uuid.UUID,
    request: Request,
    runtime: Runtime,
    pages: PagesDep,
    principal: ConsoleUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    async with runtime.pool.acquire() as conn:
        row = await bin_in_reach(conn, request, pages, principal, bin_id)
        if isinstance(row, HTMLResponse):
            return row
        paging = Paging.of(page, await views.count_members(conn, bin_id, q), PAGE_SIZE)
        found = await views.members(conn, bin_id, q, paging.size, paging.offset)
    context = {
        "bin": row,
        "members": found,
        "q": q or "",
        "paging": paging,
        "languages_offered": [language.value for language in Language],
        "today": date.today().isoformat(),
        "section": "members",
    }
    return pages.coordinators.render(request, "members.html", context, principal)


@router.get("/console/members/{member_id}", response_class=HTMLResponse)
async def member_page(
    member_id: uuid.UUID,
    request: Request,
    runtime: Runtime,
    pages: PagesDep,
    principal: ConsoleUser,
) -> HTMLResponse:
    console = pages.coordinators
    async with runtime.pool.acquire() as conn:
        found = await repository.export_member(conn, member_id)
        # The API's answer for "no such member" and "not yours" is one; so is the page's.
        if found is None or not access.keeps_members(principal, found.bin_id):
            reason = console.catalogues.text(console.language(request), "no_such_member")
            return console.refuse(request, reason, principal, status_code=404)
        bin_row = await repository.bin_row(conn, found.bin_id)
    context = {
        "bin": bin_row,
        "member": found,
        "channels": [channel.value for channel in Channel],
        "languages_offered": [language.value for language in Language],
        "section": "members",
    }
    return console.render(request, "member.html", context, principal)
