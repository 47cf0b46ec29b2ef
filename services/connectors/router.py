"""Provider choice and failover, in one place above the adapters.

The providers of a channel are tried in their configured order. One that is down (it
raised :class:`ProviderUnavailable`) is skipped for a cool-down that doubles while it stays
down, and what it could not take goes to the next provider of the same channel, never to
another channel (that is dispatch's fallback, by the BIN's communication plan). What no
provider could take is answered as a temporary failure, so dispatch retries it later.

Each provider is held to its configured rate across every replica (a token bucket in
PostgreSQL) and to its concurrency within the replica, urgent work first.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from services.connectors import metrics
from services.connectors.config import ProviderConfig
from services.connectors.ledger import Submitted
from services.connectors.ports import (
    OutgoingMessage,
    Provider,
    ProviderUnavailable,
    SubmitResult,
    SubmitStatus,
)
from services.connectors.priority_gate import PriorityGate
from shared.logging import get_logger
from shared.rate_limit import TokenBuckets

log = get_logger(__name__)

PROVIDER_RATES = TokenBuckets(table="provider_rate", key="provider")
RESEND = (SubmitStatus.UNSENT, SubmitStatus.IN_DOUBT)
# Messages per provider call: small enough that urgent work soon finds a free slot and the
# rate is taken in even steps, large enough to keep a provider's window full.
CHUNK = 50


class Recorder(Protocol):
    """Where the router tells the ledger what it does, chunk by chunk, so a crash leaves in
    doubt only the chunks that were in a provider call."""

    async def submitting(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        """Just before they are handed to a provider."""

    async def answered(self, answers: Sequence[Submitted]) -> None:
        """A provider's answers (and, at the end, what no provider could take)."""

    async def in_doubt(self, delivery_ids: Sequence[uuid.UUID]) -> None:
        """Handed over, unanswered when the link broke: they are offered again."""


class ProviderSlot:
    """One provider with its limits and its up/down state in this replica."""

    def __init__(
        self,
        provider: Provider,
        config: ProviderConfig,
        pool: asyncpg.Pool | None,
        cost: Callable[[OutgoingMessage], int] = lambda _: 1,
        cool_down: float = 2.0,
        max_cool_down: float = 60.0,
    ) -> None:
        self.provider = provider
        self.config = config
        self.pool = pool
        self.cost = cost
        # A provider may ask for smaller chunks: voice takes one call per chunk, so each
        # call's result is recorded when it ends, not when the chunk's slowest call does.
        self.chunk = min(CHUNK, config.concurrency, getattr(provider, "chunk", CHUNK))
        self.gate = PriorityGate(max(1, config.concurrency // self.chunk))
        self.base_cool_down = cool_down
        self.max_cool_down = max_cool_down
        self.down_until = 0.0
        self.cool_down = cool_down

    @property
    def name(self) -> str:
        return self.provider.name

    def is_up(self, now: float) -> bool:
        return now >= self.down_until

    def mark_down(self, reason: str) -> None:
        self.down_until = time.monotonic() + self.cool_down
        log.warning(
            "provider unavailable", provider=self.name, reason=reason, retry_in=self.cool_down
        )
        self.cool_down = min(self.max_cool_down, self.cool_down * 2)
        metrics.UNAVAILABLE.labels(self.name).inc()

    def mark_up(self) -> None:
        self.cool_down = self.base_cool_down
        self.down_until = 0.0

    async def send(
        self, messages: Sequence[OutgoingMessage], priority: str, recorder: Recorder
    ) -> list[SubmitResult]:
        """Sends in chunks side by side, each chunk's answers recorded as it comes back;
        returns what is to be offered to the next provider (UNSENT, IN_DOUBT): a chunk
        the provider refused whole comes back UNSENT. Raises :class:`ProviderUnavailable`
        only when every chunk was refused."""
        chunks = [messages[i : i + self.chunk] for i in range(0, len(messages), self.chunk)]
        answers = await asyncio.gather(
            *(self._send_chunk(c, priority, recorder) for c in chunks), return_exceptions=True
        )
        results: list[SubmitResult] = []
        refused: list[BaseException] = []
        for chunk, answer in zip(chunks, answers, strict=True):
            if isinstance(answer, ProviderUnavailable):
                refused.append(answer)
                results += [SubmitResult(m.delivery_id, SubmitStatus.UNSENT) for m in chunk]
            elif isinstance(answer, BaseException):
                raise answer
            else:
                results += answer
        if len(refused) == len(chunks):
            raise refused[0]
        return results

    async def _send_chunk(
        self, chunk: Sequence[OutgoingMessage], priority: str, recorder: Recorder
    ) -> list[SubmitResult]:
        async with self.gate.slot(priority):
            if self.config.rate_per_second is not None and self.pool is not None:
                async with self.pool.acquire() as conn:
                    await PROVIDER_RATES.take(conn, self.name, sum(map(self.cost, chunk)))
            await recorder.submitting([m.delivery_id for m in chunk])
            metrics.IN_FLIGHT.labels(self.name).inc(len(chunk))
            try:
                results = await self.provider.send(chunk)
            finally:
                metrics.IN_FLIGHT.labels(self.name).dec(len(chunk))
            # Recorded before the slot is free: what may be in doubt after a crash is then at
            # most the provider's concurrency.
            await recorder.answered(
                [
                    Submitted(self.name, r, parts=max(1, len(r.provider_message_ids)))
                    for r in results
                    if r.status not in RESEND
                ]
            )
        metrics.SUBMITTED.labels(self.name, self.provider.channel).inc(len(chunk))
        for status, count in Counter(r.status.value for r in results).items():
            metrics.ANSWERS.labels(self.name, status).inc(count)
        return [r for r in results if r.status in RESEND]


@dataclass
class ChannelRouter:
    slots: dict[str, list[ProviderSlot]]  # by channel, in order

    @property
    def channels(self) -> list[str]:
        return sorted(self.slots)

    def all_slots(self) -> list[ProviderSlot]:
        return [slot for slots in self.slots.values() for slot in slots]

    def _in_order(self, channel: str) -> list[ProviderSlot]:
        now = time.monotonic()
        slots = self.slots.get(channel, [])
        up = [s for s in slots if s.is_up(now)]
        # All down: try them anyway, soonest back first, rather than refuse outright.
        return up or sorted(slots, key=lambda s: s.down_until)

    async def send(
        self,
        channel: str,
        priority: str,
        messages: Sequence[OutgoingMessage],
        recorder: Recorder,
    ) -> None:
        pending = {m.delivery_id: m for m in messages}
        for slot in self._in_order(channel):
            if not pending:
                break
            try:
                again = await slot.send(list(pending.values()), priority, recorder)
            except ProviderUnavailable as refused:
                slot.mark_down(str(refused))
                continue
            slot.mark_up()
            in_doubt = [r.delivery_id for r in again if r.status is SubmitStatus.IN_DOUBT]
            if in_doubt:
                metrics.IN_DOUBT.labels(channel).inc(len(in_doubt))
                await recorder.in_doubt(in_doubt)
            offered = {r.delivery_id for r in again}
            pending = {d: m for d, m in pending.items() if d in offered}
        if pending:
            await recorder.answered(
                [
                    Submitted(
                        None,
                        SubmitResult(
                            delivery_id,
                            SubmitStatus.TEMPORARY_FAILURE,
                            detail=f"no {channel} provider could take it now",
                        ),
                    )
                    for delivery_id in pending
                ]
            )
