"""The SIP voice adapter against real callees on loopback: a baresip that answers and records
what it hears (and presses 1 when told to), SIPp answering 486 Busy or 404, SIPp ringing
without ever answering. Counted at the callee side: what arrived, not what we say we sent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection
from prometheus_client import REGISTRY

from services.connectors.adapters.tts import PAUSE_SECONDS, speak
from services.connectors.adapters.voice import SipTrunkConfig, SipVoiceProvider
from services.connectors.domain.voice_outcomes import spoken_parts
from services.connectors.lease import Lease
from services.connectors.ports import OutgoingMessage, SubmitStatus
from services.connectors.trunk_channels import TrunkChannels
from tests.integration.connectors.conftest import RecordingSink
from tests.integration.connectors.harness import running_connector
from tests.peers.voice import Callee, SippCallee, loud_seconds, speech_seconds, wav_seconds
from tests.ports import free_port_run

pytestmark = pytest.mark.integration
ALERT = "Inbraak gemeld in de Kerkstraat. Twee personen in het zwart, richting station."
# Each callee gets numbers of its own prefix, routed straight to it (no trunk in tests).
FIRST = "+3247100"
SECOND = "+3247200"


def trunk_config(tmp_path: Path, routes: dict[str, str], **overrides: Any) -> SipTrunkConfig:
    settings: dict[str, Any] = {
        "name": "trunk",
        "domain": "127.0.0.1:9",  # nothing listens there: every test number is routed
        "caller_id": "+3250123456",
        "channels": 2,
        "ring_seconds": 4.0,
        "listen_seconds": 4.0,
        "first_port": free_port_run(3 * 4),
        "rtp_first_port": free_port_run(20 * 4),
        "work_folder": tmp_path / "voice",
        "number_routes": routes,
        **overrides,
    }
    return SipTrunkConfig(**settings)


@asynccontextmanager
async def provider(config: SipTrunkConfig) -> AsyncIterator[SipVoiceProvider]:
    voice = SipVoiceProvider(config)
    await voice.start(RecordingSink())
    try:
        yield voice
    finally:
        await voice.stop()


def calls(result: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "bin_connector_voice_calls_total", {"provider": "trunk", "result": result}
        )
        or 0.0
    )


def call_seconds() -> float:
    return (
        REGISTRY.get_sample_value("bin_connector_voice_call_seconds_total", {"provider": "trunk"})
        or 0.0
    )


def message(address: str, language: str = "nl", text: str = ALERT) -> OutgoingMessage:
    return OutgoingMessage(uuid.uuid4(), address, language, text)


async def expected_speech(text: str, language: str) -> tuple[float, float]:
    """Seconds of speech espeak-ng says for the call (message twice, then the prompt), and
    for the message once, measured as the callee's recording is."""
    parts = [loud_seconds(await speak(part, language), 8000)
             for part in spoken_parts(text, language)]  # fmt: skip
    return sum(parts), parts[0]


async def test_an_answered_call_speaks_the_message_twice_and_the_prompt(tmp_path: Path) -> None:
    async with Callee(tmp_path / "callee", f"{SECOND}02") as callee:
        config = trunk_config(tmp_path, {SECOND: callee.host_port})
        async with provider(config) as voice:
            [result] = await voice.send([message(f"{SECOND}02")])
        await callee.wait_closed(1)
    assert result.status is SubmitStatus.DELIVERED
    assert result.confirmed is False
    assert callee.answered == 1
    [recording] = callee.recordings()
    # The whole file was played (speech, pauses, the listening time), and what the callee
    # heard as speech is about what espeak-ng said: not the message once, not silence.
    spoken, once = await expected_speech(ALERT, "nl")
    heard = speech_seconds(recording)
    assert 0.9 * spoken <= heard <= 1.1 * spoken, (heard, spoken)
    assert heard > 2 * once
    # And the call lasted the whole file: speech, pauses and the time to press 1.
    assert wav_seconds(recording) >= heard + 2 * PAUSE_SECONDS + config.listen_seconds - 1


async def test_pressing_1_confirms_the_call(tmp_path: Path) -> None:
    async with Callee(tmp_path / "callee", f"{SECOND}02", confirm_after=3.0) as callee:
        config = trunk_config(tmp_path, {SECOND: callee.host_port}, listen_seconds=10.0)
        async with provider(config) as voice:
            [result] = await voice.send([message(f"{SECOND}02", "fr", "Alerte cambriolage.")])
        await callee.wait_closed(1)
    assert callee.confirmed == 1
    assert result.status is SubmitStatus.DELIVERED
    assert result.confirmed is True
    # Hung up on the key press, not at the end of the file.
    [recording] = callee.recordings()
    assert wav_seconds(recording) < 6


async def test_a_busy_first_number_goes_on_to_the_second(tmp_path: Path) -> None:
    async with (
        SippCallee(tmp_path, "reject", "486 Busy Here") as busy,
        Callee(tmp_path / "callee", f"{SECOND}02") as callee,
    ):
        config = trunk_config(tmp_path, {FIRST: busy.host_port, SECOND: callee.host_port})
        before = {r: calls(r) for r in ("busy", "answered")}
        seconds = call_seconds()
        async with provider(config) as voice:
            [result] = await voice.send([message(f"{FIRST}01,{SECOND}02")])
        await callee.wait_closed(1)
    # The per-call metrics: one busy call, one answered, and the answered one's seconds.
    assert {r: calls(r) - n for r, n in before.items()} == {"busy": 1, "answered": 1}
    assert call_seconds() - seconds > 10
    assert busy.invites == 1
    assert callee.answered == 1
    assert result.status is SubmitStatus.DELIVERED
    assert result.detail is not None and "busy" in result.detail


async def test_no_answer_on_every_number_is_a_temporary_failure(tmp_path: Path) -> None:
    async with (
        SippCallee(tmp_path, "ring_forever") as ringing,
        SippCallee(tmp_path, "reject", "486 Busy Here") as busy,
    ):
        config = trunk_config(tmp_path, {FIRST: ringing.host_port, SECOND: busy.host_port},
                              ring_seconds=2.0)  # fmt: skip
        async with provider(config) as voice:
            [result] = await voice.send([message(f"{FIRST}01,{SECOND}02")])
    assert (ringing.invites, ringing.cancels, busy.invites) == (1, 1, 1)
    assert result.status is SubmitStatus.TEMPORARY_FAILURE
    assert result.confirmed is None


async def test_an_invalid_number_is_a_permanent_failure(tmp_path: Path) -> None:
    async with SippCallee(tmp_path, "reject", "404 Not Found") as nobody:
        config = trunk_config(tmp_path, {FIRST: nobody.host_port})
        async with provider(config) as voice:
            results = await voice.send([message(f"{FIRST}01"), message("0470 12 34 56")])
    assert nobody.invites == 1  # the malformed number was never dialled
    assert [r.status for r in results] == [SubmitStatus.PERMANENT_FAILURE] * 2


async def test_the_connector_receipts_confirmed_once_and_answers_a_copy_from_the_ledger(
    tmp_path: Path, amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    confirmer, listener = uuid.uuid4(), uuid.uuid4()
    async with (
        Callee(tmp_path / "one", f"{FIRST}01", confirm_after=2.0) as pressing,
        Callee(tmp_path / "two", f"{SECOND}02") as silent,
    ):
        config = trunk_config(tmp_path, {FIRST: pressing.host_port, SECOND: silent.host_port},
                              listen_seconds=3.0)  # fmt: skip
        async with running_connector(amqp, amqp_url, database_url, [config]) as c:
            batch = [(confirmer, f"{FIRST}01", ALERT), (listener, f"{SECOND}02", ALERT)]
            work = await c.send(batch, channel="voice")
            outcomes = await c.receipts.wait([confirmer, listener], timeout=90)
            # dispatch's redelivered copy of the batch: answered, nobody called again
            await c.publish(work)
            await c.receipts.wait_count(4, timeout=30)
        await pressing.wait_closed(1)
        await silent.wait_closed(1)
    assert outcomes == {confirmer: "delivered", listener: "delivered"}
    assert c.receipts.confirmed == {confirmer: [True, True], listener: [False, False]}
    assert (pressing.answered, silent.answered) == (1, 1)
    assert len(pressing.recordings()) == len(silent.recordings()) == 1


async def test_the_trunks_channels_are_shared_by_replicas_and_freed_by_a_dead_one(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    async with running_connector(amqp, amqp_url, database_url, []) as c:
        pool = c.runtime.pool
        one, two = Lease(database_url), Lease(database_url)
        await one.start()
        await two.start()
        try:
            first = TrunkChannels(pool, one, "trunk", 2, poll=0.05)
            second = TrunkChannels(pool, two, "trunk", 2, poll=0.05)
            await first.configure()
            taken = [await first.take(), await second.take()]
            assert sorted(slot for slot, _ in taken) == [0, 1]
            assert await first.in_use() == 2
            waiting = asyncio.create_task(second.take())
            await asyncio.sleep(0.3)
            assert not waiting.done()  # both channels are in calls, whichever replica's
            await first.give_back(*taken[0])
            async with asyncio.timeout(5):
                await waiting
            # The second replica dies mid-call: its channels are free at once, no sweeper.
            await two.stop()
            async with asyncio.timeout(5):
                again = [await first.take(), await first.take()]
            assert sorted(slot for slot, _ in again) == [0, 1]
        finally:
            await one.stop()
            await two.stop()


async def test_an_urgent_call_takes_the_next_free_channel_before_waiting_bulk_calls(
    tmp_path: Path,
) -> None:
    async with SippCallee(tmp_path, "answer_after", pause_ms=200) as callee:
        config = trunk_config(tmp_path, {"+32": callee.host_port}, channels=1,
                              listen_seconds=1.0)  # fmt: skip
        async with provider(config) as voice:
            bulk = [
                OutgoingMessage(uuid.uuid4(), f"{FIRST}0{i}", "nl", "Tip.", priority="bulk")
                for i in range(3)
            ]
            digest = asyncio.create_task(voice.send(bulk))
            await asyncio.sleep(1.0)  # the first bulk call is under way, two wait
            urgent = OutgoingMessage(uuid.uuid4(), f"{SECOND}09", "nl", "Tip.")
            [alert] = await voice.send([urgent])
            results = await digest
    assert alert.status is SubmitStatus.DELIVERED
    assert all(r.status is SubmitStatus.DELIVERED for r in results)
    assert callee.invited_in_order() == [f"{FIRST}00", f"{SECOND}09", f"{FIRST}01", f"{FIRST}02"]


async def test_a_number_whose_far_end_never_answers_the_invite_is_unreachable(
    tmp_path: Path,
) -> None:
    nobody = f"127.0.0.1:{free_port_run(2)}"  # nothing listens: the INVITE goes unanswered
    config = trunk_config(tmp_path, {FIRST: nobody}, ring_seconds=2.0)
    async with provider(config) as voice:
        [result] = await voice.send([message(f"{FIRST}01")])
    assert result.status is SubmitStatus.TEMPORARY_FAILURE
    assert result.detail == "number 1 of 1: unreachable"
