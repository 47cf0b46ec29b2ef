"""Dispatch and the gateway simulator in this process, on the real broker and database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from services.dispatch import repository
from services.dispatch.main import DispatchSettings
from services.dispatch.main import build as build_dispatch
from services.gateway_simulator.main import GatewaySettings
from services.gateway_simulator.main import build as build_gateway
from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language
from shared.events.digest import DigestCompiled, DigestCompiledData, RenderedDigest
from shared.runtime import ServiceRuntime
from tests.helpers import eventually
from tests.infrastructure import new_prefix


@dataclass
class DispatchSystem:
    dispatch: ServiceRuntime
    gateway: ServiceRuntime
    gateway_app: Any
    dispatch_app: Any

    async def seed_bin(
        self, members: int, urgent: list[str], news: list[str] | None = None
    ) -> uuid.UUID:
        """A BIN in dispatch's projection with ``members`` members reachable by SMS, voice
        and e-mail (numbers and addresses are made up)."""
        bin_id = uuid.uuid4()
        async with self.dispatch.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                repository.UPSERT_BIN,
                bin_id,
                "Leuven",
                "Leuven",
                urgent,
                news or ["email"],
                ["nl"],
                True,
            )
            ids = [uuid.uuid4() for _ in range(members)]
            await conn.copy_records_to_table(
                "recipient",
                records=[
                    (m, "nl", [f"+3247{n:07d}"], f"m{n}@voorbeeld.be", None, True)
                    for n, m in enumerate(ids)
                ],
                columns=(
                    "member_id",
                    "language",
                    "phones",
                    "email",
                    "push_token",
                    "subsidised_sms",
                ),
            )
            await conn.copy_records_to_table(
                "membership", records=[(bin_id, m) for m in ids], columns=("bin_id", "member_id")
            )
        return bin_id

    async def share_members(
        self, source: uuid.UUID, into: uuid.UUID, count: int | None = None
    ) -> None:
        """Makes ``count`` members of ``source`` (all: None) members of ``into`` too."""
        async with self.dispatch.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO membership (bin_id, member_id) "
                "SELECT $1, member_id FROM membership WHERE bin_id = $2 LIMIT $3",
                into,
                source,
                count,
            )

    async def issue_alert(self, bin_ids: list[uuid.UUID], **fields: Any) -> uuid.UUID:
        alert_id = uuid.uuid4()
        await self.dispatch.publisher.publish(
            AlertIssued.create(
                source="test",
                data=AlertIssuedData(
                    alert_id=alert_id, bin_ids=bin_ids, texts={Language.NL: "Let op"}, **fields
                ),
            )
        )
        return alert_id

    async def publish_digest(
        self, bin_id: uuid.UUID, text: str = "Nieuws", html: str = "<p>Nieuws</p>"
    ) -> uuid.UUID:
        """A compiled digest for the BIN, as the digest service publishes it."""
        digest_id = uuid.uuid4()
        await self.dispatch.publisher.publish(
            DigestCompiled.create(
                source="test",
                data=DigestCompiledData(
                    digest_id=digest_id,
                    bin_id=bin_id,
                    day="2026-11-23",
                    items=1,
                    renderings={
                        Language.NL: RenderedDigest(subject="Politienieuws", text=text, html=html)
                    },
                ),
            )
        )
        return digest_id

    async def progress(self, source_id: uuid.UUID) -> dict[str, Any] | None:
        async with self.dispatch.pool.acquire() as conn:
            found = await repository.progress(conn, source_id)
        if found is None:
            return None
        return {"channels": found.by_channel, "status": found.status, **found.members}

    async def settled(
        self, source_id: uuid.UUID, targeted: int, timeout: float = 60
    ) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            progress = await self.progress(source_id)
            if (
                progress
                and progress["delivered"] + progress["failed"] == targeted == progress["targeted"]
            ):
                return progress
            return None

        return await eventually(done, timeout=timeout, interval=0.2)

    async def deliveries_without_fanout(self) -> int:
        async with self.dispatch.pool.acquire() as conn:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM delivery d "
                    "WHERE NOT EXISTS (SELECT 1 FROM fanout f WHERE f.source_id = d.source_id)"
                )
            )

    @property
    def dispatch_engine(self) -> Any:
        return self.dispatch_app.state.engine

    def gateway_stats(self) -> dict[str, Any]:
        behaviour = self.gateway_app.state.behaviour
        return {"unique": len(behaviour.seen), "duplicates": behaviour.duplicates}


SystemFactory = Callable[..., Any]


async def urgent_alert_overtakes_large_digest(system: DispatchSystem) -> uuid.UUID:
    """A 20,000-member digest under way, then a 20-member alert: the alert is delivered
    while the digest is not, then the digest completes; the digest's id."""
    digest_bin = await system.seed_bin(20_000, ["sms"], news=["email"])
    digest_id = await system.publish_digest(
        digest_bin, text="x" * 2000, html="<p>" + "x" * 4000 + "</p>"
    )
    await small_alert_overtakes(system, digest_id, 20_000, interval=0.05)
    return digest_id


async def small_alert_overtakes(
    system: DispatchSystem, large_id: uuid.UUID, large_members: int, interval: float
) -> None:
    """Once the large fan-out ``large_id`` is under way, a 20-member alert: it is delivered
    while the large one is not finished, then the large one completes."""
    alert_bin = await system.seed_bin(20, ["sms"])

    async def large_under_way() -> bool:
        found = await system.progress(large_id)
        return found is not None and found["targeted"] > 0

    await eventually(large_under_way, timeout=20, interval=interval)
    alert_id = await system.issue_alert([alert_bin])
    await system.settled(alert_id, 20, timeout=30)
    large_progress = await system.progress(large_id)
    assert large_progress is not None
    assert large_progress["delivered"] < large_members, "the alert waited for the large one"
    await system.settled(large_id, large_members, timeout=120)


@pytest.fixture
def dispatch_system(
    amqp_url: str, database_url: str, amqp: AbstractRobustConnection
) -> SystemFactory:
    @asynccontextmanager
    async def start(
        *, dispatch_settings: dict[str, Any] | None = None, **gateway: Any
    ) -> AsyncIterator[DispatchSystem]:
        prefix = new_prefix()
        dispatch, dispatch_app = build_dispatch(
            DispatchSettings(
                amqp_url=amqp_url,
                database_url=database_url,
                topology_prefix=prefix,
                batch_size=100,
                bulk_batch_size=50,
                retry_delays=(0.2, 0.4, 0.8),
                **(dispatch_settings or {}),
            )
        )
        gateway_runtime, gateway_app = build_gateway(
            GatewaySettings(
                amqp_url=amqp_url,
                topology_prefix=prefix,
                retry_delays=(0.2, 0.4, 0.8),
                gateway_latency_ms=1,
                **gateway,
            )
        )
        await dispatch.migrate()
        await dispatch.start()
        await gateway_runtime.start()
        try:
            system = DispatchSystem(dispatch, gateway_runtime, gateway_app, dispatch_app)
            yield system
            # The database no longer checks this (dispatch sql 013): the code must.
            assert await system.deliveries_without_fanout() == 0
        finally:
            await gateway_runtime.stop()
            await dispatch.stop()
            await topo.delete(
                await amqp.channel(),
                dispatch.topology,
                (*topo.ALL_QUEUES, *topo.DISPATCH_SLICE_QUEUES),
            )

    return start
