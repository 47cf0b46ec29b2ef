"""Four-eyes approval of large alerts (OWASP API6, sensitive business flows): one operator's
token alone must not reach a whole zone. An alert that would reach more members than its
zone allows, or BINs of more than one municipality, waits for a second operator of the zone.
Pure: the reach is counted elsewhere (dispatch's recipient projection)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# The key of the threshold for zones without one of their own.
DEFAULT_ZONE = "default"


class Reason(StrEnum):
    MEMBERS = "members_over_threshold"
    MUNICIPALITIES = "several_municipalities"
    # Dispatch did not say how many members the alert reaches: held rather than guessed.
    REACH_UNKNOWN = "reach_unknown"


@dataclass(frozen=True)
class Policy:
    """Members an alert may reach without a second operator, per police zone (``default``
    for the others); a zone absent with no default has no member threshold."""

    members: Mapping[str, int]
    # How long an alert may wait for its second operator: later, what it says is out of date
    # (the suspect long gone) and it is cancelled rather than sent.
    max_hold: timedelta = timedelta(minutes=60)

    def hold_lapsed(self, held_since: datetime, now: datetime) -> bool:
        return now - held_since > self.max_hold

    def threshold(self, zones: Iterable[str]) -> int | None:
        # An alert of several zones (an agreement above the local level) holds the strictest.
        default = self.members.get(DEFAULT_ZONE)
        found = [t for z in zones if (t := self.members.get(z, default)) is not None]
        return min(found) if found else None

    def counts_members(self, zones: Iterable[str]) -> bool:
        return self.threshold(zones) is not None

    def reasons(
        self, zones: Iterable[str], municipalities: Iterable[str], reach: int | None
    ) -> list[Reason]:
        """Why the alert needs a second operator; empty: it goes out at once.
        ``reach``: distinct members reached, None when unknown."""
        zones = list(zones)
        held = []
        threshold = self.threshold(zones)
        if threshold is not None:
            if reach is None:
                held.append(Reason.REACH_UNKNOWN)
            elif reach > threshold:
                held.append(Reason.MEMBERS)
        if len({m.strip().casefold() for m in municipalities}) > 1:
            held.append(Reason.MUNICIPALITIES)
        return held


def approval_refusal(requested_by: str | None, approver: str) -> str | None:
    """Why ``approver`` may not approve, or None. The zone is checked by the caller."""
    if requested_by is not None and requested_by == approver:
        return "an operator cannot approve their own alert: a second operator of the zone must"
    return None
