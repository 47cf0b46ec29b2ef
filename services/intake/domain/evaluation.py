"""A year of activations summed up for the evaluation report: alerts, follow-ups,
cancellations, members' replies and whether feedback came by the next working day. Pure:
the rows are one per alert and BIN it targeted."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from services.intake.domain.feedback import feedback_outcome
from shared.evaluation import ActivityFigures, ActivityPart


@dataclass(frozen=True)
class AlertInBin:
    alert_id: uuid.UUID
    bin_id: uuid.UUID
    issued_at: datetime
    follow_up: bool
    cancelled: bool
    feedback_due: date | None
    feedback_at: datetime | None


# Replies per alert and BIN (None: an app reply to an alert of several BINs naming none).
Replies = Mapping[tuple[uuid.UUID, uuid.UUID | None], int]


def activity(alerts: Iterable[AlertInBin], replies: Replies, now: datetime) -> ActivityFigures:
    """An alert to several BINs counts once; replies count for the BIN they came from."""
    figures = ActivityFigures()
    seen: set[uuid.UUID] = set()
    bins: set[uuid.UUID | None] = {None}
    for alert in alerts:
        bins.add(alert.bin_id)
        if alert.alert_id in seen:
            continue
        seen.add(alert.alert_id)
        if alert.follow_up:
            figures.follow_ups += 1
        else:
            figures.activations += 1
            figures.activations_by_month[alert.issued_at.month - 1] += 1
        figures.cancelled += alert.cancelled
        if alert.feedback_due is not None and not alert.follow_up:
            outcome = feedback_outcome(alert.feedback_due, alert.feedback_at, now)
            setattr(figures.feedback, outcome, getattr(figures.feedback, outcome) + 1)
    figures.replies = sum(
        n for (alert_id, bin_id), n in replies.items() if alert_id in seen and bin_id in bins
    )
    return figures


def _of_bin(replies: Replies, bin_id: uuid.UUID) -> Replies:
    return {key: n for key, n in replies.items() if key[1] == bin_id}


def activity_part(
    year: int,
    alerts: Sequence[AlertInBin],
    replies: Replies,
    now: datetime,
    *,
    bin_id: uuid.UUID | None = None,
) -> ActivityPart:
    """One BIN's figures (``bin_id``), or a zone's in total and per BIN."""
    if bin_id is not None:
        return ActivityPart(year=year, total=activity(alerts, _of_bin(replies, bin_id), now))
    bins = {
        one: activity([a for a in alerts if a.bin_id == one], _of_bin(replies, one), now)
        for one in sorted({a.bin_id for a in alerts})
    }
    return ActivityPart(year=year, total=activity(alerts, replies, now), bins=bins)
