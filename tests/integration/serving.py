"""A service's runtime and HTTP app in this process, for integration tests over its API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import httpx
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from shared import topology as topo
from shared.runtime import ServiceRuntime


@asynccontextmanager
async def serving(
    runtime: ServiceRuntime, app: FastAPI, amqp: AbstractRobustConnection, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """Migrates and starts the service, yields a client of its HTTP API; afterwards stops it
    and removes what it leaves behind: its queues and exchanges, and the outbox rows it did
    not relay (they name this test's exchanges, which the next test's relay, on the same
    database, must not try)."""
    await runtime.migrate()
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{runtime.name}"
        ) as client:
            yield client
    finally:
        await runtime.stop()
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f"DELETE FROM {runtime.schema}.outbox")
        finally:
            await conn.close()
        await topo.delete(await amqp.channel(), runtime.topology, topo.ALL_QUEUES)


@asynccontextmanager
async def replicas(
    count: int,
    build: Callable[[], tuple[ServiceRuntime, FastAPI]],
    amqp: AbstractRobustConnection,
    database_url: str,
) -> AsyncIterator[list[tuple[ServiceRuntime, httpx.AsyncClient]]]:
    """``count`` processes' worth of one service (each ``build()`` call makes one) on the one
    database, each with its runtime and its own client."""
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            runtime, app = build()
            client = await stack.enter_async_context(serving(runtime, app, amqp, database_url))
            started.append((runtime, client))
        yield started
