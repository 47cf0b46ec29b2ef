"""Pages: incoming reports, a report with its evaluation (the proposed BINs), and the alert
composer for the BINs the operator kept ticked."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.intake import access, repository
from services.intake.api import reports as api
from services.intake.console.pages import Operator, PageConsole, PageRoute
from services.intake.domain.news import NewsCategory
from services.intake.errors import NotFound
from services.intake.schemas import ReportCategory, ReportSource
from shared.dependencies import Runtime
from shared.events import Language

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
    status: Annotated[str | None, Query(pattern="^(open|evaluated)$")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    found = await api.list_reports(
        runtime, principal, status, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE
    )
    return console.render(
        request,
        "reports.html",
        {
            "reports": found[:PAGE_SIZE],
            "status": status,
            "page": page,
            "more": len(found) > PAGE_SIZE,
            "zones": sorted(principal.police_zones),
            "sources": list(ReportSource),
            "categories": list(ReportCategory),
        },
        principal,
    )


@router.get("/reports/{report_id}", response_class=HTMLResponse)
async def report_page(
    report_id: uuid.UUID,
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
) -> HTMLResponse:
    report = await api.get_report(report_id, runtime, principal)
    proposed = [] if report.evaluation else await api.proposal(report_id, runtime, principal)
    return console.render(
        request,
        "report.html",
        {"report": report, "proposed": proposed, "news_categories": list(NewsCategory)},
        principal,
    )


@router.get("/reports/{report_id}/alert", response_class=HTMLResponse)
async def composer_page(
    report_id: uuid.UUID,
    request: Request,
    console: PageConsole,
    runtime: Runtime,
    principal: Operator,
    chosen: Annotated[list[uuid.UUID], Query(alias="bin", max_length=500)] = [],  # noqa: B006
) -> HTMLResponse:
    report = await api.get_report(report_id, runtime, principal)
    async with runtime.pool.acquire() as conn:
        found = await repository.bins(conn, chosen)
    unknown = [str(b) for b in chosen if b not in found]
    if unknown:
        raise NotFound("unknown BINs: " + ", ".join(unknown))
    targets = [found[b] for b in dict.fromkeys(chosen)]
    access.check_bins_in_zone(principal, targets)
    spoken = {lang for t in targets for lang in t["languages"]}
    languages = [lang for lang in Language if lang.value in spoken or lang is Language.NL]
    return console.render(
        request,
        "composer.html",
        {"report": report, "targets": targets, "text_languages": languages},
        principal,
    )
