"""The audit trail: every state change, who made it and when; for admins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.intake import access, repository
from services.intake.schemas import AuditEntry
from shared.dependencies import Runtime

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditEntry], summary="Newest first")
async def audit_trail(
    runtime: Runtime,
    _: access.Admin,
    subject_id: uuid.UUID | None = None,
    police_zone: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    async with runtime.pool.acquire() as conn:
        rows = await repository.audit_trail(conn, subject_id, police_zone, actor, limit)
    return [AuditEntry.model_validate(dict(r)) for r in rows]
