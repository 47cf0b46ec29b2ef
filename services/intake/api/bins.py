"""The BINs as intake knows them (from the registry's events): what operators may alert."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from services.intake import access, repository
from services.intake.errors import NotFound
from shared.dependencies import Runtime
from shared.events import Channel, Language

router = APIRouter(tags=["bins"])


class KnownBin(BaseModel):
    bin_id: uuid.UUID
    bin_name: str | None
    kind: str | None
    municipality: str | None
    police_zone: str | None
    status: str
    urgent_channels: list[Channel]
    news_channels: list[Channel]
    languages: list[Language]
    neighbour_ids: list[uuid.UUID]


def _known(row: Any) -> KnownBin:
    return KnownBin.model_validate(dict(row))


@router.get(
    "/bins",
    response_model=list[KnownBin],
    summary="Active BINs of your zones (all of them, for admins)",
)
async def list_bins(runtime: Runtime, principal: access.Police) -> list[KnownBin]:
    async with runtime.pool.acquire() as conn:
        zones = access.zones_of(principal)
        if zones is None:
            rows = await repository.active_bins(conn)
        else:
            rows = [r for zone in zones for r in await repository.active_bins_of_zone(conn, zone)]
    return [_known(r) for r in rows]


@router.get("/bins/{bin_id}", response_model=KnownBin)
async def get_bin(bin_id: uuid.UUID, runtime: Runtime, principal: access.Police) -> KnownBin:
    async with runtime.pool.acquire() as conn:
        found = (await repository.bins(conn, [bin_id])).get(bin_id)
    if found is None:
        raise NotFound(f"no BIN with id {bin_id} known to intake")
    access.check_zone(principal, found["police_zone"] or "")
    return _known(found)
