"""Members and their growth over a year, from when each joined and left. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.evaluation import MemberGrowth


@dataclass(frozen=True)
class Tenure:
    joined_at: datetime | None  # None: joined before records began
    left_at: datetime | None  # None: still a member


def _member_at(tenure: Tenure, moment: datetime) -> bool:
    joined = tenure.joined_at is None or tenure.joined_at < moment
    return joined and (tenure.left_at is None or tenure.left_at >= moment)


def growth(tenures: Iterable[Tenure], start: datetime, end: datetime) -> MemberGrowth:
    """Members at ``start``, joined and left in [start, end), members at ``end``. For the
    year under way ``end`` is in the future, so the count "at the end" is today's."""
    figures = MemberGrowth(at_start=0, joined=0, left=0, at_end=0)
    for tenure in tenures:
        figures.at_start += _member_at(tenure, start)
        figures.at_end += _member_at(tenure, end)
        figures.joined += tenure.joined_at is not None and start <= tenure.joined_at < end
        figures.left += tenure.left_at is not None and start <= tenure.left_at < end
    return figures


def combined(parts: Iterable[MemberGrowth]) -> MemberGrowth:
    """A zone's figures: every member belongs to one BIN, so the BINs' figures add up."""
    total = MemberGrowth(at_start=0, joined=0, left=0, at_end=0)
    for part in parts:
        total.at_start += part.at_start
        total.joined += part.joined
        total.left += part.left
        total.at_end += part.at_end
    return total
