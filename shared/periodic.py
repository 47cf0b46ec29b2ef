"""A background job a service runs every so often (sweeps, purges, metric refreshes): started
and stopped with the service, and kept alive through its own failures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)


class PeriodicJob:
    def __init__(
        self,
        name: str,
        interval: float,
        body: Callable[[], Awaitable[object]],
        *,
        first_run_after: float = 0.0,
    ) -> None:
        self.name = name
        self.interval = interval
        self.body = body
        self.first_run_after = first_run_after
        self._task: asyncio.Task[None] | None = None

    async def start(self, _: ServiceRuntime) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, _: ServiceRuntime) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def attach(self, runtime: ServiceRuntime) -> None:
        runtime.on_start.append(self.start)
        runtime.on_stop.append(self.stop)

    async def _run(self) -> None:
        await asyncio.sleep(self.first_run_after)
        while True:
            try:
                await self.body()
            except Exception as error:  # noqa: BLE001
                log.warning(f"{self.name} failed, will try again", error=repr(error))
            await asyncio.sleep(self.interval)
