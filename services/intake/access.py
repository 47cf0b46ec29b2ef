"""Who may act in intake: police operators and mandated officers, each in their own zone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from services.intake.errors import OutsideZone
from shared.auth import Principal, Role, require_roles

Police = Annotated[Principal, require_roles(Role.OPERATOR, Role.MANDATED_OFFICER)]
Admin = Annotated[Principal, require_roles(Role.ADMIN)]


def check_zone(principal: Principal, police_zone: str) -> None:
    if not principal.acts_in_zone(police_zone):
        raise OutsideZone(f"you do not act in police zone {police_zone}")


def check_bins_in_zone(principal: Principal, bins: Iterable[Any]) -> None:
    """Every targeted BIN lies in one of the caller's zones (several zones at once rest on
    agreements above the local level, expressed as a token with several zones)."""
    outside = sorted(
        {str(b["bin_id"]) for b in bins if not principal.acts_in_zone(b["police_zone"] or "")}
    )
    if outside:
        raise OutsideZone(
            "these BINs lie outside your police zone: " + ", ".join(outside), reasons=outside
        )


def zones_of(principal: Principal) -> list[str] | None:
    """The zones whose data the caller sees; None: all (admins)."""
    return None if principal.is_admin else sorted(principal.police_zones)
