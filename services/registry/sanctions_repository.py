"""The registry's SQL for house-rule sanctions on members."""

from __future__ import annotations

import uuid
from typing import Any

from shared.database import Connection

SANCTION_COLUMNS = """
sanction_id, member_id, kind, reason, until, decided_by, decided_at, appeal_deadline,
appealed_at, appeal_reason
"""


INSERT_SANCTION = f"""
INSERT INTO member_sanction (sanction_id, member_id, kind, reason, until, decided_by,
                             decided_at, appeal_deadline)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING {SANCTION_COLUMNS}
"""


SELECT_SANCTIONS = f"""
SELECT {SANCTION_COLUMNS} FROM member_sanction WHERE member_id = $1 ORDER BY decided_at
"""


SELECT_SANCTION_FOR_UPDATE = f"""
SELECT {SANCTION_COLUMNS} FROM member_sanction WHERE sanction_id = $1 AND member_id = $2
FOR UPDATE
"""


RECORD_APPEAL = f"""
UPDATE member_sanction SET appealed_at = now(), appeal_reason = $2 WHERE sanction_id = $1
RETURNING {SANCTION_COLUMNS}
"""


SUSPEND_MEMBER = "UPDATE member SET suspended_until = $2, updated_at = now() WHERE member_id = $1"


REMOVE_MEMBER = """
UPDATE member SET standing = 'removed', updated_at = now() WHERE member_id = $1
"""


async def sanctions(conn: Connection, member_id: uuid.UUID) -> list[Any]:
    return list(await conn.fetch(SELECT_SANCTIONS, member_id))


async def insert_sanction(conn: Connection, values: dict[str, Any]) -> Any:
    return await conn.fetchrow(
        INSERT_SANCTION,
        values["sanction_id"],
        values["member_id"],
        values["kind"],
        values["reason"],
        values["until"],
        values["decided_by"],
        values["decided_at"],
        values["appeal_deadline"],
    )


async def sanction_for_update(
    conn: Connection, sanction_id: uuid.UUID, member_id: uuid.UUID
) -> Any:
    return await conn.fetchrow(SELECT_SANCTION_FOR_UPDATE, sanction_id, member_id)


async def record_appeal(conn: Connection, sanction_id: uuid.UUID, reason: str) -> Any:
    return await conn.fetchrow(RECORD_APPEAL, sanction_id, reason)


async def suspend_member(conn: Connection, member_id: uuid.UUID, until: Any) -> None:
    await conn.execute(SUSPEND_MEMBER, member_id, until)


async def remove_member(conn: Connection, member_id: uuid.UUID) -> None:
    await conn.execute(REMOVE_MEMBER, member_id)
