"""Throttled live progress: a ``fanout.progressed.v1`` event at most once a second per
fan-out that changed, for dashboards and the operators' console; and the progress the HTTP
API answers with, shared by everyone polling the same fan-out.

Progress events are a view, not a record: they go straight to the broker (no outbox), and a
lost one is replaced by the next. Each replica announces the fan-outs whose receipts it
handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from async_lru import alru_cache

from services.dispatch import repository
from services.dispatch.repository import FanoutProgress
from shared.events import Channel
from shared.events.dispatch import ChannelProgress, FanoutProgressed, FanoutProgressedData
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)


def deliveries_targeted(by_status: dict[str, int]) -> int:
    """Delivery rows of a channel ("sent" counts handed messages, retries included;
    "confirmed" is a part of "delivered")."""
    return sum(n for status, n in by_status.items() if status not in NOT_STATES)


# Counts kept beside the states that are not states of a delivery row.
NOT_STATES = frozenset({"sent", "confirmed"})


def summarise(
    source_id: uuid.UUID, by_channel: dict[str, dict[str, int]], members: dict[str, int]
) -> FanoutProgressedData:
    cancelled = sum(s.get("cancelled", 0) for s in by_channel.values())
    pending = members["targeted"] - members["delivered"] - members["failed"] - cancelled
    return FanoutProgressedData(
        source_id=source_id,
        targeted=members["targeted"],
        delivered=members["delivered"],
        failed=members["failed"],
        pending=max(pending, 0),
        channels={
            Channel(channel): ChannelProgress(
                targeted=deliveries_targeted(counts),
                delivered=counts.get("delivered", 0),
                failed=counts.get("failed", 0),
                confirmed=counts.get("confirmed", 0),
            )
            for channel, counts in by_channel.items()
        },
    )


ProgressRead = Callable[[uuid.UUID], Coroutine[Any, Any, FanoutProgress | None]]
# Fan-outs whose last answer is kept: far more than are watched at once.
SHARED_ANSWERS = 1024
# Fan-outs counted in one read by the announcer.
ANNOUNCED_PER_READ = 500


def read_progress(runtime: ServiceRuntime) -> ProgressRead:
    """Counts a fan-out's progress in the database, every call."""

    async def read(source_id: uuid.UUID) -> FanoutProgress | None:
        async with runtime.pool.acquire() as conn:
            return await repository.progress(conn, source_id)

    return read


def shared_progress(read: ProgressRead, max_age_seconds: float) -> ProgressRead:
    """``read`` with its answers shared: callers asking while a count runs wait for it, and
    an answer is given again for ``max_age_seconds`` after it came (0: every call counts).

    Counting a finished 100,000-delivery fan-out takes ~80 ms (~65 ms of PostgreSQL's CPU),
    and the console polls once a second per operator watching: ten operators on a large
    alert kept two thirds of a core busy counting the same rows (bench/progress_polling.py).
    Shared, it is one count a second per replica however many watch. Errors are not kept;
    neither is a caller's cancellation passed on while others still wait (async-lru's
    semantics)."""
    if max_age_seconds <= 0:
        return read
    return alru_cache(maxsize=SHARED_ANSWERS, ttl=max_age_seconds)(read)


# Deliveries a fan-out's count may cover per second of the announcer's pace: counting takes
# 0.2-0.5 ms per 1,000 deliveries (more while the table holds other large fan-outs, when
# PostgreSQL scans it whole), so a fan-out of 50,000 or fewer is announced every second, a
# national one of 1,000,000 every 20 s. Recounted every second, a national alert kept most
# of a core counting its own receipts while they arrived.
COUNTED_PER_SECOND = 50_000


def next_announcement(now: float, interval: float, deliveries: int) -> float:
    """When a fan-out that was just counted (``deliveries`` rows) may be counted again."""
    return now + max(interval, deliveries / COUNTED_PER_SECOND)


class ProgressAnnouncer:
    def __init__(self, runtime: ServiceRuntime, interval: float = 1.0) -> None:
        self.runtime = runtime
        self.interval = interval
        self._changed: set[uuid.UUID] = set()
        # Fan-outs counted lately and when each may be counted again (next_announcement).
        self._not_before: dict[uuid.UUID, float] = {}
        self._task: asyncio.Task[None] | None = None

    def changed(self, source_ids: Iterable[uuid.UUID]) -> None:
        self._changed.update(source_ids)

    async def start(self, _: ServiceRuntime) -> None:
        self._task = asyncio.create_task(self._run(), name="progress-announcer")

    async def stop(self, _: ServiceRuntime) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.announce(everything=True)  # the last word on what finished

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.announce()
            except Exception as error:  # noqa: BLE001
                log.warning("progress not announced", error=repr(error))

    async def announce(self, everything: bool = False) -> None:
        """Counts and announces the fan-outs that changed and are due; the others wait for
        a later round (their last change is announced then)."""
        now = time.monotonic()
        self._not_before = {k: t for k, t in self._not_before.items() if t > now}
        due = [i for i in self._changed if everything or i not in self._not_before]
        self._changed.difference_update(due)
        for start in range(0, len(due), ANNOUNCED_PER_READ):
            async with self.runtime.pool.acquire() as conn:
                found = await repository.progress_of(
                    conn, due[start : start + ANNOUNCED_PER_READ], with_bins=False
                )
            counted = time.monotonic()
            for source_id, progress in found.items():
                deliveries = sum(map(deliveries_targeted, progress.by_channel.values()))
                self._not_before[source_id] = next_announcement(counted, self.interval, deliveries)
            # Progress events are a view (no outbox): published side by side, their confirms
            # awaited together rather than one round trip each.
            await asyncio.gather(
                *(
                    self.runtime.publisher.publish(
                        FanoutProgressed.create(
                            source="dispatch",
                            data=summarise(source_id, progress.by_channel, progress.members),
                        )
                    )
                    for source_id, progress in found.items()
                )
            )
