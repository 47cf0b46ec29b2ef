"""Runs the digest at its time on digest days, and catches up at start when that time
passed while the service was down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.digest import repository
from services.digest.compiler import DigestCompiler
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DigestScheduler:
    def __init__(
        self,
        compiler: DigestCompiler,
        clock: Clock = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.compiler = compiler
        self.clock = clock
        self.sleep = sleep
        self._task: asyncio.Task[None] | None = None

    async def start(self, _: ServiceRuntime) -> None:
        self._task = asyncio.create_task(self.run(), name="digest-scheduler")

    async def stop(self, _: ServiceRuntime) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_due(self) -> bool:
        """Compiles the latest due day unless it was done; True when it ran."""
        calendar = self.compiler.calendar
        due = calendar.latest_due(self.clock())
        async with self.compiler.runtime.pool.acquire() as conn:
            if await repository.day_done(conn, due):
                return False
        await self.compiler.compile_day(due)
        return True

    async def run(self) -> None:
        while True:
            try:
                await self.run_due()
                wake = self.compiler.calendar.next_after(self.clock())
                await self.sleep(max((wake - self.clock()).total_seconds(), 0.0))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001
                log.error("digest run failed, will retry", error=repr(error))
                await self.sleep(30)
