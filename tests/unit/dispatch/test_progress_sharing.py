"""The progress API's answers shared among everyone polling a fan-out (progress.py)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.dispatch.progress import next_announcement, shared_progress
from services.dispatch.repository import FanoutProgress


class Counter:
    """Stands in for the database count: how often it ran, and what it found."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.fail_next = False

    async def read(self, source_id: uuid.UUID) -> FanoutProgress | None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("database gone")
        return FanoutProgress("dispatched", [], {}, {"targeted": self.calls})


async def test_callers_asking_while_a_count_runs_share_it() -> None:
    count = Counter(delay=0.05)
    read = shared_progress(count.read, 1.0)
    alert = uuid.uuid4()
    answers = await asyncio.gather(*(read(alert) for _ in range(10)))
    assert count.calls == 1
    assert {a.members["targeted"] for a in answers if a is not None} == {1}


async def test_an_answer_is_given_again_until_it_is_max_age_old() -> None:
    count = Counter()
    read = shared_progress(count.read, 0.05)
    alert, other = uuid.uuid4(), uuid.uuid4()
    await read(alert)
    await read(alert)
    assert count.calls == 1
    await read(other)
    assert count.calls == 2, "each fan-out is counted on its own"
    await asyncio.sleep(0.1)
    await read(alert)
    assert count.calls == 3


async def test_max_age_zero_counts_every_call() -> None:
    count = Counter()
    read = shared_progress(count.read, 0)
    alert = uuid.uuid4()
    for _ in range(3):
        await read(alert)
    assert count.calls == 3


async def test_an_error_is_not_kept() -> None:
    count = Counter()
    read = shared_progress(count.read, 10.0)
    alert = uuid.uuid4()
    count.fail_next = True
    with pytest.raises(ConnectionError):
        await read(alert)
    found = await read(alert)
    assert found is not None and count.calls == 2


async def test_one_caller_giving_up_does_not_cancel_the_count_for_the_others() -> None:
    count = Counter(delay=0.05)
    read = shared_progress(count.read, 1.0)
    alert = uuid.uuid4()
    impatient = asyncio.create_task(read(alert))
    patient = asyncio.create_task(read(alert))
    await asyncio.sleep(0.01)
    impatient.cancel()
    found = await patient
    assert found is not None and count.calls == 1
    assert impatient.cancelled()


def test_a_small_fan_out_is_announced_every_interval_a_national_one_less_often() -> None:
    assert next_announcement(100.0, 1.0, 50) == 101.0
    assert next_announcement(100.0, 1.0, 50_000) == 101.0
    # Counting a million deliveries every second would keep a core busy counting.
    assert next_announcement(100.0, 1.0, 1_000_000) == 120.0
