"""The registry's HTTP API (skeleton: BINs and members; lifecycle and roles follow)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status

from services.registry import repository
from services.registry.schemas import Bin, BinCreate, MemberCreate, MemberCreated, MemberExport
from shared.dependencies import Runtime
from shared.events import (
    BinRegistered,
    BinRegisteredData,
    MemberContact,
    MemberErased,
    MemberErasedData,
    MemberJoined,
    MemberJoinedData,
    MemberLeft,
    MemberRegistered,
    MemberRegisteredData,
)

router = APIRouter(tags=["registry"])
SOURCE = "registry"


@router.post("/bins", status_code=status.HTTP_201_CREATED, response_model=Bin)
async def register_bin(new: BinCreate, runtime: Runtime) -> Bin:
    bin_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        created = await repository.insert_bin(conn, bin_id, new)
        event = BinRegistered.create(
            source=SOURCE,
            data=BinRegisteredData(
                bin_id=bin_id,
                bin_name=new.name,
                kind=new.kind,
                municipality=new.municipality,
                police_zone=new.police_zone,
                communication_plan=new.communication_plan,
            ),
        )
        await runtime.enqueue(conn, [event])
    return created


@router.get("/bins/{bin_id}", response_model=Bin)
async def get_bin(bin_id: uuid.UUID, runtime: Runtime) -> Bin:
    async with runtime.pool.acquire() as conn:
        found = await repository.get_bin(conn, bin_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
    return found


@router.post(
    "/bins/{bin_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberCreated
)
async def register_member(bin_id: uuid.UUID, new: MemberCreate, runtime: Runtime) -> MemberCreated:
    member_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        if await repository.get_bin(conn, bin_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
        await repository.insert_member(conn, member_id, bin_id, new)
        contact = MemberContact(phones=new.phones, email=new.email)
        await runtime.enqueue(
            conn,
            [
                MemberJoined.create(
                    source=SOURCE, data=MemberJoinedData(member_id=member_id, bin_id=bin_id)
                ),
                MemberRegistered.create(
                    source=SOURCE,
                    data=MemberRegisteredData(
                        member_id=member_id,
                        bin_id=bin_id,
                        language=new.language,
                        contact=contact,
                        subsidised_sms=new.subsidised_sms,
                    ),
                ),
            ],
        )
    return MemberCreated(member_id=member_id, bin_id=bin_id)


@router.get("/members/{member_id}", response_model=MemberExport, summary="GDPR data export")
async def export_member(member_id: uuid.UUID, runtime: Runtime) -> MemberExport:
    async with runtime.pool.acquire() as conn:
        found = await repository.get_member(conn, member_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no member with id {member_id}")
    return found


@router.delete(
    "/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="GDPR erasure: the member leaves and their personal data is removed everywhere",
)
async def erase_member(member_id: uuid.UUID, runtime: Runtime) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        bin_id = await repository.delete_member(conn, member_id)
        if bin_id is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no member with id {member_id}")
        # Dispatch forgets the contact data on member.erased.v1; other services likewise.
        await runtime.enqueue(
            conn,
            [
                MemberLeft.create(
                    source=SOURCE, data=MemberJoinedData(member_id=member_id, bin_id=bin_id)
                ),
                MemberErased.create(source=SOURCE, data=MemberErasedData(member_id=member_id)),
            ],
        )
