"""``make bench``: operators watching one large alert's progress. A finished 100,000-delivery
alert (fanned out for real, as in bench.dispatch_fanout), then ten console pollers asking
dispatch's ``/alerts/{id}/progress`` once a second each, for ten seconds; with the answers
shared among pollers (BIN_PROGRESS_MAX_AGE_SECONDS=1, the default) and with a count per
request (0), side by side in one run. Reports PostgreSQL's and dispatch's CPU per second of
polling and the answers' latency; medians over several runs, JSON in bench/results/.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

import httpx

from bench.dispatch_fanout import RECIPIENTS, one_fanout, seeded_dispatch, settle
from bench.harness import (
    ROOT,
    Processes,
    free_port,
    medians,
    say,
    server_cpu_seconds,
)
from shared.auth import AuthSettings, Role, mint_token

RESULTS = ROOT / "bench" / "results" / "progress_polling.json"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WATCHERS = int(os.environ.get("BENCH_WATCHERS", "10"))
SECONDS = float(os.environ.get("BENCH_POLL_SECONDS", "10"))
# BIN_PROGRESS_MAX_AGE_SECONDS of each configuration: a count per request, then shared.
MAX_AGES = ("0", "1")
HEADERS = {"Authorization": f"Bearer {mint_token(AuthSettings(), 'bench', [Role.ADMIN])}"}


async def watch(client: httpx.AsyncClient, url: str, offset: float) -> list[float]:
    """One operator's console: a poll a second, starting ``offset`` seconds in; the answers'
    latencies in milliseconds."""
    await asyncio.sleep(offset)
    latencies = []
    started = time.monotonic()
    while time.monotonic() - started < SECONDS:
        asked = time.perf_counter()
        response = await client.get(url, headers=HEADERS)
        latencies.append((time.perf_counter() - asked) * 1000)
        if response.status_code != 200 or response.json()["delivered"] != RECIPIENTS:
            raise RuntimeError(f"unexpected progress: {response.status_code} {response.text}")
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - asked)))
    return latencies


async def one_watch(processes: Processes, name: str, url: str) -> dict[str, float]:
    before_servers, before_dispatch = server_cpu_seconds(), processes.cpu_seconds(name)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        watched = await asyncio.gather(*(watch(client, url, n / WATCHERS) for n in range(WATCHERS)))
    elapsed = time.monotonic() - started
    after_servers, after_dispatch = server_cpu_seconds(), processes.cpu_seconds(name)
    latencies = sorted(ms for one in watched for ms in one)
    return {
        "polls": len(latencies),
        "latency_median_ms": round(statistics.median(latencies), 1),
        "latency_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "postgres_cpu_per_second": round(
            (after_servers["postgres"] - before_servers["postgres"]) / elapsed, 3
        ),
        "dispatch_cpu_per_second": round((after_dispatch - before_dispatch) / elapsed, 3),
    }


async def main() -> None:
    results: dict[str, Any] = {
        "recipients": RECIPIENTS,
        "watchers": WATCHERS,
        "poll_seconds": SECONDS,
        "runs": RUNS,
        "machine": {"cpus": os.cpu_count()},
    }
    async with seeded_dispatch() as bench:
        processes, conn = bench.system.processes, bench.conn
        processes.start("fan-out", [sys.executable, "-m", "services.dispatch"], free_port())
        await processes.ready("fan-out")
        say(f"fanning out one alert to {RECIPIENTS} recipients to watch")
        alert_id = uuid.uuid4()
        await one_fanout(bench.publisher, conn, bench.gateway_port, bench.bins, alert_id)
        processes.stop("fan-out")
        processes.stop("gateway")
        await settle(conn)
        for max_age in MAX_AGES:
            name, port = f"dispatch-max-age-{max_age}", free_port()
            processes.start(
                name,
                [sys.executable, "-m", "services.dispatch"],
                port,
                BIN_PROGRESS_MAX_AGE_SECONDS=max_age,
            )
            await processes.ready(name)
            url = f"http://127.0.0.1:{port}/alerts/{alert_id}/progress"
            runs = []
            for run in range(RUNS):
                runs.append(await one_watch(processes, name, url))
                say(f"  max age {max_age} s, run {run + 1}: {runs[-1]}")
            results[f"max_age_{max_age}s"] = {"runs": runs, "median": medians(runs)}
            processes.stop(name)
    counted, shared = results["max_age_0s"]["median"], results["max_age_1s"]["median"]
    if shared["postgres_cpu_per_second"] > 0:
        results["postgres_cpu_ratio_counted_vs_shared"] = round(
            counted["postgres_cpu_per_second"] / shared["postgres_cpu_per_second"], 1
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    say(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
