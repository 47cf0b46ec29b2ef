"""The registry's SQL for appointments (roles) and coordinators' police screening."""

from __future__ import annotations

import uuid
from typing import Any

from services.registry.schemas import RoleAssignment
from shared.database import Connection

INSERT_SCREENING = """
INSERT INTO coordinator_screening (subject, bin_id, screened_on, passed, screened_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING subject, bin_id, screened_on, passed, screened_by, recorded_at
"""


LATEST_SCREENING_PASSED = """
SELECT passed FROM coordinator_screening WHERE subject = $1 AND bin_id = $2
ORDER BY recorded_at DESC LIMIT 1
"""


INSERT_ROLE = """
INSERT INTO role_assignment (subject, role, police_zone, municipality, bin_id, assigned_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
"""


DELETE_ROLE = """
DELETE FROM role_assignment
WHERE subject = $1 AND role = $2 AND police_zone = $3 AND municipality = $4
  AND bin_id IS NOT DISTINCT FROM $5
"""


SELECT_ROLES = """
SELECT role, police_zone, municipality, bin_id FROM role_assignment WHERE subject = $1
"""


SELECT_BIN_ROLES = """
SELECT subject, role, police_zone, municipality, bin_id FROM role_assignment
WHERE bin_id = $1 ORDER BY role, subject
"""


async def record_screening(
    conn: Connection, subject: str, bin_id: uuid.UUID, screened_on: Any, passed: bool, by: str
) -> Any:
    return await conn.fetchrow(INSERT_SCREENING, subject, bin_id, screened_on, passed, by)


async def screening_passed(conn: Connection, subject: str, bin_id: uuid.UUID) -> bool:
    """Whether the latest police screening of ``subject`` for the BIN passed."""
    return bool(await conn.fetchval(LATEST_SCREENING_PASSED, subject, bin_id))


async def assign_role(conn: Connection, assignment: RoleAssignment, by: str) -> None:
    await conn.execute(
        INSERT_ROLE,
        assignment.subject,
        assignment.role.value,
        assignment.police_zone,
        assignment.municipality,
        assignment.bin_id,
        by,
    )


async def revoke_role(conn: Connection, assignment: RoleAssignment) -> bool:
    result = await conn.execute(
        DELETE_ROLE,
        assignment.subject,
        assignment.role.value,
        assignment.police_zone,
        assignment.municipality,
        assignment.bin_id,
    )
    return bool(result != "DELETE 0")


async def roles_of(conn: Connection, subject: str) -> list[Any]:
    return list(await conn.fetch(SELECT_ROLES, subject))


async def bin_roles(conn: Connection, bin_id: uuid.UUID) -> list[RoleAssignment]:
    return [
        RoleAssignment.model_validate(dict(r)) for r in await conn.fetch(SELECT_BIN_ROLES, bin_id)
    ]
