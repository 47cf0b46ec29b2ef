"""House-rule sanctions (2019 circular): a written reprimand, then a temporary suspension
with an end date, then definitive removal, which the member may appeal within three weeks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from services.registry.domain.errors import RegistryError

APPEAL_PERIOD = timedelta(weeks=3)


class SanctionKind(StrEnum):
    REPRIMAND = "reprimand"
    SUSPENSION = "suspension"
    REMOVAL = "removal"


# Each step needs the one before it on the member's record.
_NEEDS = {
    SanctionKind.REPRIMAND: None,
    SanctionKind.SUSPENSION: SanctionKind.REPRIMAND,
    SanctionKind.REMOVAL: SanctionKind.SUSPENSION,
}


class SanctionRefused(RegistryError):
    pass


def check_sanction(
    kind: SanctionKind,
    earlier: Iterable[SanctionKind],
    until: datetime | None,
    now: datetime,
    removed: bool,
) -> None:
    if removed:
        raise SanctionRefused("the member was removed; nothing follows a removal but its appeal")
    needed = _NEEDS[kind]
    if needed is not None and needed not in set(earlier):
        raise SanctionRefused(f"a {kind} follows a {needed}: the house rules go step by step")
    if kind is SanctionKind.SUSPENSION and (until is None or until <= now):
        raise SanctionRefused("a suspension needs an end date in the future (until)")
    if kind is not SanctionKind.SUSPENSION and until is not None:
        raise SanctionRefused(f"a {kind} has no end date")


def appeal_deadline(kind: SanctionKind, decided_at: datetime) -> datetime | None:
    return decided_at + APPEAL_PERIOD if kind is SanctionKind.REMOVAL else None


def check_appeal(deadline: datetime | None, now: datetime, appealed: bool) -> None:
    if deadline is None:
        raise SanctionRefused("only a definitive removal can be appealed")
    if appealed:
        raise SanctionRefused("the removal was appealed already")
    if now > deadline:
        raise SanctionRefused(f"the appeal period ended on {deadline:%Y-%m-%d %H:%M} UTC")
