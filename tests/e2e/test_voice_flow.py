"""Voice from intake's API to a SIP callee: every service its own process, the connectors
ringing real baresip callees on loopback (auto-answering, recording what they hear).

An urgent alert to a BIN whose plan is voice: the Dutch member's phone answers and its
owner presses 1, the French member's phone answers and nobody presses anything (a voicemail
box, as far as SIP can tell). Both recordings hold the alert said twice and the prompt in
the member's language; dispatch's progress shows one confirmed of two delivered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.connectors.adapters.tts import speak
from services.connectors.domain.voice_outcomes import spoken_parts
from tests.e2e.api_client import coordinator_of
from tests.e2e.connectors_system import (
    connectors_system,
    follow,
    issue_alert,
    members,
    register_bin,
    smpp_provider,
    start,
)
from tests.e2e.test_connectors_flow import by_channel, sms_texts
from tests.helpers import eventually
from tests.infrastructure import Infrastructure
from tests.peers.smsc import SmscSimulator
from tests.peers.voice import Callee, SippCallee, loud_seconds, speech_seconds
from tests.ports import free_port_run

pytestmark = pytest.mark.e2e
ALERT = {
    "nl": "Verdachte wagen in de Abdijstraat. Bel 101 bij waarneming.",
    "fr": "Voiture suspecte rue de l'Abbaye. Appelez le 101.",
}


def trunk(routes: dict[str, str], folder: Path) -> dict[str, Any]:
    return {
        "name": "trunk",
        "kind": "sip",
        "domain": "127.0.0.1:9",  # every member's number is routed to its callee
        "caller_id": "+3216123456",
        "channels": 2,
        "ring_seconds": 10,
        "listen_seconds": 6,
        "first_port": free_port_run(6),
        "rtp_first_port": free_port_run(40),
        "work_folder": str(folder),
        "number_routes": routes,
    }


@pytest.mark.timeout(400)
async def test_an_urgent_voice_alert_rings_the_members_and_shows_who_confirmed(
    infra: Infrastructure, tmp_path: Path
) -> None:
    dutch, french = members(2, block=8, emails=False)
    assert dutch.phone and french.phone
    async with (
        Callee(tmp_path / "dutch", dutch.phone, confirm_after=None) as answering,
        Callee(tmp_path / "french", french.phone) as voicemail,
    ):
        # The Dutch member presses 1 once the prompt has begun (after the message twice).
        message_seconds = len(await speak(ALERT["nl"], "nl")) / 2 / 8000
        answering.confirm_after = 2 * message_seconds + 3.0
        routes = {dutch.phone: answering.host_port, french.phone: voicemail.host_port}
        with connectors_system(infra.database_url, infra.amqp_url, tmp_path / "logs") as system:
            # Voice is the connectors' here: the simulator answers push only.
            system.service_env["gateway_simulator"] = {"BIN_GATEWAY_CHANNELS": '["push"]'}
            start(system, [trunk(routes, tmp_path / "voice")])
            async with httpx.AsyncClient(timeout=30) as client:
                bin_id, _ = await register_bin(
                    client, system, [dutch, french], urgent_channels=["voice"]
                )
                alert = await issue_alert(client, system, bin_id, ALERT)
                progress = await follow(client, alert, targeted=2, timeout=150)
            logs = system.log("connectors") + system.log("dispatch")
        await answering.wait_closed(1)
        await voicemail.wait_closed(1)

    assert progress["delivered"] == 2 and progress["failed"] == 0, progress
    assert progress["confirmed"] == 1
    assert by_channel(progress) == {"voice": {"targeted": 2, "delivered": 2}}
    assert progress["channels"]["voice"]["confirmed"] == 1
    # Counted at the callees: one call each, one key press, what each heard.
    assert (answering.answered, voicemail.answered, answering.confirmed) == (1, 1, 1)
    [heard_fr] = voicemail.recordings()
    spoken_fr = [loud_seconds(await speak(p, "fr"), 8000) for p in spoken_parts(ALERT["fr"], "fr")]
    assert 0.9 * sum(spoken_fr) <= speech_seconds(heard_fr) <= 1.1 * sum(spoken_fr)
    [heard_nl] = answering.recordings()
    once_nl = loud_seconds(await speak(ALERT["nl"], "nl"), 8000)
    assert speech_seconds(heard_nl) > 1.8 * once_nl  # the message twice before the key press
    # No service wrote a member's number into its log.
    for number in (dutch.phone, french.phone):
        assert number not in logs


async def phones_projected(system: Any, count: int) -> bool:
    """Dispatch's projection holds ``count`` numbers in all (a wait for the registry's
    member.changed.v1, read in dispatch's schema)."""
    conn = await asyncpg.connect(system.database_url)
    try:
        found: int = await conn.fetchval(
            "SELECT coalesce(sum(cardinality(phones)), 0) FROM dispatch.recipient"
        )
    finally:
        await conn.close()
    return found == count


@pytest.mark.timeout(400)
async def test_a_busy_first_number_goes_on_to_the_second_and_no_answer_falls_back_to_sms(
    infra: Infrastructure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two retries, a second apart: the plan's retries, quickly. Every service declares the
    # retry queues with these TTLs, so all of them get it (from the test's environment).
    monkeypatch.setenv("BIN_RETRY_DELAYS", "[1, 1]")
    busy_first, unanswered = members(2, block=9, emails=False)
    assert busy_first.phone and unanswered.phone
    second = "+3216990001"  # busy_first's second number, its landline
    with SmscSimulator(dlr_delay=0.02) as smsc:
        async with (
            SippCallee(tmp_path, "reject", "486 Busy Here") as busy,
            Callee(tmp_path / "landline", second) as landline,
            SippCallee(tmp_path, "ring_forever") as ringing,
        ):
            routes = {
                busy_first.phone: busy.host_port,
                second: landline.host_port,
                unanswered.phone: ringing.host_port,
            }
            config = {**trunk(routes, tmp_path / "voice"), "ring_seconds": 2}
            with connectors_system(infra.database_url, infra.amqp_url, tmp_path / "logs") as system:
                system.service_env["gateway_simulator"] = {"BIN_GATEWAY_CHANNELS": '["push"]'}
                start(system, [config, smpp_provider(smsc)])
                async with httpx.AsyncClient(timeout=30) as client:
                    bin_id, ids = await register_bin(
                        client, system, [busy_first, unanswered], urgent_channels=["voice", "sms"]
                    )
                    changed = await client.patch(
                        f"{system.url('registry')}/members/{ids[busy_first.n]}",
                        json={"phones": [busy_first.phone, second]},
                        headers=coordinator_of(bin_id),
                    )
                    assert changed.status_code == 200, changed.text
                    await eventually(lambda: phones_projected(system, 3), timeout=60, interval=0.3)
                    alert = await issue_alert(client, system, bin_id, ALERT)
                    progress = await follow(client, alert, targeted=2, timeout=150)
            await landline.wait_closed(1)
        texts = await sms_texts(smsc)

    assert progress["delivered"] == 2 and progress["failed"] == 0, progress
    assert progress["confirmed"] == 0
    assert by_channel(progress) == {
        "voice": {"targeted": 2, "delivered": 1, "permanent_failure": 1},
        "sms": {"targeted": 1, "delivered": 1},
    }
    # Counted at the callees: the busy number once, then the second number answered; the
    # unanswered number rung on the first attempt and on each of the plan's two retries,
    # each cancelled at the ring time; then the plan's next channel: an SMS, at the SMSC.
    assert (busy.invites, landline.answered) == (1, 1)
    assert (ringing.invites, ringing.cancels) == (3, 3)
    assert list(texts) == [unanswered.phone.removeprefix("+")]  # as SMPP carries it
