"""The connectors' SQL: claiming deliveries before a provider is called, recording what the
provider answered and reported, and the sweeps that end what no report ends.

Every function runs inside the caller's transaction and returns the receipts it made
final (or temporary), which the caller puts in the outbox in that same transaction: a
receipt exists exactly when the ledger says the delivery has that outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import asyncpg

from services.connectors.domain.claims import CopyVerdict, verdict
from services.connectors.ports import DeliveryReport, SubmitResult, SubmitStatus
from shared.database import Connection
from shared.events import DeliveryOutcome

# Advisory-lock namespace of the replicas' leases (classid); a lease's key is the objid.
LEASE_NAMESPACE = 0x42494E43  # "BINC"


class Receipt(NamedTuple):
    delivery_id: uuid.UUID
    channel: str
    outcome: str
    detail: str | None
    # When the provider accepted it, for a report's latency (None: answered at submission).
    accepted_at: datetime | None = None
    provider: str | None = None
    # Voice: pressed 1 (True) or answered without (False); None otherwise.
    confirmed: bool | None = None


@dataclass
class Claim:
    """What a batch's deliveries turned out to be when claimed."""

    # Never handed to a provider before (or refused for now last time): send these.
    fresh: list[uuid.UUID] = field(default_factory=list)
    # Claimed by a replica that died while calling the provider: it may have them. Sent
    # again (an alert lost is worse than one twice), and counted.
    in_doubt: list[uuid.UUID] = field(default_factory=list)
    # Already final: the copy is answered with the first outcome.
    answered: list[Receipt] = field(default_factory=list)
    # Being sent by a live replica, or accepted and awaiting its report: nothing to do.
    pending: list[uuid.UUID] = field(default_factory=list)

    @property
    def to_send(self) -> list[uuid.UUID]:
        return self.fresh + self.in_doubt


CLAIM_NEW = """
INSERT INTO submission (delivery_id, channel, priority, source_id, state, owner, address_key)
SELECT u.delivery_id, $3, $4, $5, 'claimed', $6, u.address_key
FROM unnest($1::uuid[], $2::bytea[]) AS u(delivery_id, address_key)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id
"""
LOCK_EXISTING = """
SELECT delivery_id, channel, state, owner, outcome, detail, confirmed FROM submission
WHERE delivery_id = ANY($1::uuid[])
ORDER BY delivery_id
FOR UPDATE
"""
RECLAIM = """
UPDATE submission SET state = 'claimed', owner = $2, priority = $3,
                      claimed_at = clock_timestamp(), outcome = NULL, detail = NULL,
                      confirmed = NULL
WHERE delivery_id = ANY($1::uuid[])
"""
# Replicas whose lease is held right now (a session lock ends with its session).
LIVE_OWNERS = """
SELECT objid::bigint AS owner FROM pg_locks
WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted
  AND objid::bigint = ANY($2::bigint[])
"""


async def live_owners(conn: Connection, owners: Iterable[int]) -> set[int]:
    wanted = sorted(set(owners))
    if not wanted:
        return set()
    rows = await conn.fetch(LIVE_OWNERS, LEASE_NAMESPACE, wanted)
    return {int(r["owner"]) for r in rows}


async def claim(
    conn: Connection,
    deliveries: Sequence[tuple[uuid.UUID, bytes | None]],
    *,
    channel: str,
    priority: str,
    source_id: uuid.UUID,
    owner: int,
    in_flight: set[uuid.UUID],
) -> Claim:
    """Claims (delivery id, address key) pairs for ``owner``; see :class:`Claim`.

    ``in_flight`` is what this replica is sending right now: a row of its own lease that is
    not in it was left by an earlier attempt of this replica that failed half-way.
    """
    ids = [d for d, _ in deliveries]
    fresh = {
        r["delivery_id"]
        for r in await conn.fetch(
            CLAIM_NEW, ids, [k for _, k in deliveries], channel, priority, source_id, owner
        )
    }
    result = Claim(fresh=[d for d in ids if d in fresh])
    others = [d for d in ids if d not in fresh]
    if not others:
        return result
    rows = await conn.fetch(LOCK_EXISTING, others)
    unfinished = [r for r in rows if r["state"] in ("claimed", "submitting")]
    alive = await live_owners(conn, (r["owner"] for r in unfinished if r["owner"] is not None))
    reclaim_fresh: list[uuid.UUID] = []
    for row in rows:
        delivery_id = row["delivery_id"]
        found = verdict(
            row["state"], row["owner"], owner, delivery_id in in_flight, row["owner"] in alive
        )
        if found is CopyVerdict.ANSWER:
            result.answered.append(_receipt(row))
        elif found is CopyVerdict.SEND:
            reclaim_fresh.append(delivery_id)
        elif found is CopyVerdict.WAIT:
            result.pending.append(delivery_id)
        else:
            result.in_doubt.append(delivery_id)
    result.fresh.extend(reclaim_fresh)
    if reclaim_fresh or result.in_doubt:
        await conn.execute(RECLAIM, reclaim_fresh + result.in_doubt, owner, priority)
    if result.in_doubt:
        await mark_in_doubt(conn, result.in_doubt)
    return result


MARK_IN_DOUBT = "UPDATE submission SET in_doubt = in_doubt + 1 WHERE delivery_id = ANY($1::uuid[])"


async def mark_in_doubt(conn: Connection, ids: Sequence[uuid.UUID]) -> None:
    """Counts a hand-over that may have reached the provider without our knowing."""
    await conn.execute(MARK_IN_DOUBT, list(ids))


# Just before the provider is called: from here on, a crash leaves these in doubt.
MARK_SUBMITTING = """
UPDATE submission SET state = 'submitting', submits = submits + 1
WHERE delivery_id = ANY($1::uuid[]) AND state IN ('claimed', 'submitting')
"""


async def mark_submitting(conn: Connection, ids: Sequence[uuid.UUID]) -> None:
    await conn.execute(MARK_SUBMITTING, list(ids))


# What a provider answered at submission, applied to the rows this replica claimed.
RECORD_SUBMITTED = """
UPDATE submission s
SET state = u.state, provider = u.provider, parts = u.parts, outcome = u.outcome,
    detail = u.detail, confirmed = u.confirmed, owner = NULL,
    accepted_at = CASE WHEN u.state = 'accepted' THEN clock_timestamp() END,
    finished_at = CASE WHEN u.state = 'final' THEN clock_timestamp() END
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
            $7::bool[])
     AS u(delivery_id, state, provider, parts, outcome, detail, confirmed)
WHERE s.delivery_id = u.delivery_id AND s.state IN ('claimed', 'submitting')
RETURNING s.delivery_id, s.channel, s.state, s.outcome, s.detail, s.confirmed
"""
RECORD_MESSAGE_IDS = """
INSERT INTO provider_message (provider, message_id, delivery_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[])
ON CONFLICT DO NOTHING
"""

_STATE_OF = {
    SubmitStatus.ACCEPTED: ("accepted", None),
    SubmitStatus.DELIVERED: ("final", "delivered"),
    SubmitStatus.PERMANENT_FAILURE: ("final", "permanent_failure"),
    SubmitStatus.TEMPORARY_FAILURE: ("temporary", "temporary_failure"),
}


@dataclass(frozen=True, slots=True)
class Submitted:
    """A provider's answer for one delivery, as the ledger records it."""

    provider: str | None  # None: no provider could take it
    result: SubmitResult
    parts: int = 1


async def record_submitted(conn: Connection, answers: Sequence[Submitted]) -> list[Receipt]:
    """Records the answers; returns the receipts to publish now (final and temporary)."""
    if not answers:
        return []
    columns: tuple[list[object], ...] = ([], [], [], [], [], [], [])
    for answer in answers:
        state, outcome = _STATE_OF[answer.result.status]
        for column, value in zip(
            columns,
            (
                answer.result.delivery_id,
                state,
                answer.provider,
                answer.parts,
                outcome,
                answer.result.detail,
                answer.result.confirmed,
            ),
            strict=True,
        ):
            column.append(value)
    rows = await conn.fetch(RECORD_SUBMITTED, *columns)
    ids = [
        (a.provider, message_id, a.result.delivery_id)
        for a in answers
        if a.result.status is SubmitStatus.ACCEPTED and a.provider is not None
        for message_id in a.result.provider_message_ids
    ]
    if ids:
        await conn.execute(RECORD_MESSAGE_IDS, *map(list, zip(*ids, strict=True)))
    receipts = [
        Receipt(r["delivery_id"], r["channel"], r["outcome"], r["detail"], confirmed=r["confirmed"])
        for r in rows
        if r["state"] != "accepted"
    ]
    if ids:
        # Only the reports of these ids: matching every kept report here would take row
        # locks of other chunks' deliveries, and two chunks recorded side by side deadlock.
        receipts += await match_early_reports(conn, [(p, m) for p, m, _ in ids])
    return receipts


# Reports that name our delivery id (Kannel's dlr-url, a VERP bounce): the first final one
# ends the delivery.
FINISH_BY_DELIVERY = """
UPDATE submission s
SET state = 'final', outcome = u.outcome, detail = u.detail, owner = NULL,
    finished_at = clock_timestamp()
FROM (SELECT DISTINCT ON (delivery_id) * FROM unnest($1::uuid[], $2::text[], $3::text[])
      AS x(delivery_id, outcome, detail)) AS u
WHERE s.delivery_id = u.delivery_id AND s.state IN ('claimed', 'submitting', 'accepted')
RETURNING s.delivery_id, s.channel, s.outcome, s.detail, s.accepted_at, s.provider
"""
# Reports that name the provider's message id (SMPP): the part's outcome first.
REPORT_PARTS = """
UPDATE provider_message p SET outcome = u.outcome, detail = u.detail
FROM unnest($2::text[], $3::text[], $4::text[]) AS u(message_id, outcome, detail)
WHERE p.provider = $1 AND p.message_id = u.message_id AND p.outcome IS NULL
RETURNING p.message_id, p.delivery_id
"""
KEEP_EARLY = """
INSERT INTO early_report (provider, message_id, outcome, detail, reported_at)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[])
ON CONFLICT DO NOTHING
"""
# A delivery ends when any part failed, or every part is delivered.
FINISH_BY_PARTS = """
WITH parts AS (
    SELECT delivery_id,
           count(*) FILTER (WHERE outcome = 'delivered') AS delivered,
           min(detail) FILTER (WHERE outcome = 'permanent_failure') AS failure
    FROM provider_message WHERE delivery_id = ANY($1::uuid[]) GROUP BY delivery_id
)
UPDATE submission s
SET state = 'final', finished_at = clock_timestamp(), owner = NULL,
    outcome = CASE WHEN p.failure IS NOT NULL THEN 'permanent_failure' ELSE 'delivered' END,
    detail = coalesce(p.failure, s.detail)
FROM parts p
WHERE s.delivery_id = p.delivery_id AND s.state IN ('submitting', 'accepted')
  AND (p.failure IS NOT NULL OR p.delivered >= s.parts)
RETURNING s.delivery_id, s.channel, s.outcome, s.detail, s.accepted_at, s.provider
"""


async def apply_reports(
    conn: Connection, provider: str, reports: Sequence[DeliveryReport]
) -> list[Receipt]:
    """Records a provider's final reports; intermediate ones (no outcome) are skipped."""
    final = [r for r in reports if r.outcome is not None]
    by_delivery = [r for r in final if r.delivery_id is not None]
    by_message = [r for r in final if r.delivery_id is None and r.provider_message_id]
    receipts: list[Receipt] = []
    if by_delivery:
        rows = await conn.fetch(
            FINISH_BY_DELIVERY,
            [r.delivery_id for r in by_delivery],
            [_outcome(r) for r in by_delivery],
            [r.detail for r in by_delivery],
        )
        receipts += [_receipt(r) for r in rows]
    if by_message:
        receipts += await _apply_part_reports(conn, provider, by_message)
    return receipts


async def _apply_part_reports(
    conn: Connection, provider: str, reports: Sequence[DeliveryReport], keep_unmatched: bool = True
) -> list[Receipt]:
    message_ids = [str(r.provider_message_id) for r in reports]
    rows = await conn.fetch(
        REPORT_PARTS, provider, message_ids, [_outcome(r) for r in reports],
        [r.detail for r in reports],
    )  # fmt: skip
    touched = {r["delivery_id"] for r in rows}
    matched = {r["message_id"] for r in rows}
    unmatched = [r for r in reports if r.provider_message_id not in matched]
    receipts: list[Receipt] = []
    if touched:
        receipts += [_receipt(r) for r in await conn.fetch(FINISH_BY_PARTS, list(touched))]
    if unmatched and keep_unmatched:
        # An id not recorded yet (the receipt overtook its submit_sm_resp), or a part already
        # reported (a repeated DLR): kept either way. Its id may have been committed by
        # another transaction since the update above, so the kept reports are matched at once
        # (a repeated DLR matches a part with an outcome, changes nothing and is dropped);
        # what is still unknown the sweeper matches later.
        await conn.execute(
            KEEP_EARLY,
            provider,
            [r.provider_message_id for r in unmatched],
            [_outcome(r) for r in unmatched],
            [r.detail for r in unmatched],
            [r.at for r in unmatched],
        )
        receipts += await match_early_reports(
            conn, [(provider, str(r.provider_message_id)) for r in unmatched]
        )
    return receipts


# The sweeper's: every kept report whose id is known by now, skipping rows another
# transaction is matching.
TAKE_MATCHED_EARLY = """
DELETE FROM early_report WHERE (provider, message_id) IN (
    SELECT e.provider, e.message_id FROM early_report e
    JOIN provider_message p ON p.provider = e.provider AND p.message_id = e.message_id
    LIMIT 5000 FOR UPDATE OF e SKIP LOCKED)
RETURNING provider, message_id, outcome, detail, reported_at
"""
TAKE_MATCHED_EARLY_OF = """
DELETE FROM early_report e USING provider_message p,
     unnest($1::text[], $2::text[]) AS u(provider, message_id)
WHERE e.provider = u.provider AND e.message_id = u.message_id
  AND p.provider = e.provider AND p.message_id = e.message_id
RETURNING e.provider, e.message_id, e.outcome, e.detail, e.reported_at
"""


async def match_early_reports(
    conn: Connection, only: Sequence[tuple[str, str]] | None = None
) -> list[Receipt]:
    """Applies the kept reports whose message id is now known: those of ``only``
    ((provider, message id) pairs), or any (the sweeper)."""
    if only is None:
        rows = await conn.fetch(TAKE_MATCHED_EARLY)
    elif only:
        rows = await conn.fetch(TAKE_MATCHED_EARLY_OF, [p for p, _ in only], [m for _, m in only])
    else:
        return []
    receipts: list[Receipt] = []
    by_provider: dict[str, list[DeliveryReport]] = {}
    for row in rows:
        by_provider.setdefault(row["provider"], []).append(
            DeliveryReport(
                outcome=_outcome_value(row["outcome"]),
                provider_message_id=row["message_id"],
                detail=row["detail"],
                at=row["reported_at"],
            )
        )
    for provider, reports in by_provider.items():
        receipts += await _apply_part_reports(conn, provider, reports, keep_unmatched=False)
    return receipts


# Accepted and never reported on within the provider's report timeout: delivered (an SMSC
# that sends no DLR for some operators, a mail server that never bounced).
TIME_OUT_ACCEPTED = """
UPDATE submission s
SET state = 'final', outcome = 'delivered', finished_at = clock_timestamp(),
    detail = 'accepted; no report within ' || $2::float8::text || ' s'
WHERE s.delivery_id IN (
    SELECT delivery_id FROM submission
    WHERE state = 'accepted' AND provider = $1
      AND accepted_at < clock_timestamp() - make_interval(secs => $2::float8)
    LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING s.delivery_id, s.channel, s.outcome, s.detail
"""


async def time_out_accepted(
    conn: Connection, provider: str, after: timedelta, limit: int = 5000
) -> list[Receipt]:
    rows = await conn.fetch(TIME_OUT_ACCEPTED, provider, after.total_seconds(), limit)
    return [_receipt(r) for r in rows]


STRANDED = """
SELECT delivery_id, owner FROM submission
WHERE state IN ('claimed', 'submitting') AND claimed_at < clock_timestamp() - $1::interval
ORDER BY claimed_at LIMIT $2 FOR UPDATE SKIP LOCKED
"""
RELEASE_STRANDED = """
UPDATE submission SET state = 'temporary', outcome = 'temporary_failure', owner = NULL,
       detail = 'the connector replica sending it stopped'
WHERE delivery_id = ANY($1::uuid[])
RETURNING delivery_id, channel, outcome, detail
"""


async def release_stranded(
    conn: Connection, older_than: timedelta, limit: int = 5000
) -> list[Receipt]:
    """Deliveries whose replica died and whose batch never came back (its message
    dead-lettered): answered as temporary failures, so dispatch's retry sends them again."""
    rows = await conn.fetch(STRANDED, older_than, limit)
    alive = await live_owners(conn, (r["owner"] for r in rows if r["owner"] is not None))
    dead = [r["delivery_id"] for r in rows if r["owner"] not in alive]
    if not dead:
        return []
    return [_receipt(r) for r in await conn.fetch(RELEASE_STRANDED, dead)]


LATEST_TO_ADDRESS = """
SELECT DISTINCT ON (address_key) address_key, delivery_id, channel FROM submission
WHERE address_key = ANY($1::bytea[]) AND channel = 'sms'
  AND claimed_at > clock_timestamp() - $2::interval
ORDER BY address_key, claimed_at DESC
"""


async def latest_deliveries(
    conn: Connection, address_keys: Sequence[bytes], within: timedelta
) -> dict[bytes, uuid.UUID]:
    """The latest SMS delivery to each address key: what a member's reply answers."""
    rows = await conn.fetch(LATEST_TO_ADDRESS, list(set(address_keys)), within)
    return {bytes(r["address_key"]): r["delivery_id"] for r in rows}


FORGET_OLD = """
DELETE FROM submission WHERE delivery_id IN (
    SELECT delivery_id FROM submission
    WHERE state = 'final' AND finished_at < clock_timestamp() - $1::interval LIMIT $2)
RETURNING delivery_id
"""
FORGET_PARTS = "DELETE FROM provider_message WHERE delivery_id = ANY($1::uuid[])"
FORGET_EARLY = "DELETE FROM early_report WHERE received_at < clock_timestamp() - $1::interval"


async def forget_old(conn: Connection, older_than: timedelta, limit: int = 10_000) -> int:
    """Drops finished deliveries older than any copy of their work can be (retention)."""
    ids = [r["delivery_id"] for r in await conn.fetch(FORGET_OLD, older_than, limit)]
    if ids:
        await conn.execute(FORGET_PARTS, ids)
    await conn.execute(FORGET_EARLY, older_than)
    return len(ids)


def _outcome(report: DeliveryReport) -> str:
    assert report.outcome is not None
    return report.outcome.value


def _outcome_value(value: str | None) -> DeliveryOutcome | None:
    return DeliveryOutcome(value) if value is not None else None


def _receipt(row: asyncpg.Record) -> Receipt:
    return Receipt(
        row["delivery_id"],
        row["channel"],
        row["outcome"],
        row["detail"],
        row.get("accepted_at"),
        row.get("provider"),
        row.get("confirmed"),
    )
