"""The registry's side of the yearly evaluation report: members joined and left (kept when a
member's row is erased), who may read the report, and a clear problem when intake or
dispatch does not answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aio_pika.abc import AbstractRobustConnection

from services.registry.main import RegistrySettings, build
from shared.auth import Role
from shared.evaluation import ActivityFigures, ActivityPart, DeliveryFigures, DeliveryPart
from tests.infrastructure import new_prefix
from tests.integration.registry.conftest import (
    ADMIN,
    OPERATOR,
    Registry,
    bearer,
    coordinator,
    member_body,
)
from tests.integration.serving import serving
from tests.ports import free_port

YEAR = datetime.now(UTC).year


class NoActivity:
    """Intake and dispatch as if they had nothing to count."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def fetch(self, path: str, year: int, authorization: str) -> object:
        assert authorization.startswith("Bearer ")
        self.paths.append(path)
        return (
            ActivityPart(year=year, total=ActivityFigures()),
            DeliveryPart(year=year, price_eur={}, total=DeliveryFigures()),
        )


@pytest.fixture
async def lonely_registry(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> AsyncIterator[Registry]:
    """A registry whose intake and dispatch are nowhere to be reached."""
    runtime, app = build(
        RegistrySettings(
            amqp_url=amqp_url,
            database_url=database_url,
            topology_prefix=new_prefix(),
            outbox_poll_interval=0.1,
            intake_url=f"http://127.0.0.1:{free_port()}",
            dispatch_url=f"http://127.0.0.1:{free_port()}",
        )
    )
    async with serving(runtime, app, amqp, database_url) as client:
        registry = Registry(client, runtime)
        registry.app = app  # type: ignore[attr-defined]
        yield registry


async def test_members_growth_and_who_may_read_the_report(lonely_registry: Registry) -> None:
    registry = lonely_registry
    bin_id = await registry.new_bin()
    members = []
    for n in range(3):
        created = await registry.client.post(
            f"/bins/{bin_id}/members", json=member_body(n + 1), headers=coordinator(bin_id)
        )
        assert created.status_code == 201, created.text
        members.append(created.json()["member_id"])
    erased = await registry.client.delete(f"/members/{members[0]}", headers=coordinator(bin_id))
    assert erased.status_code == 204, erased.text

    url = f"/bins/{bin_id}/evaluation/{YEAR}"
    unreachable = await registry.client.get(url, headers=coordinator(bin_id))
    assert unreachable.status_code == 503
    assert unreachable.json()["service"] in {"intake", "dispatch"}
    assert "did not answer" in unreachable.json()["detail"]

    parts = NoActivity()
    registry.app.state.evaluation_parts = parts  # type: ignore[attr-defined]
    report = await registry.client.get(url, headers=coordinator(bin_id))
    assert report.status_code == 200, report.text
    assert report.json()["members"] == {"at_start": 0, "joined": 3, "left": 1, "at_end": 2}
    # Last year, the BIN had no members yet.
    earlier = await registry.client.get(
        f"/bins/{bin_id}/evaluation/{YEAR - 1}", headers=coordinator(bin_id)
    )
    assert earlier.json()["members"] == {"at_start": 0, "joined": 0, "left": 0, "at_end": 0}

    zone = await registry.client.get(f"/zones/Leuven/evaluation/{YEAR}", headers=OPERATOR)
    assert zone.status_code == 200, zone.text
    line = next(b for b in zone.json()["bins"] if b["bin_id"] == bin_id)
    assert line["members"]["at_end"] == 2

    allowed = [
        OPERATOR,
        ADMIN,
        bearer("chief", Role.POLICE_CHIEF, police_zones=["Leuven"]),
        bearer("officer", Role.MANDATED_OFFICER, police_zones=["Leuven"]),
        bearer("prevention", Role.PREVENTION_OFFICER, municipalities=["Leuven"]),
        bearer("mayor", Role.MAYOR, municipalities=["Leuven"]),
    ]
    for headers in allowed:
        assert (await registry.client.get(url, headers=headers)).status_code == 200
    refused = [
        bearer("op-2", Role.OPERATOR, police_zones=["Gent"]),
        bearer("mayor-2", Role.MAYOR, municipalities=["Gent"]),
        coordinator(str(uuid.uuid4())),
        bearer("deputy", Role.DEPUTY, bin_ids=[uuid.UUID(bin_id)]),
    ]
    for headers in refused:
        assert (await registry.client.get(url, headers=headers)).status_code == 403
    mayor = bearer("mayor", Role.MAYOR, municipalities=["Leuven"])
    assert (
        await registry.client.get(f"/zones/Leuven/evaluation/{YEAR}", headers=mayor)
    ).status_code == 403
    assert (await registry.client.get(url)).status_code == 401
    assert (
        await registry.client.get(f"/bins/{uuid.uuid4()}/evaluation/{YEAR}", headers=ADMIN)
    ).status_code == 404
    bad = await registry.client.get(url, params={"format": "pdf"}, headers=ADMIN)
    assert bad.status_code == 422
    # A zone's name cannot reshape the path sent on to intake and dispatch.
    odd = await registry.client.get(f"/zones/Leuven%3Fx=1%23/evaluation/{YEAR}", headers=ADMIN)
    assert odd.status_code == 200
    assert parts.paths[-1] == f"/zones/Leuven%3Fx%3D1%23/evaluation/{YEAR}"
