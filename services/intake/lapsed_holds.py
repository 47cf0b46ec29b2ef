"""Held alerts nobody approved in time (four eyes, :mod:`services.intake.four_eyes`):
cancelled by a job, as an operator would cancel them, so that neither the console nor a
late click sends news that is out of date."""

from __future__ import annotations

from services.intake import outgoing, repository
from services.intake.domain.four_eyes import Policy
from services.intake.four_eyes import minutes
from shared.logging import get_logger
from shared.periodic import PeriodicJob
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

# Held alerts past the maximum hold, locked (a second replica's job skips them).
SELECT_LAPSED = f"""
SELECT {repository.ALERT_COLUMNS} FROM alert
WHERE approval_reasons <> '{{}}' AND approved_at IS NULL AND cancelled_at IS NULL
  AND issued_at < now() - $1::interval
ORDER BY issued_at
LIMIT 500
FOR UPDATE SKIP LOCKED
"""


class LapsedHolds:
    """Cancels every held alert nobody approved within the policy's maximum hold, so that
    neither the console nor a late click can send it; audited as cancelled by this job."""

    ACTOR = "four-eyes"

    def __init__(self, runtime: ServiceRuntime, policy: Policy, interval: float = 30.0) -> None:
        self.runtime = runtime
        self.policy = policy
        self.job = PeriodicJob("lapsed holds", interval, self.cancel_lapsed)

    async def cancel_lapsed(self) -> int:
        reason = f"not approved within {minutes(self.policy.max_hold)} minutes"
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(SELECT_LAPSED, self.policy.max_hold)
            for row in rows:
                await outgoing.cancel_alert(conn, self.runtime, self.ACTOR, row, reason)
        if rows:
            log.info("held alerts cancelled: not approved in time", alerts=len(rows))
        return len(rows)
