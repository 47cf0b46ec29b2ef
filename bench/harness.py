"""What the benchmarks share: service processes started and watched, medians, output."""

from __future__ import annotations

import asyncio
import signal
import socket
import statistics
import subprocess
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    if not runs:
        return {}
    return {key: round(statistics.median(r[key] for r in runs), 4) for key in runs[0]}
