"""Dispatch's SQL: the recipient projection, fan-outs, deliveries, receipts, progress."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
import orjson
from pydantic import BaseModel

from services.dispatch.domain.slices import Slice
from shared.database import Connection
from shared.events import BinRegisteredData, DeliveryReceipt, MemberRegisteredData

UPSERT_BIN = """
INSERT INTO bin_projection (bin_id, police_zone, municipality, urgent_channels, news_channels,
                            languages, urgent_overrides_quiet)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (bin_id) DO UPDATE SET
    police_zone = EXCLUDED.police_zone, municipality = EXCLUDED.municipality,
    urgent_channels = EXCLUDED.urgent_channels, news_channels = EXCLUDED.news_channels,
    languages = EXCLUDED.languages, urgent_overrides_quiet = EXCLUDED.urgent_overrides_quiet
"""
UPSERT_RECIPIENT = """
INSERT INTO recipient (member_id, language, phones, email, push_token, subsidised_sms, channels,
                       suspended_until, sms_opted_out, quiet_from, quiet_until, paused_until,
                       digest_subscribed)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (member_id) DO UPDATE SET
    language = EXCLUDED.language, phones = EXCLUDED.phones, email = EXCLUDED.email,
    push_token = EXCLUDED.push_token, subsidised_sms = EXCLUDED.subsidised_sms,
    channels = EXCLUDED.channels, suspended_until = EXCLUDED.suspended_until,
    sms_opted_out = EXCLUDED.sms_opted_out, quiet_from = EXCLUDED.quiet_from,
    quiet_until = EXCLUDED.quiet_until, paused_until = EXCLUDED.paused_until,
    digest_subscribed = EXCLUDED.digest_subscribed
"""
INSERT_MEMBERSHIP = """
INSERT INTO membership (bin_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""
DELETE_MEMBERSHIP = "DELETE FROM membership WHERE bin_id = $1 AND member_id = $2"
# A STOP or START reply; returns where to send the confirmation.
SET_SMS_OPT_OUT = """
UPDATE recipient SET sms_opted_out = $2 WHERE member_id = $1
RETURNING language, phones[1] AS phone
"""
# Erasure: the projection forgets the member; deliveries keep no contact data of their own.
DELETE_RECIPIENT = "DELETE FROM recipient WHERE member_id = $1"

INSERT_FANOUT = """
INSERT INTO fanout (source_id, kind, priority, bin_ids, channels, content, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (source_id) DO NOTHING
"""
SELECT_FANOUT = """
SELECT source_id, kind, priority, bin_ids, channels, content, status, expires_at
FROM fanout WHERE source_id = $1
"""
MARK_FANOUT_DISPATCHED = """
UPDATE fanout SET status = 'dispatched', dispatched_at = now()
WHERE source_id = $1 AND status = 'planning'
"""
INSERT_FANOUT_RETURNING = INSERT_FANOUT.rstrip() + " RETURNING source_id"
# Many fan-outs in one statement (alerts arriving side by side, see create_fanouts); returns
# the ones it created. A JSON array in: bin_ids and channels are arrays of their own length.
INSERT_FANOUTS = """
INSERT INTO fanout (source_id, kind, priority, bin_ids, channels, content, expires_at)
SELECT source_id, kind, priority, bin_ids, channels, content, expires_at
FROM jsonb_to_recordset($1::text::jsonb) AS f(source_id uuid, kind text, priority text,
     bin_ids uuid[], channels text[], content jsonb, expires_at timestamptz)
ON CONFLICT (source_id) DO NOTHING
RETURNING source_id
"""
SELECT_FANOUTS = """
SELECT source_id, kind, priority, bin_ids, channels, content, status, expires_at
FROM fanout WHERE source_id = ANY($1::uuid[])
"""
# Confirmed gateway messages and finished fan-outs of many fan-outs at once, in one statement
# (a data-modifying WITH runs whether or not the rest reads it).
RECORD_BATCHES_AND_DISPATCHED = """
WITH batches AS (
    INSERT INTO fanout_batch (batch_id, source_id, channel, deliveries)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::integer[])
    ON CONFLICT DO NOTHING
)
UPDATE fanout SET status = 'dispatched', dispatched_at = now()
WHERE source_id = ANY($5::uuid[]) AND status = 'planning'
"""
INSERT_SLICES = """
INSERT INTO fanout_slice (source_id, slice, slices)
SELECT $1, s, $2 FROM generate_series(0, $2 - 1) AS s
ON CONFLICT DO NOTHING
"""
SELECT_SLICES = """
SELECT slice, slices, done_at IS NOT NULL AS done FROM fanout_slice
WHERE source_id = $1 ORDER BY slice
"""
# One replica per slice at a time. Held until the slice's transaction ends, which a replica's
# death ends too, but only once PostgreSQL has noticed: the broker can hand the dead replica's
# message to another one first. So a replica finding the lock taken waits for it (bounded by
# lock_timeout) rather than dropping the message: a live holder finishes the slice, which the
# waiter then finds done; a dead one's session ends and the waiter fans the slice out.
TRY_LOCK_SLICE = "SELECT pg_try_advisory_xact_lock(hashtext($1::uuid::text), $2)"
LOCK_SLICE = "SELECT pg_advisory_xact_lock(hashtext($1::uuid::text), $2)"
SET_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', $1, true)"
SELECT_SLICE_DONE = """
SELECT done_at IS NOT NULL FROM fanout_slice WHERE source_id = $1 AND slice = $2
"""
# The fan-out's row lock orders the slices finishing at once: each sees the others' commits,
# so the last one done flips the fan-out, never none of them.
LOCK_FANOUT = "SELECT status FROM fanout WHERE source_id = $1 FOR UPDATE"
MARK_SLICE_DONE = """
UPDATE fanout_slice SET done_at = now() WHERE source_id = $1 AND slice = $2 AND done_at IS NULL
"""
MARK_SLICED_FANOUT_DISPATCHED = (
    MARK_FANOUT_DISPATCHED.rstrip()
    + "\n  AND NOT EXISTS (SELECT 1 FROM fanout_slice WHERE source_id = $1 AND done_at IS NULL)"
)
CANCEL_FANOUT = """
UPDATE fanout SET status = 'cancelled' WHERE source_id = $1 AND status <> 'cancelled'
"""
CANCEL_QUEUED_DELIVERIES = """
UPDATE delivery SET status = 'cancelled', updated_at = now()
WHERE source_id = $1 AND status IN ('queued', 'temporary_failure')
"""


def _plan_channels(channels: str, priority: str, bin_alias: str = "b") -> str:
    """The channels a member is tried on, in order: the fan-out's own list, else the BIN's
    plan (urgent or news channels by priority)."""
    return f"""unnest(
        CASE WHEN cardinality({channels}::text[]) > 0 THEN {channels}::text[]
             WHEN {priority} = 'urgent' THEN {bin_alias}.urgent_channels
             ELSE {bin_alias}.news_channels END
    ) WITH ORDINALITY AS c(channel, ord)"""


def _reaches(priority: str) -> str:
    """Whether channel ``c.channel`` reaches recipient ``r``: SMS only for the member the
    municipality subsidises; for non-urgent work, only channels the member accepts."""
    return f"""((c.channel = 'sms' AND cardinality(r.phones) > 0 AND r.subsidised_sms
            AND NOT r.sms_opted_out)
        OR (c.channel = 'voice' AND cardinality(r.phones) > 0)
        OR (c.channel = 'email' AND r.email IS NOT NULL)
        OR (c.channel = 'push' AND r.push_token IS NOT NULL))
      -- A member's channel preferences shape news; urgent alerts follow the BIN's plan.
      AND ({priority} = 'urgent' OR cardinality(r.channels) = 0
           OR c.channel = ANY(r.channels))"""


def _pick_channel(channels: str, priority: str, not_tried_for: str | None = None) -> str:
    """The channel a member gets: the first of :func:`_plan_channels` that reaches them (and,
    for a fallback, that was not tried yet for this fan-out)."""
    not_tried = (
        f"""
      AND NOT EXISTS (SELECT 1 FROM delivery tried
                      WHERE tried.source_id = {not_tried_for} AND tried.member_id = r.member_id
                        AND tried.channel = c.channel)"""
        if not_tried_for
        else ""
    )
    return f"""
CROSS JOIN LATERAL (
    SELECT c.channel
    FROM {_plan_channels(channels, priority)}
    WHERE {_reaches(priority)}{not_tried}
    ORDER BY c.ord
    LIMIT 1
) pick
"""


# Voice rings every number the member gave, in order: their numbers joined by commas (an
# E.164 number has none), so the gateway contract keeps one address string.
_ADDRESS = """
CASE pick.channel WHEN 'email' THEN r.email WHEN 'push' THEN r.push_token
                  WHEN 'voice' THEN array_to_string(r.phones, ',')
                  ELSE r.phones[1] END
"""
# Every member of the targeted BINs, once, read through a cursor so the first batch leaves
# before the last member is read. One query for all BINs, not one per BIN. No ORDER BY:
# sorting 100,000 rows before the first one comes out cost more than the whole first-batch
# budget. A member of several targeted BINs is reached through the first of them in the
# list that reaches them at all (the NOT EXISTS looks at the member's other memberships, a
# probe of membership_member_idx: linear, and nothing kept in memory per member; a set of
# the member ids seen cost dispatch ~190 bytes per recipient, 190 MB for a national alert).
# A resumed fan-out ($5 its id; NULL for a new one) skips the members it has deliveries for.
STREAM_RECIPIENTS = f"""
SELECT m.member_id, m.bin_id, r.language, pick.channel, {_ADDRESS} AS address,
       r.quiet_from, r.quiet_until, r.paused_until, b.urgent_overrides_quiet
-- The BINs with their plans first, on their own (OFFSET 0: planned apart), so their plans are
-- joined once per BIN, not once per member: a slice's filter on members made the planner
-- expect a few hundred rows and loop over every BIN for each of 200,000 members (99 million
-- comparisons, 10 s).
FROM (SELECT t.bin_id, t.ord, b.urgent_channels, b.news_channels, b.urgent_overrides_quiet
      FROM unnest($1::uuid[]) WITH ORDINALITY AS t(bin_id, ord)
      JOIN bin_projection b ON b.bin_id = t.bin_id
      OFFSET 0) AS b
JOIN membership m ON m.bin_id = b.bin_id
JOIN recipient r ON r.member_id = m.member_id
{_pick_channel("$2", "$3")}
WHERE (r.suspended_until IS NULL OR r.suspended_until <= now())
  -- Unsubscribed from the digest (the member's preferences page): every other kind still goes.
  AND (r.digest_subscribed OR $4 <> 'digest')
  AND NOT EXISTS (
      SELECT 1 FROM membership other JOIN bin_projection ob ON ob.bin_id = other.bin_id
      WHERE other.member_id = m.member_id AND other.bin_id <> m.bin_id
        AND other.bin_id = ANY(($1::uuid[])[1:b.ord - 1])
        AND EXISTS (SELECT 1 FROM {_plan_channels("$2", "$3", "ob")} WHERE {_reaches("$3")}))
  AND NOT ($5::uuid IS NOT NULL AND EXISTS (
      SELECT 1 FROM delivery d WHERE d.source_id = $5 AND d.member_id = m.member_id))
"""
STREAM_CHUNK_ROWS = 1000
# A member's slice of a sliced fan-out (domain/slices.py): a stable hash of the member id,
# made non-negative by masking (abs() of the smallest int4 overflows).
SLICE_OF = "(hashtext({member}::text) & 2147483647) % {count} = {index}"
# Whether a slice has begun (a replica fanned part of it out before): if not, it has nothing
# to resume and its members need no check against deliveries already made.
SELECT_SLICE_BEGUN = (
    "SELECT EXISTS (SELECT 1 FROM delivery WHERE source_id = $1 AND "
    + SLICE_OF.format(member="member_id", count="$2", index="$3")
    + ")"
)
# The members of one slice only; $6 slices, $7 this slice.
STREAM_SLICE_RECIPIENTS = (
    STREAM_RECIPIENTS + "  AND " + SLICE_OF.format(member="m.member_id", count="$6", index="$7")
)
# The first BIN's members, then the others', in two queries of one snapshot. For 500 BINs
# the planner hashes all recipients and memberships before the first row comes out (0.5 s
# of a national alert, measured on 1,000,000 members); asked for one BIN, it looks its
# members up by index and the first 500 rows come in ~10 ms, while the other BINs' query
# keeps the hash plan, which reads them all twice as fast as looking them up one by one.
FIRST_BIN = "  AND b.ord = 1\n"
OTHER_BINS = "  AND b.ord > 1\n"
# Planning the query for its parameters took ~1 ms of PostgreSQL's CPU per fan-out, more than
# reading a 50-member BIN (0.6 ms): one BIN's members are read with the statement's generic
# plan (index lookups, right for a BIN of any size), the other BINs' with a plan made for
# their number (the hash joins above; a generic plan would look them up one by one).
PLAN_FOR_ONE_BIN = "SET LOCAL plan_cache_mode = force_generic_plan"
PLAN_FOR_MANY_BINS = "SET LOCAL plan_cache_mode = force_custom_plan"


DELIVERY_COLUMNS = (
    "delivery_id",
    "source_id",
    "member_id",
    "bin_id",
    "channel",
    "language",
    "batch_id",
    # Set for a delivery that waits for a member's quiet hours or pause to end.
    "hold_until",
)

# Work that was written but never confirmed sent (a replica died in between): sent again on
# resume; the delivery id lets the gateway drop a copy it already has.
SELECT_UNSENT_WORK = """
SELECT d.delivery_id, d.channel, d.language, d.member_id,
       CASE d.channel WHEN 'email' THEN r.email WHEN 'push' THEN r.push_token
                      WHEN 'voice' THEN array_to_string(r.phones, ',')
                      ELSE r.phones[1] END AS address
FROM delivery d JOIN recipient r ON r.member_id = d.member_id
WHERE d.source_id = $1 AND d.status = 'queued'
  AND (d.batch_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM fanout_batch b WHERE b.batch_id = d.batch_id))
  AND (d.hold_until IS NULL OR d.hold_until <= now())
"""
# The work of given deliveries (fallbacks just written).
SELECT_WORK = """
SELECT d.delivery_id, d.channel, d.language, d.member_id,
       CASE d.channel WHEN 'email' THEN r.email WHEN 'push' THEN r.push_token
                      WHEN 'voice' THEN array_to_string(r.phones, ',')
                      ELSE r.phones[1] END AS address
FROM delivery d JOIN recipient r ON r.member_id = d.member_id
WHERE d.delivery_id = ANY($1::uuid[])
"""
# A resumed slice re-sends its own members' unsent work only: another slice's is in the hands
# of that slice's replica, which records it once confirmed.
SELECT_UNSENT_SLICE_WORK = (
    SELECT_UNSENT_WORK + "  AND " + SLICE_OF.format(member="d.member_id", count="$2", index="$3")
)
RECORD_BATCH = """
INSERT INTO fanout_batch (batch_id, source_id, channel, deliveries) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
"""
ASSIGN_BATCH = "UPDATE delivery SET batch_id = $1 WHERE delivery_id = ANY($2::uuid[])"

# Final outcomes are never overwritten by a late or replayed receipt. The receipts come as one
# JSON array: measured on 1,000 receipts, asyncpg spent 3.2 ms of the client's CPU encoding
# them as four arrays (uuid, text, timestamptz, text) and 0.3 ms sending the JSON, which
# PostgreSQL unpacks no slower than the arrays (3.8 ms against 4.4 ms a round trip). Text, not
# jsonb, as the parameter's type: the pool's jsonb codec would encode the string once more.
APPLY_RECEIPTS = """
UPDATE delivery d
SET status = u.outcome, detail = u.detail, updated_at = clock_timestamp(),
    confirmed = u.confirmed,
    -- The history is for dead letters: failures only, so the common case writes less.
    history = CASE WHEN u.outcome = 'delivered' THEN d.history
                   ELSE d.history || jsonb_build_array(jsonb_build_object(
                       'attempt', d.attempts, 'channel', d.channel, 'outcome', u.outcome,
                       'detail', u.detail, 'at', u.at)) END
FROM jsonb_to_recordset($1::text::jsonb)
     AS u(delivery_id uuid, outcome text, at timestamptz, detail text, confirmed boolean)
WHERE d.delivery_id = u.delivery_id
  AND d.status NOT IN ('delivered', 'permanent_failure', 'failed', 'cancelled')
RETURNING d.delivery_id, d.source_id, d.member_id, d.bin_id, d.channel, d.status, d.attempts
"""
# What the handler needs back: the failures in full (to retry or fall back), and of the
# deliveries only the fan-outs they belong to (for progress). Returning every delivered row
# cost a Python record each, a thousand per receipt message.
APPLY_RECEIPTS_SUMMARY = f"""
WITH updated AS ({APPLY_RECEIPTS.strip()})
SELECT * FROM updated WHERE status <> 'delivered'
UNION ALL
SELECT DISTINCT NULL::uuid, source_id, NULL::uuid, NULL::uuid, NULL::text, 'delivered',
       NULL::integer
FROM updated WHERE status = 'delivered'
"""
# A retry is due: the same delivery, same id, one attempt more.
CLAIM_RETRIES = """
UPDATE delivery d
SET status = 'queued', attempts = d.attempts + 1, batch_id = NULL, updated_at = now()
FROM recipient r
WHERE d.delivery_id = ANY($1::uuid[]) AND d.status IN ('temporary_failure', 'failed')
  AND r.member_id = d.member_id
RETURNING d.delivery_id, d.source_id, d.channel, d.language, d.member_id,
          CASE d.channel WHEN 'email' THEN r.email WHEN 'push' THEN r.push_token
                         WHEN 'voice' THEN array_to_string(r.phones, ',')
                         ELSE r.phones[1] END AS address
"""
# A temporary failure with no retry left: final on its channel, as a permanent one is (the
# member's next channel is then tried); its last answer is kept in the detail.
GIVE_UP = """
UPDATE delivery SET status = 'permanent_failure', updated_at = now(),
    detail = 'retries exhausted' || coalesce(': ' || detail, '')
WHERE delivery_id = ANY($1::uuid[]) AND status = 'temporary_failure'
"""
MARK_FAILED = """
UPDATE delivery SET status = 'failed', updated_at = now()
WHERE delivery_id = ANY($1::uuid[]) AND status IN ('temporary_failure', 'permanent_failure')
RETURNING delivery_id, source_id, member_id, bin_id, channel, attempts, detail, history
"""
# Fallback: for members whose delivery failed permanently, a new delivery on the next
# channel of the plan they can be reached on (the lateral pick skips channels tried).
INSERT_FALLBACKS = f"""
INSERT INTO delivery (delivery_id, source_id, member_id, bin_id, channel, language, fallback)
SELECT gen_random_uuid(), $1, failed.member_id, failed.bin_id, pick.channel, r.language, true
FROM unnest($2::uuid[]) AS failed_id(delivery_id)
JOIN delivery failed ON failed.delivery_id = failed_id.delivery_id
JOIN recipient r ON r.member_id = failed.member_id
JOIN bin_projection b ON b.bin_id = failed.bin_id
{_pick_channel("$3", "$4", not_tried_for="$1")}
ON CONFLICT DO NOTHING
RETURNING delivery_id, member_id
"""
SELECT_DELIVERY_OWNERS = """
SELECT delivery_id, source_id, member_id, bin_id, channel FROM delivery
WHERE delivery_id = ANY($1::uuid[])
"""
# Progress of many fan-outs at once (the announcer counts every fan-out that changed in the
# last second in one go: 2,000 small alerts at once cost 10,000 queries one by one).
SELECT_FANOUT_STATUSES = """
SELECT source_id, status FROM fanout WHERE source_id = ANY($1::uuid[])
"""
# Where the fan-out's BINs lie, for who may follow it (a BIN unknown here has no zone yet).
SELECT_FANOUT_BINS = """
SELECT f.source_id, b.bin_id, b.police_zone, b.municipality
FROM fanout f CROSS JOIN unnest(f.bin_ids) AS t(bin_id) JOIN bin_projection b USING (bin_id)
WHERE f.source_id = ANY($1::uuid[])
"""
# Per state, the deliveries and the members they are the first delivery of (fallbacks are a
# member's later ones: migration 014).
SELECT_PROGRESS = """
SELECT source_id, channel, status, count(*) AS deliveries,
       count(*) FILTER (WHERE NOT fallback) AS members,
       count(*) FILTER (WHERE confirmed) AS confirmed
FROM delivery WHERE source_id = ANY($1::uuid[]) GROUP BY source_id, channel, status
"""
# Handed to the gateways, retries included: one row per confirmed gateway message.
SELECT_SENT = """
SELECT source_id, channel, sum(deliveries)::int AS sent FROM fanout_batch
WHERE source_id = ANY($1::uuid[]) GROUP BY source_id, channel
"""


@dataclass(frozen=True)
class Fanout:
    source_id: uuid.UUID
    kind: str
    priority: str
    bin_ids: list[uuid.UUID]
    channels: list[str]
    content: dict[str, Any]
    status: str = "planning"
    expires_at: datetime | None = None


class Work(NamedTuple):
    """One delivery to hand to a gateway. A tuple: made once per recipient on the fan-out's
    hot path, where a frozen dataclass took four times as long to make (2.4 µs against 0.6 µs)."""

    delivery_id: uuid.UUID
    channel: str
    language: str
    address: str
    member_id: uuid.UUID
    bin_id: uuid.UUID | None = None


async def project_bin(conn: Connection, data: BinRegisteredData) -> None:
    plan = data.communication_plan
    await conn.execute(
        UPSERT_BIN,
        data.bin_id,
        data.police_zone,
        data.municipality,
        [c.value for c in plan.urgent_channels],
        [c.value for c in plan.news_channels],
        [lang.value for lang in plan.languages],
        plan.urgent_overrides_member_quiet,
    )


async def project_member(conn: Connection, data: MemberRegisteredData) -> None:
    await conn.execute(
        UPSERT_RECIPIENT,
        data.member_id,
        data.language.value,
        data.contact.phones,
        data.contact.email,
        data.contact.push_token,
        data.subsidised_sms,
        [c.value for c in data.channels],
        data.suspended_until,
        data.sms_opted_out,
        data.quiet_from,
        data.quiet_until,
        data.paused_until,
        data.digest_subscribed,
    )
    await conn.execute(INSERT_MEMBERSHIP, data.bin_id, data.member_id)


async def set_sms_opt_out(conn: Connection, member_id: uuid.UUID, opted_out: bool) -> Any:
    return await conn.fetchrow(SET_SMS_OPT_OUT, member_id, opted_out)


async def remove_membership(conn: Connection, bin_id: uuid.UUID, member_id: uuid.UUID) -> None:
    await conn.execute(DELETE_MEMBERSHIP, bin_id, member_id)


async def erase_member(conn: Connection, member_id: uuid.UUID) -> None:
    await conn.execute(DELETE_RECIPIENT, member_id)


def _fanout_values(fanout: Fanout) -> tuple[Any, ...]:
    """The parameters of :data:`INSERT_FANOUT`, in its order."""
    return (
        fanout.source_id,
        fanout.kind,
        fanout.priority,
        fanout.bin_ids,
        fanout.channels,
        fanout.content,
        fanout.expires_at,
    )


async def create_fanout(conn: Connection, fanout: Fanout) -> None:
    await conn.execute(INSERT_FANOUT, *_fanout_values(fanout))


async def create_fanouts(
    conn: Connection, fanouts: Sequence[Fanout]
) -> list[tuple[Fanout | None, bool]]:
    """Creates the fan-outs not there yet; returns, for each in order, the fan-out as it now
    is (None: not found, which cannot happen after the insert) and whether this call created
    it (a copy of the same fan-out later in ``fanouts`` did not)."""
    given = [
        {
            "source_id": f.source_id,
            "kind": f.kind,
            "priority": f.priority,
            "bin_ids": f.bin_ids,
            "channels": f.channels,
            "content": f.content,
            "expires_at": f.expires_at,
        }
        for f in fanouts
    ]
    created = {
        r["source_id"] for r in await conn.fetch(INSERT_FANOUTS, orjson.dumps(given).decode())
    }
    found: dict[uuid.UUID, Fanout] = {}
    if missing := [f.source_id for f in fanouts if f.source_id not in created]:
        found = {
            r["source_id"]: Fanout(**dict(r)) for r in await conn.fetch(SELECT_FANOUTS, missing)
        }
    answers: list[tuple[Fanout | None, bool]] = []
    for fanout in fanouts:
        if fanout.source_id in created:
            created.discard(fanout.source_id)
            answers.append((fanout, True))
        else:
            answers.append((found.get(fanout.source_id), False))
    return answers


async def record_batches_and_dispatched(
    conn: Connection,
    batches: Sequence[tuple[uuid.UUID, uuid.UUID, str, int]],
    dispatched: Sequence[uuid.UUID],
) -> None:
    """Notes confirmed gateway messages whose rows carry their batch id already (batch id,
    fan-out, channel, deliveries), and marks fan-outs dispatched."""
    await conn.execute(
        RECORD_BATCHES_AND_DISPATCHED,
        [b[0] for b in batches],
        [b[1] for b in batches],
        [b[2] for b in batches],
        [b[3] for b in batches],
        list(dispatched),
    )


async def create_sliced_fanout(conn: Connection, fanout: Fanout, slices: int) -> None:
    """The fan-out and its slices in one transaction; slices only for a new fan-out (one
    begun unsliced is finished unsliced)."""
    async with conn.transaction():
        created = await conn.fetchval(INSERT_FANOUT_RETURNING, *_fanout_values(fanout))
        if created is not None:
            await conn.execute(INSERT_SLICES, fanout.source_id, slices)


async def fanout_slices(conn: Connection, source_id: uuid.UUID) -> list[tuple[Slice, bool]]:
    """The fan-out's slices and whether each is done; none: not sliced."""
    rows = await conn.fetch(SELECT_SLICES, source_id)
    return [(Slice(r["slice"], r["slices"]), r["done"]) for r in rows]


async def try_lock_slice(conn: Connection, source_id: uuid.UUID, part: Slice) -> bool:
    """Call inside a transaction; the lock lasts as long as it."""
    return bool(await conn.fetchval(TRY_LOCK_SLICE, source_id, part.index))


async def wait_for_slice_lock(
    conn: Connection, source_id: uuid.UUID, part: Slice, timeout_seconds: float
) -> None:
    """Call inside a transaction; raises ``asyncpg.LockNotAvailableError`` after
    ``timeout_seconds``, the lock_timeout for the rest of the transaction."""
    await conn.execute(SET_LOCK_TIMEOUT, f"{int(timeout_seconds * 1000)}ms")
    await conn.execute(LOCK_SLICE, source_id, part.index)


async def slice_begun(conn: Connection, source_id: uuid.UUID, part: Slice) -> bool:
    return bool(await conn.fetchval(SELECT_SLICE_BEGUN, source_id, part.count, part.index))


async def slice_done(conn: Connection, source_id: uuid.UUID, part: Slice) -> bool:
    return bool(await conn.fetchval(SELECT_SLICE_DONE, source_id, part.index))


async def finish_slice(conn: Connection, source_id: uuid.UUID, part: Slice) -> None:
    """Marks the slice done and, if it was the last, the fan-out dispatched; call inside a
    transaction."""
    await conn.execute(LOCK_FANOUT, source_id)
    await conn.execute(MARK_SLICE_DONE, source_id, part.index)
    await conn.execute(MARK_SLICED_FANOUT_DISPATCHED, source_id)


async def get_fanout(conn: Connection, source_id: uuid.UUID) -> Fanout | None:
    row = await conn.fetchrow(SELECT_FANOUT, source_id)
    return Fanout(**dict(row)) if row else None


async def mark_dispatched(conn: Connection, source_id: uuid.UUID) -> None:
    await conn.execute(MARK_FANOUT_DISPATCHED, source_id)


async def cancel(conn: Connection, source_id: uuid.UUID) -> int:
    await conn.execute(CANCEL_FANOUT, source_id)
    status = await conn.execute(CANCEL_QUEUED_DELIVERIES, source_id)
    return int(status.split()[-1])


def _in_slice(
    query: str, slice_query: str, part: Slice | None, *args: Any
) -> tuple[str, tuple[Any, ...]]:
    """``query`` with ``args``; or, for one slice, ``slice_query``, which takes the slice
    count and index (:data:`SLICE_OF`) after them."""
    if part is None:
        return query, args
    return slice_query, (*args, part.count, part.index)


async def stream_recipients(
    conn: Connection, fanout: Fanout, part: Slice | None = None, resumed: bool = True
) -> AsyncIterator[list[Any]]:
    """Rows (member_id, bin_id, language, channel, address, quiet hours), a thousand at a
    time (one round trip each; the caller loops over a list rather than awaiting every row),
    of one slice if given, each member once; ``resumed``: without the members the fan-out
    already has deliveries for. Call inside a transaction."""
    bin_ids = list(dict.fromkeys(fanout.bin_ids))  # a BIN named twice: its members once
    query, args = _in_slice(
        STREAM_RECIPIENTS,
        STREAM_SLICE_RECIPIENTS,
        part,
        bin_ids,
        fanout.channels,
        fanout.priority,
        fanout.kind,
        fanout.source_id if resumed else None,
    )
    reads = (
        [(PLAN_FOR_ONE_BIN, query + FIRST_BIN), (PLAN_FOR_MANY_BINS, query + OTHER_BINS)]
        if len(bin_ids) > 1
        else [(PLAN_FOR_ONE_BIN, query)]
    )
    for plan, bins_query in reads:
        await conn.execute(plan)
        cursor = await conn.cursor(bins_query, *args)
        while rows := await cursor.fetch(STREAM_CHUNK_ROWS):
            yield rows


def delivery_row(
    work: Work,
    source_id: uuid.UUID,
    batch_id: uuid.UUID | None = None,
    hold_until: datetime | None = None,
) -> tuple[Any, ...]:
    """A delivery row in the order of :data:`DELIVERY_COLUMNS`."""
    return (
        work.delivery_id,
        source_id,
        work.member_id,
        work.bin_id,
        work.channel,
        work.language,
        batch_id,
        hold_until,
    )


async def copy_deliveries(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows made by :func:`delivery_row`, in one COPY."""
    await conn.copy_records_to_table("delivery", records=rows, columns=DELIVERY_COLUMNS)


async def unsent_work(
    conn: Connection, source_id: uuid.UUID, part: Slice | None = None
) -> list[Work]:
    query, args = _in_slice(SELECT_UNSENT_WORK, SELECT_UNSENT_SLICE_WORK, part, source_id)
    return [_work(r) for r in await conn.fetch(query, *args)]


async def record_batch(
    conn: Connection,
    batch_id: uuid.UUID,
    source_id: uuid.UUID,
    channel: str,
    delivery_ids: Sequence[uuid.UUID],
) -> None:
    """Notes a confirmed gateway message of work written earlier (resumed, retried, fallen
    back) and gives its rows the batch id; a fan-out's own batches, whose rows carry the id
    from the start, go through :func:`record_batches_and_dispatched`."""
    async with conn.transaction():
        await conn.execute(RECORD_BATCH, batch_id, source_id, channel, len(delivery_ids))
        await conn.execute(ASSIGN_BATCH, batch_id, list(delivery_ids))


async def apply_receipts(conn: Connection, receipts: Sequence[DeliveryReceipt]) -> list[Any]:
    """Records receipts; returns the failed deliveries, and one row per fan-out delivered to
    (``status`` 'delivered', only ``source_id`` set)."""
    return list(await conn.fetch(APPLY_RECEIPTS_SUMMARY, receipts_json(receipts)))


def receipts_json(receipts: Sequence[DeliveryReceipt]) -> str:
    """The receipts as the JSON array :data:`APPLY_RECEIPTS` unpacks."""
    return _receipts_json.encode(receipts).decode()


def _model_fields(model: Any) -> Any:
    """Receipts built as pydantic models (not decoded by msgspec) encode field by field."""
    if isinstance(model, BaseModel):
        return model.model_dump()
    raise NotImplementedError(f"cannot encode {type(model).__name__} as a receipt")


# Receipts decoded from a gateway message are msgspec structs (shared/events/gateway_codec.py)
# and encode in C, 0.16 ms per 1,000.
_receipts_json = msgspec.json.Encoder(enc_hook=_model_fields)


async def claim_retries(
    conn: Connection, delivery_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, Work]]:
    rows = await conn.fetch(CLAIM_RETRIES, list(delivery_ids))
    return [(r["source_id"], _work(r)) for r in rows]


async def give_up(conn: Connection, delivery_ids: Sequence[uuid.UUID]) -> None:
    await conn.execute(GIVE_UP, list(delivery_ids))


async def mark_failed(conn: Connection, delivery_ids: Sequence[uuid.UUID]) -> list[Any]:
    return list(await conn.fetch(MARK_FAILED, list(delivery_ids)))


async def insert_fallbacks(
    conn: Connection, fanout: Fanout, failed_ids: Sequence[uuid.UUID]
) -> list[Any]:
    return list(
        await conn.fetch(
            INSERT_FALLBACKS, fanout.source_id, list(failed_ids), fanout.channels, fanout.priority
        )
    )


async def work_of(conn: Connection, delivery_ids: Sequence[uuid.UUID]) -> list[Work]:
    return [_work(r) for r in await conn.fetch(SELECT_WORK, list(delivery_ids))]


async def delivery_owners(conn: Connection, delivery_ids: Sequence[uuid.UUID]) -> list[Any]:
    return list(await conn.fetch(SELECT_DELIVERY_OWNERS, list(delivery_ids)))


@dataclass(frozen=True)
class FanoutProgress:
    status: str  # planning while members are still being targeted; dispatched; cancelled
    bins: list[Any]  # bin_id, police_zone, municipality
    by_channel: dict[str, dict[str, int]]
    members: dict[str, int]


async def progress(conn: Connection, source_id: uuid.UUID) -> FanoutProgress | None:
    return (await progress_of(conn, [source_id])).get(source_id)


async def progress_of(
    conn: Connection, source_ids: Sequence[uuid.UUID], with_bins: bool = True
) -> dict[uuid.UUID, FanoutProgress]:
    """The progress of each fan-out found; ``with_bins``: with where its BINs lie."""
    ids = list(source_ids)
    # One snapshot for every read: receipts land between them, and per-channel counts
    # read before the totals would contradict them.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        statuses = {
            r["source_id"]: r["status"] for r in await conn.fetch(SELECT_FANOUT_STATUSES, ids)
        }
        if not statuses:
            return {}
        by_channel: dict[uuid.UUID, dict[str, dict[str, int]]] = {i: {} for i in statuses}
        members = {i: {"targeted": 0, "delivered": 0, "failed": 0} for i in statuses}
        for row in await conn.fetch(SELECT_PROGRESS, ids):
            source_id, status, deliveries = row["source_id"], row["status"], row["deliveries"]
            by_channel[source_id].setdefault(row["channel"], {})[status] = deliveries
            if row["confirmed"]:
                # Voice calls a person confirmed by pressing 1 (of those delivered).
                by_channel[source_id][row["channel"]]["confirmed"] = row["confirmed"]
            counts = members[source_id]
            counts["targeted"] += row["members"]
            # At most one delivered and one failed delivery per member (migration 014).
            if status in ("delivered", "failed"):
                counts[status] += deliveries
        for row in await conn.fetch(SELECT_SENT, ids):
            by_channel[row["source_id"]].setdefault(row["channel"], {})["sent"] = row["sent"]
        bins: dict[uuid.UUID, list[Any]] = {i: [] for i in statuses}
        if with_bins:
            for row in await conn.fetch(SELECT_FANOUT_BINS, ids):
                bins[row["source_id"]].append(row)
    return {
        source_id: FanoutProgress(
            status, bins[source_id], by_channel[source_id], members[source_id]
        )
        for source_id, status in statuses.items()
    }


def _work(row: Any) -> Work:
    return Work(
        row["delivery_id"], row["channel"], row["language"], row["address"], row["member_id"]
    )
