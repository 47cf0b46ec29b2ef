"""BINs: registration, area and neighbours, lookup by address, lifecycle, charter signatures,
yearly evaluation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from services.registry import access, events, repository
from services.registry.domain.lifecycle import (
    Signatory,
    check_signature,
    check_transition,
    missing_parties,
    next_evaluation_due,
)
from services.registry.schemas import (
    AreaUpdate,
    Bin,
    BinCreate,
    CoveringBin,
    EvaluationIn,
    SignatureIn,
    StreetSegmentIn,
    Transition,
)
from shared.areas import Parity, StreetSegment
from shared.auth import CurrentPrincipal, Principal, Role
from shared.database import Connection
from shared.dependencies import Runtime
from shared.events import BinStatus

router = APIRouter(tags=["bins"])

# Which role, in which scope, signs for each signatory. A signature is personal: an admin
# cannot sign for someone else.
SIGNING_ROLE = {
    Signatory.COORDINATOR: Role.COORDINATOR,
    Signatory.MANDATED_OFFICER: Role.MANDATED_OFFICER,
    Signatory.POLICE_CHIEF: Role.POLICE_CHIEF,
    Signatory.PREVENTION_OFFICER: Role.PREVENTION_OFFICER,
    Signatory.MAYOR: Role.MAYOR,
}


def _segments(streets: list[StreetSegmentIn]) -> list[StreetSegment]:
    return [StreetSegment(s.street, s.from_number, s.to_number, Parity(s.parity)) for s in streets]


async def _bin_for_change(conn: Connection, bin_id: uuid.UUID, principal: Principal) -> Any:
    row = await repository.bin_row(conn, bin_id, for_update=True)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
    access.require(
        access.manages_bin(principal, row),
        "only the BIN's police zone, its municipality or an admin may change it",
    )
    return row


async def _read_bin(conn: Connection, bin_id: uuid.UUID) -> Bin:
    found = await repository.get_bin(conn, bin_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
    return found


@router.post("/bins", status_code=status.HTTP_201_CREATED, response_model=Bin)
async def register_bin(new: BinCreate, runtime: Runtime, principal: CurrentPrincipal) -> Bin:
    """A proposed BIN: the initiators have talked to the police."""
    access.require(
        access.may_create_bin(principal, new.police_zone, new.municipality),
        "BINs are registered by the police zone, the municipality or an admin",
    )
    bin_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        await repository.insert_bin(conn, bin_id, new)
        await repository.replace_streets(conn, bin_id, new.streets)
        await repository.change_status(conn, bin_id, BinStatus.PROPOSED, principal.subject, None)
        row = await repository.bin_row(conn, bin_id)
        out: list[Any] = [events.bin_registered(row)]
        if new.streets:
            out.append(
                events.bin_area_changed(bin_id, new.municipality, _segments(new.streets), [])
            )
        await runtime.enqueue(conn, out)
        return await _read_bin(conn, bin_id)


@router.get("/bins/{bin_id}", response_model=Bin)
async def get_bin(bin_id: uuid.UUID, runtime: Runtime, _: CurrentPrincipal) -> Bin:
    async with runtime.pool.acquire() as conn:
        return await _read_bin(conn, bin_id)


@router.put(
    "/bins/{bin_id}/area", response_model=Bin, summary="Set the BIN's streets and neighbours"
)
async def set_area(
    bin_id: uuid.UUID, area: AreaUpdate, runtime: Runtime, principal: CurrentPrincipal
) -> Bin:
    if bin_id in area.neighbour_ids:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a BIN is not its own neighbour")
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await _bin_for_change(conn, bin_id, principal)
        if row["status"] == BinStatus.DISSOLVED:
            raise HTTPException(status.HTTP_409_CONFLICT, "a dissolved BIN's area is closed")
        unknown = await repository.replace_neighbours(conn, bin_id, area.neighbour_ids)
        if unknown:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"no BIN with id {', '.join(map(str, unknown))} to be a neighbour",
            )
        await repository.replace_streets(conn, bin_id, area.streets)
        neighbour_ids = sorted(set(area.neighbour_ids), key=str)
        await runtime.enqueue(
            conn,
            [
                events.bin_area_changed(
                    bin_id, row["municipality"], _segments(area.streets), neighbour_ids
                )
            ],
        )
        return await _read_bin(conn, bin_id)


@router.get(
    "/bins/lookup/by-address",
    response_model=list[CoveringBin],
    summary="The BINs whose area covers an address (with their neighbours)",
)
async def lookup(
    runtime: Runtime,
    _: CurrentPrincipal,
    municipality: Annotated[str, Query(min_length=1, max_length=200)],
    street: Annotated[str, Query(min_length=1, max_length=200)],
    house_number: Annotated[str | None, Query(max_length=20)] = None,
) -> list[CoveringBin]:
    async with runtime.pool.acquire() as conn:
        return await repository.covering_bins(conn, municipality, street, house_number)


@router.post(
    "/bins/{bin_id}/status",
    response_model=Bin,
    summary="Move the BIN in its lifecycle (illegal steps get 409 with the possible ones)",
)
async def change_status(
    bin_id: uuid.UUID, step: Transition, runtime: Runtime, principal: CurrentPrincipal
) -> Bin:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await _bin_for_change(conn, bin_id, principal)
        current = BinStatus(row["status"])
        check_transition(current, step.status)
        if step.status is BinStatus.CHARTER_DRAFTED and not await repository.streets(conn, bin_id):
            raise HTTPException(
                status.HTTP_409_CONFLICT, "a charter needs the BIN's area: set its streets first"
            )
        if step.status is BinStatus.CHARTER_SIGNED:
            signed = [s.signatory for s in await repository.signatures(conn, bin_id)]
            if missing := missing_parties(signed):
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"the charter still lacks the signature of: {', '.join(missing)}",
                )
        if step.status in (BinStatus.SUBMITTED, BinStatus.APPROVED) and not (
            step.fod_reference or row["fod_reference"]
        ):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "give the FOD Binnenlandse Zaken's reference (fod_reference)",
            )
        at = await repository.change_status(
            conn, bin_id, step.status, principal.subject, step.note, step.fod_reference
        )
        await runtime.enqueue(conn, [events.bin_status_changed(bin_id, current, step.status, at)])
        return await _read_bin(conn, bin_id)


@router.post(
    "/bins/{bin_id}/charter/signatures",
    response_model=Bin,
    status_code=status.HTTP_201_CREATED,
    summary="Sign the drafted charter; the third party's signature makes it signed",
)
async def sign_charter(
    bin_id: uuid.UUID, body: SignatureIn, runtime: Runtime, principal: CurrentPrincipal
) -> Bin:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await repository.bin_row(conn, bin_id, for_update=True)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
        role = SIGNING_ROLE[body.signatory]
        in_scope = {
            Role.COORDINATOR: bin_id in principal.bin_ids,
            Role.MANDATED_OFFICER: row["police_zone"] in principal.police_zones
            or bin_id in principal.bin_ids,
            Role.POLICE_CHIEF: row["police_zone"] in principal.police_zones,
            Role.PREVENTION_OFFICER: row["municipality"] in principal.municipalities,
            Role.MAYOR: row["municipality"] in principal.municipalities,
        }[role]
        access.require(
            role in principal.roles and in_scope,
            f"the {body.signatory}'s signature is given by the {role} of this BIN in person",
        )
        signed = [s.signatory for s in await repository.signatures(conn, bin_id)]
        check_signature(BinStatus(row["status"]), body.signatory, signed)
        await repository.add_signature(conn, bin_id, body.signatory, principal.subject)
        if not missing_parties([*signed, body.signatory]):
            at = await repository.change_status(
                conn, bin_id, BinStatus.CHARTER_SIGNED, principal.subject, "all parties signed"
            )
            await runtime.enqueue(
                conn,
                [
                    events.bin_status_changed(
                        bin_id, BinStatus.CHARTER_DRAFTED, BinStatus.CHARTER_SIGNED, at
                    )
                ],
            )
        return await _read_bin(conn, bin_id)


@router.post(
    "/bins/{bin_id}/evaluations", response_model=Bin, summary="Record the yearly evaluation"
)
async def record_evaluation(
    bin_id: uuid.UUID, body: EvaluationIn, runtime: Runtime, principal: CurrentPrincipal
) -> Bin:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await _bin_for_change(conn, bin_id, principal)
        if row["status"] not in (BinStatus.ACTIVE, BinStatus.SUSPENDED):
            raise HTTPException(
                status.HTTP_409_CONFLICT, "only an active or suspended BIN is evaluated"
            )
        await repository.record_evaluation(
            conn, bin_id, body.held_on, next_evaluation_due(body.held_on)
        )
        return await _read_bin(conn, bin_id)
