"""Four-eyes approval of large alerts, through intake's API, with dispatch (in this process,
on the real database) counting the members from its recipient projection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractRobustConnection

from services.dispatch import repository as dispatch_repository
from services.dispatch.main import DispatchSettings
from services.dispatch.main import build as build_dispatch
from services.intake.four_eyes import ReachClient
from services.intake.main import IntakeSettings, build
from shared.events import Visibility
from shared.runtime import ServiceRuntime
from tests.infrastructure import new_prefix
from tests.integration.intake.conftest import ADMIN, Intake, operator_of
from tests.integration.serving import serving

pytestmark = pytest.mark.integration

# Members an alert may reach in the tests' zones before a second operator must approve.
THRESHOLD = 5


class FourEyes:
    def __init__(self, intake: Intake, dispatch: ServiceRuntime) -> None:
        self.intake = intake
        self.dispatch = dispatch

    async def bin_with_members(self, members: int, municipality: str = "Leuven") -> uuid.UUID:
        """A BIN intake knows as active, whose ``members`` dispatch's projection holds."""
        bin_id = await self.intake.known_bin(municipality=municipality)
        async with self.dispatch.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                dispatch_repository.UPSERT_BIN,
                bin_id,
                self.intake.zone,
                municipality,
                ["sms"],
                ["email"],
                ["nl"],
                True,
            )
            ids = [uuid.uuid4() for _ in range(members)]
            await conn.copy_records_to_table(
                "recipient",
                records=[(m, "nl", [f"+3247{n:07d}"]) for n, m in enumerate(ids)],
                columns=("member_id", "language", "phones"),
            )
            await conn.copy_records_to_table(
                "membership", records=[(bin_id, m) for m in ids], columns=("bin_id", "member_id")
            )
        return bin_id

    async def issue(self, bins: list[uuid.UUID], operator: str = "op-1") -> dict[str, Any]:
        response = await self.intake.client.post(
            "/alerts",
            json={"bin_ids": [str(b) for b in bins], "texts": {"nl": "Let op: inbraak"}},
            headers=operator_of(self.intake.zone, operator),
        )
        assert response.status_code == 202, response.text
        accepted: dict[str, Any] = response.json()
        return accepted

    async def issued_ids(self, count: int) -> set[str]:
        bodies = await self.intake.events("alert.issued.v1", count)
        return {orjson.loads(b)["data"]["alert_id"] for b in bodies}

    async def audit(self, alert_id: str) -> list[tuple[str, str]]:
        response = await self.intake.client.get(
            "/audit", params={"subject_id": alert_id}, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        return sorted((e["action"], e["actor"]) for e in response.json())


async def _four_eyes(
    amqp: AbstractRobustConnection,
    amqp_url: str,
    database_url: str,
    reach: ReachClient | None = None,
    zone: str | None = None,
    **settings: Any,
) -> AsyncIterator[FourEyes]:
    # Dispatch on a topology of its own: here it only counts; it fans nothing out.
    dispatch, dispatch_app = build_dispatch(
        DispatchSettings(amqp_url=amqp_url, database_url=database_url, topology_prefix=new_prefix())
    )
    runtime, app = build(
        IntakeSettings(
            amqp_url=amqp_url,
            database_url=database_url,
            topology_prefix=new_prefix(),
            outbox_poll_interval=0.1,
            rate_limit_burst=1000,
            **{"four_eyes_members": {"default": THRESHOLD}, **settings},
        )
    )
    app.state.reach = reach or ReachClient(
        "http://dispatch", 2.0, transport=httpx.ASGITransport(app=dispatch_app)
    )
    async with (
        serving(dispatch, dispatch_app, amqp, database_url),
        serving(runtime, app, amqp, database_url) as client,
    ):
        channel = await amqp.channel()
        probe = await channel.declare_queue(exclusive=True)
        for visibility in (Visibility.PUBLIC, Visibility.PRIVATE):
            await probe.bind(runtime.topology.exchange_name(visibility), "#")
        intake = Intake(client, runtime, channel, probe, app)
        intake.zone = zone or intake.zone
        yield FourEyes(intake, dispatch)


@pytest.fixture
async def four_eyes(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> AsyncIterator[FourEyes]:
    async for system in _four_eyes(amqp, amqp_url, database_url):
        yield system


async def test_an_alert_within_the_threshold_goes_out_at_once(four_eyes: FourEyes) -> None:
    bin_id = await four_eyes.bin_with_members(THRESHOLD)
    accepted = await four_eyes.issue([bin_id])
    assert accepted["awaiting_approval"] is False
    assert accepted["approval_reasons"] == []
    assert accepted["reach"] == THRESHOLD
    assert accepted["alert_id"] in await four_eyes.issued_ids(1)
    assert await four_eyes.audit(accepted["alert_id"]) == [("alert.issued", "op-1")]


async def test_a_large_alert_waits_for_a_second_operator_of_the_zone(four_eyes: FourEyes) -> None:
    intake = four_eyes.intake
    large = await four_eyes.bin_with_members(THRESHOLD + 1)
    small = await four_eyes.bin_with_members(1)
    held = await four_eyes.issue([large])
    assert held["awaiting_approval"] is True
    assert held["approval_reasons"] == ["members_over_threshold"]
    assert held["reach"] == THRESHOLD + 1
    alert_id = held["alert_id"]

    # The outbox relays in order: once a later alert is out, the held one would be too.
    after = await four_eyes.issue([small])
    assert await four_eyes.issued_ids(1) == {after["alert_id"]}

    listed = await intake.client.get(
        "/alerts/awaiting-approval", headers=operator_of(intake.zone, "op-2")
    )
    assert [a["alert_id"] for a in listed.json()] == [alert_id]
    assert listed.json()[0]["issued_by"] == "op-1"
    elsewhere = await intake.client.get(
        "/alerts/awaiting-approval", headers=operator_of("Zone-Other", "op-9")
    )
    assert elsewhere.json() == []

    own = await intake.client.post(f"/alerts/{alert_id}/approval", headers=intake.operator)
    assert own.status_code == 403, own.text
    assert "their own" in own.json()["detail"]
    outsider = await intake.client.post(
        f"/alerts/{alert_id}/approval", headers=operator_of("Zone-Other", "op-9")
    )
    assert outsider.status_code == 403, outsider.text
    # A follow-up or feedback needs an alert that went out.
    follow_up = await intake.client.post(
        f"/alerts/{alert_id}/follow-ups",
        json={"texts": {"nl": "Opgelost"}},
        headers=intake.operator,
    )
    assert follow_up.status_code == 409, follow_up.text

    approved = await intake.client.post(
        f"/alerts/{alert_id}/approval", headers=operator_of(intake.zone, "op-2")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "op-2"
    assert approved.json()["awaiting_approval"] is False
    assert approved.json()["feedback_due"] is not None
    assert await four_eyes.issued_ids(2) == {after["alert_id"], alert_id}

    # The first operator sees who approved and when.
    seen = (await intake.client.get(f"/alerts/{alert_id}", headers=intake.operator)).json()
    assert seen["approved_by"] == "op-2"
    assert seen["approved_at"] is not None
    again = await intake.client.post(
        f"/alerts/{alert_id}/approval", headers=operator_of(intake.zone, "op-3")
    )
    assert again.status_code == 409, again.text
    assert "op-2" in again.json()["detail"]
    assert await four_eyes.audit(alert_id) == [
        ("alert.approved", "op-2"),
        ("alert.awaiting_approval", "op-1"),
    ]
    listed = await intake.client.get("/alerts/awaiting-approval", headers=intake.operator)
    assert listed.json() == []


async def test_bins_of_two_municipalities_wait_whatever_their_size(four_eyes: FourEyes) -> None:
    leuven = await four_eyes.bin_with_members(1, "Leuven")
    herent = await four_eyes.bin_with_members(1, "Herent")
    held = await four_eyes.issue([leuven, herent])
    assert held["awaiting_approval"] is True
    assert held["approval_reasons"] == ["several_municipalities"]
    assert held["reach"] == 2


async def test_a_cancelled_held_alert_is_never_announced_nor_approved(four_eyes: FourEyes) -> None:
    intake = four_eyes.intake
    held = await four_eyes.issue([await four_eyes.bin_with_members(THRESHOLD + 2)])
    alert_id = held["alert_id"]
    cancelled = await intake.client.post(
        f"/alerts/{alert_id}/cancel",
        json={"reason": "te breed"},
        headers=operator_of(intake.zone, "op-2"),
    )
    assert cancelled.status_code == 202, cancelled.text
    late = await intake.client.post(
        f"/alerts/{alert_id}/approval", headers=operator_of(intake.zone, "op-3")
    )
    assert late.status_code == 409, late.text
    after = await four_eyes.issue([await four_eyes.bin_with_members(1)])
    assert await four_eyes.issued_ids(1) == {after["alert_id"]}
    assert not [b for k, b in intake.published if k == "alert.cancelled.v1"]


async def test_a_zone_of_its_own_threshold(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    # The zone's own entry wins over the default.
    zone = f"Zone-{uuid.uuid4().hex[:8]}"
    async for system in _four_eyes(
        amqp, amqp_url, database_url, zone=zone, four_eyes_members={"default": 1, zone: 50}
    ):
        accepted = await system.issue([await system.bin_with_members(20)])
        assert accepted["awaiting_approval"] is False
        assert accepted["reach"] == 20


async def test_an_uncounted_reach_holds_the_alert(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    # Nothing listens on port 9 (discard): dispatch cannot say; the alert is held, not guessed.
    unreachable = ReachClient("http://127.0.0.1:9", 0.5)
    async for system in _four_eyes(amqp, amqp_url, database_url, reach=unreachable):
        held = await system.issue([await system.bin_with_members(1)])
        assert held["awaiting_approval"] is True
        assert held["approval_reasons"] == ["reach_unknown"]
        assert held["reach"] is None


async def test_dispatch_counts_only_for_the_police_of_the_bins_zone(four_eyes: FourEyes) -> None:
    bin_id = await four_eyes.bin_with_members(3)
    reach = four_eyes.intake.app.state.reach
    assert await reach.members([bin_id], _token(operator_of(four_eyes.intake.zone))) == 3
    # Refused (403) for another zone: intake then treats the reach as unknown.
    assert await reach.members([bin_id], _token(operator_of("Zone-Other"))) is None


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_held_alert_that_lapsed_is_not_approved(four_eyes: FourEyes) -> None:
    intake = four_eyes.intake
    bin_id = await four_eyes.bin_with_members(THRESHOLD + 1)
    lapses = datetime.now(UTC) + timedelta(seconds=1)
    held = await intake.client.post(
        "/alerts",
        json={
            "bin_ids": [str(bin_id)],
            "texts": {"nl": "Let op"},
            "expires_at": lapses.isoformat(),
        },
        headers=intake.operator,
    )
    assert held.status_code == 202, held.text
    assert held.json()["awaiting_approval"] is True
    await asyncio.sleep(1.2)
    late = await intake.client.post(
        f"/alerts/{held.json()['alert_id']}/approval", headers=operator_of(intake.zone, "op-2")
    )
    assert late.status_code == 409, late.text
    assert "expired" in late.json()["detail"]


async def test_a_hold_nobody_approves_in_time_is_cancelled_and_cannot_be_approved(
    four_eyes: FourEyes,
) -> None:
    intake = four_eyes.intake
    stale, fresh = [
        (await four_eyes.issue([await four_eyes.bin_with_members(THRESHOLD + 1)]))["alert_id"]
        for _ in range(2)
    ]
    async with intake.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE alert SET issued_at = issued_at - interval '61 minutes' WHERE alert_id = $1",
            uuid.UUID(stale),
        )
    # Past the hour (the default), a click that comes before the job does is refused ...
    late = await intake.client.post(
        f"/alerts/{stale}/approval", headers=operator_of(intake.zone, "op-2")
    )
    assert late.status_code == 409, late.text
    assert "waited more than 60 minutes" in late.json()["detail"]
    # ... and the job cancels it (once), leaving the fresh hold waiting.
    lapsed_holds = intake.app.state.lapsed_holds
    assert await lapsed_holds.cancel_lapsed() == 1
    assert await lapsed_holds.cancel_lapsed() == 0
    shown = (await intake.client.get(f"/alerts/{stale}", headers=intake.operator)).json()
    assert shown["cancelled_at"] is not None
    assert shown["cancelled_reason"] == "not approved within 60 minutes"
    waiting = await intake.client.get("/alerts/awaiting-approval", headers=intake.operator)
    assert [a["alert_id"] for a in waiting.json()] == [fresh]
    assert ("alert.cancelled", "four-eyes") in await four_eyes.audit(stale)
    # Never announced: nothing for dispatch to stop; the fresh one can still go out.
    approved = await intake.client.post(
        f"/alerts/{fresh}/approval", headers=operator_of(intake.zone, "op-2")
    )
    assert approved.status_code == 200, approved.text
    assert await four_eyes.issued_ids(1) == {fresh}
    # Relayed in order: a cancellation enqueued by the job would have come before it.
    assert [key for key, _ in intake.published if key == "alert.cancelled.v1"] == []
