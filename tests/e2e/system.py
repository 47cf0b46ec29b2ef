"""The whole system as separate processes on loopback, the way ``make run`` starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import httpx

from shared import topology as topo
from tests.infrastructure import new_prefix, run_sync
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "intake", "dispatch", "digest", "gateway_simulator")
WITH_DATABASE = ("registry", "intake", "dispatch", "digest", "connectors")


@dataclass
class RunningSystem:
    amqp_url: str
    database_url: str
    logs: Path
    prefix: str = field(default_factory=new_prefix)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The services started, in order: the five of ``make run`` unless told (the connector
    # tests add "connectors"); and environment variables of one service's own.
    services: tuple[str, ...] = SERVICES
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # How long start() waits for each service to answer /readyz.
    ready_timeout: float = 30
    # A deployment under test: each service gets exactly its service_env (what its deploy
    # files give it, tests/deployment.py) and none of this run's BIN_ settings.
    exact_env: bool = False

    def __post_init__(self) -> None:
        for service in self.services:
            self.ports.setdefault(service, free_port())

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, service: str) -> dict[str, str]:
        if self.exact_env:
            outside = {k: v for k, v in os.environ.items() if not k.startswith("BIN_")}
            return {**outside, **self.service_env[service]}
        return {
            **os.environ,
            "BIN_AMQP_URL": self.amqp_url,
            "BIN_DATABASE_URL": self.database_url,
            "BIN_TOPOLOGY_PREFIX": self.prefix,
            "BIN_HTTP_PORT": str(self.ports[service]),
            "BIN_DISPATCH_URL": self.url("dispatch"),
            "BIN_INTAKE_URL": self.url("intake"),
            "BIN_LOG_FORMAT": "json",
            "BIN_GATEWAY_LATENCY_MS": "5",
            "BIN_GATEWAY_SEED": "1",
            "BIN_GRACEFUL_TIMEOUT": "10",
            # Four eyes (intake): alerts of up to 100,000 members go at once here (the tests
            # send larger ones than the default 500); across municipalities they still wait.
            "BIN_FOUR_EYES_MEMBERS": '{"default": 100000}',
            **self.service_env.get(service, {}),
        }

    def migrate(self) -> None:
        for service in (s for s in self.services if s in WITH_DATABASE):
            subprocess.run(
                [sys.executable, "-m", f"services.{service}", "migrate"],
                env=self.env(service),
                cwd=ROOT,
                check=True,
                capture_output=True,
                timeout=60,
            )

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            self.start_service(service)
        for service in self.services:
            self.wait_ready(service, self.ready_timeout)

    def start_service(self, service: str) -> None:
        """Starts one service's process (its log appended to), without waiting for it."""
        with (self.logs / f"{service}.log").open("ab") as log:
            self.processes[service] = subprocess.Popen(
                [sys.executable, "-m", f"services.{service}"],
                env=self.env(service),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, service: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise AssertionError(
                    f"{service} exited with {process.returncode}:\n{self.log(service)}"
                )
            try:
                if httpx.get(f"{self.url(service)}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{service} not ready within {timeout}s:\n{self.log(service)}")

    def stop(self, timeout: float = 30) -> dict[str, int | None]:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for service, process in self.processes.items():
            try:
                codes[service] = process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[service] = None
        return codes

    def delete_topology(self) -> None:
        """Removes the run's exchanges and queues, so test runs leave the broker as found."""

        async def delete() -> None:
            connection = await aio_pika.connect_robust(self.amqp_url, timeout=10)
            try:
                channel = await connection.channel()
                await topo.delete(channel, topo.Topology(prefix=self.prefix), topo.ALL_QUEUES)
            finally:
                await connection.close()

        run_sync(delete())

    def log(self, service: str) -> str:
        path = self.logs / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""
