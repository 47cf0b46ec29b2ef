"""One baresip user agent process: its own config folder, SIP port and control port.

Written for Debian's baresip 1.0.0. Its ``ausrc`` command switches the audio source of
every call of the process at once, so a process that carries calls with different messages
side by side would play the wrong one to somebody: the voice adapter runs one process per
channel, one call at a time each (see :mod:`services.connectors.adapters.voice`). The test
callee uses the same class with other modules and an auto-answering account.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.connectors.adapters.baresip_ctrl import AgentEvent, BaresipControl

BARESIP = "/usr/bin/baresip"
MODULE_PATH = "/usr/lib/baresip/modules"
# G.711 only: what every trunk and PBX takes, 8 kHz like the synthesised speech.
BASE_MODULES = ("g711.so", "aufile.so", "aubridge.so")
APP_MODULES = ("account.so", "menu.so", "ctrl_tcp.so")


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills the agent when the connector dies, even
    by SIGKILL, so no orphan keeps its ports (and a call) from the restarted connector."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


class AgentFailed(OSError):
    """A user agent did not start (a port taken, a module missing): its log's end says why."""


@dataclass
class AgentSpec:
    folder: Path
    address: str  # the local IP the agent binds SIP and RTP to
    # baresip 1.0.0 also listens for SIP over TLS on sip_port + 1: keep it free.
    sip_port: int
    ctrl_port: int
    # One accounts line, e.g. ``<sip:bin@pbx.example>;auth_pass=...;regint=0``
    account: str
    rtp_ports: tuple[int, int] = (30000, 30999)
    # The audio source until a call sets its own; a file of silence by default.
    audio_source: str = ""
    modules: Sequence[str] = BASE_MODULES
    extra_config: dict[str, str] = field(default_factory=dict)
    # How long an unanswered INVITE may ring before baresip gives up itself; the adapter
    # cancels earlier, at its configured ring time.
    local_timeout: int = 120


def config_text(spec: AgentSpec) -> str:
    lines = {
        "poll_method": "epoll",
        "sip_listen": f"{spec.address}:{spec.sip_port}",
        "call_local_timeout": str(spec.local_timeout),
        "call_max_calls": "4",
        # No sound card: what is heard goes into a bridge device nobody reads.
        "audio_player": "aubridge,nowhere",
        "audio_alert": "aubridge,nowhere",
        "audio_source": spec.audio_source,
        "rtp_ports": f"{spec.rtp_ports[0]}-{spec.rtp_ports[1]}",
        "module_path": MODULE_PATH,
        "ctrl_tcp_listen": f"127.0.0.1:{spec.ctrl_port}",
        **spec.extra_config,
    }
    text = [f"{key} {value}" for key, value in lines.items() if value]
    text += [f"module {module}" for module in spec.modules]
    text += [f"module_app {module}" for module in APP_MODULES]
    return "\n".join(text) + "\n"


class BaresipAgent:
    """Starts and stops one baresip process and holds its control link."""

    def __init__(self, spec: AgentSpec, on_event: Callable[[AgentEvent], None]) -> None:
        self.spec = spec
        self.control = BaresipControl("127.0.0.1", spec.ctrl_port, on_event)
        self._process: asyncio.subprocess.Process | None = None
        self._output: asyncio.Task[None] | None = None
        # What baresip printed while starting (modules, ports), for a failure's message.
        self.startup: list[str] = []

    async def start(self) -> None:
        folder = self.spec.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config").write_text(config_text(self.spec))
        # The accounts line may hold the trunk's password: the owner's alone from the start.
        fd = os.open(folder / "accounts", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as accounts:
            accounts.write(self.spec.account + "\n")
        self.startup = []
        self._process = await asyncio.create_subprocess_exec(
            BARESIP, "-f", str(folder), "-n", self.spec.address,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        self._output = asyncio.create_task(self._read_output(self._process))
        try:
            await self.control.connect(exited=self._process.wait())
        except OSError as refused:
            await self.stop()  # not left running without its control link
            said = "\n".join(self.startup)[-600:]
            raise AgentFailed(f"baresip on SIP port {self.spec.sip_port}: {said}") from refused

    async def _read_output(self, process: asyncio.subprocess.Process) -> None:
        """Keeps what baresip prints until it is ready, then drops the rest unread: its
        call lines name the numbers called, which stay out of files and logs."""
        assert process.stdout is not None
        ready = False
        while line := await process.stdout.readline():
            if not ready:
                self.startup.append(line.decode(errors="replace").rstrip())
                ready = "baresip is ready" in self.startup[-1] or len(self.startup) > 100

    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self) -> None:
        await self.control.close()
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if self._output is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._output
