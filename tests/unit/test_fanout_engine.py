"""The fan-out engine leaves nothing running behind a failure (fakes for pool and broker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from services.dispatch.domain.content import Content
from services.dispatch.engine import FanoutEngine
from services.dispatch.repository import Fanout
from shared.events import Language

MEMBERS = 20_000


class FakeCursor:
    def __init__(self) -> None:
        self.read = 0

    async def fetch(self, count: int) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        rows = [_recipient(n) for n in range(self.read, min(self.read + count, MEMBERS))]
        self.read += len(rows)
        return rows


def _recipient(n: int) -> dict[str, Any]:
    return {
        "member_id": uuid.uuid4(),
        "bin_id": uuid.uuid4(),
        "language": "nl",
        "channel": ("sms", "voice", "email")[n % 3],
        "address": f"+3247{n:07d}",
        "quiet_from": None,
        "quiet_until": None,
        "paused_until": None,
        "urgent_overrides_quiet": True,
    }


class FakeConnection:
    def __init__(self, log: list[str], fail_on_copy: int) -> None:
        self.log = log
        self.fail_on_copy = fail_on_copy
        self.copies = 0

    async def fetch(self, *_: Any) -> list[Any]:
        return []

    async def execute(self, *_: Any) -> str:
        return "OK"

    @asynccontextmanager
    async def transaction(self, **_: Any) -> AsyncIterator[None]:
        yield

    async def cursor(self, *_: Any, **__: Any) -> FakeCursor:
        return FakeCursor()

    async def copy_records_to_table(self, *_: Any, records: list[Any], **__: Any) -> None:
        self.copies += 1
        this_copy = self.copies
        await asyncio.sleep(0.01)
        if this_copy == self.fail_on_copy:
            raise ConnectionError("the database went away")
        self.log.append("copy")


class FakePool:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield self.connection


class FakePublisher:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def publish(self, *_: Any, **__: Any) -> None:
        await asyncio.sleep(0.02)
        self.log.append("publish")


async def test_a_failed_fanout_writes_and_publishes_nothing_after_its_error() -> None:
    log: list[str] = []
    connection = FakeConnection(log, fail_on_copy=5)
    runtime = SimpleNamespace(pool=FakePool(connection), publisher=FakePublisher(log))
    engine = FanoutEngine(runtime, batch_size=1000, bulk_batch_size=100)  # type: ignore[arg-type]
    fanout = Fanout(
        source_id=uuid.uuid4(),
        kind="alert",
        priority="urgent",
        bin_ids=[uuid.uuid4()],
        channels=[],
        content=Content(texts={Language.NL: "Verdachte wagen"}).to_json(),
    )
    with pytest.raises(ConnectionError):
        await engine.run(fanout, "correlation")
    done_when_raised = len(log)
    await asyncio.sleep(0.3)
    # The message goes back to the broker when the error leaves the handler: a COPY still
    # running then could commit rows a resumed run does not know of.
    assert len(log) == done_when_raised
    assert connection.copies < MEMBERS // 1000
