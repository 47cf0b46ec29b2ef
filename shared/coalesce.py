"""Group commit for asyncio: calls that arrive while a flush runs are flushed together.

Under load, hundreds of handlers each want one small write (a fan-out row, a batch record, a
receipt message). Done one by one, each pays a round trip, a commit and a broker confirm of
its own; coalesced, one flush serves all that queued up meanwhile. A lone call is flushed at
once (or after ``linger``), so nothing waits when the system is idle.

Every caller gets its own item's result, or the flush's error, only once its flush has
finished: a caller that returns may rely on its item being written. A caller cancelled while
waiting does not take its item out of the batch: it may still be flushed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    def __init__(
        self,
        flush: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        name: str,
        linger: float = 0.0,
        max_weight: int = 1000,
        weight: Callable[[Item], int] = lambda _: 1,
    ) -> None:
        """``flush`` writes a batch and returns one result per item, in order. ``linger``:
        how long a flush waits for more items after the first (unless ``max_weight`` is
        reached first); ``weight``: an item's share of ``max_weight`` (say, its rows)."""
        self._flush = flush
        self.name = name
        self.linger = linger
        self.max_weight = max_weight
        self._weight = weight
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._waiting_weight = 0
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        self._waiting_weight += self._weight(item)
        if self._waiting_weight >= self.max_weight:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._run(), name=f"{self.name} flush")
        return await done

    async def _run(self) -> None:
        try:
            while self._waiting:
                await self._flush_next()
        except asyncio.CancelledError:
            # Stopped (the service shutting down): no caller may wait for ever.
            for _, done in self._waiting:
                done.cancel()
            self._waiting, self._waiting_weight = [], 0
            raise

    async def _flush_next(self) -> None:
        if self.linger and not self._full.is_set():
            try:
                async with asyncio.timeout(self.linger):
                    await self._full.wait()
            except TimeoutError:
                pass
        batch = self._take()
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
        except BaseException as error:  # every caller of the batch gets the error
            for _, done in batch:
                if done.done():
                    continue
                if isinstance(error, Exception):
                    done.set_exception(error)
                else:
                    done.cancel()
            if not isinstance(error, Exception):
                raise
            return
        for (_, done), result in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(result)

    def _take(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        """The oldest items up to ``max_weight`` (at least one)."""
        taken, weight = 0, 0
        for item, _ in self._waiting:
            item_weight = self._weight(item)
            if taken and weight + item_weight > self.max_weight:
                break
            taken += 1
            weight += item_weight
        batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
        self._waiting_weight -= weight
        if self._waiting_weight < self.max_weight:
            self._full.clear()
        return batch


def no_results(count: int) -> list[None]:
    """What a flush that only writes returns."""
    return [None] * count
