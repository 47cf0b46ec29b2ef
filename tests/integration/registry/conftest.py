"""The registry in this process over its HTTP API, on the real broker and database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from services.registry.main import RegistrySettings, build
from shared.auth import AuthSettings, Role, mint_token
from shared.runtime import ServiceRuntime
from tests.infrastructure import new_prefix
from tests.integration.serving import serving

ZONE = "Leuven"
PLAN = {"urgent_channels": ["sms", "voice"], "news_channels": ["email"], "languages": ["nl"]}


def bearer(subject: str, *roles: Role, **scopes: Any) -> dict[str, str]:
    token = mint_token(AuthSettings(), subject, list(roles), **scopes)
    return {"Authorization": f"Bearer {token}"}


OPERATOR = bearer("op-1", Role.OPERATOR, police_zones=[ZONE])
ADMIN = bearer("admin-1", Role.ADMIN)


def coordinator(bin_id: str, subject: str = "coord-1") -> dict[str, str]:
    return bearer(subject, Role.COORDINATOR, bin_ids=[uuid.UUID(bin_id)])


def member_body(n: int = 1, **override: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "full_name": f"Lid Nummer{n}",
        "birth_date": "1975-03-02",
        "address": {"street": "Abdijstraat", "house_number": str(n), "municipality": "Leuven"},
        "phones": [f"0470 00 {n // 100 % 100:02d} {n % 100:02d}"],
        "email": f"lid{n}@voorbeeld.be",
        "language": "nl",
        "registration_signed_on": "2026-01-10",
        "house_rules_version": "2024-1",
        "house_rules_accepted_on": "2026-01-10",
    }
    body.update(override)
    return body


@dataclass
class Registry:
    client: httpx.AsyncClient
    runtime: ServiceRuntime

    async def new_bin(self, **override: Any) -> str:
        body: dict[str, Any] = {
            "name": f"BIN {uuid.uuid4().hex[:6]}",
            "kind": "bin",
            "municipality": "Leuven",
            "police_zone": ZONE,
            "communication_plan": PLAN,
            "streets": [{"street": "Abdijstraat"}],
        }
        body.update(override)
        response = await self.client.post("/bins", json=body, headers=OPERATOR)
        assert response.status_code == 201, response.text
        bin_id: str = response.json()["bin_id"]
        return bin_id


@pytest.fixture
async def registry(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> AsyncIterator[Registry]:
    runtime, app = build(
        RegistrySettings(
            amqp_url=amqp_url,
            database_url=database_url,
            topology_prefix=new_prefix(),
            outbox_poll_interval=0.1,
        )
    )
    async with serving(runtime, app, amqp, database_url) as client:
        yield Registry(client, runtime)
