"""Intake keeps members' replies, alert texts and reports' personal details only as long as
configured, then a job purges them (hourly): replies are deleted once counted per alert and
BIN (the counts stay forever, for the yearly evaluation); an alert keeps its ids, targets
and times but loses its texts; a report keeps its zone, source, category, street and times
but loses its facts, descriptions and house number, and its evaluation the reason given;
police news loses its place and text. Each purge is audited."""

from __future__ import annotations

from dataclasses import dataclass

from services.intake import repository
from shared.logging import get_logger
from shared.periodic import PeriodicJob
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

COUNT_REPLIES = """
INSERT INTO reply_tally (alert_id, bin_id, replies)
SELECT r.alert_id,
       coalesce(r.bin_id, CASE WHEN cardinality(a.bin_ids) = 1 THEN a.bin_ids[1] END),
       count(*)
FROM response r JOIN alert a ON a.alert_id = r.alert_id
WHERE r.received_at < now() - make_interval(days => $1)
GROUP BY 1, 2
"""
PURGE_REPLIES = """
DELETE FROM response WHERE received_at < now() - make_interval(days => $1)
"""
PURGE_REPORTS = """
UPDATE report SET facts = '', suspects = NULL, vehicles = NULL, house_number = NULL,
                  details_purged_at = now()
WHERE logged_at < now() - make_interval(days => $1) AND details_purged_at IS NULL
"""
PURGE_EVALUATION_REASONS = """
UPDATE evaluation e SET reason = ''
FROM report r
WHERE r.report_id = e.report_id AND r.logged_at < now() - make_interval(days => $1)
  AND e.reason <> ''
"""
PURGE_NEWS = """
UPDATE police_news SET place = '', published_info = ''
WHERE recorded_at < now() - make_interval(days => $1) AND (place <> '' OR published_info <> '')
"""
PURGE_ALERT_TEXTS = """
UPDATE alert SET texts = '{}'::jsonb, privacy_changes = '[]'::jsonb, attachments = '[]'::jsonb
WHERE issued_at < now() - make_interval(days => $1) AND texts <> '{}'::jsonb
"""


@dataclass
class RetentionPolicy:
    replies_days: int
    alert_texts_days: int
    reports_days: int = 365


def _count(status: str) -> int:
    """Rows a statement touched, from its status ("DELETE 3")."""
    return int(status.split()[-1])


class RetentionJob:
    def __init__(
        self, runtime: ServiceRuntime, policy: RetentionPolicy, interval: float = 3600.0
    ) -> None:
        self.runtime = runtime
        self.policy = policy
        self.job = PeriodicJob("retention purge", interval, self.purge_and_log)

    async def purge(self) -> dict[str, int]:
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            # Counted and deleted in one transaction: the count is never taken twice.
            await conn.execute(COUNT_REPLIES, self.policy.replies_days)
            replies = await conn.execute(PURGE_REPLIES, self.policy.replies_days)
            texts = await conn.execute(PURGE_ALERT_TEXTS, self.policy.alert_texts_days)
            reports = await conn.execute(PURGE_REPORTS, self.policy.reports_days)
            await conn.execute(PURGE_EVALUATION_REASONS, self.policy.reports_days)
            news = await conn.execute(PURGE_NEWS, self.policy.reports_days)
            purged = {
                "replies": _count(replies),
                "alert_texts": _count(texts),
                "reports": _count(reports),
                "police_news": _count(news),
            }
            if any(purged.values()):
                await repository.audit(
                    conn, "retention", "retention.purged", None, "retention", None, purged
                )
        return purged

    async def purge_and_log(self) -> None:
        purged = await self.purge()
        if any(purged.values()):
            log.info("retention purge", **purged)
