"""How many members an alert to these BINs would reach, from dispatch's own recipient
projection (the same members a fan-out targets). Intake asks before it lets an alert out:
a large one waits for a second operator (four-eyes approval). Counts only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from shared.auth import CurrentPrincipal, Principal
from shared.dependencies import Runtime
from shared.evaluation import POLICE

router = APIRouter(tags=["deliveries"])

SELECT_BINS = "SELECT bin_id, police_zone FROM bin_projection WHERE bin_id = ANY($1::uuid[])"
# A member of several of the BINs is reached once, as in a fan-out.
COUNT_MEMBERS = "SELECT count(DISTINCT member_id) FROM membership WHERE bin_id = ANY($1::uuid[])"


class Reach(BaseModel):
    members: int = Field(description="Distinct members of the BINs in dispatch's projection")
    # BINs dispatch does not know (yet) have no member to reach here.
    unknown_bin_ids: list[uuid.UUID]


def may_count(principal: Principal, zones: set[str]) -> bool:
    """Police of every zone concerned, and admins."""
    return principal.is_admin or (
        bool(principal.roles.intersection(POLICE)) and zones <= principal.police_zones
    )


@router.get(
    "/reach",
    response_model=Reach,
    summary="Members an alert to these BINs would reach (police of their zones)",
)
async def reach(
    runtime: Runtime,
    principal: CurrentPrincipal,
    bin_ids: Annotated[list[uuid.UUID], Query(alias="bin_id", min_length=1, max_length=500)],
) -> Reach:
    wanted = list(dict.fromkeys(bin_ids))
    async with runtime.pool.acquire() as conn:
        known = {r["bin_id"]: r["police_zone"] for r in await conn.fetch(SELECT_BINS, wanted)}
        if not may_count(principal, set(known.values())):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "some of these BINs are outside your police zone"
            )
        members = await conn.fetchval(COUNT_MEMBERS, wanted)
    return Reach(members=int(members), unknown_bin_ids=[b for b in wanted if b not in known])
