"""Small helpers that let the tests read as the user's story."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0, interval: float = 0.1
) -> T:
    """Polls ``probe`` until it returns something truthy; fails with the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


async def drain(channel: AbstractChannel, queue: str) -> list[AbstractIncomingMessage]:
    """Takes (and acks) every message now in ``queue``."""
    target = await channel.get_queue(queue, ensure=True)
    taken = []
    while (message := await target.get(no_ack=True, fail=False)) is not None:
        taken.append(message)
    return taken
