"""A BIN's way to official over the registry's API, as the tests need it again and again:
charter drafted, signed in person by the three parties, submitted, approved, active."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from shared.auth import AuthSettings, Role, mint_token


def bearer(subject: str, roles: list[Role], **scopes: Any) -> dict[str, str]:
    token = mint_token(AuthSettings(), subject, roles, **scopes)
    return {"Authorization": f"Bearer {token}"}


# Makes a caller's Authorization header: bearer() above, or a deployment's own token issuer.
Bearer = Callable[..., dict[str, str]]


def signatories(
    bin_id: str, zone: str, municipality: str, bearer: Bearer = bearer
) -> dict[str, dict[str, str]]:
    """Who signs the BIN's charter for each party, as their tokens."""
    return {
        "coordinator": bearer("coordinator", [Role.COORDINATOR], bin_ids=[uuid.UUID(bin_id)]),
        "mandated_officer": bearer("officer", [Role.MANDATED_OFFICER], police_zones=[zone]),
        "police_chief": bearer("chief", [Role.POLICE_CHIEF], police_zones=[zone]),
        "mayor": bearer("mayor", [Role.MAYOR], municipalities=[municipality]),
    }


async def make_official(
    client: httpx.AsyncClient,
    registry: str,
    bin_id: str,
    zone: str,
    municipality: str,
    runner: dict[str, str],
    bearer: Bearer = bearer,
) -> None:
    """``registry`` is the registry's base URL ("" for a client that has it); ``runner`` the
    token of someone who runs the BIN (its police zone or municipality, or an admin)."""
    url = f"{registry}/bins/{bin_id}"
    drafted = await client.post(f"{url}/status", json={"status": "charter_drafted"}, headers=runner)
    assert drafted.status_code == 200, drafted.text
    for signatory, headers in signatories(bin_id, zone, municipality, bearer).items():
        signed = await client.post(
            f"{url}/charter/signatures", json={"signatory": signatory}, headers=headers
        )
        assert signed.status_code == 201, signed.text
    for step in (
        {"status": "submitted", "fod_reference": "BZ/2026/1"},
        {"status": "approved"},
        {"status": "active"},
    ):
        moved = await client.post(f"{url}/status", json=step, headers=runner)
        assert moved.status_code == 200, moved.text
