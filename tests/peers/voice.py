"""Real SIP callees for the voice tests, on loopback ports, started and stopped by the tests.

``Callee``: a Debian baresip 1.0.0 in auto-answer mode (``answermode=auto``, no registrar:
called directly at ``sip:<number>@127.0.0.1:<port>``) that records what it hears with the
``sndfile`` module, one ``dump-<time>-dec.wav`` per call, and, when the test asks, presses 1
(RFC 4733 telephone-event, baresip's ``sndcode``) a while after answering. It counts the
calls that arrived from its own control events, so a test counts at the callee::

    async with Callee(tmp_path, "+32471000001", confirm_after=3.0) as callee:
        ...  # route a number to callee.host_port
        assert callee.answered == 1
        speech = speech_seconds(callee.recordings()[0])

``SippCallee``: SIPp (Debian ``sip-tester``) playing ``sipp/reject.xml`` (every INVITE
refused with the answer given, 486 Busy Here, 404 Not Found ...), ``sipp/ring_forever.xml``
(180 Ringing until CANCEL) or ``sipp/answer_after.xml`` (answers every call after a pause,
waits for the BYE: many callees at once, for the bench). It counts the INVITEs it received
from its message log.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import wave
from pathlib import Path
from types import TracebackType

from services.connectors.adapters.baresip_agent import AgentSpec, BaresipAgent
from services.connectors.adapters.baresip_ctrl import AgentEvent
from tests.ports import HOST, free_port, free_port_run

SCENARIOS = Path(__file__).with_name("sipp")
SIPP = "/usr/bin/sipp"


def silence_wav(path: Path, seconds: int) -> Path:
    """The callee's own audio source: silence, long enough for any test call (baresip's
    aufile ends the call when its file runs out)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000 * seconds)
    return path


def speech_seconds(path: Path) -> float:
    """Seconds of the recording whose 20 ms frames are louder than silence: what of the call
    was speech, pauses between words and sentences left out."""
    with wave.open(str(path), "rb") as recording:
        return loud_seconds(recording.readframes(recording.getnframes()),
                            recording.getframerate())  # fmt: skip


def loud_seconds(frames: bytes, rate: int, frame_ms: int = 20, threshold: int = 300) -> float:
    """Seconds of 16-bit mono audio in 20 ms frames whose mean absolute amplitude is over
    ``threshold`` (of 32,767)."""
    samples = array.array("h", frames)
    step = rate * frame_ms // 1000
    loud = sum(
        1
        for i in range(0, len(samples) - step + 1, step)
        if sum(abs(s) for s in samples[i : i + step]) / step > threshold
    )
    return loud * frame_ms / 1000


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as recording:
        return recording.getnframes() / recording.getframerate()


class Callee:
    """A baresip that answers every call at once and records it."""

    def __init__(self, folder: Path, number: str, *, confirm_after: float | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        # SIP, baresip's SIP over TLS on + 1, control on + 2.
        self.port = free_port_run(3)
        self.host_port = f"{HOST}:{self.port}"
        self.records = folder / "recordings"
        self.confirm_after = confirm_after
        self.answered = 0
        self.confirmed = 0
        self.closed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        rtp = free_port_run(20)
        self.agent = BaresipAgent(
            AgentSpec(
                folder=folder,
                address=HOST,
                sip_port=self.port,
                ctrl_port=self.port + 2,  # + 1 is baresip's SIP over TLS
                # baresip 1.0.0 answers only calls to a user it has an account for (its
                # catch-all is not reachable from the config): the number it answers.
                account=f"<sip:{number}@{self.host_port}>;regint=0;answermode=auto",
                rtp_ports=(rtp, rtp + 20),
                audio_source=f"aufile,{silence_wav(folder / 'silence.wav', 300)}",
                modules=("g711.so", "aufile.so", "aubridge.so", "sndfile.so"),
                extra_config={"snd_path": str(self.records)},
            ),
            self._on_event,
        )

    async def __aenter__(self) -> Callee:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records.mkdir(exist_ok=True)
        await self.agent.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        for task in self._tasks:
            task.cancel()
        await self.agent.stop()

    def _on_event(self, event: AgentEvent) -> None:
        if event.type == "CALL_ESTABLISHED":
            self.answered += 1
            if self.confirm_after is not None:
                task = asyncio.create_task(self._press_one(self.confirm_after))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif event.type == "CALL_CLOSED":
            self.closed += 1
        self._changed.set()

    async def _press_one(self, after: float) -> None:
        await asyncio.sleep(after)
        with contextlib.suppress(Exception):
            await self.agent.control.command("sndcode", "1")
            self.confirmed += 1

    async def wait_closed(self, count: int, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while self.closed < count:
                self._changed.clear()
                await self._changed.wait()
        # sndfile closes its files when the call's audio is torn down, just after the event.
        await asyncio.sleep(0.5)

    def recordings(self) -> list[Path]:
        """What the callee heard, one file per call, oldest first."""
        return sorted(self.records.glob("dump-*-dec.wav"))


class SippCallee:
    """SIPp as a UAS on a free loopback port, running one scenario for every call."""

    def __init__(
        self, folder: Path, scenario: str, answer: str | None = None, pause_ms: int | None = None
    ) -> None:
        """``answer``: for ``reject``, the final response ("486 Busy Here"); ``pause_ms``:
        SIPp's default pause (``answer_after`` rings this long before answering)."""
        self.pause_ms = pause_ms
        self.folder = folder
        self.port = free_port()
        self.host_port = f"{HOST}:{self.port}"
        self.scenario = SCENARIOS / f"{scenario}.xml"
        if answer is not None:
            code, reason = answer.split(" ", 1)
            text = self.scenario.read_text().replace("CODE REASON", f"{int(code)} {reason}")
            folder.mkdir(parents=True, exist_ok=True)
            self.scenario = folder / f"{scenario}-{code}-{self.port}.xml"
            self.scenario.write_text(text)
        self.message_log = folder / f"sipp-{scenario}-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> SippCallee:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [SIPP, "-sf", str(self.scenario), "-i", HOST, "-p", str(self.port),
                   "-nostdin", "-trace_msg", "-message_file", str(self.message_log),
                   "-mp", str(free_port_run(4))]  # fmt: skip
        if self.pause_ms is not None:
            command += ["-d", str(self.pause_ms)]
        self._process = subprocess.Popen(  # noqa: ASYNC220 (returns at once)
            command,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / f"sipp-{self.port}.err").open("wb"),
            start_new_session=True,
        )
        await asyncio.sleep(0.3)
        if self._process.poll() is not None:
            raise RuntimeError(f"sipp did not start: {(self.folder / f'sipp-{self.port}.err')}")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()

    def _received(self, method: str) -> int:
        if not self.message_log.exists():
            return 0
        # Each message: "UDP message received [n] bytes :", a blank line, the request line.
        pattern = rf"message received[^\n]*\n\s*\n{method} "
        return len(re.findall(pattern, self.message_log.read_text(errors="replace")))

    @property
    def invites(self) -> int:
        """INVITEs that reached this callee (retransmissions are not on UDP loopback)."""
        return self._received("INVITE")

    def invited_in_order(self) -> list[str]:
        """The called numbers (the request URIs' users) of the INVITEs received, in order."""
        if not self.message_log.exists():
            return []
        text = self.message_log.read_text(errors="replace")
        return re.findall(r"message received[^\n]*\n\s*\nINVITE sip:([^@;>\s]+)@", text)

    def invited_numbers(self) -> dict[str, int]:
        """INVITEs received per called number."""
        counts: dict[str, int] = {}
        for number in self.invited_in_order():
            counts[number] = counts.get(number, 0) + 1
        return counts

    @property
    def cancels(self) -> int:
        return self._received("CANCEL")
