"""Members: registration with the eligibility rules, the coordinator's list, changes, CSV
import and export, and the GDPR rights (export, erasure, consent withdrawal)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from services.registry import access, events, member_csv, repository
from services.registry.admission import Admission, address_of, admit
from services.registry.domain.eligibility import OUTSIDE_AREA, in_area
from services.registry.domain.errors import NotEligible
from services.registry.schemas import (
    ImportReport,
    MemberCreate,
    MemberCreated,
    MemberExport,
    MemberUpdate,
    RejectedRow,
)
from shared.areas import Address, normalise_name
from shared.auth import CurrentPrincipal, Principal
from shared.database import Connection
from shared.dependencies import Runtime
from shared.events import BinStatus

router = APIRouter(tags=["members"])
MAX_IMPORT_BYTES = 50 * 1024 * 1024


def _today() -> date:
    return date.today()


def _reachable(
    member_id: uuid.UUID, bin_id: uuid.UUID, new: MemberCreate, a: Admission
) -> dict[str, Any]:
    """What the member events need, without reading the row back."""
    return {
        "member_id": member_id,
        "bin_id": bin_id,
        "language": new.language.value,
        "phones": new.phones,
        "email": new.email,
        "subsidised_sms": a.subsidised_sms,
        "channels": [c.value for c in new.channels],
        "quiet_from": new.quiet_from,
        "quiet_until": new.quiet_until,
        "paused_until": new.paused_until,
    }


async def _open_bin(conn: Connection, bin_id: uuid.UUID, principal: Principal) -> Any:
    row = await repository.bin_row(conn, bin_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
    access.require(
        access.keeps_members(principal, bin_id),
        "only the BIN's own coordinator and deputies keep its members",
    )
    if row["status"] == BinStatus.DISSOLVED:
        raise HTTPException(status.HTTP_409_CONFLICT, "a dissolved BIN takes no members")
    return row


async def _member_in_reach(
    conn: Connection, member_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> Any:
    row = await repository.get_member(conn, member_id, for_update=for_update)
    # The same answer for "no such member" and "not yours": ids of other BINs' members leak
    # nothing.
    if row is None or not access.keeps_members(principal, row["bin_id"]):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no member with id {member_id} in your BINs"
        )
    return row


@router.post(
    "/bins/{bin_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberCreated
)
async def register_member(
    bin_id: uuid.UUID, new: MemberCreate, runtime: Runtime, principal: CurrentPrincipal
) -> MemberCreated:
    member_id = uuid.uuid4()
    try:
        async with runtime.pool.acquire() as conn, conn.transaction():
            row = await _open_bin(conn, bin_id, principal)
            rules = repository.rules_of(row, await repository.streets(conn, bin_id))
            unit = address_of(new).housing_unit()
            claimed = {unit} if await repository.unit_claimed(conn, bin_id, unit) else set()
            admission = admit(new, rules, claimed, _today())
            if isinstance(admission, list):
                raise NotEligible(admission)
            await repository.insert_members(
                conn, [repository.member_record(member_id, bin_id, new, admission)]
            )
            await runtime.enqueue(
                conn, events.member_joined(_reachable(member_id, bin_id, new, admission))
            )
    except asyncpg.UniqueViolationError:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "another member of this housing unit was registered at the same moment; try again",
        ) from None
    return MemberCreated(
        member_id=member_id,
        bin_id=bin_id,
        subsidised_sms=admission.subsidised_sms,
        notices=admission.notices,
    )


@router.get("/bins/{bin_id}/members", response_model=list[MemberExport])
async def list_members(
    bin_id: uuid.UUID,
    runtime: Runtime,
    principal: CurrentPrincipal,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of a name or e-mail")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[MemberExport]:
    async with runtime.pool.acquire() as conn:
        await _open_bin(conn, bin_id, principal)
        return await repository.bin_members(conn, bin_id, search, limit, offset)


@router.post(
    "/bins/{bin_id}/members/import",
    response_model=ImportReport,
    summary="Import a member list (CSV); every row checked, a report of each refused row",
    responses={422: {"description": "Rows refused and nothing imported (see the report)"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def import_members(
    bin_id: uuid.UUID,
    request: Request,
    runtime: Runtime,
    principal: CurrentPrincipal,
    response: Response,
    partial: Annotated[
        bool, Query(description="Import the good rows even when others are refused")
    ] = False,
) -> ImportReport:
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_IMPORT_BYTES} bytes a file"
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("cp1252", errors="replace")  # what older spreadsheets save
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await _open_bin(conn, bin_id, principal)
        rules = repository.rules_of(row, await repository.streets(conn, bin_id))
        claimed = await repository.claimed_units(conn, bin_id)
        today = _today()
        records, reachable, rejected = [], [], []
        seen: dict[tuple[str, date, str], int] = {}
        try:
            rows = list(member_csv.parse(text))
        except member_csv.CsvProblem as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        for line, candidate in rows:
            if isinstance(candidate, list):
                rejected.append(RejectedRow(row=line, reasons=candidate))
                continue
            key = (
                normalise_name(candidate.full_name),
                candidate.birth_date,
                address_of(candidate).housing_unit(),
            )
            if key in seen:
                rejected.append(
                    RejectedRow(row=line, reasons=[f"the same member as row {seen[key]}"])
                )
                continue
            seen[key] = line
            admission = admit(candidate, rules, claimed, today)
            if isinstance(admission, list):
                rejected.append(RejectedRow(row=line, reasons=admission))
                continue
            if admission.sms_unit_claim:
                claimed.add(admission.sms_unit_claim)
            member_id = uuid.uuid4()
            records.append(repository.member_record(member_id, bin_id, candidate, admission))
            reachable.append(_reachable(member_id, bin_id, candidate, admission))
        report = ImportReport(
            rows=len(rows),
            accepted=len(records),
            rejected=rejected,
            imported=bool(records) and (partial or not rejected),
            member_ids=[r["member_id"] for r in reachable],
        )
        if rejected and not partial:
            # Nothing half-imported: the coordinator fixes the file, or asks for partial.
            response.status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
            report.member_ids = []
            return report
        await repository.insert_members(conn, records)
        # One correlation id for the whole import: its events are one story.
        correlation_id = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        await runtime.enqueue(
            conn, [e for r in reachable for e in events.member_joined(r, correlation_id)]
        )
    return report


@router.get(
    "/bins/{bin_id}/members/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The BIN's member list as CSV, in the import's columns",
)
async def export_members(
    bin_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal
) -> Response:
    async with runtime.pool.acquire() as conn:
        await _open_bin(conn, bin_id, principal)
        members = []
        offset = 0
        while page := await repository.bin_members(conn, bin_id, None, 5000, offset):
            members.extend(page)
            offset += len(page)
    return Response(
        member_csv.export(members),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="members-{bin_id}.csv"'},
    )


@router.get("/members/{member_id}", response_model=MemberExport, summary="GDPR data export")
async def export_member(
    member_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal
) -> MemberExport:
    async with runtime.pool.acquire() as conn:
        await _member_in_reach(conn, member_id, principal)
        found = await repository.export_member(conn, member_id)
    assert found is not None
    return found


@router.patch("/members/{member_id}", response_model=MemberExport)
async def change_member(
    member_id: uuid.UUID, change: MemberUpdate, runtime: Runtime, principal: CurrentPrincipal
) -> MemberExport:
    async with runtime.pool.acquire() as conn, conn.transaction():
        current = await _member_in_reach(conn, member_id, principal, for_update=True)
        return await apply_change(conn, runtime, current, change)


async def apply_change(
    conn: Connection, runtime: Runtime, current: Any, change: MemberUpdate
) -> MemberExport:
    """The change as PATCH makes it, for whoever may make it (the coordinator, or the member
    through their signed preferences link); ``current`` is the row read FOR UPDATE."""
    member_id = current["member_id"]
    if current["standing"] == "removed":
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the member was removed under the house rules"
        )
    bin_row = await repository.bin_row(conn, current["bin_id"])
    values = dict(current)
    updates = change.model_dump(exclude_unset=True)
    address = updates.pop("address", None)
    for key in (
        "full_name",
        "phones",
        "email",
        "channels",
        "quiet_from",
        "quiet_until",
        "paused_until",
    ):
        if key in updates:
            values[key] = updates[key]
    for key in ("language", "relation", "digest_subscribed"):
        if updates.get(key) is not None:
            values[key] = updates[key].value if hasattr(updates[key], "value") else updates[key]
    values["channels"] = [getattr(c, "value", c) for c in values["channels"]]
    if not values["phones"] and values["email"] is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a member needs a phone number or an e-mail address",
        )
    if address is not None:
        moved = Address(
            address["street"],
            address["house_number"],
            address["municipality"],
            address.get("postal_code", ""),
            address.get("box", ""),
        )
        area = await repository.streets(conn, current["bin_id"])
        if not in_area(moved, bin_row["municipality"], area):
            raise NotEligible([OUTSIDE_AREA])
        values.update(
            street=moved.street,
            house_number=moved.house_number,
            box=moved.box,
            postal_code=moved.postal_code,
            municipality=moved.municipality,
            housing_unit=moved.housing_unit(),
        )
        # The member's own claim would count as "taken": only a real move re-checks it.
        if values["sms_unit_claim"] is not None and moved.housing_unit() != current["housing_unit"]:
            # The SMS subsidy moves with the member, if no one at the new unit has it.
            taken = await repository.unit_claimed(conn, current["bin_id"], moved.housing_unit())
            values["sms_unit_claim"] = None if taken else moved.housing_unit()
            values["subsidised_sms"] = not taken
    await repository.update_member(conn, member_id, values)
    await runtime.enqueue(conn, [events.member_changed(values)])
    found = await repository.export_member(conn, member_id)
    assert found is not None
    return found


async def _erase(runtime: Runtime, member_id: uuid.UUID, principal: Principal, reason: str) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await _member_in_reach(conn, member_id, principal, for_update=True)
        await erase(conn, runtime, member_id, reason)


async def erase(conn: Connection, runtime: Runtime, member_id: uuid.UUID, reason: str) -> None:
    """Erasure for whoever may ask it (the coordinator, or the member through their link)."""
    bin_id = await repository.erase_member(conn, member_id, reason)
    assert bin_id is not None
    # Dispatch forgets the contact data on member.erased.v1; other services likewise.
    await runtime.enqueue(conn, events.member_left(member_id, bin_id))


@router.delete(
    "/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="GDPR erasure: the member leaves and their personal data is removed everywhere",
)
async def erase_member(member_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal) -> None:
    await _erase(runtime, member_id, principal, "erasure_requested")


@router.post(
    "/members/{member_id}/consent-withdrawal",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="The member withdraws consent: as erasure, recorded as a withdrawal",
)
async def withdraw_consent(
    member_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal
) -> None:
    await _erase(runtime, member_id, principal, "consent_withdrawn")
