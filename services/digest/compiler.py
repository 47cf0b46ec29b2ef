"""Compiles a day's digests: per BIN, select, render per language, publish once."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from services.digest import metrics, repository
from services.digest.domain.calendar import DigestCalendar
from services.digest.domain.rendering import render
from services.digest.domain.selection import DigestBin, NewsItem, select
from shared.events import Language
from shared.events.digest import DigestCompiled, DigestCompiledData
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)


@dataclass
class DigestCompiler:
    runtime: ServiceRuntime
    calendar: DigestCalendar
    max_items: int
    send_empty: bool = False

    async def compile_day(self, day: date) -> int:
        """Compiles every BIN's digest of ``day`` that no replica compiled yet."""
        started = time.monotonic()
        async with self.runtime.pool.acquire() as conn:
            targets = await repository.bins(conn)
        compiled = 0
        for digest_bin, name in targets:
            if await self.compile_bin(digest_bin, name, day):
                compiled += 1
        async with self.runtime.pool.acquire() as conn:
            await repository.mark_day_done(conn, day, compiled)
        lateness = (datetime.now(UTC) - self.calendar.scheduled_at(day)).total_seconds()
        metrics.LATENESS_SECONDS.observe(max(lateness, 0.0))
        log.info(
            "digests compiled",
            day=day.isoformat(),
            digests=compiled,
            bins=len(targets),
            seconds=round(time.monotonic() - started, 3),
        )
        return compiled

    def _event(
        self,
        digest_bin: DigestBin,
        name: str,
        day: date,
        items: list[NewsItem],
        digest_id: uuid.UUID,
    ) -> DigestCompiled:
        languages = [Language(lang) for lang in digest_bin.languages] or [Language.NL]
        return DigestCompiled.create(
            source="digest",
            data=DigestCompiledData(
                digest_id=digest_id,
                bin_id=digest_bin.bin_id,
                day=day,
                items=len(items),
                renderings={
                    lang: render(name, day, items, lang, self.calendar.zone) for lang in languages
                },
            ),
        )

    async def compile_bin(self, digest_bin: DigestBin, name: str, day: date) -> bool:
        start, end = self.calendar.period(day)
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            news = await repository.zone_news(conn, digest_bin.police_zone, start, end)
            items = select(news, digest_bin, start, end, self.max_items)
            digest_id = uuid.uuid4()
            # The claim commits with the outbox event: exactly one digest per BIN and day,
            # whatever other replica or earlier run tried the same.
            if not await repository.claim_run(conn, digest_bin.bin_id, day, digest_id, len(items)):
                return False
            if not items and not self.send_empty:
                return False
            await self.runtime.enqueue(conn, [self._event(digest_bin, name, day, items, digest_id)])
        metrics.DIGESTS_COMPILED.inc()
        metrics.ITEMS_PER_DIGEST.observe(len(items))
        return True

    async def preview(self, digest_bin: DigestBin, name: str, day: date) -> DigestCompiledData:
        start, end = self.calendar.period(day)
        async with self.runtime.pool.acquire() as conn:
            news = await repository.zone_news(conn, digest_bin.police_zone, start, end)
        items = select(news, digest_bin, start, end, self.max_items)
        return self._event(digest_bin, name, day, items, uuid.uuid4()).data

    async def resend(self, digest_bin: DigestBin, name: str, day: date) -> uuid.UUID:
        """Publishes the BIN's digest of ``day`` again, on an operator's request."""
        start, end = self.calendar.period(day)
        digest_id = uuid.uuid4()
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            news = await repository.zone_news(conn, digest_bin.police_zone, start, end)
            items = select(news, digest_bin, start, end, self.max_items)
            await repository.mark_resent(conn, digest_bin.bin_id, day)
            await self.runtime.enqueue(conn, [self._event(digest_bin, name, day, items, digest_id)])
        return digest_id
