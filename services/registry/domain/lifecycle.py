"""A BIN's lifecycle, as the 2019 ministerial circular describes it.

proposed → charter_drafted → charter_signed (by the three parties) → submitted (to the FOD
Binnenlandse Zaken) → approved (official) → active ⇄ suspended; any state but dissolved →
dissolved. Only an active BIN may be alerted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from services.registry.domain.errors import IllegalTransition, SignatureRefused
from shared.events import BinStatus

_NEXT: dict[BinStatus, frozenset[BinStatus]] = {
    BinStatus.PROPOSED: frozenset({BinStatus.CHARTER_DRAFTED}),
    BinStatus.CHARTER_DRAFTED: frozenset({BinStatus.CHARTER_SIGNED}),
    BinStatus.CHARTER_SIGNED: frozenset({BinStatus.SUBMITTED}),
    BinStatus.SUBMITTED: frozenset({BinStatus.APPROVED}),
    BinStatus.APPROVED: frozenset({BinStatus.ACTIVE}),
    BinStatus.ACTIVE: frozenset({BinStatus.SUSPENDED}),
    BinStatus.SUSPENDED: frozenset({BinStatus.ACTIVE}),
    BinStatus.DISSOLVED: frozenset(),
}


class Signatory(StrEnum):
    """Who signs the charter, for which of the three parties."""

    COORDINATOR = "coordinator"  # the citizens
    MANDATED_OFFICER = "mandated_officer"  # the police zone
    POLICE_CHIEF = "police_chief"  # the police zone
    PREVENTION_OFFICER = "prevention_officer"  # the municipality
    MAYOR = "mayor"  # the municipality


# Each party's signature is complete when every signatory of one of its alternatives signed:
# the police zone needs both its officer and its chief, the municipality either of its two.
PARTIES: dict[str, tuple[frozenset[Signatory], ...]] = {
    "citizens": (frozenset({Signatory.COORDINATOR}),),
    "police_zone": (frozenset({Signatory.MANDATED_OFFICER, Signatory.POLICE_CHIEF}),),
    "municipality": (
        frozenset({Signatory.PREVENTION_OFFICER}),
        frozenset({Signatory.MAYOR}),
    ),
}


def allowed_next(current: BinStatus) -> frozenset[BinStatus]:
    if current is BinStatus.DISSOLVED:
        return frozenset()
    return _NEXT[current] | {BinStatus.DISSOLVED}


def check_transition(current: BinStatus, target: BinStatus) -> None:
    """Refuses a step the lifecycle does not have, naming the steps it does."""
    allowed = allowed_next(current)
    if target not in allowed:
        options = ", ".join(sorted(allowed)) or "none: a dissolved BIN stays dissolved"
        raise IllegalTransition(
            f"a BIN that is {current} cannot become {target}; possible next: {options}"
        )


def missing_parties(signed: Iterable[Signatory]) -> list[str]:
    """The parties whose signature the charter still lacks."""
    have = set(signed)
    return [
        party
        for party, alternatives in PARTIES.items()
        if not any(needed <= have for needed in alternatives)
    ]


def check_signature(current: BinStatus, signatory: Signatory, signed: Iterable[Signatory]) -> None:
    if current is not BinStatus.CHARTER_DRAFTED:
        raise SignatureRefused(f"only a drafted charter is signed; this BIN is {current}")
    if signatory in set(signed):
        raise SignatureRefused(f"the charter already has the {signatory}'s signature")


def next_evaluation_due(last: date) -> date:
    """A yearly evaluation with coordinator and police is recommended."""
    try:
        return last.replace(year=last.year + 1)
    except ValueError:  # 29 February
        return last.replace(year=last.year + 1, day=28)
