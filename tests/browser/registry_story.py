"""What the registry's browser tests start from: BINs made official and members registered
over the registry's API, as a police zone and a coordinator would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from services.registry.main import RegistrySettings
from shared.auth import AuthSettings, Role, mint_token
from shared.signing import sign_member_token
from tests.infrastructure import run_sync
from tests.lifecycle import make_official

OPERATOR = {
    "Authorization": "Bearer "
    + mint_token(AuthSettings(), "operator-leuven", [Role.OPERATOR], police_zones=["Leuven"])
}
PLAN = {
    "urgent_channels": ["sms", "voice", "email"],
    "news_channels": ["email"],
    "languages": ["nl", "fr"],
}


def coordinator_token(bin_id: str) -> str:
    return mint_token(
        AuthSettings(), "coordinator-kessel-lo", [Role.COORDINATOR], bin_ids=[uuid.UUID(bin_id)]
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def member(full_name: str, house_number: str, language: str = "nl") -> dict[str, Any]:
    return {
        "full_name": full_name,
        "birth_date": "1975-03-02",
        "address": {
            "street": "Abdijstraat",
            "house_number": house_number,
            "municipality": "Leuven",
        },
        "phones": [f"0470 55 66 {int(house_number):02d}"],
        "email": f"{full_name.split()[0].lower()}@voorbeeld.be",
        "language": language,
        "registration_signed_on": "2026-01-10",
        "house_rules_version": "2024-1",
        "house_rules_accepted_on": "2026-01-10",
    }


@dataclass
class Neighbourhood:
    bin_id: str
    other_bin_id: str
    coordinator: str  # token
    member_ids: dict[str, str]  # full name → id


def register_bin(client: httpx.Client, registry: str, name: str, street: str) -> str:
    created = client.post(
        f"{registry}/bins",
        headers=OPERATOR,
        json={
            "name": name,
            "kind": "bin",
            "municipality": "Leuven",
            "police_zone": "Leuven",
            "communication_plan": PLAN,
            "streets": [{"street": street}],
        },
    )
    assert created.status_code == 201, created.text
    bin_id: str = created.json()["bin_id"]
    return bin_id


def set_up(registry: str) -> Neighbourhood:
    with httpx.Client(timeout=30) as client:
        bin_id = register_bin(client, registry, "Kessel-Lo Noord", "Abdijstraat")
        other = register_bin(client, registry, "Heverlee Zuid", "Naamsesteenweg")

        async def official() -> None:
            async with httpx.AsyncClient(timeout=30) as async_client:
                await make_official(async_client, registry, bin_id, "Leuven", "Leuven", OPERATOR)

        run_sync(official())
        token = coordinator_token(bin_id)
        ids = {}
        for n, (name, language) in enumerate(
            [("An Peeters", "nl"), ("Luc Dubois", "fr"), ("Marie Janssens", "nl")], start=1
        ):
            created = client.post(
                f"{registry}/bins/{bin_id}/members",
                headers=auth(token),
                json=member(name, str(n * 2), language),
            )
            assert created.status_code == 201, created.text
            ids[name] = created.json()["member_id"]
    return Neighbourhood(bin_id, other, token, ids)


def link(member_id: str, ttl_seconds: int = 3600) -> str:
    """The link dispatch puts in digests and notices (same secret, same default)."""
    secret = RegistrySettings().link_secret
    return sign_member_token(secret, uuid.UUID(member_id), ttl_seconds)


def member_record(registry: str, token: str, member_id: str) -> httpx.Response:
    return httpx.get(f"{registry}/members/{member_id}", headers=auth(token), timeout=10)
