"""The registry's SQL for a charter's content and its change log."""

from __future__ import annotations

import uuid
from typing import Any

from shared.database import Connection

SELECT_CHARTER = "SELECT partners, budget_plan FROM charter WHERE bin_id = $1"


UPSERT_CHARTER = """
INSERT INTO charter (bin_id, partners, budget_plan) VALUES ($1, $2, $3)
ON CONFLICT (bin_id) DO UPDATE SET partners = EXCLUDED.partners,
                                   budget_plan = EXCLUDED.budget_plan, updated_at = now()
"""


UPDATE_PLAN = "UPDATE bin SET communication_plan = $2 WHERE bin_id = $1"


INSERT_CHARTER_CHANGE = """
INSERT INTO charter_change (change_id, bin_id, section, before, after, changed_by, to_report)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


CHANGE_COLUMNS = """
change_id, section, before, after, changed_by, changed_at, to_report, reported_at,
fod_reference
"""


SELECT_CHARTER_CHANGES = f"""
SELECT {CHANGE_COLUMNS} FROM charter_change
WHERE bin_id = $1 AND (NOT $2 OR (to_report AND reported_at IS NULL))
ORDER BY changed_at
"""


MARK_REPORTED = """
UPDATE charter_change SET reported_at = now(), fod_reference = $3
WHERE bin_id = $1 AND change_id = ANY($2::uuid[]) AND to_report AND reported_at IS NULL
RETURNING change_id
"""


async def charter(conn: Connection, bin_id: uuid.UUID) -> dict[str, Any]:
    row = await conn.fetchrow(SELECT_CHARTER, bin_id)
    return dict(row) if row else {"partners": [], "budget_plan": []}


async def save_charter(
    conn: Connection, bin_id: uuid.UUID, partners: Any, budget_plan: Any, plan: Any
) -> None:
    await conn.execute(UPSERT_CHARTER, bin_id, partners, budget_plan)
    await conn.execute(UPDATE_PLAN, bin_id, plan)


async def record_charter_change(conn: Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        INSERT_CHARTER_CHANGE,
        values["change_id"],
        values["bin_id"],
        values["section"],
        values["before"],
        values["after"],
        values["changed_by"],
        values["to_report"],
    )


async def charter_changes(
    conn: Connection, bin_id: uuid.UUID, *, unreported_only: bool = False
) -> list[Any]:
    return list(await conn.fetch(SELECT_CHARTER_CHANGES, bin_id, unreported_only))


async def mark_reported(
    conn: Connection, bin_id: uuid.UUID, change_ids: list[uuid.UUID], fod_reference: str
) -> list[uuid.UUID]:
    rows = await conn.fetch(MARK_REPORTED, bin_id, change_ids, fod_reference)
    return [r["change_id"] for r in rows]
