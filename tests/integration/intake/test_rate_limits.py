"""Intake's request rate per caller on the real database: keyed by the verified principal
(never by the token as sent), one limit shared by every replica, and a bounded number of
buckets that a flood of callers cannot reset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from services.intake.main import IntakeSettings, build
from shared.runtime import ServiceRuntime
from tests.infrastructure import new_prefix
from tests.integration.intake.conftest import operator_of
from tests.integration.serving import replicas as serving_replicas

ZONE = "Zone-rate-limits"


@pytest.fixture
async def buckets(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The bucket table, emptied first: its bound counts every bucket in it."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "intake"})
    try:
        if await conn.fetchval("SELECT to_regclass('intake.request_rate')") is not None:
            await conn.execute("DELETE FROM request_rate")
        yield conn
    finally:
        await conn.close()


@asynccontextmanager
async def replicas(
    count: int, amqp: AbstractRobustConnection, amqp_url: str, database_url: str, **limits: Any
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` intake processes' apps on the one database, each with its own client."""

    def one() -> tuple[ServiceRuntime, FastAPI]:
        return build(
            IntakeSettings(
                amqp_url=amqp_url,
                database_url=database_url,
                topology_prefix=new_prefix(),
                rate_limit_per_second=0.01,  # no refill while the test runs
                **limits,
            )
        )

    async with serving_replicas(count, one, amqp, database_url) as started:
        yield [client for _, client in started]


async def test_two_replicas_share_one_limit(
    amqp: AbstractRobustConnection,
    amqp_url: str,
    database_url: str,
    buckets: asyncpg.Connection,
) -> None:
    async with replicas(2, amqp, amqp_url, database_url, rate_limit_burst=3) as (one, two):
        operator = operator_of(ZONE)
        answers = [
            (await client.get("/news", headers=operator)).status_code
            for client in (one, two, one, two)
        ]
        assert answers == [200, 200, 200, 429]
        refused = await one.get("/news", headers=operator)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        # A fresh token of the same principal is the same caller.
        assert (await two.get("/news", headers=operator_of(ZONE))).status_code == 429
        # Another principal has its own bucket.
        assert (await two.get("/news", headers=operator_of(ZONE, "op-2"))).status_code == 200
    assert await buckets.fetchval("SELECT count(*) FROM request_rate") == 2


async def test_junk_tokens_make_no_buckets_and_a_flood_resets_no_honest_caller(
    amqp: AbstractRobustConnection,
    amqp_url: str,
    database_url: str,
    buckets: asyncpg.Connection,
) -> None:
    async with replicas(
        1, amqp, amqp_url, database_url, rate_limit_burst=3, rate_limit_max_callers=5
    ) as (client,):
        honest = operator_of(ZONE, "honest")
        assert [(await client.get("/news", headers=honest)).status_code for _ in range(3)] == [
            200,
            200,
            200,
        ]
        assert (await client.get("/news", headers=honest)).status_code == 429

        # Junk tokens, each different: counted with their sender's address, one bucket.
        junk = [
            (await client.get("/news", headers={"Authorization": f"Bearer junk.{n}.x"}))
            for n in range(30)
        ]
        assert {r.status_code for r in junk[:3]} == {401}
        assert {r.status_code for r in junk[3:]} == {429}
        assert await buckets.fetchval("SELECT count(*) FROM request_rate") == 2

        # Verified callers past the bound: new ones share the overflow bucket; nobody's
        # bucket is taken away, so the honest caller is still held to its limit.
        flood = [
            (await client.get("/news", headers=operator_of(ZONE, f"flood-{n}"))).status_code
            for n in range(20)
        ]
        # Room for three more buckets, then the rest share one bucket of three.
        assert flood == [200] * 6 + [429] * 14
        assert await buckets.fetchval("SELECT count(*) FROM request_rate") == 5 + 1
        assert (await client.get("/news", headers=honest)).status_code == 429

    # Full buckets are the ones forgotten to make room: a missing bucket starts full.
    await buckets.execute("UPDATE request_rate SET tokens = burst")
    async with replicas(
        1, amqp, amqp_url, database_url, rate_limit_burst=3, rate_limit_max_callers=5
    ) as (client,):
        newcomer = operator_of(ZONE, "newcomer")
        assert (await client.get("/news", headers=newcomer)).status_code == 200
        assert await buckets.fetchval("SELECT count(*) FROM request_rate") == 1
