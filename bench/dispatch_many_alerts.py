"""``make bench``: many alerts at once into one dispatch replica (issue 20, "many alerts").

2,000 alerts, each to one BIN of 50 members (100,000 deliveries), and 200 alerts of 500
members each: every ``alert.issued.v1`` published straight to the broker as fast as the
publisher's confirms allow (what intake's outbox relay does), one dispatch replica, the
gateway simulator of ``bench.dispatch_fanout`` answering at once. Reported per run, and as the
median of ``BENCH_MANY_RUNS`` runs (2 by default) after ``BENCH_MANY_WARMUP`` warm-up runs
(1; reported apart, see WARMUP_RUNS):

* per alert, its first batch at the gateway (the simulator's ``first_batch_at``) measured from
  the first publish of the run and from the alert's own publish (its broker confirm): p50,
  p99 and max;
* every delivery at the gateway (its last batch), every delivery handed (dispatch's
  ``fanout_batch.sent_at``) and every receipt recorded (``delivery.updated_at``), from the
  first publish;
* CPU seconds of dispatch (in all and per 1,000 deliveries), PostgreSQL, RabbitMQ and the
  simulator over the run; dispatch's peak RSS (a fresh replica each run). The servers are
  shared, so PostgreSQL's figure is every postgres process on the machine, and
  ``cpu_postgres_own_backends`` only the backends connected to this benchmark's database;
  ``machine_busy_cores`` and ``cpu_outside_benchmark_seconds`` say how busy the machine was
  with other work meanwhile (the times are only comparable between quiet runs).

Quick tries: ``BENCH_MANY_ALERTS=200`` caps the alerts of each case, ``BENCH_MANY_CASES=
"2000x50"`` picks the cases (alerts x members), ``BENCH_MANY_RUNS=1``, ``BENCH_MANY_WARMUP=0``.
A run fails when nothing progresses for ``BENCH_MANY_STALL_SECONDS`` (120); every process is
stopped whatever happens. ``BENCH_MANY_DISPATCH_LOG_LEVEL=INFO`` keeps dispatch's "fanned
out" lines in ``bench/results/logs/`` (at some CPU cost, so not by default).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.dispatch_fanout import SeededDispatch, cpu_used, seeded_dispatch, settle
from bench.harness import ROOT, backend_cpu, backend_cpu_used, free_port, medians, say
from shared.events import AlertIssued, AlertIssuedData, Language

RESULTS = ROOT / "bench" / "results" / "dispatch_many_alerts.json"
RUNS = int(os.environ.get("BENCH_MANY_RUNS", "2"))
# Runs before the measured ones, reported apart: the first fan-outs after seeding run on
# statistics of an empty delivery and fanout_batch (settle() analyses them before any alert),
# and the plans cached from those scan both tables whole for every alert and every progress
# read (about 300 million delivery and 700 million fanout_batch tuples read in the 2,000-alert
# case, several times PostgreSQL's CPU of a later run), which a database with a history of
# alerts does not do.
WARMUP_RUNS = int(os.environ.get("BENCH_MANY_WARMUP", "1"))
STALL_SECONDS = float(os.environ.get("BENCH_MANY_STALL_SECONDS", "120"))
DISPATCH_LOG_LEVEL = os.environ.get("BENCH_MANY_DISPATCH_LOG_LEVEL", "WARNING")
_ALERT_CAP = os.environ.get("BENCH_MANY_ALERTS")


@dataclass(frozen=True)
class Case:
    alerts: int
    members: int  # per alert: each alert goes to one BIN of this many members

    @property
    def deliveries(self) -> int:
        # The seeded members each have exactly one channel their BIN's plan reaches.
        return self.alerts * self.members

    @property
    def label(self) -> str:
        return f"{self.alerts}_alerts_of_{self.members}"


def _cases(spec: str, cap: str | None) -> list[Case]:
    cases = []
    for item in spec.split(","):
        alerts, members = (int(n) for n in item.lower().split("x"))
        if cap is not None:
            alerts = min(alerts, int(cap))
        cases.append(Case(alerts, members))
    return cases


CASES = _cases(os.environ.get("BENCH_MANY_CASES", "2000x50,200x500"), _ALERT_CAP)


_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all cores of the machine spent on anything but idling and waiting for I/O."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / _TICKS


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def spread(prefix: str, values: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50": round(percentile(values, 50), 3),
        f"{prefix}_p99": round(percentile(values, 99), 3),
        f"{prefix}_max": round(max(values), 3),
    }


async def until_reached(
    what: str,
    progress: Callable[[], Awaitable[int]],
    target: int,
    interval: float,
    alive: Callable[[], None],
) -> None:
    """Waits until ``progress()`` reaches ``target``; fails once it has not moved for
    STALL_SECONDS, or at once when ``alive`` finds the replica gone. Looked at slowly: the
    times reported come from the gateway's and the database's clocks, not from this loop."""
    last, moved = -1, time.monotonic()
    while True:
        alive()
        done = await progress()
        if done >= target:
            return
        if done != last:
            last, moved = done, time.monotonic()
        elif time.monotonic() - moved > STALL_SECONDS:
            raise RuntimeError(
                f"{what}: no progress for {STALL_SECONDS:.0f} s at {done} of {target}"
            )
        await asyncio.sleep(interval)


async def gateway_sent(client: httpx.AsyncClient, port: int) -> int:
    stats = (await client.get(f"http://127.0.0.1:{port}/stats")).json()
    return sum(stats["sent"].values())


async def one_run(bench: SeededDispatch, case: Case, run: int) -> dict[str, float]:
    processes, conn, port = bench.system.processes, bench.conn, bench.gateway_port
    database = bench.system.database_url.rsplit("/", 1)[1]
    await settle(conn)
    own_pid = await conn.fetchval("SELECT pg_backend_pid()")
    name = f"dispatch-{case.label}-run{run}"
    processes.start(
        name,
        [sys.executable, "-m", "services.dispatch"],
        free_port(),
        BIN_FANOUT_SLICES="1",
        BIN_LOG_LEVEL=DISPATCH_LOG_LEVEL,
    )

    def alive() -> None:
        process = processes.running[name][0]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}); see {name}.log")

    try:
        await processes.ready(name)
        say(f"  {name} ready, pid {processes.running[name][0].pid}")
        events = [
            AlertIssued.create(
                source="bench",
                data=AlertIssuedData(
                    alert_id=uuid.uuid4(),
                    bin_ids=[bin_id],
                    texts={
                        Language.NL: "Verdachte wagen gezien",
                        Language.FR: "Voiture suspecte",
                    },
                ),
            )
            for bin_id in bench.bins[: case.alerts]
        ]
        alert_ids = [e.data.alert_id for e in events]
        async with httpx.AsyncClient(timeout=30) as client:
            sent_before = await gateway_sent(client, port)
            before = cpu_used(processes, [name])
            backends_before = backend_cpu(database, but=own_pid)
            busy_before, driver_before = machine_busy_seconds(), own_cpu_seconds()
            confirmed: dict[uuid.UUID, float] = {}

            async def publish(event: AlertIssued) -> None:
                await bench.publisher.publish(event)
                confirmed[event.data.alert_id] = time.time()

            started = time.time()
            # Side by side: the publisher pipelines up to 256 unconfirmed messages.
            await asyncio.gather(*(publish(e) for e in events))
            published = time.time()
            say(f"  {case.alerts} alerts published in {published - started:.2f} s")

            async def at_gateway() -> int:
                return await gateway_sent(client, port) - sent_before

            await until_reached(
                "deliveries at the gateway", at_gateway, case.deliveries, 0.5, alive
            )

            async def receipted() -> int:
                count: int = await conn.fetchval(
                    "SELECT count(*) FROM delivery "
                    "WHERE source_id = ANY($1::uuid[]) AND status = 'delivered'",
                    alert_ids,
                )
                return count

            await until_reached("receipts recorded", receipted, case.deliveries, 1.0, alive)
            after = cpu_used(processes, [name])
            backends_after = backend_cpu(database, but=own_pid)
            busy = machine_busy_seconds() - busy_before
            driver = own_cpu_seconds() - driver_before
            ended = time.time()
            peak_rss = processes.peak_memory_mb(name)

            limit = asyncio.Semaphore(16)

            async def source(alert_id: uuid.UUID) -> dict[str, float]:
                async with limit:
                    url = f"http://127.0.0.1:{port}/stats/sources/{alert_id}"
                    found: dict[str, float] = (await client.get(url)).json()
                    return found

            sources = await asyncio.gather(*(source(a) for a in alert_ids))
        short = [
            a
            for a, s in zip(alert_ids, sources, strict=True)
            if s.get("deliveries", 0) < case.members
        ]
        if short:
            raise RuntimeError(f"{len(short)} alerts short at the gateway, e.g. {short[0]}")
        row = await conn.fetchrow(
            "SELECT (SELECT max(sent_at) FROM fanout_batch WHERE source_id = ANY($1::uuid[]))"
            " AS handed, max(updated_at) AS recorded "
            "FROM delivery WHERE source_id = ANY($1::uuid[])",
            alert_ids,
        )
        assert row is not None
    finally:
        processes.stop(name)
    first_batches = [s["first_batch_at"] for s in sources]
    used = {k: after[k] - before[k] for k in after}
    own_backends = backend_cpu_used(backends_before, backends_after)
    thousands = case.deliveries / 1000
    # What the machine's cores did besides this benchmark's processes and the two servers:
    # other work on a shared machine, which the times above then include.
    others = busy - driver - sum(used.values())
    return {
        "publish_seconds": round(published - started, 3),
        **spread("first_batch_from_first_publish", [t - started for t in first_batches]),
        **spread(
            "first_batch_from_own_publish",
            [s["first_batch_at"] - confirmed[a] for a, s in zip(alert_ids, sources, strict=True)],
        ),
        "all_at_gateway_seconds": round(max(s["last_batch_at"] for s in sources) - started, 3),
        "all_handed_seconds": round(row["handed"].timestamp() - started, 3),
        "all_receipts_seconds": round(row["recorded"].timestamp() - started, 3),
        "cpu_dispatch_seconds": round(used["cpu_dispatch_seconds"], 2),
        "cpu_dispatch_per_1000_deliveries": round(used["cpu_dispatch_seconds"] / thousands, 4),
        "cpu_postgres_seconds": round(used["cpu_postgres_seconds"], 2),
        "cpu_postgres_per_1000_deliveries": round(used["cpu_postgres_seconds"] / thousands, 4),
        "cpu_rabbitmq_seconds": round(used["cpu_rabbitmq_seconds"], 2),
        "cpu_postgres_own_backends_seconds": round(own_backends, 2),
        "cpu_gateway_seconds": round(used["cpu_gateway_seconds"], 2),
        "dispatch_peak_rss_mb": round(peak_rss, 1),
        "machine_busy_cores": round(busy / (ended - started), 2),
        "cpu_outside_benchmark_seconds": round(others, 2),
    }


async def one_case(case: Case) -> dict[str, Any]:
    say(f"{case.alerts} alerts at once, one BIN of {case.members} members each")
    warmups: list[dict[str, float]] = []
    runs: list[dict[str, float]] = []
    async with seeded_dispatch(case.deliveries, case.alerts) as bench:
        for run in range(1, WARMUP_RUNS + RUNS + 1):
            figures = await one_run(bench, case, run)
            warming = run <= WARMUP_RUNS
            (warmups if warming else runs).append(figures)
            say(f"  run {run}{' (warm-up)' if warming else ''}: {figures}")
    return {
        "alerts": case.alerts,
        "members_per_alert": case.members,
        "deliveries": case.deliveries,
        "dispatch_replicas": 1,
        "median": medians(runs),
        "runs": runs,
        "warmup_runs": warmups,
    }


async def main() -> None:
    results: dict[str, Any] = {
        "runs": RUNS,
        "warmup_runs": WARMUP_RUNS,
        "machine": {"cpus": os.cpu_count()},
        "measured_from": "the first publish of the run, unless named 'own publish' (the "
        "alert's own broker confirm)",
    }
    labels = [case.label for case in CASES]
    for case in CASES:
        results[case.label] = await one_case(case)
        RESULTS.write_text(json.dumps(results, indent=2))
    medians_only = {k: v["median"] for k, v in results.items() if k in labels}
    say(json.dumps(medians_only, indent=2))
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
