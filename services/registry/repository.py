"""The registry's SQL."""

from __future__ import annotations

import uuid

from services.registry.schemas import Bin, BinCreate, MemberCreate, MemberExport
from shared.database import Connection

INSERT_BIN = """
INSERT INTO bin (bin_id, name, kind, municipality, police_zone, communication_plan)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING created_at
"""
SELECT_BIN = """
SELECT bin_id, name, kind, municipality, police_zone, communication_plan, created_at
FROM bin WHERE bin_id = $1
"""
SELECT_MEMBER = """
SELECT member_id, bin_id, full_name, phones, email, language, subsidised_sms, joined_at
FROM member WHERE member_id = $1
"""
DELETE_MEMBER = "DELETE FROM member WHERE member_id = $1 RETURNING bin_id"
INSERT_MEMBER = """
INSERT INTO member (member_id, bin_id, full_name, phones, email, language, subsidised_sms)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def insert_bin(conn: Connection, bin_id: uuid.UUID, new: BinCreate) -> Bin:
    created_at = await conn.fetchval(
        INSERT_BIN,
        bin_id,
        new.name,
        new.kind.value,
        new.municipality,
        new.police_zone,
        new.communication_plan.model_dump(mode="json"),
    )
    return Bin(bin_id=bin_id, created_at=created_at, **new.model_dump())


async def get_bin(conn: Connection, bin_id: uuid.UUID) -> Bin | None:
    row = await conn.fetchrow(SELECT_BIN, bin_id)
    if row is None:
        return None
    return Bin.model_validate(dict(row))


async def insert_member(
    conn: Connection, member_id: uuid.UUID, bin_id: uuid.UUID, new: MemberCreate
) -> None:
    await conn.execute(
        INSERT_MEMBER,
        member_id,
        bin_id,
        new.full_name,
        new.phones,
        new.email,
        new.language.value,
        new.subsidised_sms,
    )


async def get_member(conn: Connection, member_id: uuid.UUID) -> MemberExport | None:
    row = await conn.fetchrow(SELECT_MEMBER, member_id)
    return MemberExport.model_validate(dict(row)) if row else None


async def delete_member(conn: Connection, member_id: uuid.UUID) -> uuid.UUID | None:
    """Erases the member's row, the registry's only copy of their personal data."""
    bin_id: uuid.UUID | None = await conn.fetchval(DELETE_MEMBER, member_id)
    return bin_id
