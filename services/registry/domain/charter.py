"""Which charter changes go to the FOD Binnenlandse Zaken: every change once the charter is
signed (the circular: "charter changes are reported to the FOD"); before that the charter is
still a draft."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.events import BinStatus

DRAFT_STATES = frozenset({BinStatus.PROPOSED, BinStatus.CHARTER_DRAFTED})
SECTIONS = ("partners", "budget_plan", "communication_plan")


def must_report(status: BinStatus) -> bool:
    return status not in DRAFT_STATES


def changed_sections(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(section, before, after) for each section the update names and changes."""
    return [
        (section, before.get(section), after[section])
        for section in SECTIONS
        if section in after and after[section] != before.get(section)
    ]
