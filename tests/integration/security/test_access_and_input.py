"""Who may do what, across registry, intake and digest (every endpoint of the matrix by every
role, own or other zone/BIN: allowed or refused); tokens that must not pass; and SQL
injection strings stored as plain text. The three services in this process, sharing one
broker prefix so intake and digest see the registry's BINs, on the real broker and database."""

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


async def _active_bin(registry: httpx.AsyncClient, zone: str, municipality: str) -> str:
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
        bin_id = await _active_bin(registry, ZONE, "Leuven")
        other_bin_id = await _active_bin(registry, OTHER_ZONE, "Elders")
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


# Callers: name → (roles, scopes). "own" scopes name the Leuven zone/municipality/BIN.
def callers(bin_id: str) -> dict[str, dict[str, str]]:
    own_bin = [uuid.UUID(bin_id)]
    return {
        "admin": ADMIN,
        "operator": bearer("op", [Role.OPERATOR], police_zones=[ZONE]),
        "operator_elsewhere": bearer("op2", [Role.OPERATOR], police_zones=[OTHER_ZONE]),
        "mandated_officer": bearer("mo", [Role.MANDATED_OFFICER], police_zones=[ZONE]),
        "police_chief": bearer("pc", [Role.POLICE_CHIEF], police_zones=[ZONE]),
        "prevention_officer": bearer("po", [Role.PREVENTION_OFFICER], municipalities=["Leuven"]),
        "mayor_elsewhere": bearer("my", [Role.MAYOR], municipalities=["Elders"]),
        "coordinator": bearer("co", [Role.COORDINATOR], bin_ids=own_bin),
        "deputy": bearer("de", [Role.DEPUTY], bin_ids=own_bin),
        "coordinator_elsewhere": bearer("co2", [Role.COORDINATOR], bin_ids=[uuid.uuid4()]),
        "member": bearer(str(uuid.uuid4()), []),
    }


POLICE = {"admin", "operator", "mandated_officer"}
BIN_RUNNERS = {"admin", "operator", "mandated_officer", "police_chief", "prevention_officer"}
MEMBER_KEEPERS = {"admin", "coordinator", "deputy"}


def requests(p: Platform) -> list[tuple[str, str, str, dict[str, Any] | None, set[str]]]:
    """(service, method, path, body, who is allowed)."""
    new_bin = {
        "name": "Nieuw",
        "kind": "bin",
        "municipality": "Leuven",
        "police_zone": ZONE,
        "communication_plan": {
            "urgent_channels": ["sms"],
            "news_channels": ["email"],
            "languages": ["nl"],
        },
    }
    return [
        ("registry", "POST", "/bins", new_bin, BIN_RUNNERS),
        # An illegal step: whoever may run the BIN gets 409, the others 403.
        (
            "registry",
            "POST",
            f"/bins/{p.bin_id}/status",
            {"status": "charter_signed"},
            BIN_RUNNERS,
        ),
        (
            "registry",
            "PUT",
            f"/bins/{p.bin_id}/area",
            {"streets": [{"street": "Abdijstraat"}], "neighbour_ids": []},
            BIN_RUNNERS,
        ),
        ("registry", "GET", f"/bins/{p.bin_id}/members", None, MEMBER_KEEPERS),
        ("registry", "GET", f"/bins/{p.bin_id}/members/export.csv", None, MEMBER_KEEPERS),
        ("registry", "GET", f"/members/{p.member_id}", None, MEMBER_KEEPERS),
        ("registry", "GET", f"/bins/{p.bin_id}/roles", None, BIN_RUNNERS | MEMBER_KEEPERS),
        (
            "registry",
            "POST",
            "/roles",
            {"subject": "x", "role": "operator", "police_zone": ZONE},
            {"admin"},
        ),
        ("intake", "GET", "/reports", None, POLICE | {"operator_elsewhere"}),
        ("intake", "GET", f"/reports/{p.report_id}", None, POLICE),
        ("intake", "GET", f"/reports/{p.report_id}/proposal", None, POLICE),
        ("intake", "POST", "/alerts", {"bin_ids": [p.bin_id], "texts": {"nl": "Test"}}, POLICE),
        (
            "intake",
            "POST",
            "/alerts",
            {"bin_ids": [p.other_bin_id], "texts": {"nl": "Test"}},
            # The other zone's BIN: its own operator may, ours may not.
            {"admin", "operator_elsewhere"},
        ),
        ("intake", "GET", f"/bins/{p.bin_id}", None, POLICE),
        ("intake", "GET", "/audit", None, {"admin"}),
        (
            "digest",
            "GET",
            f"/bins/{p.bin_id}/digest/preview",
            None,
            {"admin", "operator", "mandated_officer", "prevention_officer"},
        ),
    ]


async def test_the_authorization_matrix(platform: Platform) -> None:
    clients = {"registry": platform.registry, "intake": platform.intake, "digest": platform.digest}
    wrong: list[str] = []
    checked = 0
    for service, method, path, body, allowed in requests(platform):
        for caller, headers in callers(platform.bin_id).items():
            response = await clients[service].request(method, path, json=body, headers=headers)
            refused = response.status_code in (403, 404)
            checked += 1
            if response.status_code >= 500 or refused == (caller in allowed):
                wrong.append(f"{caller} {method} {service}{path}: {response.status_code}")
    assert checked == 16 * 11  # endpoints by callers
    assert not wrong, "\n".join(wrong)


def _token(**claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "x",
        "iss": "bin-platform-dev",
        "aud": "bin-platform",
        "iat": now,
        "exp": now + 600,
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
