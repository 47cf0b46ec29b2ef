"""What the coordinator pages show, read straight from the registry's tables (the read side:
no domain rules here, those run in the JSON API the pages' forms call)."""

from __future__ import annotations

import uuid
from typing import Any

from shared.database import Connection

BIN_SUMMARY = """
SELECT b.bin_id, b.name, b.kind, b.municipality, b.status,
       (SELECT count(*) FROM member m WHERE m.bin_id = b.bin_id)::int AS members
FROM bin b
"""
# Coordinators and deputies see their token's BINs; an admin the first ones by name.
SELECT_BINS_IN = BIN_SUMMARY + "WHERE b.bin_id = ANY($1::uuid[]) ORDER BY b.name"
SELECT_ALL_BINS = BIN_SUMMARY + "ORDER BY b.name LIMIT 500"

# Search by part of a name or street, the two things a coordinator knows a member by.
MATCHES = "bin_id = $1 AND ($2::text IS NULL OR full_name ILIKE $2 OR street ILIKE $2)"
COUNT_MEMBERS = f"SELECT count(*) FROM member WHERE {MATCHES}"
SELECT_MEMBERS = f"""
SELECT member_id, full_name, street, house_number, box, phones, email, language, channels,
       standing, digest_subscribed
FROM member WHERE {MATCHES}
ORDER BY full_name, member_id
LIMIT $3 OFFSET $4
"""

SELECT_HISTORY = """
SELECT status, changed_by, changed_at, note FROM bin_status_history
WHERE bin_id = $1 ORDER BY changed_at DESC LIMIT 50
"""


def pattern(search: str | None) -> str | None:
    """A LIKE pattern matching the text anywhere; the user's own % and _ match themselves."""
    if not search or not search.strip():
        return None
    escaped = search.strip().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


async def bins(conn: Connection, bin_ids: list[uuid.UUID] | None) -> list[Any]:
    """``None``: every BIN (an admin)."""
    if bin_ids is None:
        return list(await conn.fetch(SELECT_ALL_BINS))
    return list(await conn.fetch(SELECT_BINS_IN, bin_ids))


async def count_members(conn: Connection, bin_id: uuid.UUID, search: str | None) -> int:
    return int(await conn.fetchval(COUNT_MEMBERS, bin_id, pattern(search)))


async def members(
    conn: Connection, bin_id: uuid.UUID, search: str | None, limit: int, offset: int
) -> list[Any]:
    return list(await conn.fetch(SELECT_MEMBERS, bin_id, pattern(search), limit, offset))


async def status_history(conn: Connection, bin_id: uuid.UUID) -> list[Any]:
    return list(await conn.fetch(SELECT_HISTORY, bin_id))
