"""Tokens that must not pass, and SQL injection strings stored as plain text (who may call
what is the authorisation matrix: test_authorisation_matrix.py). The three services in this
process, sharing one broker prefix so intake and digest see the registry's BINs, on the real
broker and database."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import jwt
import pytest

from services.digest.main import DigestSettings
from services.digest.main import build as build_digest
from services.intake.main import IntakeSettings
from services.intake.main import build as build_intake
from services.registry.main import RegistrySettings
from services.registry.main import build as build_registry
from shared.auth import DEVELOPMENT_SECRET, AuthSettings, Role, mint_token
from tests.helpers import eventually
from tests.infrastructure import new_prefix
from tests.integration.serving import serving
from tests.lifecycle import make_official

ZONE, OTHER_ZONE = "Leuven", "Elders"


def bearer(subject: str, roles: list[Role], **scopes: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AuthSettings(), subject, roles, **scopes)}"}


@dataclass
class Platform:
    registry: httpx.AsyncClient
    intake: httpx.AsyncClient
    digest: httpx.AsyncClient
    bin_id: str
    member_id: str
    report_id: str
    other_bin_id: str


def member_body(n: int) -> dict[str, Any]:
    return {
        "full_name": f"Lid Nummer{n}",
        "birth_date": "1975-03-02",
        "address": {"street": "Abdijstraat", "house_number": str(n), "municipality": "Leuven"},
        "phones": [f"0470 11 {n // 100 % 100:02d} {n % 100:02d}"],
        "email": f"lid{n}@voorbeeld.be",
        "language": "nl",
        "registration_signed_on": "2026-01-10",
        "house_rules_version": "2024-1",
        "house_rules_accepted_on": "2026-01-10",
    }


ADMIN = bearer("admin", [Role.ADMIN])


async def active_bin(registry: httpx.AsyncClient, zone: str, municipality: str) -> str:
    created = await registry.post(
        "/bins",
        json={
            "name": f"BIN {uuid.uuid4().hex[:6]}",
            "kind": "bin",
            "municipality": municipality,
            "police_zone": zone,
            "communication_plan": {
                "urgent_channels": ["sms"],
                "news_channels": ["email"],
                "languages": ["nl"],
            },
            "streets": [{"street": "Abdijstraat"}],
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    bin_id: str = created.json()["bin_id"]
    await make_official(registry, "", bin_id, zone, municipality, ADMIN)
    return bin_id


@pytest.fixture(scope="module")
async def platform(amqp_url: str, database_url: str) -> AsyncIterator[Platform]:
    prefix = new_prefix()
    common: dict[str, Any] = {
        "amqp_url": amqp_url,
        "database_url": database_url,
        "topology_prefix": prefix,
        "outbox_poll_interval": 0.1,
    }
    async with AsyncExitStack() as stack:
        amqp = await aio_pika.connect_robust(amqp_url, timeout=10)
        stack.push_async_callback(amqp.close)
        registry = await stack.enter_async_context(
            serving(*build_registry(RegistrySettings(**common)), amqp, database_url)
        )
        intake = await stack.enter_async_context(
            serving(
                *build_intake(IntakeSettings(**common, rate_limit_burst=10_000)), amqp, database_url
            )
        )
        digest = await stack.enter_async_context(
            serving(
                *build_digest(DigestSettings(**common, digest_scheduler=False)), amqp, database_url
            )
        )
        bin_id = await active_bin(registry, ZONE, "Leuven")
        other_bin_id = await active_bin(registry, OTHER_ZONE, "Elders")
        member = await registry.post(f"/bins/{bin_id}/members", json=member_body(1), headers=ADMIN)
        assert member.status_code == 201, member.text

        async def known_everywhere() -> bool:
            seen = await intake.get(f"/bins/{bin_id}", headers=ADMIN)
            preview = await digest.get(f"/bins/{bin_id}/digest/preview", headers=ADMIN)
            return (
                seen.status_code == 200
                and seen.json()["status"] == "active"
                and preview.status_code == 200
            )

        await eventually(known_everywhere, timeout=30)
        report = await intake.post(
            "/reports",
            json={
                "police_zone": ZONE,
                "source": "call_101",
                "category": "theft",
                "facts": "Fietsdiefstal",
                "place": {"municipality": "Leuven", "street": "Abdijstraat"},
                "occurred_at": "2026-11-23T10:00:00+01:00",
            },
            headers=ADMIN,
        )
        yield Platform(
            registry,
            intake,
            digest,
            bin_id,
            member.json()["member_id"],
            report.json()["report_id"],
            other_bin_id,
        )


def _token(**claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "x",
        "iss": "bin-platform-dev",
        "aud": "bin-platform",
        "iat": now,
        # Made when the suite is collected: valid for longer than the whole suite runs, so
        # that only the claim under test is wrong.
        "exp": now + 24 * 3600,
        "roles": ["admin"],
        **claims,
    }
    return jwt.encode(payload, claims.pop("_key", DEVELOPMENT_SECRET), algorithm="HS256")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (_token(exp=int(time.time()) - 3600), "expired"),
        (_token(iss="someone-else"), "unknown issuer"),
        (_token(aud="another-app"), "another audience"),
        (
            jwt.encode(
                {
                    "sub": "x",
                    "iss": "bin-platform-dev",
                    "aud": "bin-platform",
                    "exp": int(time.time()) + 600,
                    "roles": ["admin"],
                },
                "not-the-secret-at-all-0123456789abcdef",
                algorithm="HS256",
            ),
            "signature",
        ),
        ("not.a.token", "invalid token"),
    ],
)
async def test_bad_tokens_are_refused_everywhere(
    platform: Platform, token: str, reason: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for client, path in (
        (platform.registry, f"/bins/{platform.bin_id}"),
        (platform.intake, "/reports"),
        (platform.digest, f"/bins/{platform.bin_id}/digest/preview"),
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert reason in response.json()["detail"]


INJECTIONS = [
    "'; DROP TABLE member; --",
    "Robert'); DELETE FROM bin WHERE ('1'='1",
    "x' OR '1'='1",
    "$$; TRUNCATE audit_log; $$",
    "\\'; SELECT pg_sleep(5); --",
]


async def test_injection_strings_are_stored_as_text(platform: Platform) -> None:
    for n, evil in enumerate(INJECTIONS, start=10):
        body = member_body(n)
        body["full_name"] = evil
        body["address"]["box"] = evil[:20]
        created = await platform.registry.post(
            f"/bins/{platform.bin_id}/members", json=body, headers=ADMIN
        )
        assert created.status_code == 201, created.text
        found = await platform.registry.get(
            f"/bins/{platform.bin_id}/members", params={"search": evil}, headers=ADMIN
        )
        assert [m["full_name"] for m in found.json()] == [evil]
        report = await platform.intake.post(
            "/reports",
            json={
                "police_zone": ZONE,
                "source": "other",
                "category": "other",
                "facts": evil,
                "place": {"municipality": evil[:50], "street": evil[:50]},
                "occurred_at": "2026-11-23T10:00:00+01:00",
                "suspects": evil,
            },
            headers=ADMIN,
        )
        assert report.status_code == 201, report.text
        assert report.json()["facts"] == evil
    # Everything still there: the tables, the first member, the audit trail.
    assert (
        await platform.registry.get(f"/members/{platform.member_id}", headers=ADMIN)
    ).status_code == 200
    assert (await platform.intake.get("/audit", headers=ADMIN)).json()
