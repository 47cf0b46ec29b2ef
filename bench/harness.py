"""What the benchmarks share: service processes started and watched, medians, output."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx

from shared import topology as topo

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "bench" / "results" / "logs"
AMQP_URL = os.environ.get("BIN_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_DATABASE_URL = os.environ.get(
    "BIN_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class BenchSystem:
    database_url: str
    prefix: str
    processes: Processes

    def migrate(self, service: str) -> None:
        subprocess.run(
            [sys.executable, "-m", f"services.{service}", "migrate"],
            env=self.processes.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


@asynccontextmanager
async def bench_system(**extra_env: str) -> AsyncIterator[BenchSystem]:
    """A database and an exchange/queue prefix of the benchmark's own, and a process starter
    whose services use them; all removed afterwards, the processes stopped."""
    database = f"bin_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(ADMIN_DATABASE_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    database_url = ADMIN_DATABASE_URL.rsplit("/", 1)[0] + f"/{database}"
    LOGS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "BIN_AMQP_URL": AMQP_URL,
        "BIN_DATABASE_URL": database_url,
        "BIN_TOPOLOGY_PREFIX": prefix,
        "BIN_LOG_LEVEL": "WARNING",
        "BIN_LOG_FORMAT": "json",
        # The development secrets and console cookie (shared.safeguards), as for make run.
        "BIN_ENVIRONMENT": "development",
        # No four-eyes hold (intake): the benchmarks measure alerts going out.
        "BIN_FOUR_EYES_MEMBERS": "{}",
        # Limits no benchmark client reaches (each is one principal from one address); the
        # limiter itself still runs, a bucket update per request.
        "BIN_RATE_LIMIT_PER_SECOND": "1000000",
        "BIN_RATE_LIMIT_BURST": "10000000",
        **extra_env,
    }
    processes = Processes(env, LOGS)
    try:
        yield BenchSystem(database_url, prefix, processes)
    finally:
        processes.stop_all()
        connection = await aio_pika.connect_robust(AMQP_URL)
        try:
            await topo.delete(
                await connection.channel(),
                topo.Topology(prefix=prefix),
                (*topo.ALL_QUEUES, *topo.DISPATCH_SLICE_QUEUES),
            )
        finally:
            await connection.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def say(text: str) -> None:
    print(text, flush=True)


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}

    def start(self, name: str, args: list[str], port: int = 0, **extra: str) -> None:
        env = {**self.env, "BIN_HTTP_PORT": str(port), **extra}
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.running[name] = (process, port)

    async def ready(self, name: str) -> None:
        port = self.running[name][1]
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready; see {self.logs / name}.log")

    def cpu_seconds(self, name: str) -> float:
        return cpu_seconds(self.running[name][0].pid)

    def peak_memory_mb(self, name: str) -> float:
        pid = self.running[name][0].pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self, name: str) -> None:
        process, _ = self.running.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


_TICKS = os.sysconf("SC_CLK_TCK")
# Processes whose CPU time a benchmark reports, by the command name the kernel gives them.
SERVERS = {"postgres": "postgres", "rabbitmq": "beam.smp"}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat(5), counted from the state field (3) after the command name.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def server_cpu_seconds() -> dict[str, float]:
    """CPU time used so far by every PostgreSQL and RabbitMQ process on this machine: the
    servers are shared, so a benchmark reads them before and after and takes the difference."""
    totals = dict.fromkeys(SERVERS, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        for server, name in SERVERS.items():
            if comm == name:
                totals[server] += cpu_seconds(int(entry.name))
    return totals


def backend_cpu(database: str, but: int | None = None) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to ``database`` except the
    one of pid ``but`` (the benchmark's own, watching progress): the server is shared (other
    benchmarks and test suites may use it meanwhile), these are the system's alone.
    PostgreSQL's own background work (WAL writer, checkpoints, autovacuum) is not in them."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f" {database} " in title and int(entry.name) != but:
            found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found


def backend_cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """What the backends of two :func:`backend_cpu` readings used in between (a backend
    that started meanwhile counts in full, one that ended not at all)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    if not runs:
        return {}
    return {key: round(statistics.median(r[key] for r in runs), 4) for key in runs[0]}


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Writes ``results`` into the JSON at ``path``, keeping the keys other benchmarks wrote
    there (the connectors' SMS/push cases and the voice case share one file)."""
    existing: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    existing.update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(existing, indent=2))
