"""Intake in this process over its HTTP API, fed BIN events on the real broker, on the real
database; the events it publishes caught by a probe queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustChannel, AbstractRobustConnection
from fastapi import FastAPI

from services.intake.main import IntakeSettings, build
from shared.auth import AuthSettings, Role, mint_token
from shared.events import (
    BinAreaChanged,
    BinAreaChangedData,
    BinKind,
    BinRegistered,
    BinRegisteredData,
    BinStatus,
    BinStatusChanged,
    BinStatusChangedData,
    CommunicationPlan,
    Visibility,
)
from shared.events.registry import StreetSegmentData
from shared.runtime import ServiceRuntime
from tests.helpers import drain, eventually
from tests.infrastructure import new_prefix
from tests.integration.serving import serving

PLAN = CommunicationPlan.model_validate(
    {"urgent_channels": ["sms", "voice"], "news_channels": ["email"], "languages": ["nl", "fr"]}
)


def bearer(subject: str, *roles: Role, **scopes: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(AuthSettings(), subject, list(roles), **scopes)}"}


def operator_of(zone: str, subject: str = "op-1") -> dict[str, str]:
    return bearer(subject, Role.OPERATOR, police_zones=[zone])


ADMIN = bearer("admin-1", Role.ADMIN)


@dataclass
class Intake:
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    channel: AbstractRobustChannel
    probe: AbstractQueue
    app: FastAPI
    zone: str = field(default_factory=lambda: f"Zone-{uuid.uuid4().hex[:8]}")
    published: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def operator(self) -> dict[str, str]:
        return operator_of(self.zone)

    async def known_bin(
        self,
        status: BinStatus = BinStatus.ACTIVE,
        streets: list[dict[str, Any]] | None = None,
        neighbours: list[uuid.UUID] | None = None,
        municipality: str = "Leuven",
        bin_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """A BIN as the registry announces it: registered, its area, its status."""
        bin_id = bin_id or uuid.uuid4()
        publisher = self.runtime.publisher
        await publisher.publish(
            BinRegistered.create(
                source="registry",
                data=BinRegisteredData(
                    bin_id=bin_id,
                    bin_name=f"BIN {bin_id.hex[:4]}",
                    kind=BinKind.BIN,
                    municipality=municipality,
                    police_zone=self.zone,
                    communication_plan=PLAN,
                ),
            )
        )
        await publisher.publish(
            BinAreaChanged.create(
                source="registry",
                data=BinAreaChangedData(
                    bin_id=bin_id,
                    municipality=municipality,
                    streets=[StreetSegmentData(**s) for s in streets or []],
                    neighbour_ids=neighbours or [],
                ),
            )
        )
        await publisher.publish(
            BinStatusChanged.create(
                source="registry",
                data=BinStatusChangedData(
                    bin_id=bin_id,
                    status=status,
                    previous_status=BinStatus.APPROVED,
                    changed_at=datetime.now(UTC),
                ),
            )
        )

        async def projected() -> bool:
            async with self.runtime.pool.acquire() as conn:
                return bool(
                    await conn.fetchval(
                        "SELECT status = $2 AND police_zone IS NOT NULL AND area_at > '-infinity'"
                        " FROM bin WHERE bin_id = $1",
                        bin_id,
                        status.value,
                    )
                )

        await eventually(projected)
        return bin_id

    async def events(self, type_: str, count: int = 1) -> list[bytes]:
        """The bodies of the first ``count`` published events of a type (waits for them)."""

        async def arrived() -> list[bytes] | None:
            for message in await drain(self.channel, self.probe.name):
                self.published.append((message.routing_key or "", message.body))
            found = [body for key, body in self.published if key == type_]
            return found if len(found) >= count else None

        return await eventually(arrived)

    async def report(self, **override: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "police_zone": self.zone,
            "source": "call_101",
            "category": "suspicious_vehicle",
            "facts": "Een witte bestelwagen rijdt traag door de straat en stopt bij elk huis.",
            "place": {"municipality": "Leuven", "street": "Abdijstraat", "house_number": "12"},
            "occurred_at": datetime.now(UTC).isoformat(),
            "vehicles": "Witte bestelwagen 1-ABC-123",
        }
        body.update(override)
        response = await self.client.post("/reports", json=body, headers=self.operator)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


IntakeFactory = Callable[..., Awaitable[Intake]]


@pytest.fixture
async def intake(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> AsyncIterator[Intake]:
    runtime, app = build(
        IntakeSettings(
            amqp_url=amqp_url,
            database_url=database_url,
            topology_prefix=new_prefix(),
            outbox_poll_interval=0.1,
            rate_limit_burst=1000,
            max_body_bytes=64 * 1024,
            # No dispatch runs here to count members: no member threshold (four eyes is
            # tested with dispatch in test_four_eyes.py); several municipalities still hold.
            four_eyes_members={},
        )
    )
    async with serving(runtime, app, amqp, database_url) as client:
        channel = await amqp.channel()
        probe = await channel.declare_queue(exclusive=True)
        for visibility in (Visibility.PUBLIC, Visibility.PRIVATE):
            await probe.bind(runtime.topology.exchange_name(visibility), "#")
        yield Intake(client, runtime, channel, probe, app)
