"""Page: notices and police news of the zone, with the forms to publish them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.intake import access, repository
from services.intake.console import views
from services.intake.console.pages import Operator, PageConsole, PageRoute
from services.intake.domain.news import NewsCategory
from shared.dependencies import Runtime

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)

SHOWN = 50


@router.get("/notices", response_class=HTMLResponse)
async def notices_page(
    request: Request, console: PageConsole, runtime: Runtime, principal: Operator
) -> HTMLResponse:
    zones = access.zones_of(principal)
    async with runtime.pool.acquire() as conn:
        notices = await views.recent_notices(conn, zones, SHOWN)
        news = await repository.list_news(conn, zones, SHOWN)
        if zones is None:
            bins = await repository.active_bins(conn)
        else:
            bins = [b for zone in zones for b in await repository.active_bins_of_zone(conn, zone)]
    return console.render(
        request,
        "notices.html",
        {
            "notices": notices,
            "news": news,
            "bins": bins,
            "zones": sorted(principal.police_zones),
            "news_categories": list(NewsCategory),
        },
        principal,
    )
