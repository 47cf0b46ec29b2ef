"""Appointments: who holds which role where. Tokens carry these as claims; the identity
provider's mapper (or the development minting) reads them from ``/roles/{subject}/claims``."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, HTTPException, status

from services.registry import access, repository, roles_repository
from services.registry.domain.eligibility import ADULT_AGE, age_on
from services.registry.domain.roles import BIN_ROLES, scope_problem
from services.registry.schemas import Claims, RoleAssignment, Screening, ScreeningIn
from shared.auth import CurrentPrincipal, Principal, Role
from shared.database import Connection
from shared.dependencies import Runtime

router = APIRouter(tags=["roles"])
# Who acts on members' personal data: screened by the police first.
SCREENED_ROLES = frozenset({Role.COORDINATOR, Role.DEPUTY})


async def _check_appointer(
    conn: Connection, assignment: RoleAssignment, principal: Principal
) -> None:
    if problem := scope_problem(
        assignment.role, assignment.police_zone, assignment.municipality, assignment.bin_id
    ):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    if principal.is_admin:
        return
    # The police zone or municipality of a BIN appoints its coordinator, deputies and
    # mandated officer; every other role is an admin's to give.
    if assignment.role not in BIN_ROLES or assignment.bin_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"only an admin appoints a {assignment.role}"
        )
    row = await repository.bin_row(conn, assignment.bin_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {assignment.bin_id}")
    access.require(
        access.manages_bin(principal, row),
        "only the BIN's police zone, its municipality or an admin appoint its people",
    )


@router.post("/roles", status_code=status.HTTP_201_CREATED, response_model=RoleAssignment)
async def appoint(
    assignment: RoleAssignment, runtime: Runtime, principal: CurrentPrincipal
) -> RoleAssignment:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await _check_appointer(conn, assignment, principal)
        if assignment.role in SCREENED_ROLES:
            assert assignment.bin_id is not None  # scope_problem checked it
            if not await roles_repository.screening_passed(
                conn, assignment.subject, assignment.bin_id
            ):
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"a {assignment.role} acts only after a passed police screening for this "
                    "BIN: record it first (POST /bins/{bin_id}/screenings)",
                )
        await roles_repository.assign_role(conn, assignment, principal.subject)
    return assignment


@router.post(
    "/bins/{bin_id}/screenings",
    status_code=status.HTTP_201_CREATED,
    response_model=Screening,
    summary="Record the police screening of a would-be coordinator or deputy (adults only)",
)
async def record_screening(
    bin_id: uuid.UUID, body: ScreeningIn, runtime: Runtime, principal: CurrentPrincipal
) -> Screening:
    today = date.today()
    if age_on(body.birth_date, today) < ADULT_AGE or body.birth_date > today:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"a coordinator must be {ADULT_AGE} or older"
        )
    if body.screened_on > today:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "screened_on lies in the future")
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await repository.bin_row(conn, bin_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
        access.require(
            principal.is_admin
            or (
                principal.has_role(*access.ZONE_STAFF)
                and principal.acts_in_zone(row["police_zone"])
            ),
            "the screening is the police zone's",
        )
        screening = await roles_repository.record_screening(
            conn, body.subject, bin_id, body.screened_on, body.passed, principal.subject
        )
    return Screening.model_validate(dict(screening))


@router.post("/roles/revocations", status_code=status.HTTP_204_NO_CONTENT)
async def revoke(assignment: RoleAssignment, runtime: Runtime, principal: CurrentPrincipal) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await _check_appointer(conn, assignment, principal)
        if not await roles_repository.revoke_role(conn, assignment):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such appointment")


@router.get("/bins/{bin_id}/roles", response_model=list[RoleAssignment])
async def bin_roles(
    bin_id: uuid.UUID, runtime: Runtime, principal: CurrentPrincipal
) -> list[RoleAssignment]:
    async with runtime.pool.acquire() as conn:
        row = await repository.bin_row(conn, bin_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
        access.require(
            access.manages_bin(principal, row) or access.keeps_members(principal, bin_id),
            "only the BIN's police zone, municipality, coordinators or an admin see its people",
        )
        return await roles_repository.bin_roles(conn, bin_id)


@router.get("/roles/{subject}/claims", response_model=Claims)
async def claims(subject: str, runtime: Runtime, principal: CurrentPrincipal) -> Claims:
    access.require(
        principal.is_admin or principal.subject == subject,
        "claims are read by the identity provider (an admin token) or by their subject",
    )
    async with runtime.pool.acquire() as conn:
        rows = await roles_repository.roles_of(conn, subject)
    return Claims(
        subject=subject,
        roles=sorted({Role(r["role"]) for r in rows}),
        police_zones=sorted({r["police_zone"] for r in rows if r["police_zone"]}),
        municipalities=sorted({r["municipality"] for r in rows if r["municipality"]}),
        bin_ids=sorted({r["bin_id"] for r in rows if r["bin_id"]}, key=str),
    )
