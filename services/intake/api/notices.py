"""Non-urgent notices (to chosen BINs, zone-wide or municipality-wide) and police news."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.intake import access, outgoing, repository
from services.intake.schemas import (
    News,
    NewsRequest,
    NoticeAccepted,
    NoticeRequest,
    NoticeScope,
    PrivacyChange,
)
from shared.dependencies import Runtime

router = APIRouter(tags=["notices and news"])


@router.post(
    "/notices",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=NoticeAccepted,
    summary="Prevention tips, awareness, case results: by e-mail/push to active BINs",
)
async def publish_notice(
    body: NoticeRequest, runtime: Runtime, principal: access.Police
) -> NoticeAccepted:
    access.check_zone(principal, body.police_zone)
    async with runtime.pool.acquire() as conn, conn.transaction():
        if body.scope is NoticeScope.BINS:
            targets = await outgoing.active_targets(conn, principal, body.bin_ids)
        elif body.scope is NoticeScope.ZONE:
            targets = await repository.active_bins_of_zone(conn, body.police_zone)
        else:
            assert body.municipality is not None
            targets = [
                b
                for b in await repository.active_bins_of_municipality(conn, body.municipality)
                if b["police_zone"] == body.police_zone
            ]
        notice_id, changes = await outgoing.publish_notice(
            conn, runtime, principal, body, targets, body.scope.value
        )
    return NoticeAccepted(
        notice_id=notice_id,
        bin_ids=[t["bin_id"] for t in targets],
        privacy_changes=PrivacyChange.listed(changes),
    )


@router.post(
    "/news",
    status_code=status.HTTP_201_CREATED,
    response_model=News,
    summary="A police news item; publishable ones go into the zone's daily digest",
)
async def record_news(body: NewsRequest, runtime: Runtime, principal: access.Police) -> News:
    async with runtime.pool.acquire() as conn, conn.transaction():
        news_id, _ = await outgoing.record_news(
            conn, runtime, principal, body, body.police_zone, body.place, body.occurred_at
        )
        row = await repository.get_news(conn, news_id)
    return News.model_validate(dict(row))


@router.get("/news", response_model=list[News])
async def list_news(
    runtime: Runtime,
    principal: access.Police,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[News]:
    async with runtime.pool.acquire() as conn:
        rows = await repository.list_news(conn, access.zones_of(principal), limit)
    return [News.model_validate(dict(r)) for r in rows]
