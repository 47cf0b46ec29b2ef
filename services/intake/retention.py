"""Intake keeps members' replies and alert texts only as long as configured, then a job
purges them (hourly): replies are deleted; an alert keeps its ids, targets, times and
counts (the aggregates stay forever) but loses its texts. Each purge is audited."""

from __future__ import annotations

from dataclasses import dataclass

from services.intake import repository
from shared.logging import get_logger
from shared.periodic import PeriodicJob
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

PURGE_REPLIES = """
DELETE FROM response WHERE received_at < now() - make_interval(days => $1)
"""
PURGE_ALERT_TEXTS = """
UPDATE alert SET texts = '{}'::jsonb, privacy_changes = '[]'::jsonb, attachments = '[]'::jsonb
WHERE issued_at < now() - make_interval(days => $1) AND texts <> '{}'::jsonb
"""


@dataclass
class RetentionPolicy:
    replies_days: int
    alert_texts_days: int


class RetentionJob:
    def __init__(
        self, runtime: ServiceRuntime, policy: RetentionPolicy, interval: float = 3600.0
    ) -> None:
        self.runtime = runtime
        self.policy = policy
        self.job = PeriodicJob("retention purge", interval, self.purge_and_log)

    async def purge(self) -> dict[str, int]:
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            replies = await conn.execute(PURGE_REPLIES, self.policy.replies_days)
            texts = await conn.execute(PURGE_ALERT_TEXTS, self.policy.alert_texts_days)
            purged = {"replies": int(replies.split()[-1]), "alert_texts": int(texts.split()[-1])}
            if any(purged.values()):
                await repository.audit(
                    conn, "retention", "retention.purged", None, "retention", None, purged
                )
        return purged

    async def purge_and_log(self) -> None:
        purged = await self.purge()
        if any(purged.values()):
            log.info("retention purge", **purged)
