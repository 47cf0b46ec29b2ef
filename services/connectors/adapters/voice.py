"""Voice over SIP: every number of the member rung in turn through the zone's trunk or PBX,
the alert spoken twice by espeak-ng, the member asked to press 1.

The media are baresip's (Debian 12's 1.0.0), driven over its ``ctrl_tcp`` JSON interface.
The adapter starts the user agents itself, one baresip process per trunk channel, each
carrying one call at a time: 1.0.0 switches the audio source of all of a process's calls
at once (``ausrc``), so one process per call is the only way for concurrent calls to say
different messages (languages, alerts), and a process that dies takes one call with it.
Started by the adapter rather than beside the connector, so the agents' number, ports and
accounts come from the provider's config, and they live and die with the connector.

No reports follow: a call's result is final when the call ends, so :meth:`send` answers
DELIVERED (with ``confirmed``), TEMPORARY_FAILURE or PERMANENT_FAILURE per delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from services.connectors import metrics
from services.connectors.adapters.baresip_agent import AgentSpec, BaresipAgent
from services.connectors.adapters.baresip_ctrl import AgentEvent, ControlError
from services.connectors.adapters.tts import MessageAudio, SpeechFailed, silence, write_wav
from services.connectors.config import ProviderConfig, read_secret
from services.connectors.domain.voice_outcomes import (
    CONFIRM_KEY,
    CallResult,
    classify_close,
    is_valid_number,
    member_outcome,
    numbers,
    reason_text,
)
from services.connectors.ports import OutgoingMessage, ReportSink, SubmitResult, SubmitStatus
from services.connectors.priority_gate import PriorityGate
from services.connectors.trunk_channels import TrunkChannels
from shared.logging import get_logger

log = get_logger(__name__)


class SipTrunkConfig(ProviderConfig):
    kind: Literal["sip"] = "sip"
    channel: Literal["voice"] = "voice"
    # Where calls go: the trunk's or PBX's host[:port]; numbers become sip:<E.164>@domain.
    domain: str = Field(min_length=1, max_length=200)
    # An outbound proxy when the trunk wants one ("sip:proxy.example:5060;transport=udp").
    outbound_proxy: str | None = None
    # Register with the trunk (seconds between registrations); None: IP-authenticated trunk.
    register_seconds: int | None = Field(default=None, ge=60)
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    # The From user: the BIN's (or the zone's) number where the trunk lets us show it.
    caller_id: str = Field(pattern=r"^\+?[0-9A-Za-z._-]{1,40}$")
    display_name: str = Field(default="BIN", max_length=60)
    # The trunk's channel count: calls at once through it, all replicas together (held in
    # PostgreSQL: services/connectors/trunk_channels.py).
    channels: int = Field(default=4, ge=1, le=500)
    # User agents (baresip processes) in each replica, so calls at once per replica; by
    # default the channel count (one replica can fill the trunk, more wait for a channel).
    agents: int | None = Field(default=None, ge=1, le=500)
    ring_seconds: float = Field(default=30.0, gt=0, le=180)
    # After the prompt: how long the member may take to press 1 before the call ends.
    listen_seconds: float = Field(default=8.0, ge=1, le=60)
    max_call_seconds: float = Field(default=300.0, gt=0)
    words_per_minute: int = Field(default=150, ge=80, le=400)
    # The local address the agents bind SIP and RTP to, and their ports: agent i takes
    # SIP first_port + 3i (and + 1, where baresip 1.0.0 always listens for SIP over TLS),
    # its control port first_port + 3i + 2, RTP rtp_first_port + 20i to + 20i + 19.
    local_address: str = "127.0.0.1"
    first_port: int = Field(default=15060, ge=1024, le=65000)
    rtp_first_port: int = Field(default=20000, ge=1024, le=60000)
    # Agents' config folders and the speech cache.
    work_folder: Path = Path("/tmp/bin-voice")  # noqa: S108
    # Number prefixes sent to another SIP host than ``domain`` (internal extensions of the
    # zone's PBX, a test callee): longest prefix first.
    number_routes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _concurrency_is_the_agents(cls, values: Any) -> Any:
        # Calls handed over at once = the agents: each is marked in the ledger just before
        # it is placed, so a replica killed mid-fan-out leaves in doubt only the calls it
        # was making (router.ProviderSlot, one call per chunk).
        if isinstance(values, dict) and "concurrency" not in values:
            values = {**values, "concurrency": values.get("agents") or values.get("channels", 4)}
        return values

    @model_validator(mode="after")
    def _one_password(self) -> SipTrunkConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give at most one of password and password_file")
        return self


def call_uri(config: SipTrunkConfig, number: str) -> str:
    for prefix in sorted(config.number_routes, key=len, reverse=True):
        if number.startswith(prefix):
            return f"sip:{number}@{config.number_routes[prefix]}"
    return f"sip:{number}@{config.domain}"


def account_line(config: SipTrunkConfig, agent_address: str) -> str:
    """baresip's accounts line for one agent. Holds the trunk's password."""
    del agent_address
    aor = f'"{config.display_name}" <sip:{config.caller_id}@{config.domain}>'
    params = [f"regint={config.register_seconds or 0}", "answermode=manual"]
    if config.username:
        params.append(f"auth_user={config.username}")
    secret = read_secret(config.password, config.password_file)
    if secret:
        params.append(f"auth_pass={secret}")
    if config.outbound_proxy:
        params.append(f'outbound="{config.outbound_proxy}"')
    return aor + ";" + ";".join(params)


@dataclass
class CallSeen:
    ringing: bool = False
    answered: bool = False
    confirmed: bool = False
    reason: str | None = None


class Channel:
    """One trunk channel: one baresip process, one call at a time."""

    def __init__(self, index: int, config: SipTrunkConfig) -> None:
        self.index = index
        self.config = config
        base = config.first_port + 3 * index
        rtp = config.rtp_first_port + 20 * index
        folder = config.work_folder / config.name / f"agent-{index}"
        silence = config.work_folder / config.name / "silence.wav"
        self.spec = AgentSpec(
            folder=folder,
            address=config.local_address,
            sip_port=base,
            ctrl_port=base + 2,
            account=account_line(config, config.local_address),
            rtp_ports=(rtp, rtp + 19),
            audio_source=f"aufile,{silence}",
            local_timeout=int(config.ring_seconds) + 30,
        )
        self.agent = BaresipAgent(self.spec, self._on_event)
        self._events: asyncio.Queue[AgentEvent] = asyncio.Queue()

    def _on_event(self, event: AgentEvent) -> None:
        self._events.put_nowait(event)

    async def ensure_running(self) -> None:
        if not self.agent.alive() or self.agent.control.closed.is_set():
            await self.agent.stop()
            await self.agent.start()

    async def call(self, uri: str, audio: Path) -> tuple[CallResult, str, float]:
        """Rings ``uri`` and plays ``audio``; returns the result, a short reason and the
        seconds the call was up."""
        await self.ensure_running()
        while not self._events.empty():  # what the last call left behind
            self._events.get_nowait()
        control = self.agent.control
        await control.command("ausrc", f"aufile,{audio}")
        await control.command("dial", uri)
        seen = CallSeen()
        call_id: str | None = None
        cancelled = False
        loop = asyncio.get_running_loop()
        ring_until = loop.time() + self.config.ring_seconds
        up_at: float | None = None
        while True:
            until = (up_at + self.config.max_call_seconds) if up_at is not None else ring_until
            try:
                event = await asyncio.wait_for(self._events.get(), max(0.0, until - loop.time()))
            except TimeoutError:
                # Unanswered at the ring time: CANCEL; up too long: BYE.
                cancelled = up_at is None
                await self._hang_up()
                seen.reason = seen.reason or ("ring time over" if cancelled else "too long")
                break
            if event.call_id is not None:
                if call_id is None:
                    call_id = event.call_id
                elif event.call_id != call_id:
                    continue
            if event.type == "CALL_RINGING":
                seen.ringing = True
            elif event.type == "CALL_ESTABLISHED":
                seen.answered = True
                up_at = loop.time()
            elif event.type == "CALL_DTMF_START" and event.param == CONFIRM_KEY and up_at:
                seen.confirmed = True
                await self._hang_up()
                break
            elif event.type == "CALL_CLOSED":
                seen.reason = event.param
                break
        seconds = loop.time() - up_at if up_at is not None else 0.0
        result = classify_close(seen.reason, answered=seen.answered, confirmed=seen.confirmed,
                                ringing=seen.ringing, cancelled=cancelled)  # fmt: skip
        why = "" if seen.answered else ("" if cancelled else reason_text(seen.reason))
        return result, why, seconds

    async def _hang_up(self) -> None:
        with contextlib.suppress(ControlError):
            await self.agent.control.command("hangup")
        # Wait for baresip to close the call, so the channel is free when we say it is.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while (await self._events.get()).type != "CALL_CLOSED":
                    pass


class SipVoiceProvider:
    # One call per provider call (router.ProviderSlot): its result is recorded when it ends.
    chunk = 1

    def __init__(self, config: SipTrunkConfig) -> None:
        self.name: str = config.name
        self.channel: str = config.channel
        self.config = config
        self.audio = MessageAudio(
            config.work_folder / config.name / "audio", config.listen_seconds,
            config.words_per_minute,
        )  # fmt: skip
        agents = config.agents or config.channels
        self._channels = [Channel(i, config) for i in range(agents)]
        self._free: asyncio.Queue[Channel] = asyncio.Queue()
        self._gate = PriorityGate(agents)
        # The trunk's channels across replicas; None (a provider tested alone): only the
        # agents of this process bound the calls.
        self.shared: TrunkChannels | None = None

    async def share_channels(self, channels: TrunkChannels) -> None:
        await channels.configure()
        self.shared = channels

    async def start(self, sink: ReportSink) -> None:
        del sink  # a call's result is final when it ends: no reports
        folder = self.config.work_folder / self.config.name
        folder.mkdir(parents=True, exist_ok=True)
        write_wav(folder / "silence.wav", silence(60))
        started = await asyncio.gather(
            *(c.agent.start() for c in self._channels), return_exceptions=True
        )
        failed = [s for s in started if isinstance(s, BaseException)]
        if failed:
            await self.stop()  # none left running when the connector cannot start
            raise failed[0]
        for channel in self._channels:
            self._free.put_nowait(channel)
        metrics.VOICE_CHANNELS.labels(self.name).set(len(self._channels))

    async def stop(self) -> None:
        await asyncio.gather(*(c.agent.stop() for c in self._channels), return_exceptions=True)

    async def send(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._deliver(m)) for m in messages]
        return [task.result() for task in tasks]

    async def _deliver(self, message: OutgoingMessage) -> SubmitResult:
        try:
            audio = await self.audio.file_for(message.text, message.language)
        except SpeechFailed as failed:
            log.error("speech failed", provider=self.name, error=str(failed))
            return SubmitResult(message.delivery_id, SubmitStatus.TEMPORARY_FAILURE,
                                detail="text to speech failed")  # fmt: skip
        results: list[tuple[CallResult, str]] = []
        for number in numbers(message.address):
            if not is_valid_number(number):
                results.append((CallResult.INVALID, "not an E.164 number"))
                continue
            result, why = await self._one_call(number, audio, message.priority)
            results.append((result, why))
            if result in (CallResult.CONFIRMED, CallResult.ANSWERED):
                break
        outcome = member_outcome(results)
        log.info("voice delivery", provider=self.name, delivery_id=str(message.delivery_id),
                 outcome=outcome.status.value, detail=outcome.detail)  # fmt: skip
        return SubmitResult(message.delivery_id, outcome.status, detail=outcome.detail,
                            confirmed=outcome.confirmed)  # fmt: skip

    async def _one_call(self, number: str, audio: Path, priority: str) -> tuple[CallResult, str]:
        async with self._gate.slot(priority):
            taken = await self.shared.take() if self.shared is not None else None
            channel = await self._free.get()
            metrics.VOICE_BUSY_CHANNELS.labels(self.name).inc()
            started = time.monotonic()
            try:
                result, why, seconds = await channel.call(call_uri(self.config, number), audio)
            except (ControlError, OSError) as broken:
                log.warning("voice agent failed", provider=self.name, agent=channel.index,
                            error=type(broken).__name__)  # fmt: skip
                result, why, seconds = CallResult.FAILED, "user agent failed", 0.0
            finally:
                metrics.VOICE_BUSY_CHANNELS.labels(self.name).dec()
                metrics.VOICE_CHANNEL_SECONDS.labels(self.name).inc(time.monotonic() - started)
                self._free.put_nowait(channel)
                if taken is not None and self.shared is not None:
                    await self.shared.give_back(*taken)
        metrics.VOICE_CALLS.labels(self.name, result.value).inc()
        metrics.VOICE_CALL_SECONDS.labels(self.name).inc(seconds)
        return result, why
