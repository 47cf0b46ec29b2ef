"""The coordinator's start page (their BINs) and a BIN's page: lifecycle, charter
signatures, the month's SMS cost."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.registry import access, repository
from services.registry.console import costs, views
from services.registry.console.guard import bin_in_reach
from services.registry.console.setup import PagesDep
from services.registry.domain.lifecycle import Signatory, allowed_next
from shared.auth import presented_token
from shared.dependencies import Runtime
from shared.events import BinStatus
from shared.web.session import ConsoleUser

router = APIRouter(include_in_schema=False)

# The way to official, in order: the page marks where the BIN stands on it.
PATH = (
    BinStatus.PROPOSED,
    BinStatus.CHARTER_DRAFTED,
    BinStatus.CHARTER_SIGNED,
    BinStatus.SUBMITTED,
    BinStatus.APPROVED,
    BinStatus.ACTIVE,
)


@router.get("/console", response_class=HTMLResponse)
async def start(
    request: Request, runtime: Runtime, pages: PagesDep, principal: ConsoleUser
) -> HTMLResponse:
    console = pages.coordinators
    if not (principal.is_admin or principal.has_role(*access.MEMBER_KEEPERS)):
        reason = console.catalogues.text(console.language(request), "refused_not_coordinator")
        return console.refuse(request, reason, principal)
    async with runtime.pool.acquire() as conn:
        found = await views.bins(conn, None if principal.is_admin else sorted(principal.bin_ids))
    return console.render(request, "bins.html", {"bins": found}, principal)


@router.get("/console/bins/{bin_id}", response_class=HTMLResponse)
async def overview(
    bin_id: uuid.UUID, request: Request, runtime: Runtime, pages: PagesDep, principal: ConsoleUser
) -> HTMLResponse:
    async with runtime.pool.acquire() as conn:
        row = await bin_in_reach(conn, request, pages, principal, bin_id)
        if isinstance(row, HTMLResponse):
            return row
        found = await repository.get_bin(conn, bin_id)
        history = await views.status_history(conn, bin_id)
    assert found is not None
    month = costs.this_month()
    cost = await costs.month_cost(
        pages.settings.dispatch_url, presented_token(request), bin_id, month
    )
    signed = {s.signatory for s in found.signatures}
    context = {
        "bin": found,
        "path": PATH,
        "reached": PATH.index(found.status) if found.status in PATH else None,
        "next_steps": sorted(allowed_next(found.status)),
        "history": history,
        "unsigned": [s for s in Signatory if s not in signed],
        "month": month,
        "cost": cost,
        "section": "overview",
    }
    return pages.coordinators.render(request, "bin.html", context, principal)
