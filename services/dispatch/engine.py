"""The streaming fan-out: recipients read through a cursor, delivery rows written with COPY,
work published to the gateways batch by batch while the next batch is being read.

Resumable: a fan-out whose message comes back (a replica died mid-way) first re-sends the
work that was written but never confirmed, then continues with the members not yet targeted.
Nothing is lost, and the gateway drops the copies it already has by delivery id.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from asyncpg.pgproto import pgproto

from services.dispatch import metrics, rate_limit, repository
from services.dispatch.domain.content import Content
from services.dispatch.domain.quiet import hold_until
from services.dispatch.domain.slices import Slice
from services.dispatch.repository import Fanout, Work
from shared import topology as topo
from shared.coalesce import Coalescer, no_results
from shared.events import Channel, DeliveryRequested, DeliveryRequestedData, Language, Priority
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)
SOURCE = "dispatch"
# The first rows of a fan-out go out as soon as this many are read, whatever the batch size.
FIRST_BATCH_ROWS = 500
WRITERS = 3


@dataclass(frozen=True)
class _Record:
    """A confirmed gateway message whose rows carry its batch id (batch id, fan-out,
    channel, deliveries), or a fan-out whose members are all targeted."""

    batch: tuple[uuid.UUID, uuid.UUID, str, int] | None = None
    dispatched: uuid.UUID | None = None


@dataclass(frozen=True)
class FanoutReport:
    deliveries: int
    batches: int
    first_batch_seconds: float | None


class FanoutEngine:
    def __init__(
        self,
        runtime: ServiceRuntime,
        batch_size: int,
        bulk_batch_size: int,
        batches_in_flight: int = 16,
        rate_limited: bool = False,
        preferences_url: Callable[[uuid.UUID], str] | None = None,
    ) -> None:
        self.runtime = runtime
        self.rate_limited = rate_limited
        # The member's signed preferences/unsubscribe link, for notices and digests.
        self.preferences_url = preferences_url or (lambda _: "")
        self.batch_size = batch_size
        self.bulk_batch_size = bulk_batch_size
        self.batches_in_flight = batches_in_flight
        # Hundreds of fan-outs run side by side under a burst of alerts: each one's fan-out
        # row, batch records and end are written together with the others' (shared/
        # coalesce.py), a statement for many alerts instead of several each.
        self._creations: Coalescer[Fanout, tuple[Fanout | None, bool]] = Coalescer(
            self._create, name="fan-out creation", max_weight=500
        )
        self._bookkeeping: Coalescer[_Record, None] = Coalescer(
            self._record, name="fan-out bookkeeping", max_weight=2000
        )

    async def create(self, fanout: Fanout) -> tuple[Fanout | None, bool]:
        """The fan-out as it now is, created if new; and whether this call created it."""
        return await self._creations.submit(fanout)

    async def record_sent(
        self, batch_id: uuid.UUID, source_id: uuid.UUID, channel: str, deliveries: int
    ) -> None:
        """Notes a confirmed gateway message whose rows carry its batch id already."""
        await self._bookkeeping.submit(_Record(batch=(batch_id, source_id, channel, deliveries)))

    async def _create(self, fanouts: list[Fanout]) -> list[tuple[Fanout | None, bool]]:
        async with self.runtime.pool.acquire() as conn:
            return await repository.create_fanouts(conn, fanouts)

    async def _record(self, records: list[_Record]) -> list[None]:
        batches = [r.batch for r in records if r.batch is not None]
        dispatched = [r.dispatched for r in records if r.dispatched is not None]
        async with self.runtime.pool.acquire() as conn:
            await repository.record_batches_and_dispatched(conn, batches, dispatched)
        return no_results(len(records))

    def _batch_size(self, fanout: Fanout) -> int:
        return self.batch_size if fanout.priority == Priority.URGENT else self.bulk_batch_size

    async def run(
        self, fanout: Fanout, correlation_id: str, part: Slice | None = None, fresh: bool = False
    ) -> FanoutReport:
        """The whole fan-out, marked dispatched at the end; or only the members of ``part``,
        whose caller marks the slice done. ``fresh``: the fan-out was created just now, so
        it has no deliveries to resume from."""
        started = time.perf_counter()
        run = _Run(self, fanout, correlation_id, started, part, fresh)
        resumed: list[Work] = []
        if not fresh:
            async with self.runtime.pool.acquire() as conn:
                resumed = await repository.unsent_work(conn, fanout.source_id, part)
        async with run.settled():
            for batch in _chunks(resumed, self._batch_size(fanout)):
                await run.send(batch)
            await run.stream_new()
            await run.finish()
        if part is None:
            await self._bookkeeping.submit(_Record(dispatched=fanout.source_id))
        metrics.FANOUT_SECONDS.labels(fanout.priority).observe(time.perf_counter() - started)
        return FanoutReport(run.deliveries, run.batches, run.first_batch_seconds)

    async def send_work(self, fanout: Fanout, work: Sequence[Work], correlation_id: str) -> None:
        """Publishes work outside a full fan-out (retries, fallbacks) and marks it sent."""
        run = _Run(self, fanout, correlation_id, time.perf_counter())
        async with run.settled():
            for batch in _chunks(list(work), self._batch_size(fanout)):
                await run.send(batch)
            await run.finish()


class _Run:
    def __init__(
        self,
        engine: FanoutEngine,
        fanout: Fanout,
        correlation_id: str,
        started: float,
        part: Slice | None = None,
        fresh: bool = False,
    ) -> None:
        self.engine = engine
        self.part = part
        self.fresh = fresh
        self.fanout = fanout
        self.correlation_id = correlation_id
        self.started = started
        self.content = Content.from_json(fanout.content)
        self.in_flight = asyncio.Semaphore(engine.batches_in_flight)
        # COPYs at once: enough to keep PostgreSQL's cores busy while the cursor reads, few
        # enough to leave pool connections to the receipts.
        self.writers = asyncio.Semaphore(WRITERS)
        self.templates: dict[str, dict[str, Any]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.deliveries = 0
        self.batches = 0
        self.first_batch_seconds: float | None = None

    async def stream_new(self) -> None:
        runtime = self.engine.runtime
        size = self.engine._batch_size(self.fanout)
        # One snapshot for the first BIN's query and the other BINs' (repository.FIRST_BIN):
        # a member joining the first BIN between the two would be in neither.
        async with (
            runtime.pool.acquire() as reader,
            reader.transaction(readonly=True, isolation="repeatable_read"),
        ):
            # The first rows leave at once, whatever their channels, so the first batch is
            # at a gateway within milliseconds; after that each channel fills whole batches,
            # a third as many gateway messages (and receipts) as cutting the stream by rows.
            first: list[Work] | None = []
            by_channel: dict[str, list[Work]] = defaultdict(list)
            held: list[tuple[Work, datetime]] = []
            now = datetime.now(UTC)
            urgent = self.fanout.priority == Priority.URGENT
            async for rows in repository.stream_recipients(
                reader, self.fanout, self.part, resumed=not self.fresh
            ):
                for row in rows:
                    work = Work(
                        new_delivery_id(),
                        row["channel"],
                        row["language"],
                        row["address"],
                        row["member_id"],
                        row["bin_id"],
                    )
                    wait = hold_until(
                        now,
                        urgent,
                        row["urgent_overrides_quiet"],
                        row["quiet_from"],
                        row["quiet_until"],
                        row["paused_until"],
                    )
                    if wait is not None:
                        held.append((work, wait))
                        if len(held) >= size:
                            await self._hold(held)
                            held = []
                        continue
                    if first is not None:
                        first.append(work)
                        if len(first) >= min(size, FIRST_BATCH_ROWS):
                            await self._write_and_send(first)
                            first = None
                        continue
                    batch = by_channel[work.channel]
                    batch.append(work)
                    if len(batch) >= size:
                        await self._write_and_send(batch)
                        by_channel[work.channel] = []
            rest = (first or []) + [w for batch in by_channel.values() for w in batch]
            for chunk in _chunks(rest, size):
                await self._write_and_send(chunk)
            if held:
                await self._hold(held)

    async def _hold(self, held: list[tuple[Work, datetime]]) -> None:
        """Writes deliveries that wait for a member's quiet hours or pause to end; the
        sweeper sends them then."""
        rows = [
            repository.delivery_row(w, self.fanout.source_id, hold_until=until) for w, until in held
        ]
        async with self.engine.runtime.pool.acquire() as writer:
            await repository.copy_deliveries(writer, rows)

    async def _write_and_send(self, chunk: list[Work]) -> None:
        """Writes a chunk's delivery rows and publishes them, in a task of its own, so the
        cursor reads on meanwhile: awaited in line, the COPYs took 3 of the 5 seconds of a
        100,000-recipient fan-out while the cursor waited (and the other way round)."""
        batches = [(new_delivery_id(), channel, items) for channel, items in _by_channel(chunk)]
        await self.in_flight.acquire()
        self._raise_failures()
        self.tasks.append(asyncio.create_task(self._write_then_publish(batches)))

    async def _write_then_publish(self, batches: list[tuple[uuid.UUID, str, list[Work]]]) -> None:
        try:
            rows = [
                repository.delivery_row(w, self.fanout.source_id, batch_id)
                for batch_id, _, items in batches
                for w in items
            ]
            # Written (and committed) before it is published: a receipt never finds no row.
            # Chunks are written side by side and may commit out of order; a resumed fan-out
            # still finds every member with a row (and re-sends what no batch records) and
            # targets the others anew.
            async with self.writers, self.engine.runtime.pool.acquire() as writer:
                await repository.copy_deliveries(writer, rows)
        except BaseException:
            self.in_flight.release()
            raise
        # The slot is handed over: each batch's publish releases one; a chunk of several
        # channels (the first rows of a fan-out) takes the slots it needs beyond this one.
        for n, (batch_id, channel, items) in enumerate(batches):
            if n:
                await self.in_flight.acquire()
            await self._publish(batch_id, channel, items, assigned=True)

    async def send(self, work: list[Work]) -> None:
        """Publishes work that has rows already (resumed, retried, fallen back)."""
        for channel, items in _by_channel(work):
            await self._start(uuid.uuid4(), channel, items, assigned=False)

    async def _start(
        self, batch_id: uuid.UUID, channel: str, items: list[Work], assigned: bool
    ) -> None:
        await self.in_flight.acquire()
        self._raise_failures()
        self.tasks.append(asyncio.create_task(self._publish(batch_id, channel, items, assigned)))

    async def _publish(
        self, batch_id: uuid.UUID, channel: str, items: list[Work], assigned: bool
    ) -> None:
        try:
            priority = Priority(self.fanout.priority)
            request = DeliveryRequested.create(
                source=SOURCE,
                correlation_id=self.correlation_id,
                # Built without its deliveries, which join the JSON below as plain dicts.
                data=DeliveryRequestedData.model_construct(
                    batch_id=batch_id,
                    channel=Channel(channel),
                    priority=priority,
                    source_id=self.fanout.source_id,
                    deliveries=[],
                ),
            )
            body = request.model_dump(mode="json")
            if priority == Priority.BULK:
                body["data"]["deliveries"] = [
                    self.content.work(
                        w.delivery_id,
                        w.address,
                        Language(w.language),
                        self.engine.preferences_url(w.member_id),
                    )
                    for w in items
                ]
            else:
                # Same items as Content.work gives, from one template per language: the text
                # chosen once, not per member. (str: ids read back from the database are
                # asyncpg's UUID type, which orjson does not take for a UUID.)
                body["data"]["deliveries"] = [
                    {
                        **self._template(w.language),
                        "delivery_id": str(w.delivery_id),
                        "address": w.address,
                    }
                    for w in items
                ]
            if self.engine.rate_limited:
                async with self.engine.runtime.pool.acquire() as conn:
                    await rate_limit.take(conn, channel, len(items))
            await self.engine.runtime.publisher.publish(
                request,
                routing_key=topo.gateway_routing_key(channel, priority.value),
                body=orjson.dumps(body),
            )
            if assigned:
                await self.engine.record_sent(batch_id, self.fanout.source_id, channel, len(items))
            else:
                async with self.engine.runtime.pool.acquire() as conn:
                    await repository.record_batch(
                        conn,
                        batch_id,
                        self.fanout.source_id,
                        channel,
                        [w.delivery_id for w in items],
                    )
            metrics.DELIVERIES_REQUESTED.labels(channel, priority.value).inc(len(items))
            if channel in ("sms", "voice"):
                metrics.BILLABLE_MESSAGES.labels(channel).inc(len(items))
            if self.first_batch_seconds is None:
                self.first_batch_seconds = time.perf_counter() - self.started
                metrics.FIRST_BATCH_SECONDS.labels(priority.value).observe(self.first_batch_seconds)
            self.deliveries += len(items)
            self.batches += 1
        finally:
            self.in_flight.release()

    def _template(self, language: str) -> dict[str, Any]:
        template = self.templates.get(language)
        if template is None:
            template = self.content.work(uuid.UUID(int=0), "-", Language(language))
            self.templates[language] = template
        return template

    def _raise_failures(self) -> None:
        for task in self.tasks:
            if task.done() and (error := task.exception()) is not None:
                raise error

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks)

    @asynccontextmanager
    async def settled(self) -> AsyncIterator[None]:
        """On a failure, stops this run's batch tasks before the error leaves the handler.

        Since COPYs run in those tasks, one left running could commit rows after the message
        was handed back, and a resumed run (here or on another replica) would not see those
        members as targeted; the unique (fan-out, member, channel) index would refuse the
        second row, but the resumed run would fail on it. A batch cancelled after the broker
        took it is unrecorded and sent again on resume, with the same ids."""
        try:
            yield
        except BaseException:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            raise


_ids = random.SystemRandom()


def new_delivery_id() -> uuid.UUID:
    """A time-ordered (version 7) UUID: 48 bits of Unix milliseconds, then 74 random bits.

    Time order keeps the delivery primary key's inserts (COPY) and the receipts' lookups on
    the index's right-hand pages instead of all over it: measured on 100,000 deliveries, COPY
    and receipts both ~10 % faster, and more as the table outgrows memory. One draw from a
    seeded PRNG, as uuid.uuid4() costs a system call per id (a tenth of the fan-out's time).

    Made as asyncpg's own UUID (a ``uuid.UUID`` written in C, what asyncpg returns for a uuid
    column): equal to and hashing like the standard one, but made, turned into text for the
    gateway's JSON and written by COPY in 187 ms per 100,000 ids against 364 ms.
    """
    millis = time.time_ns() // 1_000_000
    rand = _ids_fast.getrandbits(74)
    return pgproto.UUID(
        (
            (millis & _MILLIS_MASK) << 80
            | 0x7 << 76
            | (rand >> 62) << 64
            | 0b10 << 62
            | (rand & _RAND_B_MASK)
        ).to_bytes(16, "big")
    )


_MILLIS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1
# Seeded once from the OS; delivery ids are idempotency keys, not secrets.
_ids_fast = random.Random(_ids.getrandbits(256))


def _by_channel(work: list[Work]) -> list[tuple[str, list[Work]]]:
    grouped: dict[str, list[Work]] = defaultdict(list)
    for item in work:
        grouped[item.channel].append(item)
    return list(grouped.items())


def _chunks(items: list[Work], size: int) -> list[list[Work]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
