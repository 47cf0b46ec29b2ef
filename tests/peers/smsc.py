"""The test side of the SMSC simulator (:mod:`tests.peers.smsc_simulator`): starts it as a
process of its own on free loopback ports and talks to its HTTP port.

A process rather than a task in the test's loop: the simulator then counts what crossed a
real socket, and a connector under test cannot share (or starve) its event loop::

    with SmscSimulator(rate=200) as smsc:
        client = smpp34.Client("127.0.0.1", smsc.smpp_port, "bin", "secret", bind_type="TRX")
        ...
        assert (await smsc.astats())["submits"] == 10

Every call has a blocking form (``stats``) and, for async tests, an awaitable one
(``astats``) that does not hold up the test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from tests.ports import free_port

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]

# Keyword of SmscSimulator(...) -> the simulator's CLI flag.
FLAGS = {
    "rate": "--rate",
    "queue_full_every": "--queue-full-every",
    "reject_prefix": "--reject-prefix",
    "undeliverable_prefix": "--undeliverable-prefix",
    "dlr_delay": "--dlr-delay",
    "receipt_before_response": "--receipt-before-response",
    "max_binds": "--max-binds",
    "drop_seconds": "--drop-seconds",
    "system_id": "--system-id",
    "seed": "--seed",
}


class SimulatorFailed(RuntimeError):
    pass


class SmscSimulator:
    """A running SMSC simulator process. Options are those of the simulator's CLI (see
    :class:`tests.peers.smsc_simulator.Options`); None leaves the simulator's default."""

    def __init__(
        self,
        *,
        rate: float | None = None,
        queue_full_every: int | None = None,
        reject_prefix: str | None = None,
        undeliverable_prefix: str | None = None,
        dlr_delay: float | None = None,
        receipt_before_response: float | None = None,
        max_binds: int | None = None,
        drop_seconds: float | None = None,
        system_id: str | None = None,
        seed: int | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self._options: dict[str, object] = {
            "rate": rate,
            "queue_full_every": queue_full_every,
            "reject_prefix": reject_prefix,
            "undeliverable_prefix": undeliverable_prefix,
            "dlr_delay": dlr_delay,
            "receipt_before_response": receipt_before_response,
            "max_binds": max_binds,
            "drop_seconds": drop_seconds,
            "system_id": system_id,
            "seed": seed,
        }
        self.startup_timeout = startup_timeout
        self.host = HOST
        self.smpp_port = 0
        self.http_port = 0
        self.pid: int | None = None  # kept after stop(), to check the process is gone
        self._returncode: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._http: httpx.Client | None = None

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    # ── lifecycle ────────────────────────────────────────────────────────────────────────
    def start(self) -> SmscSimulator:
        if self._process is not None:
            raise RuntimeError("the simulator is already running")
        self.smpp_port, self.http_port = free_port(), free_port()
        command = [
            sys.executable,
            "-m",
            "tests.peers.smsc_simulator",
            "--smpp-port",
            str(self.smpp_port),
            "--http-port",
            str(self.http_port),
            "--parent-pid",
            str(os.getpid()),
        ]
        for name, value in self._options.items():
            if value is not None:
                command += [FLAGS[name], str(value)]
        # stderr to a file: a pipe nobody reads would block the simulator once it filled.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.pid = self._process.pid
        self._http = httpx.Client(base_url=self.http_url, timeout=10)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None and self._http is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SimulatorFailed(
                    f"the SMSC simulator exited with {self._process.returncode}:\n{self.log()}"
                )
            try:
                self._http.get("/stats").raise_for_status()
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise SimulatorFailed(f"the SMSC simulator did not answer in time:\n{self.log()}")

    def stop(self) -> None:
        """Stops the process: SIGTERM, then SIGKILL if it has not gone within 5 seconds."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            self._returncode = process.poll()
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The process's exit status once it has ended (also after stop())."""
        if self._process is not None:
            return self._process.poll()
        return self._returncode

    def log(self) -> str:
        """What the simulator wrote to stderr so far."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __enter__(self) -> SmscSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ── blocking calls ───────────────────────────────────────────────────────────────────
    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("the simulator is not running")
        return self._http

    def stats(self, *, detail: bool = False) -> dict[str, Any]:
        """The counters (see the simulator's docstring); ``detail`` adds ``per_destination``."""
        response = self._client().get("/stats", params={"detail": int(detail)})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def destination(self, number: str) -> dict[str, Any] | None:
        """What arrived for one destination: parts, messages, texts and part_info."""
        found: dict[str, Any] | None = self.stats(detail=True)["per_destination"].get(number)
        return found

    def send_mo(self, sender: str, recipient: str, text: str) -> dict[str, Any]:
        """Sends an MO message; raises httpx.HTTPStatusError (409) if no receiver is bound."""
        response = self._client().post(
            "/mo", json={"sender": sender, "recipient": recipient, "text": text}
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def drop_connections(self, seconds: float | None = None) -> dict[str, Any]:
        """Resets every SMPP connection and keeps the port closed for ``seconds`` (default:
        the simulator's drop_seconds)."""
        body = {} if seconds is None else {"seconds": seconds}
        response = self._client().post("/drop", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def set_options(self, **options: object) -> dict[str, Any]:
        """Changes options at run time; returns all of them. None restores a default."""
        response = self._client().post("/options", json=options)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        """Zeroes the counters and forgets what arrived (receipts still owed are still sent)."""
        self._client().post("/reset").raise_for_status()

    # ── async calls ──────────────────────────────────────────────────────────────────────
    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._http is None:
            raise RuntimeError("the simulator is not running")
        async with httpx.AsyncClient(base_url=self.http_url, timeout=10) as client:
            response = await client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    async def astats(self, *, detail: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "GET", "/stats", params={"detail": int(detail)}
        )
        return result

    async def adestination(self, number: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = (await self.astats(detail=True))["per_destination"].get(
            number
        )
        return found

    async def asend_mo(self, sender: str, recipient: str, text: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "POST", "/mo", json={"sender": sender, "recipient": recipient, "text": text}
        )
        return result

    async def adrop_connections(self, seconds: float | None = None) -> dict[str, Any]:
        body = {} if seconds is None else {"seconds": seconds}
        result: dict[str, Any] = await self._request("POST", "/drop", json=body)
        return result

    async def aset_options(self, **options: object) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("POST", "/options", json=options)
        return result

    async def areset(self) -> None:
        await self._request("POST", "/reset")

    async def wait_for(
        self,
        condition: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 10.0,
        detail: bool = False,
        interval: float = 0.02,
    ) -> dict[str, Any]:
        """Polls /stats until ``condition(stats)`` holds; returns those stats. Fails with
        TimeoutError carrying the last stats seen."""
        deadline = time.monotonic() + timeout
        while True:
            stats = await self.astats(detail=detail)
            if condition(stats):
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"the SMSC simulator never got there; last stats: {stats}")
            await asyncio.sleep(interval)
