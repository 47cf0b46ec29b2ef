"""``make bench`` (voice): the SIP voice adapter placing ``BENCH_VOICE_RECIPIENTS`` calls
(300) over a trunk of ``BENCH_VOICE_CHANNELS`` channels (30): that many baresip 1.0.0 user
agents, one call each at a time, to SIPp answering every call after ``BENCH_VOICE_ANSWER_MS``
(2,000 ms) of ringing and keeping it until our BYE (the message file played to its end:
the alert twice, the prompt, ``BENCH_VOICE_LISTEN_SECONDS`` of silence).

Measured: the trunk's channel occupancy while the fan-out is under way (channels in a call,
sampled every 0.1 s from the adapter's gauge, over the channel count, from the first call
to the last one ending); the total time against the floor (recipients x call length /
channels, the call length being the ringing plus the file's length); the calls SIPp
received (counted at the callee: must equal the recipients); CPU of this process (the
adapter) and of the baresip processes. Written into ``bench/results/connectors.json`` under
``voice`` (the SMS cases' keys are kept).

At the adapter, not through RabbitMQ and the ledger: what is measured is how well the
channels are kept busy; the connector's per-batch costs are in the SMS cases.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
import wave
from pathlib import Path
from typing import Any

from bench.harness import ROOT, cpu_seconds, say, write_results
from services.connectors import metrics
from services.connectors.adapters.voice import SipTrunkConfig, SipVoiceProvider
from services.connectors.ports import OutgoingMessage, SubmitStatus
from tests.integration.connectors.conftest import RecordingSink
from tests.peers.voice import SippCallee
from tests.ports import free_port_run

RESULTS = ROOT / "bench" / "results" / "connectors.json"
RECIPIENTS = int(os.environ.get("BENCH_VOICE_RECIPIENTS", "300"))
CHANNELS = int(os.environ.get("BENCH_VOICE_CHANNELS", "30"))
ANSWER_MS = int(os.environ.get("BENCH_VOICE_ANSWER_MS", "2000"))
LISTEN_SECONDS = float(os.environ.get("BENCH_VOICE_LISTEN_SECONDS", "2"))
TEXT = os.environ.get("BENCH_VOICE_TEXT", "Verdachte wagen in de Abdijstraat.")
SAMPLE_SECONDS = 0.1


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


async def sample_in_use(name: str, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    gauge = metrics.VOICE_BUSY_CHANNELS.labels(name)
    while not stop.is_set():
        samples.append((time.monotonic(), gauge._value.get()))
        await asyncio.sleep(SAMPLE_SECONDS)


def agents_cpu(provider: SipVoiceProvider) -> float:
    total = 0.0
    for channel in provider._channels:
        process = channel.agent._process
        if process is not None and process.returncode is None:
            total += cpu_seconds(process.pid)
    return total


async def run(folder: Path) -> dict[str, Any]:
    async with SippCallee(folder, "answer_after", pause_ms=ANSWER_MS) as callee:
        config = SipTrunkConfig(
            name="bench-trunk",
            domain="127.0.0.1:9",
            caller_id="+3216123456",
            channels=CHANNELS,
            ring_seconds=30,
            listen_seconds=LISTEN_SECONDS,
            first_port=free_port_run(3 * CHANNELS),
            rtp_first_port=free_port_run(20 * CHANNELS),
            work_folder=folder / "voice",
            number_routes={"+32": callee.host_port},
        )
        provider = SipVoiceProvider(config)
        await provider.start(RecordingSink())
        try:
            audio = await provider.audio.file_for(TEXT, "nl")
            file_seconds = wav_seconds(audio)
            messages = [
                OutgoingMessage(uuid.uuid4(), f"+32470{i:06d}", "nl", TEXT)
                for i in range(RECIPIENTS)
            ]
            samples: list[tuple[float, float]] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_in_use(config.name, samples, stop))
            cpu_before, agents_before = cpu_seconds(os.getpid()), agents_cpu(provider)
            started = time.monotonic()
            results = await provider.send(messages)
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(os.getpid()) - cpu_before
            agents = agents_cpu(provider) - agents_before
            stop.set()
            await sampler
        finally:
            await provider.stop()
        invites = callee.invites
    busy = [in_use for at, in_use in samples if started <= at <= started + elapsed]
    call_seconds = ANSWER_MS / 1000 + file_seconds
    floor = RECIPIENTS * call_seconds / CHANNELS
    delivered = sum(r.status is SubmitStatus.DELIVERED for r in results)
    return {
        "recipients": RECIPIENTS,
        "channels": CHANNELS,
        "answer_after_seconds": ANSWER_MS / 1000,
        "message_file_seconds": round(file_seconds, 2),
        "call_seconds": round(call_seconds, 2),
        "delivered": delivered,
        "calls_at_callee": invites,
        "total_seconds": round(elapsed, 1),
        "floor_seconds": round(floor, 1),
        "total_over_floor": round(elapsed / floor, 3),
        "channel_occupancy": round(statistics.fmean(busy) / CHANNELS, 3) if busy else None,
        "adapter_cpu_seconds": round(cpu, 1),
        "baresip_cpu_seconds": round(agents, 1),
    }


async def main() -> int:
    say(f"voice: {RECIPIENTS} calls over {CHANNELS} channels, answered after {ANSWER_MS} ms")
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
        result = await run(Path(folder))
    write_results(RESULTS, {"voice": result})
    say(json.dumps(result))
    problems = result["delivered"] != RECIPIENTS or result["calls_at_callee"] != RECIPIENTS
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
