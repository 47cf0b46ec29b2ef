"""The authorisation matrix: every operation of every service's OpenAPI document (built from
the apps, as ``make docs`` builds it) called by every kind of caller, each answer compared
with the one table that says who may: tests/authorisation_matrix.json. An operation missing
from the table, or an entry naming no operation, fails the test: a new endpoint cannot ship
without saying who may call it.

"Refused" is 401 (no or a bad token), 403, or 404 where a resource of another zone or BIN is
hidden; "allowed" is any other answer below 500 (a 409 or 422 of the business rules came
after the caller was let in). The services run in this process on one broker prefix, on the
real broker and database; the registry's evaluation report reaches intake's and dispatch's
parts in-process too.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.digest.main import DigestSettings
from services.digest.main import build as build_digest
from services.dispatch.main import DispatchSettings
from services.dispatch.main import build as build_dispatch
from services.gateway_simulator.main import GatewaySettings
from services.gateway_simulator.main import build as build_gateway
from services.intake.four_eyes import ReachClient
from services.intake.main import IntakeSettings
from services.intake.main import build as build_intake
from services.registry.main import RegistrySettings
from services.registry.main import build as build_registry
from shared import topology as topo
from shared.auth import AuthSettings, Role, mint_token
from shared.contracts import SERVICES
from shared.runtime import ServiceRuntime
from tests.helpers import eventually
from tests.infrastructure import new_prefix
from tests.integration.security.test_access_and_input import active_bin, member_body

pytestmark = pytest.mark.integration

MATRIX = Path(__file__).resolve().parents[2] / "authorisation_matrix.json"
METHODS = ("get", "post", "put", "patch", "delete")
ZONE, OTHER_ZONE = "Leuven", "Elders"
YEAR = 2026


def bearer(subject: str, roles: list[Role], **scopes: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AuthSettings(), subject, roles, **scopes)}"}


ADMIN = bearer("admin", [Role.ADMIN])


def callers(bin_id: str, member_id: str) -> dict[str, dict[str, str]]:
    """Every role, in its own zone/municipality/BIN and (where scoped) elsewhere; a member
    with their own token; nobody (no token)."""
    own_bin = [uuid.UUID(bin_id)]
    return {
        "anonymous": {},
        "admin": ADMIN,
        "operator": bearer("op", [Role.OPERATOR], police_zones=[ZONE]),
        "operator_elsewhere": bearer("op2", [Role.OPERATOR], police_zones=[OTHER_ZONE]),
        "mandated_officer": bearer("mo", [Role.MANDATED_OFFICER], police_zones=[ZONE]),
        "police_chief": bearer("pc", [Role.POLICE_CHIEF], police_zones=[ZONE]),
        "prevention_officer": bearer("po", [Role.PREVENTION_OFFICER], municipalities=["Leuven"]),
        "mayor": bearer("my", [Role.MAYOR], municipalities=["Leuven"]),
        "mayor_elsewhere": bearer("my2", [Role.MAYOR], municipalities=["Elders"]),
        "coordinator": bearer("co", [Role.COORDINATOR], bin_ids=own_bin),
        "deputy": bearer("de", [Role.DEPUTY], bin_ids=own_bin),
        "coordinator_elsewhere": bearer("co2", [Role.COORDINATOR], bin_ids=[uuid.uuid4()]),
        "member": bearer(member_id, []),
    }


def operations(documents: dict[str, dict[str, Any]]) -> list[str]:
    """``service METHOD /path`` of every operation the documents describe."""
    return [
        f"{service} {method.upper()} {path}"
        for service, document in documents.items()
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def load_matrix() -> dict[str, Any]:
    matrix: dict[str, Any] = json.loads(MATRIX.read_text())
    return matrix


def allowed_callers(matrix: dict[str, Any], entry: dict[str, Any]) -> set[str]:
    """The entry's ``allow``: caller names and group names (``groups``); ``everyone``
    (checked by the caller) stays itself."""
    names: set[str] = set()
    for name in entry["allow"]:
        names |= set(matrix["groups"].get(name, [name]))
    return names


@dataclass
class Platform:
    clients: dict[str, httpx.AsyncClient]
    values: dict[str, str] = field(default_factory=dict)


async def new_member(registry: httpx.AsyncClient, bin_id: str) -> str:
    body = member_body(100 + uuid.uuid4().int % 9000)
    created = await registry.post(f"/bins/{bin_id}/members", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    member_id: str = created.json()["member_id"]
    return member_id


@asynccontextmanager
async def serving_together(
    built: dict[str, tuple[ServiceRuntime, FastAPI]],
    amqp: aio_pika.abc.AbstractRobustConnection,
    database_url: str,
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """:func:`serving` for services sharing one prefix: all stop before the shared topology
    goes (one service deleting it under the others would fail their publishing)."""
    async with AsyncExitStack() as stack:
        clients = {}
        for name, (runtime, app) in built.items():
            await runtime.migrate()
            await runtime.start()
            stack.push_async_callback(runtime.stop)
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{runtime.name}"
                )
            )
        yield clients
    conn = await asyncpg.connect(database_url)
    try:
        for runtime, _ in built.values():
            if runtime.sql_dir is not None:  # the gateway simulator keeps no database
                await conn.execute(f"DELETE FROM {runtime.schema}.outbox")
    finally:
        await conn.close()
    runtime = next(iter(built.values()))[0]
    await topo.delete(await amqp.channel(), runtime.topology, topo.ALL_QUEUES)


@pytest.fixture(scope="module")
async def platform(amqp_url: str, database_url: str) -> AsyncIterator[Platform]:
    common: dict[str, Any] = {
        "amqp_url": amqp_url,
        "database_url": database_url,
        "topology_prefix": new_prefix(),
        "outbox_poll_interval": 0.1,
    }
    async with AsyncExitStack() as stack:
        amqp = await aio_pika.connect_robust(amqp_url, timeout=10)
        stack.push_async_callback(amqp.close)
        built = {
            "registry": build_registry(RegistrySettings(**common)),
            "intake": build_intake(IntakeSettings(**common, rate_limit_burst=100_000)),
            "dispatch": build_dispatch(DispatchSettings(**common)),
            "digest": build_digest(DigestSettings(**common, digest_scheduler=False)),
            "gateway_simulator": build_gateway(GatewaySettings(**common)),
        }
        clients = await stack.enter_async_context(serving_together(built, amqp, database_url))
        apps = {name: app for name, (_, app) in built.items()}
        # What would cross the network between services stays in this process.
        apps["intake"].state.reach = ReachClient(
            "http://dispatch", 5.0, transport=httpx.ASGITransport(app=apps["dispatch"])
        )
        parts = apps["registry"].state.evaluation_parts
        parts.urls = {"intake": "http://intake", "dispatch": "http://dispatch"}
        await parts.stop(None)
        parts._client = httpx.AsyncClient(
            mounts={
                f"http://{name}": httpx.ASGITransport(app=apps[name])
                for name in ("intake", "dispatch")
            }
        )
        stack.push_async_callback(parts._client.aclose)
        registry, intake = clients["registry"], clients["intake"]

        bin_id = await active_bin(registry, ZONE, "Leuven")
        other_bin_id = await active_bin(registry, OTHER_ZONE, "Elders")
        member_id = await new_member(registry, bin_id)

        async def known_everywhere() -> bool:
            seen = await intake.get(f"/bins/{bin_id}", headers=ADMIN)
            preview = await clients["digest"].get(f"/bins/{bin_id}/digest/preview", headers=ADMIN)
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
        assert report.status_code == 201, report.text
        alert = await intake.post(
            "/alerts", json={"bin_ids": [bin_id], "texts": {"nl": "Let op"}}, headers=ADMIN
        )
        assert alert.status_code == 202, alert.text
        alert_id = alert.json()["alert_id"]

        async def dispatch_follows_it() -> bool:
            found = await clients["dispatch"].get(f"/alerts/{alert_id}/progress", headers=ADMIN)
            return found.status_code == 200

        await eventually(dispatch_follows_it, timeout=30)
        sanction = await registry.post(
            f"/members/{member_id}/sanctions",
            json={"kind": "reprimand", "reason": "Huisregels niet gevolgd"},
            headers=ADMIN,
        )
        assert sanction.status_code == 201, sanction.text
        yield Platform(
            clients,
            {
                "bin_id": bin_id,
                "other_bin_id": other_bin_id,
                "member_id": member_id,
                "report_id": report.json()["report_id"],
                "alert_id": alert_id,
                "source_id": alert_id,
                "sanction_id": sanction.json()["sanction_id"],
                "police_zone": ZONE,
                "year": str(YEAR),
                "day": "2026-11-23",
                "subject": "op",
            },
        )


def documents() -> dict[str, dict[str, Any]]:
    from shared.contracts import openapi_document

    return {service: json.loads(openapi_document(service)) for service in SERVICES}


@pytest.mark.unit
def test_every_operation_has_an_entry_and_every_entry_an_operation() -> None:
    matrix = load_matrix()
    generated = set(operations(documents()))
    listed = set(matrix["operations"])
    assert not generated - listed, (
        "operations without an entry in tests/authorisation_matrix.json (who may call them?): "
        + ", ".join(sorted(generated - listed))
    )
    assert not listed - generated, "entries naming no operation: " + ", ".join(
        sorted(listed - generated)
    )
    known = set(callers(str(uuid.uuid4()), str(uuid.uuid4()))) | set(matrix["groups"])
    known.add("everyone")
    assert not set(matrix["groups"]) & (known - set(matrix["groups"])), "a group named as a caller"
    for name, entry in matrix["operations"].items():
        unknown = set(entry["allow"]) - known
        assert not unknown, f"{name}: unknown callers or groups {unknown}"


def _filled(value: Any, values: dict[str, str]) -> Any:
    """``{name}`` placeholders in strings of a body replaced by the platform's ids."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [_filled(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, values) for k, v in value.items()}
    return value


async def test_every_operation_answers_every_caller_as_the_matrix_says(
    platform: Platform,
) -> None:
    matrix = load_matrix()
    everyone = callers(platform.values["bin_id"], platform.values["member_id"])
    names = operations(documents())
    wrong: list[str] = []
    observed: dict[str, list[str]] = {}
    checked = 0
    for name in names:
        entry = matrix["operations"][name]
        service, method, path = name.split(" ")
        allowed = allowed_callers(matrix, entry)
        if "everyone" in allowed:
            allowed = set(everyone)
        for caller, headers in everyone.items():
            values = dict(platform.values)
            if entry.get("fresh_member"):
                # The call uses its member up (erasure, consent withdrawal): one each.
                values["member_id"] = await new_member(
                    platform.clients["registry"], values["bin_id"]
                )
            url = _filled(path, values)
            body = _filled(entry.get("body"), values)
            content = entry.get("content")
            response = await platform.clients[service].request(
                method,
                url,
                json=body if content is None else None,
                content=content,
                headers={
                    **headers,
                    **({"Content-Type": "text/csv"} if content is not None else {}),
                },
                params=_filled(entry.get("query"), values),
            )
            checked += 1
            status = response.status_code
            refused = status in (401, 403, 404)
            if not refused:
                observed.setdefault(name, []).append(f"{caller}:{status}")
            if caller == "anonymous" and refused and status != 401 and "anonymous" not in allowed:
                wrong.append(f"{name} anonymous: {status}, expected 401")
            elif status >= 500 or refused == (caller in allowed):
                expected = "allowed" if caller in allowed else "refused"
                wrong.append(
                    f"{name} {caller}: {status} ({expected} expected) {response.text[:120]}"
                )
    if record := os.environ.get("BIN_MATRIX_OBSERVED"):
        # For review when adding an endpoint: who got in, with what answer. Never copied
        # into the table unread: the table says who should, this says who did.
        await asyncio.to_thread(Path(record).write_text, json.dumps(observed, indent=1))
    assert checked == len(names) * len(everyone)
    assert not wrong, f"{len(wrong)} of {checked} answers differ:\n" + "\n".join(wrong)
