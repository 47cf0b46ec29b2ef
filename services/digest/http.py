"""Operators preview a BIN's next digest and have a day's digest sent again."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel

from services.digest import repository
from services.digest.compiler import DigestCompiler
from services.digest.domain.selection import DigestBin
from shared.auth import Principal, Role, require_roles
from shared.dependencies import Runtime
from shared.events.digest import DigestCompiledData
from shared.logging import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["digest"])
Operator = Annotated[
    Principal, require_roles(Role.OPERATOR, Role.MANDATED_OFFICER, Role.PREVENTION_OFFICER)
]


class Resent(BaseModel):
    digest_id: uuid.UUID
    bin_id: uuid.UUID
    day: date


def _compiler(request: Request) -> DigestCompiler:
    compiler: DigestCompiler = request.app.state.compiler
    return compiler


Compiler = Annotated[DigestCompiler, Depends(_compiler)]


async def _bin_in_scope(
    runtime: Runtime, bin_id: uuid.UUID, principal: Principal
) -> tuple[DigestBin, str]:
    async with runtime.pool.acquire() as conn:
        found = await repository.get_bin(conn, bin_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id} known to the digest"
        )
    digest_bin = found[0]
    # Police act in their zone; a municipality's prevention officer in their municipality.
    if not (
        principal.acts_in_zone(digest_bin.police_zone)
        or principal.acts_in_municipality(digest_bin.municipality)
        or principal.manages_bin(bin_id)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this BIN is outside your police zone or municipality"
        )
    return found


@router.get("/pending-news", summary="News items collected, per police zone")
async def pending_news(runtime: Runtime, _: Operator) -> dict[str, int]:
    async with runtime.pool.acquire() as conn:
        return await repository.count_by_zone(conn)


@router.get(
    "/bins/{bin_id}/digest/preview",
    response_model=DigestCompiledData,
    summary="The BIN's digest of a day as it stands now (default: the next digest day)",
)
async def preview(
    bin_id: uuid.UUID,
    runtime: Runtime,
    compiler: Compiler,
    principal: Operator,
    day: Annotated[date | None, Query()] = None,
) -> DigestCompiledData:
    digest_bin, name = await _bin_in_scope(runtime, bin_id, principal)
    if day is None:
        day = compiler.calendar.upcoming_day(datetime.now(UTC))
    return await compiler.preview(digest_bin, name, day)


@router.post(
    "/bins/{bin_id}/digest/{day}/resend",
    response_model=Resent,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send the BIN's digest of a day again",
)
async def resend(
    bin_id: uuid.UUID, day: date, runtime: Runtime, compiler: Compiler, principal: Operator
) -> Resent:
    digest_bin, name = await _bin_in_scope(runtime, bin_id, principal)
    digest_id = await compiler.resend(digest_bin, name, day)
    log.info("digest re-sent", bin_id=str(bin_id), day=day.isoformat(), by=principal.subject)
    return Resent(digest_id=digest_id, bin_id=bin_id, day=day)
