"""Group commit (shared/coalesce.py): calls waiting while a flush runs share the next one."""

from __future__ import annotations

import asyncio

import pytest

from shared.coalesce import Coalescer, no_results

pytestmark = pytest.mark.unit


class Writer:
    """Stands in for a database write: records every batch it was given."""

    def __init__(self, delay: float = 0.01) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.fail_next = False

    async def flush(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        failing, self.fail_next = self.fail_next, False
        await asyncio.sleep(self.delay)
        if failing:
            raise ConnectionError("database gone")
        return [item * 10 for item in items]


async def test_a_lone_call_is_flushed_at_once_with_its_own_result() -> None:
    writer = Writer()
    coalescer = Coalescer(writer.flush, name="test")
    assert await coalescer.submit(4) == 40
    assert writer.batches == [[4]]


async def test_calls_waiting_together_share_one_flush() -> None:
    writer = Writer()
    coalescer = Coalescer(writer.flush, name="test")
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(50)))
    assert results == [n * 10 for n in range(50)]
    assert writer.batches == [list(range(50))]


async def test_calls_arriving_during_a_flush_share_the_next_one() -> None:
    writer = Writer()
    coalescer = Coalescer(writer.flush, name="test")
    first = asyncio.create_task(coalescer.submit(0))
    await asyncio.sleep(0.001)  # its flush is under way
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(1, 50)))
    assert await first == 0
    assert results == [n * 10 for n in range(1, 50)]
    assert writer.batches == [[0], list(range(1, 50))]


async def test_a_batch_stops_at_max_weight_and_the_rest_follows() -> None:
    writer = Writer()
    coalescer = Coalescer(writer.flush, name="test", max_weight=10, weight=lambda n: n)
    results = await asyncio.gather(*(coalescer.submit(n) for n in (1, 4, 4, 4, 9, 2)))
    assert results == [10, 40, 40, 40, 90, 20]
    assert writer.batches == [[1, 4, 4], [4], [9], [2]]


async def test_linger_gathers_calls_that_come_one_after_another() -> None:
    writer = Writer(delay=0)
    coalescer = Coalescer(writer.flush, name="test", linger=0.05)

    async def later(n: int) -> int:
        await asyncio.sleep(n * 0.005)
        return await coalescer.submit(n)

    await asyncio.gather(*(later(n) for n in range(5)))
    assert writer.batches == [[0, 1, 2, 3, 4]]


async def test_a_failed_flush_fails_its_callers_only() -> None:
    writer = Writer()
    coalescer = Coalescer(writer.flush, name="test")
    first = asyncio.create_task(coalescer.submit(1))
    await asyncio.sleep(0.001)  # the first flush is under way
    writer.fail_next = True
    second = [asyncio.create_task(coalescer.submit(n)) for n in (2, 3)]
    assert await first == 10
    for task in second:
        with pytest.raises(ConnectionError):
            await task
    assert await coalescer.submit(5) == 50


async def test_a_flush_with_too_few_results_is_an_error_for_every_caller() -> None:
    async def short(items: list[int]) -> list[None]:
        return no_results(len(items) - 1)

    coalescer = Coalescer(short, name="short")
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await coalescer.submit(1)
