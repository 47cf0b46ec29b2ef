"""Who may do what in the registry, from the caller's token (roles and their scopes)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import HTTPException, status

from shared.auth import Principal, Role

ZONE_STAFF = (Role.OPERATOR, Role.MANDATED_OFFICER, Role.POLICE_CHIEF)
MUNICIPALITY_STAFF = (Role.PREVENTION_OFFICER, Role.MAYOR)
MEMBER_KEEPERS = (Role.COORDINATOR, Role.DEPUTY)


def manages_bin(principal: Principal, bin_row: Any) -> bool:
    """Police of the BIN's zone and the municipality's staff run its lifecycle and area."""
    if principal.is_admin:
        return True
    in_zone = principal.has_role(*ZONE_STAFF) and principal.acts_in_zone(bin_row["police_zone"])
    in_municipality = principal.has_role(*MUNICIPALITY_STAFF) and principal.acts_in_municipality(
        bin_row["municipality"]
    )
    return in_zone or in_municipality


def keeps_members(principal: Principal, bin_id: uuid.UUID) -> bool:
    """Members' personal data is for the BIN's own coordinator and deputies (and admins);
    membership gives no privileges with the police, and the police need no member list."""
    return principal.is_admin or (
        principal.has_role(*MEMBER_KEEPERS) and bin_id in principal.bin_ids
    )


def require(allowed: bool, reason: str) -> None:
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, reason)


def may_create_bin(principal: Principal, police_zone: str, municipality: str) -> bool:
    return principal.is_admin or (
        (principal.has_role(*ZONE_STAFF) and principal.acts_in_zone(police_zone))
        or (
            principal.has_role(*MUNICIPALITY_STAFF) and principal.acts_in_municipality(municipality)
        )
    )
