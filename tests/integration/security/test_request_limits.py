"""The registry's and dispatch's HTTP APIs hold callers to a rate, as intake does (one
limiter, shared/request_limits.py): keyed by the verified principal, else the address; one
limit for every replica; and on the members' preferences page, where a link is the only
credential, links that do not verify are held at their sender's address, so guessed or
forged links cannot be tried at speed while good links keep opening."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from services.dispatch.main import DispatchSettings
from services.dispatch.main import build as build_dispatch
from services.registry.main import RegistrySettings
from services.registry.main import build as build_registry
from shared.auth import Principal, Role, TokenVerifier
from shared.rate_limit import TokenBuckets
from shared.runtime import ServiceRuntime
from shared.safeguards import DEVELOPMENT_LINK_SECRET
from shared.signing import sign_member_token
from tests.infrastructure import new_prefix
from tests.integration.registry.conftest import (
    ADMIN,
    OPERATOR,
    Registry,
    bearer,
    coordinator,
    member_body,
)
from tests.integration.serving import replicas, serving

NO_REFILL = 0.01  # tokens per second: none come back while a test runs


async def buckets(database_url: str, schema: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        found: int = await conn.fetchval(f"SELECT count(*) FROM {schema}.request_rate")
        return found
    finally:
        await conn.close()


async def empty_buckets(database_url: str, schema: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"DELETE FROM {schema}.request_rate")
    finally:
        await conn.close()


@asynccontextmanager
async def registries(
    count: int, amqp: AbstractRobustConnection, amqp_url: str, database_url: str, **limits: Any
) -> AsyncIterator[list[Registry]]:
    """``count`` registry processes' apps on the one database, each with its own client."""

    def one() -> tuple[ServiceRuntime, FastAPI]:
        return build_registry(
            RegistrySettings(
                amqp_url=amqp_url, database_url=database_url, topology_prefix=new_prefix(), **limits
            )
        )

    async with replicas(count, one, amqp, database_url) as started:
        await empty_buckets(database_url, "registry")
        yield [Registry(client, runtime) for runtime, client in started]


async def test_registry_replicas_share_one_limit_per_principal(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    async with registries(
        2, amqp, amqp_url, database_url, rate_limit_burst=3, rate_limit_per_second=NO_REFILL
    ) as registry:
        one, two = (replica.client for replica in registry)
        nobody = f"/members/{uuid.uuid4()}"
        answers = [(await c.get(nobody, headers=ADMIN)).status_code for c in (one, two, one, two)]
        assert answers == [404, 404, 404, 429]
        refused = await one.get(nobody, headers=ADMIN)
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["status"] == 429
        # Another principal has a bucket of its own.
        assert (await two.get(nobody, headers=bearer("admin-2", Role.ADMIN))).status_code == 404
        # Junk tokens, each different, count with their sender's address: one more bucket.
        junk = [
            (await one.get(nobody, headers={"Authorization": f"Bearer junk.{n}.x"})).status_code
            for n in range(10)
        ]
        assert junk == [401] * 3 + [429] * 7
    assert await buckets(database_url, "registry") == 3


async def new_member(registry: Registry) -> uuid.UUID:
    bin_id = await registry.new_bin()
    created = await registry.client.post(
        f"/bins/{bin_id}/members", json=member_body(71), headers=coordinator(bin_id)
    )
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["member_id"])


def link(member_id: uuid.UUID, ttl_seconds: int = 3600) -> str:
    return sign_member_token(DEVELOPMENT_LINK_SECRET, member_id, ttl_seconds)


async def test_guessed_links_are_held_at_their_address_and_good_links_still_open(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    async with registries(
        1,
        amqp,
        amqp_url,
        database_url,
        preferences_failed_links_burst=3,
        preferences_failed_links_per_second=NO_REFILL,
    ) as (registry,):
        client = registry.client
        member_id = await new_member(registry)
        good = link(member_id)
        forged = [f"{member_id}.{int(time.time()) + 3600}.{n:064x}" for n in range(6)]

        tries = [(await client.get(f"/preferences/{token}")).status_code for token in forged]
        assert tries == [403, 403, 403, 429, 429, 429]
        held = await client.get(f"/preferences/{forged[0]}?lang=nl")
        assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
        assert "Te veel pogingen" in held.text
        posted = await client.post(f"/preferences/garbage-{uuid.uuid4()}", data={"action": "save"})
        assert posted.status_code == 429  # the form is held the same way

        # The member's own link still opens from the same address, and an expired one (a
        # member's old mail, never a guess) says it expired: neither counts as a guess.
        assert (await client.get(f"/preferences/{good}")).status_code == 200
        assert (await client.get(f"/preferences/{link(member_id, -60)}")).status_code == 410

        # Behind the trusted proxy (the default: the local address), each address it names
        # is held on its own.
        elsewhere = {"X-Forwarded-For": "198.51.100.7"}
        answer = await client.get(f"/preferences/{forged[0]}", headers=elsewhere)
        assert answer.status_code == 403

    # A proxy not trusted cannot name another address: its callers stay where they are.
    async with registries(
        1,
        amqp,
        amqp_url,
        database_url,
        preferences_failed_links_burst=1,
        preferences_failed_links_per_second=NO_REFILL,
        trusted_proxies="192.0.2.1",
    ) as (registry,):
        client = registry.client
        tries = [
            (
                await client.get(
                    f"/preferences/{token}", headers={"X-Forwarded-For": f"198.51.100.{n}"}
                )
            ).status_code
            for n, token in enumerate(forged[:3])
        ]
        assert tries == [403, 429, 429]
    # The one address's two buckets (its requests, its failed links), hashed.
    assert await buckets(database_url, "registry") == 2


class CountingVerifier:
    def __init__(self, inner: TokenVerifier) -> None:
        self.inner, self.calls = inner, 0

    def verify(self, token: str) -> Principal:
        self.calls += 1
        return self.inner.verify(token)


async def test_dispatch_holds_callers_to_their_rate_and_junk_tokens_to_their_address(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    runtime, app = build_dispatch(
        DispatchSettings(
            amqp_url=amqp_url,
            database_url=database_url,
            topology_prefix=new_prefix(),
            rate_limit_burst=3,
            rate_limit_per_second=NO_REFILL,
        )
    )
    async with serving(runtime, app, amqp, database_url) as client:
        await empty_buckets(database_url, "dispatch")
        progress = f"/alerts/{uuid.uuid4()}/progress"
        junk = [
            (await client.get(progress, headers={"Authorization": f"Bearer {n}"})).status_code
            for n in range(6)
        ]
        assert junk == [401] * 3 + [429] * 3
        # An honest operator behind the same address is limited on their own, and their
        # token is verified once a request (by the limits; the route takes their answer).
        verifier = app.state.token_verifier = CountingVerifier(app.state.token_verifier)
        honest = [(await client.get(progress, headers=OPERATOR)).status_code for _ in range(4)]
        assert honest == [404] * 3 + [429]
        assert verifier.calls == 4
        assert (await client.get("/healthz")).status_code == 200  # never limited
        assert await buckets(database_url, "dispatch") == 2


async def test_a_bucket_takes_the_limits_its_service_has_now(database_url: str) -> None:
    """A bucket made under other limits (a setting raised since, another run's) is held to
    the ones the service has now, not to those it was made with."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE request_rate (caller text PRIMARY KEY, per_second float8 NOT NULL,"
            " burst float8 NOT NULL, tokens float8 NOT NULL,"
            " refilled_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        buckets = TokenBuckets(table="request_rate", key="caller")
        waits = [await buckets.take_now(conn, "caller", NO_REFILL, 2) for _ in range(3)]
        assert waits[:2] == [0.0, 0.0] and waits[2] is not None and waits[2] > 10
        # Raised: the same bucket refills at the new rate at once.
        assert await buckets.take_now(conn, "caller", 1_000_000, 2) == 0.0
        assert await conn.fetchval("SELECT per_second FROM request_rate") == 1_000_000
    finally:
        await conn.close()
