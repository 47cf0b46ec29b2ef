"""What the connector adapter tests share: a report sink that records what adapters tell it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.connectors.ports import DeliveryReport, InboundReply


class RecordingSink:
    """A :class:`~services.connectors.ports.ReportSink` that keeps every report and reply."""

    def __init__(self) -> None:
        self.delivery_reports: list[tuple[str, DeliveryReport]] = []
        self.inbound_replies: list[tuple[str, InboundReply]] = []
        self._changed = asyncio.Event()

    async def reports(self, provider: str, reports: Sequence[DeliveryReport]) -> None:
        self.delivery_reports.extend((provider, r) for r in reports)
        self._changed.set()

    async def replies(self, provider: str, replies: Sequence[InboundReply]) -> None:
        self.inbound_replies.extend((provider, r) for r in replies)
        self._changed.set()

    async def wait_for(self, count: int, *, replies: bool = False, timeout: float = 30) -> None:
        """Until ``count`` reports (or replies) are in; fails the test after ``timeout``."""
        async with asyncio.timeout(timeout):
            while len(self.inbound_replies if replies else self.delivery_reports) < count:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()
