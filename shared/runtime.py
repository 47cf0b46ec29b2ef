"""What every service process is made of: pool, publisher, broker, outbox relay, HTTP.

A service's composition root (``services/<name>/main.py``) builds one :class:`ServiceRuntime`,
registers its subscribers on ``runtime.broker`` and its routes on the HTTP app, and calls
:func:`serve`. The runtime owns the order of start-up and shutdown:

start:  database pool → publisher → topology declared → outbox relay → consumers → HTTP ready
stop:   HTTP stops taking requests → consumers finish in-flight messages (up to the graceful
        timeout; the unfinished stay unacked and are redelivered) → relay → publisher → pool
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
import uvicorn
from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from faststream.message import StreamMessage
from faststream.rabbit import Channel, RabbitQueue
from pydantic import TypeAdapter

from shared import problems
from shared.auth import AuthSettings, TokenVerifier
from shared.database import Connection, create_pool
from shared.http import health_router
from shared.logging import configure_logging, get_logger
from shared.messaging import outbox
from shared.messaging.inbox import InboxPruning
from shared.messaging.nodes import cluster_broker
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import Publisher
from shared.messaging.reliability import ReliableConsumption
from shared.migrations import apply_migrations
from shared.safeguards import DevelopmentValue, auth_values, refuse_development_settings
from shared.settings import ServiceSettings, database_schema
from shared.text_guard import RefuseNulCharacters
from shared.topology import QueueSpec, Topology

log = get_logger(__name__)

Hook = Callable[["ServiceRuntime"], Awaitable[None]]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])


@dataclass
class ServiceRuntime:
    name: str
    settings: ServiceSettings
    # Queues this service consumes from or publishes work into; declared at start.
    queues: tuple[QueueSpec, ...] = ()
    sql_dir: Path | None = None
    uses_database: bool = True
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    # Settings of this service still at a development value; outside BIN_ENVIRONMENT=
    # development, main() refuses to serve while any is listed (shared.safeguards).
    development_values: list[DevelopmentValue] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.schema = database_schema(self.name)
        self.topology = Topology(
            prefix=self.settings.topology_prefix,
            retry_delays=self.settings.retry_delays,
            queue_type=self.settings.queue_type,
        )
        self.publisher = Publisher(self.settings.amqp_url, self.topology)
        self.broker = cluster_broker(
            self.settings.amqp_url,
            default_channel=Channel(prefetch_count=self.settings.prefetch),
            timeout=10,
            graceful_timeout=self.settings.graceful_timeout,
            ack_policy=AckPolicy.MANUAL,
            middlewares=[ReliableConsumption(self.topology, self.publisher.channel)],
            log_level=logging.DEBUG,
            app_id=self.name,
        )
        self._pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self.inbox_pruning: InboxPruning | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name}: the database pool is not open yet")
        return self._pool

    def queue(self, spec: QueueSpec) -> RabbitQueue:
        """The FastStream handle of a queue the topology module declares (never redeclared)."""
        return RabbitQueue(self.topology.queue_name(spec.name), declare=False)

    def subscriber(self, spec: QueueSpec, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Decorator: the handler consumes ``spec``'s queue under :class:`ReliableConsumption`.

        The body is validated straight from its JSON bytes against the handler's first
        parameter type (pydantic's parser, in one pass), instead of ``json.loads`` and then
        validating the dict: on the hot path (receipts, gateway work: a thousand items a
        message) that halves the CPU spent on decoding. A validation error still dead-letters
        the message with its reason, and the AsyncAPI document still shows the type.
        """

        def register(handler: Handler) -> Handler:
            adapter = _body_adapter(handler)
            if adapter is not None and "decoder" not in kwargs:

                async def decode(message: StreamMessage[Any]) -> Any:
                    return adapter.validate_json(message.body)

                kwargs["decoder"] = decode
            subscribe = self.broker.subscriber(
                self.queue(spec), ack_policy=AckPolicy.MANUAL, **kwargs
            )
            return cast(Handler, subscribe(handler))

        return register

    async def enqueue(self, conn: Connection, events: Iterable[outbox.OutboxItem]) -> None:
        """Adds events to this service's outbox inside the caller's transaction."""
        await outbox.enqueue(conn, self.topology, self.schema, events)

    async def start(self) -> None:
        if self.uses_database:
            self._pool = await create_pool(
                self.settings.database_url, self.schema, self.settings.database_pool_size
            )
        await self.publisher.connect()
        await self.publisher.declare(self.queues, passive=not self.settings.declare_topology)
        if self.uses_database:
            self.relay = OutboxRelay(
                self.pool,
                self.publisher,
                self.schema,
                batch_size=self.settings.outbox_batch_size,
                poll_interval=self.settings.outbox_poll_interval,
            )
            await self.relay.start()
            self.inbox_pruning = InboxPruning(
                self.pool, timedelta(hours=self.settings.inbox_retention_hours)
            )
            await self.inbox_pruning.start()
        for hook in self.on_start:
            await hook(self)
        await self.broker.start()
        log.info("service started", queues=[q.name for q in self.queues])

    async def stop(self) -> None:
        log.info("service stopping")
        await self.broker.stop()
        for hook in reversed(self.on_stop):
            await hook(self)
        if self.relay is not None:
            await self.relay.stop()
        if self.inbox_pruning is not None:
            await self.inbox_pruning.stop()
        await self.publisher.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        log.info("service stopped")

    async def readiness(self) -> dict[str, bool]:
        checks = {
            "broker": await self.broker.ping(timeout=2.0),
            "publisher": self.publisher.is_connected,
        }
        if self.uses_database:
            checks["database"] = await _database_answers(self._pool)
        return checks

    def http_app(self, routers: Sequence[APIRouter] = (), **fastapi_kwargs: Any) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(title=f"BIN {self.name}", lifespan=lifespan, **fastapi_kwargs)
        app.state.runtime = self
        auth = AuthSettings()
        self.development_values += auth_values(auth)
        app.state.token_verifier = TokenVerifier(auth)
        problems.install(app)
        app.add_middleware(RefuseNulCharacters)
        app.include_router(health_router(self.readiness))
        for router in routers:
            app.include_router(router)
        return app

    async def migrate(self) -> list[str]:
        if self.sql_dir is None:
            return []
        return await apply_migrations(self.settings.database_url, self.schema, self.sql_dir)


def _body_adapter(handler: Callable[..., Any]) -> TypeAdapter[Any] | None:
    hints = typing.get_type_hints(handler, include_extras=True)
    hints.pop("return", None)
    if len(hints) != 1:
        return None
    return TypeAdapter(next(iter(hints.values())))


async def _database_answers(pool: asyncpg.Pool | None) -> bool:
    if pool is None:
        return False
    try:
        async with asyncio.timeout(2.0):
            async with pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)
    except Exception:  # noqa: BLE001
        return False


# The cyclic collector's thresholds for a serving process (CPython's defaults: 700, 10, 10).
# A fan-out makes and drops millions of small objects (records, work items, receipts) while
# holding a hundred thousand (the members already reached): with the defaults, collections
# that traverse all of them took more than half of dispatch's CPU in a 100,000-recipient
# fan-out (2.2 s of CPU per run against 1.0 s with a first generation of 50,000; all receipts
# in 3.1 s against 1.9 s; docs/dispatch.md). Reference counting still frees nearly everything
# at once; only garbage in reference cycles waits longer, a little memory (peak RSS 128 ->
# 135 MB in the benchmark).
GC_THRESHOLDS = (50_000, 20, 10)


def tune_garbage_collector() -> None:
    """Raises the collector's thresholds, and moves what start-up made (modules, schemas,
    the app) out of its reach: it lives as long as the process, so scanning it is waste."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def main(
    build: Callable[[], tuple[ServiceRuntime, FastAPI]], argv: Sequence[str] | None = None
) -> None:
    """The command line of every service: ``serve`` (default) or ``migrate``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command", nargs="?", default="serve", choices=("serve", "migrate"))
    args = parser.parse_args(argv)
    runtime, app = build()
    settings = runtime.settings
    configure_logging(runtime.name, settings.log_level, settings.log_format)
    if args.command == "migrate":
        applied = asyncio.run(runtime.migrate())
        log.info("migrations applied", schema=runtime.schema, applied=applied)
        return
    refuse_development_settings(runtime.name, settings.environment, runtime.development_values)
    tune_garbage_collector()
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        # The services that key anything by a caller's address read X-Forwarded-For from
        # their own trusted proxies (shared.request_limits); nothing else should.
        proxy_headers=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.graceful_timeout),
    )
    uvicorn.Server(config).run()
