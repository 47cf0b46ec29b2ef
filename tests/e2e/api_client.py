"""The story-level steps the end-to-end tests share: a BIN registered and made active with
its members, an alert issued and followed; over the services' real HTTP APIs."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import AuthSettings, Role, mint_token
from tests.e2e.system import RunningSystem
from tests.helpers import eventually
from tests.lifecycle import make_official

PLAN = {
    "urgent_channels": ["sms", "voice", "email"],
    "news_channels": ["email"],
    "languages": ["nl", "fr"],
}


def seeded_member(n: int) -> dict[str, object]:
    kind = n % 3
    return {
        "full_name": f"Testlid Nummer{n}",
        "birth_date": "1980-05-17",
        "address": {"street": "Abdijstraat", "house_number": str(n + 1), "municipality": "Leuven"},
        "phones": [f"0470 {n // 10000:02d} {n // 100 % 100:02d} {n % 100:02d}"] if kind < 2 else [],
        "email": f"lid{n}@voorbeeld.be",
        "language": "nl" if n % 2 else "fr",
        "subsidised_sms": kind == 0,
        "registration_signed_on": "2026-01-10",
        "house_rules_version": "2024-1",
        "house_rules_accepted_on": "2026-01-10",
    }


def bearer(*roles: Role, **scopes: Any) -> dict[str, str]:
    token = mint_token(AuthSettings(), f"test-{'-'.join(roles)}", list(roles), **scopes)
    return {"Authorization": f"Bearer {token}"}


OPERATOR = bearer(Role.OPERATOR, police_zones=["Leuven"])


def coordinator_of(bin_id: str) -> dict[str, str]:
    return bearer(Role.COORDINATOR, bin_ids=[bin_id])


async def register_bin_with_members(
    client: httpx.AsyncClient, system: RunningSystem, count: int
) -> tuple[str, list[dict[str, object]]]:
    registry = system.url("registry")
    response = await client.post(
        f"{registry}/bins",
        json={
            "name": "Kessel-Lo Noord",
            "kind": "bin",
            "municipality": "Leuven",
            "police_zone": "Leuven",
            "communication_plan": PLAN,
            "streets": [{"street": "Abdijstraat"}],
        },
        headers=OPERATOR,
    )
    assert response.status_code == 201, response.text
    bin_id = response.json()["bin_id"]
    await activate(client, system, bin_id)
    members = [seeded_member(n) for n in range(count)]
    for body in members:
        created = await client.post(
            f"{registry}/bins/{bin_id}/members", json=body, headers=coordinator_of(bin_id)
        )
        assert created.status_code == 201, created.text
    return bin_id, members


async def issue_alert_and_follow(
    client: httpx.AsyncClient, system: RunningSystem, bin_id: str, expected: int
) -> dict[str, object]:
    accepted = await client.post(
        f"{system.url('intake')}/alerts",
        headers=OPERATOR,
        json={
            "bin_ids": [bin_id],
            "texts": {
                "nl": "Verdachte wagen in de Abdijstraat",
                "fr": "Voiture suspecte rue de l'Abbaye",
            },
        },
    )
    assert accepted.status_code == 202, accepted.text
    progress_url = accepted.json()["progress_url"]

    async def complete() -> dict[str, object] | None:
        response = await client.get(progress_url, headers=OPERATOR)
        if response.status_code != 200:
            return None
        body: dict[str, object] = response.json()
        return body if body["complete"] and body["targeted"] == expected else None

    return await eventually(complete, timeout=30)


async def activate(client: httpx.AsyncClient, system: RunningSystem, bin_id: str) -> None:
    """The BIN's way to official: charter drafted and signed by the three parties,
    submitted, approved, active; then wait until intake knows it may alert it."""
    await make_official(client, system.url("registry"), bin_id, "Leuven", "Leuven", OPERATOR)

    async def intake_knows_it_active() -> bool:
        known = await client.get(f"{system.url('intake')}/bins/{bin_id}", headers=OPERATOR)
        return known.status_code == 200 and known.json()["status"] == "active"

    await eventually(intake_knows_it_active, timeout=30)


async def projected(
    client: httpx.AsyncClient, system: RunningSystem, bin_id: str, count: int
) -> bool:
    # A probe alert is not needed: dispatch's readiness plus the registry's outbox being empty
    # means the events are out; the projection catches up within the broker's latency.
    metrics = (await client.get(f"{system.url('dispatch')}/metrics")).text
    for line in metrics.splitlines():
        if line.startswith(
            'bin_messages_consumed_total{outcome="ok",queue="'
            + system.prefix
            + '.dispatch.registry"}'
        ):
            return float(line.rsplit(" ", 1)[1]) >= count + 1
    return False


async def registry_events_consumed(client: httpx.AsyncClient, system: RunningSystem) -> float:
    metrics = (await client.get(f"{system.url('dispatch')}/metrics")).text
    wanted = (
        f'bin_messages_consumed_total{{outcome="ok",queue="{system.prefix}.dispatch.registry"}}'
    )
    for line in metrics.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
