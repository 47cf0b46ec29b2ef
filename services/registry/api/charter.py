"""The charter's content and its change log: partners, budget plan, communication plan;
changes after signing are flagged to report to the FOD Binnenlandse Zaken, exported for it,
and marked reported with the FOD's reference."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status

from services.registry import access, charter_repository, events, repository
from services.registry.domain.charter import changed_sections, must_report
from services.registry.schemas import ChangesReported, Charter, CharterChange, CharterUpdate
from shared.auth import CurrentPrincipal, Principal
from shared.database import Connection
from shared.dependencies import Runtime
from shared.events import BinStatus, CommunicationPlan

router = APIRouter(tags=["charter"])


async def _charter(conn: Connection, bin_id: uuid.UUID, principal: Principal) -> Charter:
    row = await repository.bin_row(conn, bin_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
    # The partners' contact details are for those who run the BIN and its coordinators.
    access.require(
        access.manages_bin(principal, row) or access.keeps_members(principal, bin_id),
        "only the BIN's police zone, municipality, coordinators or an admin see its charter",
    )
    content = await charter_repository.charter(conn, bin_id)
    return Charter(
        bin_id=bin_id,
        partners=content["partners"],
        budget_plan=content["budget_plan"],
        communication_plan=CommunicationPlan.model_validate(row["communication_plan"]),
        changes=[
            CharterChange.model_validate(dict(c))
            for c in await charter_repository.charter_changes(conn, bin_id)
        ],
    )


@router.get("/bins/{bin_id}/charter", response_model=Charter)
async def get_charter(bin_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal) -> Charter:
    async with runtime.pool.acquire() as conn:
        return await _charter(conn, bin_id, principal)


@router.put("/bins/{bin_id}/charter", response_model=Charter)
async def change_charter(
    bin_id: uuid.UUID, update: CharterUpdate, runtime: Runtime, principal: CurrentPrincipal
) -> Charter:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await repository.bin_row(conn, bin_id, for_update=True)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
        access.require(
            access.manages_bin(principal, row),
            "only the BIN's police zone, its municipality or an admin change its charter",
        )
        current = await charter_repository.charter(conn, bin_id)
        before = {**current, "communication_plan": row["communication_plan"]}
        after = update.model_dump(mode="json", exclude_none=True)
        to_report = must_report(BinStatus(row["status"]))
        for section, old, new in changed_sections(before, after):
            await charter_repository.record_charter_change(
                conn,
                {
                    "change_id": uuid.uuid4(),
                    "bin_id": bin_id,
                    "section": section,
                    "before": old,
                    "after": new,
                    "changed_by": principal.subject,
                    "to_report": to_report,
                },
            )
        merged = {**before, **after}
        await charter_repository.save_charter(
            conn, bin_id, merged["partners"], merged["budget_plan"], merged["communication_plan"]
        )
        if "communication_plan" in after:
            # The BIN's snapshot again: dispatch, intake and digest follow the new plan.
            await runtime.enqueue(
                conn, [events.bin_registered(await repository.bin_row(conn, bin_id))]
            )
        return await _charter(conn, bin_id, principal)


@router.get(
    "/bins/{bin_id}/charter/changes/to-report",
    summary="The changes to report to the FOD Binnenlandse Zaken, as a document to send",
)
async def changes_to_report(
    bin_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal
) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        charter = await _charter(conn, bin_id, principal)
        row = await repository.bin_row(conn, bin_id)
        changes = await charter_repository.charter_changes(conn, bin_id, unreported_only=True)
    return {
        "to": "FOD Binnenlandse Zaken, Algemene Directie Veiligheid en Preventie",
        "bin": {
            "bin_id": str(bin_id),
            "name": row["name"],
            "municipality": row["municipality"],
            "police_zone": row["police_zone"],
            "fod_reference": row["fod_reference"],
        },
        "exported_at": datetime.now(UTC).isoformat(),
        "changes": [CharterChange.model_validate(dict(c)).model_dump(mode="json") for c in changes],
        "charter_now": charter.model_dump(mode="json", exclude={"changes"}),
    }


@router.post(
    "/bins/{bin_id}/charter/changes/reported",
    response_model=list[uuid.UUID],
    summary="Mark changes as reported to the FOD, with its reference",
)
async def changes_reported(
    bin_id: uuid.UUID, body: ChangesReported, runtime: Runtime, principal: CurrentPrincipal
) -> list[uuid.UUID]:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await repository.bin_row(conn, bin_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
        access.require(
            access.manages_bin(principal, row),
            "only the BIN's police zone, its municipality or an admin report its charter",
        )
        marked = await charter_repository.mark_reported(
            conn, bin_id, body.change_ids, body.fod_reference
        )
        if len(marked) != len(set(body.change_ids)):
            # All or nothing: the transaction rolls the others back.
            missing = sorted(set(body.change_ids) - set(marked), key=str)
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"not changes of this BIN waiting to be reported: {', '.join(map(str, missing))}",
            )
    return marked
