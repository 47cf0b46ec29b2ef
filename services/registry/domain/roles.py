"""Where each role applies: a BIN, a police zone or a municipality."""

from __future__ import annotations

import uuid

from shared.auth import Role

BIN_ROLES = frozenset({Role.COORDINATOR, Role.DEPUTY, Role.MANDATED_OFFICER})
ZONE_ROLES = frozenset({Role.OPERATOR, Role.POLICE_CHIEF})
MUNICIPALITY_ROLES = frozenset({Role.PREVENTION_OFFICER, Role.MAYOR})


def scope_problem(
    role: Role, police_zone: str, municipality: str, bin_id: uuid.UUID | None
) -> str | None:
    """Why an appointment's scope does not fit its role, or None when it does."""
    if role in BIN_ROLES and bin_id is None:
        return f"a {role} is appointed for a BIN: give bin_id"
    if role in ZONE_ROLES and not police_zone:
        return f"a {role} acts in a police zone: give police_zone"
    if role in MUNICIPALITY_ROLES and not municipality:
        return f"a {role} acts in a municipality: give municipality"
    if role is Role.ADMIN and (police_zone or municipality or bin_id):
        return "an admin acts everywhere: give no scope"
    return None
