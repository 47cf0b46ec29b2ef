"""A year of deliveries summed up for the evaluation report: messages per channel, reach,
time to the first and the last member reached, costs. Pure: the rows come from the
aggregates (or the delivery details not yet purged), whichever holds them."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.evaluation import ChannelFigures, DeliveryFigures, DeliveryPart, Timings

BILLED = ("sms", "voice")


@dataclass(frozen=True)
class MonthlyMessages:
    """One BIN's messages of one month on one channel (every kind of fan-out)."""

    month: int  # 1-12
    bin_id: uuid.UUID
    channel: str
    deliveries: int
    delivered: int
    failed: int
    billable: int
    # Voice: of the delivered, calls where the member pressed 1.
    confirmed: int = 0


@dataclass(frozen=True)
class ActivationOutcome:
    """One alert in one BIN: members targeted and reached, and when the first and the last
    of them were reached (seconds after dispatch received the alert)."""

    source_id: uuid.UUID
    bin_id: uuid.UUID
    targeted: int
    delivered: int
    first_s: float | None
    last_s: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (as ``statistics.quantiles(...,
    method="inclusive")`` and numpy's default): the median of [1, 2, 3, 4] is 2.5."""
    if not 0 <= q <= 1:
        raise ValueError("q is a fraction between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 3)


def reach(delivered: int, targeted: int) -> float | None:
    """Share of the targeted members reached; None when nobody was targeted."""
    return round(delivered / targeted, 4) if targeted else None


def per_activation(outcomes: Iterable[ActivationOutcome]) -> list[ActivationOutcome]:
    """An alert to several BINs is one activation: members add up, the first member reached
    is the earliest of its BINs', the last the latest."""
    merged: dict[uuid.UUID, ActivationOutcome] = {}
    for o in outcomes:
        seen = merged.get(o.source_id)
        if seen is None:
            merged[o.source_id] = o
            continue
        merged[o.source_id] = ActivationOutcome(
            o.source_id,
            seen.bin_id,
            seen.targeted + o.targeted,
            seen.delivered + o.delivered,
            _earliest(seen.first_s, o.first_s),
            _latest(seen.last_s, o.last_s),
        )
    return list(merged.values())


def _earliest(a: float | None, b: float | None) -> float | None:
    present = [v for v in (a, b) if v is not None]
    return min(present) if present else None


def _latest(a: float | None, b: float | None) -> float | None:
    present = [v for v in (a, b) if v is not None]
    return max(present) if present else None


def timings(activations: Sequence[ActivationOutcome]) -> Timings:
    firsts = [a.first_s for a in activations if a.first_s is not None]
    lasts = [a.last_s for a in activations if a.last_s is not None]
    return Timings(
        activations=len(activations),
        first_median_s=percentile(firsts, 0.5),
        first_p90_s=percentile(firsts, 0.9),
        last_median_s=percentile(lasts, 0.5),
        last_p90_s=percentile(lasts, 0.9),
    )


def figures(
    messages: Iterable[MonthlyMessages],
    outcomes: Iterable[ActivationOutcome],
    prices: dict[str, float],
) -> DeliveryFigures:
    channels: dict[str, ChannelFigures] = {}
    by_month: dict[str, list[int]] = {}
    for m in messages:
        line = channels.setdefault(m.channel, ChannelFigures())
        line.deliveries += m.deliveries
        line.delivered += m.delivered
        line.failed += m.failed
        line.billable += m.billable
        line.confirmed += m.confirmed
        by_month.setdefault(m.channel, [0] * 12)[m.month - 1] += m.deliveries
    activations = per_activation(outcomes)
    targeted = sum(a.targeted for a in activations)
    delivered = sum(a.delivered for a in activations)
    billed = {c: channels[c].billable if c in channels else 0 for c in BILLED}
    return DeliveryFigures(
        targeted=targeted,
        delivered=delivered,
        reach=reach(delivered, targeted),
        timings=timings(activations),
        channels=dict(sorted(channels.items())),
        messages_by_month=dict(sorted(by_month.items())),
        sms=billed["sms"],
        voice=billed["voice"],
        cost_eur=round(sum(billed[c] * prices.get(c, 0.0) for c in BILLED), 2),
    )


def delivery_part(
    year: int,
    messages: Sequence[MonthlyMessages],
    outcomes: Sequence[ActivationOutcome],
    prices: dict[str, float],
    *,
    per_bin: bool,
) -> DeliveryPart:
    """The year's figures in total and, for a zone, per BIN."""
    bins: dict[uuid.UUID, DeliveryFigures] = {}
    if per_bin:
        for bin_id in sorted({m.bin_id for m in messages} | {o.bin_id for o in outcomes}):
            bins[bin_id] = figures(
                (m for m in messages if m.bin_id == bin_id),
                (o for o in outcomes if o.bin_id == bin_id),
                prices,
            )
    return DeliveryPart(
        year=year, price_eur=prices, total=figures(messages, outcomes, prices), bins=bins
    )
