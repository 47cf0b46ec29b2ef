"""Dispatch's subscribers: decode → domain → repository → publish.

Fan-outs are idempotent through the ``fanout`` row (a duplicate finds it dispatched) rather
than the inbox, so a fan-out cut short by a crash resumes when its message comes back.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import orjson
from faststream.message import StreamMessage
from pydantic import Field

from services.dispatch import metrics, repository
from services.dispatch.domain import slices
from services.dispatch.domain.content import Content
from services.dispatch.domain.keywords import SmsCommand, command, confirmation
from services.dispatch.domain.retry import DeliveryRetryPolicy
from services.dispatch.engine import FanoutEngine, new_delivery_id
from services.dispatch.progress import ProgressAnnouncer
from services.dispatch.repository import Fanout, Work
from shared import crash_points
from shared import topology as topo
from shared.events import (
    AlertIssued,
    BinRegistered,
    Channel,
    DeliveryOutcome,
    DeliveryReceipted,
    Language,
    MemberRegistered,
    Priority,
)
from shared.events.digest import DigestCompiled
from shared.events.dispatch import (
    DeliveryFailed,
    DeliveryFailedData,
    DeliveryRetryDue,
    DeliveryRetryDueData,
    FanoutSliceDue,
    FanoutSliceDueData,
    MemberReplied,
    MemberRepliedData,
    MemberSmsOptOutChanged,
    MemberSmsOptOutChangedData,
)
from shared.events.gateway_codec import decode_receipted
from shared.events.intake import AlertCancelled, NoticePublished
from shared.events.registry import MemberChanged, MemberErased, MemberLeft
from shared.logging import get_logger
from shared.messaging import inbox, outbox
from shared.runtime import ServiceRuntime

log = get_logger(__name__)
SOURCE = "dispatch"

RegistryEvent = Annotated[
    BinRegistered | MemberRegistered | MemberChanged | MemberLeft | MemberErased,
    Field(discriminator="type"),
]
AlertEvent = Annotated[AlertIssued | AlertCancelled, Field(discriminator="type")]
BulkEvent = Annotated[NoticePublished | DigestCompiled, Field(discriminator="type")]


@dataclass
class DispatchDeps:
    runtime: ServiceRuntime
    engine: FanoutEngine
    retry_policy: DeliveryRetryPolicy
    progress: ProgressAnnouncer
    rng: random.Random = field(default_factory=random.Random)
    # BIN_FANOUT_SLICES: how many ways a new fan-out is cut for the replicas to share; 1: the
    # consuming replica does it all.
    fanout_slices: int = 1
    # BIN_SLICE_LOCK_WAIT_SECONDS (services/dispatch/main.py).
    slice_lock_wait_seconds: float = 120.0

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool


async def handle_registry_event(event: RegistryEvent, deps: DispatchDeps) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await inbox.claim(conn, topo.DISPATCH_REGISTRY.name, event.id):
            return
        match event:
            case BinRegistered():
                await repository.project_bin(conn, event.data)
            case MemberRegistered() | MemberChanged():
                await repository.project_member(conn, event.data)
            case MemberLeft():
                await repository.remove_membership(conn, event.data.bin_id, event.data.member_id)
            case MemberErased():
                # Contact data gone from the projection; past deliveries keep no address.
                await repository.erase_member(conn, event.data.member_id)


async def start_fanout(fanout: Fanout, correlation_id: str, deps: DispatchDeps) -> None:
    sliced: list[tuple[slices.Slice, bool]] = []
    current: Fanout | None
    fresh = False
    if deps.fanout_slices > 1:
        async with deps.pool.acquire() as conn:
            await repository.create_sliced_fanout(conn, fanout, deps.fanout_slices)
            sliced = await repository.fanout_slices(conn, fanout.source_id)
            current = await repository.get_fanout(conn, fanout.source_id)
    else:
        current, fresh = await deps.engine.create(fanout)
    if current is None or current.status != "planning":
        return  # already dispatched, or cancelled before it started
    if current.expires_at is not None and current.expires_at < datetime.now(UTC):
        async with deps.pool.acquire() as conn:
            await repository.cancel(conn, current.source_id)
        log.warning("fan-out expired before it started", source_id=str(current.source_id))
        return
    if sliced:
        # Confirmed before the fan-out's message is acked; after a crash in between, the
        # message comes back, finds the fan-out planning and publishes what is not done.
        await _publish_slices(current, slices.pending(sliced), correlation_id, deps)
        return
    report = await deps.engine.run(current, correlation_id, fresh=fresh)
    log.info(
        "fanned out",
        kind=current.kind,
        source_id=str(current.source_id),
        deliveries=report.deliveries,
        batches=report.batches,
        first_batch_seconds=report.first_batch_seconds,
        correlation_id=correlation_id,
    )


async def _publish_slices(
    fanout: Fanout, parts: list[slices.Slice], correlation_id: str, deps: DispatchDeps
) -> None:
    queue = (
        topo.DISPATCH_SLICES_URGENT
        if fanout.priority == Priority.URGENT
        else topo.DISPATCH_SLICES_BULK
    )
    queue_name = deps.runtime.topology.queue_name(queue.name)
    for part in parts:
        due = FanoutSliceDue.create(
            source=SOURCE,
            correlation_id=correlation_id,
            data=FanoutSliceDueData(
                source_id=fanout.source_id, slice=part.index, slices=part.count
            ),
        )
        await deps.runtime.publisher.send_to_queue(due, queue_name)
    log.info("fan-out sliced", source_id=str(fanout.source_id), slices=len(parts))


async def handle_slice_due(event: FanoutSliceDue, deps: DispatchDeps) -> None:
    """Fans one slice of a fan-out out; the last slice done marks the fan-out dispatched."""
    data = event.data
    part = slices.Slice(data.slice, data.slices)
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await repository.try_lock_slice(conn, data.source_id, part):
            # A copy under way on a live replica, or the session of one just killed that
            # PostgreSQL has not ended yet (this may be its message, redelivered): dropping
            # this copy lost the slice in the second case. Past the wait, the message is
            # retried through the delay queues.
            log.info(
                "slice locked elsewhere; waiting",
                source_id=str(data.source_id),
                slice=part.index,
                correlation_id=event.correlationid,
            )
            await repository.wait_for_slice_lock(
                conn, data.source_id, part, deps.slice_lock_wait_seconds
            )
        fanout = await repository.get_fanout(conn, data.source_id)
        if fanout is None or fanout.status != "planning":
            return
        if await repository.slice_done(conn, data.source_id, part):
            return
        fresh = not await repository.slice_begun(conn, data.source_id, part)
        report = await deps.engine.run(fanout, event.correlationid, part, fresh=fresh)
        await repository.finish_slice(conn, data.source_id, part)
    log.info(
        "fanned out slice",
        kind=fanout.kind,
        source_id=str(data.source_id),
        slice=part.index,
        slices=part.count,
        deliveries=report.deliveries,
        batches=report.batches,
        first_batch_seconds=report.first_batch_seconds,
        correlation_id=event.correlationid,
    )


async def handle_alert_event(event: AlertEvent, deps: DispatchDeps) -> None:
    if isinstance(event, AlertCancelled):
        async with deps.pool.acquire() as conn:
            cancelled = await repository.cancel(conn, event.data.alert_id)
        log.info("alert cancelled", alert_id=str(event.data.alert_id), deliveries=cancelled)
        return
    alert = event.data
    fanout = Fanout(
        source_id=alert.alert_id,
        kind="alert",
        priority=Priority.URGENT.value,
        bin_ids=list(alert.bin_ids),
        channels=[c.value for c in alert.channels],
        content=Content(texts=dict(alert.texts)).to_json(),
        expires_at=alert.expires_at,
    )
    await start_fanout(fanout, event.correlationid, deps)


async def handle_bulk_event(event: BulkEvent, deps: DispatchDeps) -> None:
    if isinstance(event, NoticePublished):
        notice = event.data
        content = Content(texts=dict(notice.texts), subjects=dict(notice.subjects))
        fanout = Fanout(
            source_id=notice.notice_id,
            kind="notice",
            priority=Priority.BULK.value,
            bin_ids=list(notice.bin_ids),
            channels=[c.value for c in notice.channels],
            content=content.to_json(),
        )
    else:
        digest = event.data
        renderings = digest.renderings
        content = Content(
            texts={lang: r.text for lang, r in renderings.items()},
            subjects={lang: r.subject for lang, r in renderings.items()},
            html={lang: r.html for lang, r in renderings.items()},
        )
        fanout = Fanout(
            source_id=digest.digest_id,
            kind="digest",
            priority=Priority.BULK.value,
            bin_ids=[digest.bin_id],
            channels=["email"],
            content=content.to_json(),
        )
    await start_fanout(fanout, event.correlationid, deps)


# Where a replica dying after the receipts' commit used to leave a member pending for good
# (tests arm it: shared/crash_points.py).
AFTER_RECEIPTS_COMMITTED = "dispatch.after-receipts-committed"


async def handle_receipts(event: DeliveryReceipted, deps: DispatchDeps) -> None:
    confirmations: list[tuple[Fanout, Work]] = []
    fallbacks: list[tuple[Fanout, list[Work]]] = []
    failed: list[Any] = []
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await inbox.claim(conn, topo.DISPATCH_RECEIPTS.name, event.id):
            return
        updated = await repository.apply_receipts(conn, event.data.receipts)
        permanent = [r for r in updated if r["status"] == DeliveryOutcome.PERMANENT_FAILURE]
        temporary = [r for r in updated if r["status"] == DeliveryOutcome.TEMPORARY_FAILURE]
        # A temporary failure with no retry left is given up on this channel: the member
        # is tried on the plan's next one, as after a permanent failure (a phone nobody
        # answers, a gateway down for good).
        exhausted = [r for r in temporary if deps.retry_policy.level_for(r["attempts"]) is None]
        if exhausted:
            await repository.give_up(conn, [r["delivery_id"] for r in exhausted])
            given_up_ids = {r["delivery_id"] for r in exhausted}
            temporary = [r for r in temporary if r["delivery_id"] not in given_up_ids]
        for given_up, reason in ((permanent, NO_CHANNEL_LEFT), (exhausted, RETRIES_EXHAUSTED)):
            if given_up:
                # Decided with the receipts, in their transaction: a replica dying after the
                # commit leaves the fallbacks written and unsent, which the sweeper sends,
                # and the members no channel reaches failed and announced (the outbox).
                sent, lost = await _plan_fallbacks(
                    conn, given_up, reason, event.correlationid, deps
                )
                fallbacks += sent
                failed += lost
        if event.data.replies:
            confirmations = await _handle_replies(conn, event, deps)
    crash_points.reached(AFTER_RECEIPTS_COMMITTED)
    # Counted per outcome first: a label lookup per receipt cost more than the counting.
    for outcome, count in Counter(r.outcome.value for r in event.data.receipts).items():
        metrics.RECEIPTS_APPLIED.labels(event.data.channel.value, outcome).inc(count)
    deps.progress.changed(r["source_id"] for r in updated)
    if temporary:
        await _schedule_retries(temporary, event.correlationid, deps)
    for fanout, fallback_work in fallbacks:
        await deps.engine.send_work(fanout, fallback_work, event.correlationid)
    _count_failed(failed)  # their dead-letter copies went into the outbox with them
    # Written and committed above: a confirmation lost here is sent again by the sweeper.
    for fanout, reply_work in confirmations:
        await deps.engine.send_work(fanout, [reply_work], event.correlationid)


async def _handle_replies(
    conn: Any, event: DeliveryReceipted, deps: DispatchDeps
) -> list[tuple[Fanout, Work]]:
    """Forwards members' replies to intake, except STOP and START, which dispatch applies
    (and confirms by SMS, and tells the registry)."""
    replies = event.data.replies
    owners = {
        r["delivery_id"]: r
        for r in await repository.delivery_owners(conn, [x.delivery_id for x in replies])
    }
    forwarded: list[Any] = []
    confirmations = []
    for reply in replies:
        owner = owners.get(reply.delivery_id)
        if owner is None:
            continue
        sms_command = command(reply.text) if owner["channel"] == Channel.SMS else None
        if sms_command is not None:
            confirmation = await _apply_sms_command(conn, owner, sms_command, reply.received_at)
            if confirmation is not None:
                forwarded.append(confirmation[0])
                confirmations.append(confirmation[1])
            continue
        forwarded.append(
            MemberReplied.create(
                source=SOURCE,
                correlation_id=event.correlationid,
                data=MemberRepliedData(
                    alert_id=owner["source_id"],
                    member_id=owner["member_id"],
                    bin_id=owner["bin_id"],
                    channel=owner["channel"],
                    text=reply.text,
                    received_at=reply.received_at,
                ),
            )
        )
    await deps.runtime.enqueue(conn, forwarded)
    return confirmations


async def _apply_sms_command(
    conn: Any, owner: Any, sms_command: SmsCommand, at: datetime
) -> tuple[MemberSmsOptOutChanged, tuple[Fanout, Work]] | None:
    member_id = owner["member_id"]
    recipient = await repository.set_sms_opt_out(conn, member_id, sms_command is SmsCommand.STOP)
    if recipient is None or recipient["phone"] is None:
        return None  # erased meanwhile, or no number left to confirm to
    language = Language(recipient["language"])
    fanout = Fanout(
        source_id=uuid.uuid4(),
        kind="confirmation",
        priority=Priority.BULK.value,
        bin_ids=[owner["bin_id"]],
        channels=[Channel.SMS.value],
        content=Content(texts={language: confirmation(sms_command, language)}).to_json(),
    )
    await repository.create_fanout(conn, fanout)
    await repository.mark_dispatched(conn, fanout.source_id)
    work = Work(new_delivery_id(), Channel.SMS.value, language.value, recipient["phone"],
                member_id, owner["bin_id"])  # fmt: skip
    await repository.copy_deliveries(conn, [repository.delivery_row(work, fanout.source_id)])
    changed = MemberSmsOptOutChanged.create(
        source=SOURCE,
        data=MemberSmsOptOutChangedData(
            member_id=member_id, opted_out=sms_command is SmsCommand.STOP, at=at
        ),
    )
    log.info("sms keyword applied", command=sms_command.value, member_id=str(member_id))
    return changed, (fanout, work)


async def _schedule_retries(rows: list[Any], correlation_id: str, deps: DispatchDeps) -> None:
    """Parks each delivery in the delay queue of its next level (the caller took out those
    with no level left)."""
    policy = deps.retry_policy
    by_level: dict[int, list[uuid.UUID]] = defaultdict(list)
    for row in rows:
        level = policy.level_for(row["attempts"])
        assert level is not None
        by_level[level].append(row["delivery_id"])
        metrics.RETRIES_SCHEDULED.labels(row["channel"]).inc()
    for level, ids in by_level.items():
        due = DeliveryRetryDue.create(
            source=SOURCE, correlation_id=correlation_id, data=DeliveryRetryDueData(deliveries=ids)
        )
        await deps.runtime.publisher.send_to_queue(
            due,
            deps.runtime.topology.retry_queue_name(topo.DISPATCH_REDELIVERIES.name, level),
            expiration=policy.delay(level, deps.rng),
        )


NO_CHANNEL_LEFT = "no channel left in the communication plan"
RETRIES_EXHAUSTED = "retries exhausted, and no channel left in the communication plan"


async def _plan_fallbacks(
    conn: Any, rows: list[Any], reason: str, correlation_id: str, deps: DispatchDeps
) -> tuple[list[tuple[Fanout, list[Work]]], list[Any]]:
    """For deliveries that failed for good on their channel: the next channel of the plan
    for each member, written as new deliveries, and the members no further channel reaches
    marked failed (with ``reason``); inside the caller's transaction. Returns the work to
    send and the rows marked failed (their dead-letter copies are in the outbox)."""
    by_source: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for row in rows:
        by_source[row["source_id"]].append(row["delivery_id"])
        metrics.FALLBACKS.labels(row["channel"]).inc()
    to_send: list[tuple[Fanout, list[Work]]] = []
    no_channel_left: list[uuid.UUID] = []
    for source_id, failed_ids in by_source.items():
        fanout = await repository.get_fanout(conn, source_id)
        if fanout is None or fanout.status == "cancelled":
            continue
        fallbacks = await repository.insert_fallbacks(conn, fanout, failed_ids)
        reached = {r["member_id"] for r in fallbacks}
        owners = await repository.delivery_owners(conn, failed_ids)
        if fallbacks:
            work = await repository.work_of(conn, [r["delivery_id"] for r in fallbacks])
            to_send.append((fanout, work))
        no_channel_left += [o["delivery_id"] for o in owners if o["member_id"] not in reached]
    failed = (
        await _record_failed(conn, no_channel_left, reason, correlation_id, deps)
        if no_channel_left
        else []
    )
    return to_send, failed


async def _record_failed(
    conn: Any, delivery_ids: list[uuid.UUID], reason: str, correlation_id: str, deps: DispatchDeps
) -> list[Any]:
    """Marks deliveries failed and puts, inside the caller's transaction, delivery.failed.v1
    and each one's dead-letter copy in the outbox; returns the rows marked. The copy used to
    be published after the commit: a replica dying in between left the delivery failed and
    announced but with nothing to replay."""
    failed = await repository.mark_failed(conn, delivery_ids)
    announced: list[outbox.OutboxItem] = [
        DeliveryFailed.create(
            source=SOURCE,
            correlation_id=correlation_id,
            data=DeliveryFailedData(
                delivery_id=row["delivery_id"],
                source_id=row["source_id"],
                bin_id=row["bin_id"],
                channel=row["channel"],
                attempts=row["attempts"],
                reason=reason,
            ),
        )
        for row in failed
    ]
    await deps.runtime.enqueue(
        conn, [*announced, *(_dead_letter(row, reason, correlation_id, deps) for row in failed)]
    )
    return failed


def _dead_letter(row: Any, reason: str, correlation_id: str, deps: DispatchDeps) -> outbox.ToQueue:
    """A copy of a failed delivery, with its history, for the redeliveries' dead-letter
    queue, from where an operator replays it."""
    topology = deps.runtime.topology
    due = DeliveryRetryDue.create(
        source=SOURCE,
        correlation_id=correlation_id,
        data=DeliveryRetryDueData(deliveries=[row["delivery_id"]]),
    )
    return outbox.ToQueue(
        due,
        topology.dead_letter_queue_name(topo.DISPATCH_REDELIVERIES.name),
        {
            topo.DEAD_LETTER_REASON_HEADER: f"delivery failed: {reason}",
            topo.DEAD_LETTER_QUEUE_HEADER: topology.queue_name(topo.DISPATCH_REDELIVERIES.name),
            "x-bin-delivery-history": orjson.dumps(row["history"]).decode(),
        },
    )


def _count_failed(failed: list[Any]) -> None:
    for row in failed:
        metrics.DELIVERIES_FAILED.labels(row["channel"]).inc()


async def handle_retry_due(event: DeliveryRetryDue, deps: DispatchDeps) -> None:
    async with deps.pool.acquire() as conn:
        claimed = await repository.claim_retries(conn, event.data.deliveries)
    by_source: dict[uuid.UUID, list[repository.Work]] = defaultdict(list)
    for source_id, work in claimed:
        by_source[source_id].append(work)
    for source_id, due in by_source.items():
        async with deps.pool.acquire() as conn:
            fanout = await repository.get_fanout(conn, source_id)
        if fanout is not None:
            await deps.engine.send_work(fanout, due, event.correlationid)


async def _receipts(message: StreamMessage[Any]) -> DeliveryReceipted:
    return decode_receipted(message.body)


def register(runtime: ServiceRuntime, deps: DispatchDeps) -> None:
    """Wires the handlers to their queues."""

    @runtime.subscriber(topo.DISPATCH_REGISTRY, title="dispatch.registry")
    async def on_registry_event(event: RegistryEvent) -> None:
        """Feeds the recipient projection from the registry's BIN and member events."""
        await handle_registry_event(event, deps)

    @runtime.subscriber(topo.DISPATCH_ALERTS, title="dispatch.alerts")
    async def on_alert_event(event: AlertEvent) -> None:
        """Fans an urgent alert out to its BINs' members; cancels one."""
        await handle_alert_event(event, deps)

    @runtime.subscriber(topo.DISPATCH_BULK, title="dispatch.bulk")
    async def on_bulk_event(event: BulkEvent) -> None:
        """Fans notices and digests out, on queues that never hold an urgent alert up."""
        await handle_bulk_event(event, deps)

    # Receipts come a thousand to a message: decoded by msgspec, a fifth of pydantic's time.
    @runtime.subscriber(topo.DISPATCH_RECEIPTS, title="dispatch.receipts", decoder=_receipts)
    async def on_receipts(event: DeliveryReceipted) -> None:
        """Records what gateways report; retries, falls back, forwards replies."""
        await handle_receipts(event, deps)

    if deps.fanout_slices > 1:
        # Registered only where slicing is on, so the default service (and its AsyncAPI
        # document) stays as it was.
        @runtime.subscriber(topo.DISPATCH_SLICES_URGENT, title="dispatch.slices.urgent")
        async def on_urgent_slice(event: FanoutSliceDue) -> None:
            """Fans a slice of an urgent alert's members out (every replica takes slices)."""
            await handle_slice_due(event, deps)

        @runtime.subscriber(topo.DISPATCH_SLICES_BULK, title="dispatch.slices.bulk")
        async def on_bulk_slice(event: FanoutSliceDue) -> None:
            """Fans a slice of a notice's or digest's members out, apart from urgent ones."""
            await handle_slice_due(event, deps)

    @runtime.subscriber(topo.DISPATCH_REDELIVERIES, title="dispatch.redeliveries")
    async def on_retry_due(event: DeliveryRetryDue) -> None:
        """Sends deliveries again whose retry delay has passed."""
        await handle_retry_due(event, deps)
