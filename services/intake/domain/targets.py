"""Which BINs an operator is proposed to alert for a report's place: the BIN(s) covering it,
then their neighbours, each marked so the operator can untick it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.areas import StreetSegment, area_covers, normalise_name


class Reason(StrEnum):
    COVERS_PLACE = "covers_place"
    ADJACENT = "adjacent"


@dataclass(frozen=True)
class KnownBin:
    bin_id: uuid.UUID
    municipality: str
    status: str
    streets: list[StreetSegment]
    neighbour_ids: list[uuid.UUID]


@dataclass(frozen=True)
class ProposedBin:
    bin_id: uuid.UUID
    reason: Reason
    active: bool
    # Ticked by default: only active BINs may be alerted.
    selected: bool


def propose(
    bins: Mapping[uuid.UUID, KnownBin],
    municipality: str,
    street: str,
    house_number: str | None,
) -> list[ProposedBin]:
    covering = [
        b
        for b in bins.values()
        if normalise_name(b.municipality) == normalise_name(municipality)
        and area_covers(b.streets, street, house_number)
    ]
    proposal: dict[uuid.UUID, ProposedBin] = {}
    for b in sorted(covering, key=lambda b: str(b.bin_id)):
        proposal[b.bin_id] = _proposed(b, Reason.COVERS_PLACE)
    for b in covering:
        for neighbour_id in sorted(b.neighbour_ids, key=str):
            neighbour = bins.get(neighbour_id)
            if neighbour is not None and neighbour_id not in proposal:
                proposal[neighbour_id] = _proposed(neighbour, Reason.ADJACENT)
    return list(proposal.values())


def _proposed(b: KnownBin, reason: Reason) -> ProposedBin:
    active = b.status == "active"
    return ProposedBin(b.bin_id, reason, active, selected=active)


def inactive(targets: Iterable[uuid.UUID], statuses: Mapping[uuid.UUID, str]) -> list[str]:
    """Why each target may not be alerted: unknown to intake, or not active."""
    problems = []
    for bin_id in targets:
        status = statuses.get(bin_id)
        if status is None:
            problems.append(f"{bin_id}: no such BIN")
        elif status != "active":
            problems.append(f"{bin_id}: the BIN is {status}; only an active BIN is alerted")
    return problems
