"""Delivery figures kept forever, while the delivery details go after the retention period.

A fan-out's figures come from its delivery rows while they exist, and from the aggregates
(``delivery_month``, ``activation_outcome``) once its rows are purged: the purge folds them
with the very same queries it would be read with live, so a report reads the same before
and after. Months are UTC and a fan-out counts in the month it started, whenever a retry or
fallback of it was sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.database import Connection

_MONTHLY = """
SELECT date_trunc('month', f.created_at AT TIME ZONE 'UTC')::date AS month,
       b.police_zone, b.municipality, d.bin_id, d.channel, f.kind, f.priority,
       count(*)::int AS deliveries,
       count(*) FILTER (WHERE d.status = 'delivered')::int AS delivered,
       count(*) FILTER (WHERE d.status = 'failed')::int AS failed,
       coalesce(sum(d.attempts) FILTER (WHERE d.status NOT IN ('queued', 'cancelled')),
                0)::int AS billable,
       -- Voice calls a person confirmed by pressing 1 (a part of delivered).
       count(*) FILTER (WHERE d.status = 'delivered' AND d.confirmed)::int AS confirmed
FROM fanout f
JOIN delivery d ON d.source_id = f.source_id
JOIN bin_projection b ON b.bin_id = d.bin_id
WHERE {where}
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
# Members, not delivery rows: a member reached by voice after a failed SMS counts once.
_ACTIVATIONS = """
SELECT f.source_id, d.bin_id, b.police_zone, b.municipality, f.created_at AS started_at,
       count(DISTINCT d.member_id)::int AS targeted,
       count(DISTINCT d.member_id) FILTER (WHERE d.status = 'delivered')::int AS delivered,
       count(DISTINCT d.member_id) FILTER (WHERE d.status = 'failed')::int AS failed,
       extract(epoch FROM min(d.updated_at) FILTER (WHERE d.status = 'delivered')
                          - f.created_at)::float8 AS first_delivery_s,
       extract(epoch FROM max(d.updated_at) FILTER (WHERE d.status = 'delivered')
                          - f.created_at)::float8 AS last_delivery_s
FROM fanout f
JOIN delivery d ON d.source_id = f.source_id
JOIN bin_projection b ON b.bin_id = d.bin_id
WHERE f.kind = 'alert' AND {where}
GROUP BY f.source_id, d.bin_id, b.police_zone, b.municipality, f.created_at
"""

# $1, $2: the period; $3: one BIN or NULL; $4: one police zone or NULL.
_LIVE_SCOPE = """f.details_purged_at IS NULL AND f.created_at >= $1 AND f.created_at < $2
  AND ($3::uuid IS NULL OR d.bin_id = $3) AND ($4::text IS NULL OR b.police_zone = $4)"""
_MONTH_COLUMNS = """month, police_zone, municipality, bin_id, channel, kind, priority,
       deliveries, delivered, failed, billable, confirmed"""
_ACTIVATION_COLUMNS = """source_id, bin_id, police_zone, municipality, started_at, targeted,
       delivered, failed, first_delivery_s, last_delivery_s"""

SELECT_MONTHLY = f"""
{_MONTHLY.format(where=_LIVE_SCOPE)}
UNION ALL
SELECT {_MONTH_COLUMNS} FROM delivery_month
WHERE month >= ($1::timestamptz AT TIME ZONE 'UTC')::date
  AND month < ($2::timestamptz AT TIME ZONE 'UTC')::date
  AND ($3::uuid IS NULL OR bin_id = $3) AND ($4::text IS NULL OR police_zone = $4)
"""
SELECT_ACTIVATIONS = f"""
{_ACTIVATIONS.format(where=_LIVE_SCOPE)}
UNION ALL
SELECT {_ACTIVATION_COLUMNS} FROM activation_outcome
WHERE started_at >= $1 AND started_at < $2
  AND ($3::uuid IS NULL OR bin_id = $3) AND ($4::text IS NULL OR police_zone = $4)
"""

# The fold, for the fan-outs about to lose their details ($1). A month row may already hold
# earlier fan-outs of the month: counts add up.
FOLD_MONTHLY = f"""
INSERT INTO delivery_month ({_MONTH_COLUMNS})
{_MONTHLY.format(where="f.source_id = ANY($1::uuid[])")}
ON CONFLICT (month, bin_id, channel, kind, priority) DO UPDATE SET
    deliveries = delivery_month.deliveries + EXCLUDED.deliveries,
    delivered = delivery_month.delivered + EXCLUDED.delivered,
    failed = delivery_month.failed + EXCLUDED.failed,
    billable = delivery_month.billable + EXCLUDED.billable,
    confirmed = delivery_month.confirmed + EXCLUDED.confirmed
"""
FOLD_ACTIVATIONS = f"""
INSERT INTO activation_outcome ({_ACTIVATION_COLUMNS})
{_ACTIVATIONS.format(where="f.source_id = ANY($1::uuid[])")}
ON CONFLICT (source_id, bin_id) DO NOTHING
"""


@dataclass(frozen=True)
class Scope:
    start: datetime
    end: datetime
    bin_id: uuid.UUID | None = None
    police_zone: str | None = None

    @property
    def arguments(self) -> tuple[Any, ...]:
        return (self.start, self.end, self.bin_id, self.police_zone)


async def monthly(conn: Connection, scope: Scope) -> list[Any]:
    """Messages per month, BIN, channel, kind and priority; a month may come in two rows
    (purged and not yet purged fan-outs): sum them."""
    return list(await conn.fetch(SELECT_MONTHLY, *scope.arguments))


async def activations(conn: Connection, scope: Scope) -> list[Any]:
    return list(await conn.fetch(SELECT_ACTIVATIONS, *scope.arguments))


async def fold(conn: Connection, source_ids: Sequence[uuid.UUID]) -> None:
    """Adds the fan-outs' figures to the aggregates; in the purge's transaction."""
    await conn.execute(FOLD_MONTHLY, list(source_ids))
    await conn.execute(FOLD_ACTIVATIONS, list(source_ids))
