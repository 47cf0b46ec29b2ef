"""House-rule sanctions on a member, by the BIN's coordinator and deputies: reprimand,
suspension until a date (the member receives nothing meanwhile), removal (appealable within
three weeks). Each step is recorded with who decided, when and why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status

from services.registry import events, repository, sanctions_repository
from services.registry.api.members import _member_in_reach
from services.registry.domain.sanctions import (
    SanctionKind,
    appeal_deadline,
    check_appeal,
    check_sanction,
)
from services.registry.schemas import AppealIn, Sanction, SanctionIn
from shared.auth import CurrentPrincipal
from shared.dependencies import Runtime

router = APIRouter(tags=["sanctions"])


@router.post(
    "/members/{member_id}/sanctions",
    status_code=status.HTTP_201_CREATED,
    response_model=Sanction,
    summary="Reprimand, suspend (until a date) or remove a member, step by step",
)
async def sanction(
    member_id: uuid.UUID, body: SanctionIn, runtime: Runtime, principal: CurrentPrincipal
) -> Sanction:
    now = datetime.now(UTC)
    async with runtime.pool.acquire() as conn, conn.transaction():
        member = await _member_in_reach(conn, member_id, principal, for_update=True)
        earlier = [
            SanctionKind(r["kind"]) for r in await sanctions_repository.sanctions(conn, member_id)
        ]
        check_sanction(body.kind, earlier, body.until, now, member["standing"] == "removed")
        row = await sanctions_repository.insert_sanction(
            conn,
            {
                "sanction_id": uuid.uuid4(),
                "member_id": member_id,
                "kind": body.kind.value,
                "reason": body.reason,
                "until": body.until,
                "decided_by": principal.subject,
                "decided_at": now,
                "appeal_deadline": appeal_deadline(body.kind, now),
            },
        )
        if body.kind is SanctionKind.SUSPENSION:
            await sanctions_repository.suspend_member(conn, member_id, body.until)
            changed = await repository.get_member(conn, member_id)
            await runtime.enqueue(conn, [events.member_changed(changed)])
        elif body.kind is SanctionKind.REMOVAL:
            await sanctions_repository.remove_member(conn, member_id)
            await runtime.enqueue(conn, [events.member_removed(member_id, member["bin_id"])])
    return Sanction.model_validate(dict(row))


@router.get("/members/{member_id}/sanctions", response_model=list[Sanction])
async def list_sanctions(
    member_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal
) -> list[Sanction]:
    async with runtime.pool.acquire() as conn:
        await _member_in_reach(conn, member_id, principal)
        return [
            Sanction.model_validate(dict(r))
            for r in await sanctions_repository.sanctions(conn, member_id)
        ]


@router.post(
    "/members/{member_id}/sanctions/{sanction_id}/appeal",
    response_model=Sanction,
    summary="Record the member's appeal against a removal (within three weeks)",
)
async def appeal(
    member_id: uuid.UUID,
    sanction_id: uuid.UUID,
    body: AppealIn,
    runtime: Runtime,
    principal: CurrentPrincipal,
) -> Sanction:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await _member_in_reach(conn, member_id, principal)
        row = await sanctions_repository.sanction_for_update(conn, sanction_id, member_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sanction with id {sanction_id}")
        check_appeal(row["appeal_deadline"], datetime.now(UTC), row["appealed_at"] is not None)
        return Sanction.model_validate(
            dict(await sanctions_repository.record_appeal(conn, sanction_id, body.reason))
        )
