"""Police news to members' mailboxes: the digest compiles it, dispatch fans it out by e-mail
to the gateway, each member in their language; every hop a real process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared import topology as topo
from shared.auth import AuthSettings, Role, mint_token
from shared.events import PoliceNewsCategory, PoliceNewsPublished, PoliceNewsPublishedData
from shared.messaging.publisher import Publisher
from tests.e2e.api_client import register_bin_with_members, registry_events_consumed
from tests.e2e.system import RunningSystem
from tests.helpers import eventually


async def test_a_digest_reaches_every_member_by_email(system: RunningSystem) -> None:
    operator = mint_token(AuthSettings(), "op-1", [Role.OPERATOR], police_zones=["Leuven"])
    headers = {"Authorization": f"Bearer {operator}"}
    async with httpx.AsyncClient(timeout=10) as client:
        bin_id, _ = await register_bin_with_members(client, system, 6)

        # The BIN and its six members have reached dispatch's projection.
        async def projected() -> bool:
            return await registry_events_consumed(client, system) >= 7

        await eventually(projected, timeout=30)

        publisher = Publisher(system.amqp_url, topo.Topology(prefix=system.prefix))
        await publisher.connect()
        await publisher.publish(
            PoliceNewsPublished.create(
                source="test",
                data=PoliceNewsPublishedData(
                    news_id=uuid.uuid4(),
                    police_zone="Leuven",
                    category=PoliceNewsCategory.BURGLARY_HOME,
                    occurred_at=datetime.now(UTC) - timedelta(hours=2),
                    place="Leuven, Abdijstraat",
                    published_info="Inbraak via de achterdeur, niets gestolen.",
                ),
            )
        )
        await publisher.close()

        digest = system.url("digest")

        async def preview_has_news() -> dict[str, Any] | None:
            # By default the preview shows the next digest: the one carrying today's news.
            response = await client.get(f"{digest}/bins/{bin_id}/digest/preview", headers=headers)
            body: dict[str, Any] = response.json()
            return body if response.status_code == 200 and body["items"] == 1 else None

        preview = await eventually(preview_has_news, timeout=30)
        assert set(preview["renderings"]) == {"nl", "fr"}

        assert (await client.get(f"{digest}/bins/{bin_id}/digest/preview")).status_code == 401
        resent = await client.post(
            f"{digest}/bins/{bin_id}/digest/{preview['day']}/resend", headers=headers
        )
        assert resent.status_code == 202, resent.text
        digest_id = resent.json()["digest_id"]

        async def delivered() -> dict[str, Any] | None:
            response = await client.get(
                f"{system.url('dispatch')}/fanouts/{digest_id}/progress", headers=headers
            )
            body: dict[str, Any] = response.json()
            ok = response.status_code == 200 and body["complete"] and body["targeted"] == 6
            return body if ok else None

        progress = await eventually(delivered, timeout=30)
        assert progress["delivered"] == 6
        # Each member got the digest in their own language: three Dutch, three French.
        stats = (await client.get(f"{system.url('gateway_simulator')}/stats")).json()
        assert stats["languages"]["email:nl"] == 3
        assert stats["languages"]["email:fr"] == 3
        assert set(progress["channels"]) == {"email"}
