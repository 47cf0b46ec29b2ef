"""``make bench``: one urgent alert to 100,000 recipients across 200 BINs, mixed channels, the
gateway simulator answering at once; with 1 and 2 dispatch replicas; and in the same run the
Celery task-per-recipient baseline. Then a national alert (1,000,000 recipients in 500 BINs,
one replica) and many alerts at once (bench/dispatch_many_alerts.py). Medians over several
runs, JSON in bench/results/dispatch_fanout.json.

``BENCH_FANOUT_CASES`` picks the cases (default ``standard,national,many_alerts``);
``BENCH_NATIONAL_RECIPIENTS``, ``BENCH_NATIONAL_BINS`` and ``BENCH_NATIONAL_RUNS`` (2) shape
the national one.

Times are measured from the moment ``alert.issued.v1`` is published (what intake's outbox
relay does right after the 202): to the first batch at the gateway, to every delivery handed
to the gateways, to every receipt recorded in dispatch's database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx

from bench.harness import (
    AMQP_URL,
    LOGS,
    BenchSystem,
    Processes,
    backend_cpu,
    backend_cpu_used,
    bench_system,
    free_port,
    medians,
    say,
    server_cpu_seconds,
)
from shared import topology as topo
from shared.events import AlertIssued, AlertIssuedData, Language
from shared.messaging.publisher import Publisher

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "dispatch_fanout.json"
RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "100000"))
BINS = int(os.environ.get("BENCH_BINS", "200"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CELERY_RUNS = int(os.environ.get("BENCH_CELERY_RUNS", "3"))
# While iterating on one figure, e.g. BENCH_REPLICAS=1 BENCH_CELERY_RUNS=0.
REPLICAS = tuple(int(n) for n in os.environ.get("BENCH_REPLICAS", "1,2").split(","))
# BIN_FANOUT_SLICES for the configurations of more than one replica (one replica: unsliced).
# 2 measured 3 % faster to all receipts than 1 with 2 replicas (docs/dispatch.md); 4 no better.
SLICES = int(os.environ.get("BENCH_SLICES", "2"))
CASES = os.environ.get("BENCH_FANOUT_CASES", "standard,national,many_alerts").split(",")
NATIONAL_RECIPIENTS = int(os.environ.get("BENCH_NATIONAL_RECIPIENTS", "1000000"))
NATIONAL_BINS = int(os.environ.get("BENCH_NATIONAL_BINS", "500"))
NATIONAL_RUNS = int(os.environ.get("BENCH_NATIONAL_RUNS", "2"))


async def seed(
    conn: asyncpg.Connection, recipients: int = RECIPIENTS, bin_count: int = BINS
) -> list[uuid.UUID]:
    """BINs (200 by default) whose plan is SMS, then voice, then e-mail; a third of the members
    each reachable by SMS (the subsidised one), by voice only, by e-mail only. Member n is in
    BIN n % bin_count, so each BIN has recipients / bin_count members."""
    bins = [uuid.uuid4() for _ in range(bin_count)]
    await conn.executemany(
        "INSERT INTO bin_projection VALUES ($1, 'Leuven', 'Leuven', "
        "'{sms,voice,email}', '{email}', '{nl,fr}')",
        [(b,) for b in bins],
    )
    members = [uuid.uuid4() for _ in range(recipients)]
    records = []
    for n, member in enumerate(members):
        kind = n % 3
        phones = [f"+3247{n:07d}"] if kind < 2 else []
        email = f"lid{n}@voorbeeld.be" if kind == 2 else None
        records.append((member, "nl" if n % 2 else "fr", phones, email, None, kind == 0))
    await conn.copy_records_to_table(
        "recipient",
        records=records,
        columns=("member_id", "language", "phones", "email", "push_token", "subsidised_sms"),
    )
    await conn.copy_records_to_table(
        "membership",
        records=[(bins[n % bin_count], m) for n, m in enumerate(members)],
        columns=("bin_id", "member_id"),
    )
    return bins


async def settle(conn: asyncpg.Connection) -> None:
    """Vacuums and analyses dispatch's tables before a run, as autovacuum leaves them between
    two alerts. Otherwise autovacuum starts on the freshly seeded projection, or on the
    previous run's 100,000 updated deliveries, in the middle of the next run, and the runs
    measure when it happened to start: without this, the first 1-replica runs after seeding
    were the slowest, by up to a second."""
    await conn.execute(
        "VACUUM ANALYZE recipient, membership, bin_projection, delivery, fanout_batch"
    )


async def one_fanout(
    publisher: Publisher,
    conn: asyncpg.Connection,
    gateway_port: int,
    bins: list[uuid.UUID],
    alert_id: uuid.UUID | None = None,
    recipients: int = RECIPIENTS,
) -> dict[str, float]:
    alert_id = alert_id or uuid.uuid4()
    event = AlertIssued.create(
        source="bench",
        data=AlertIssuedData(
            alert_id=alert_id,
            bin_ids=bins,
            texts={Language.NL: "Verdachte wagen gezien", Language.FR: "Voiture suspecte"},
        ),
    )
    started = time.time()
    await publisher.publish(event)
    # Completion is watched at the gateway and then in the database at a slow pace, so the
    # watching itself takes little CPU from the system under test: the times come from the
    # gateway's and the database's own clocks, not from when this loop looks.
    async with httpx.AsyncClient() as client:
        source: dict[str, float] = {}
        while source.get("deliveries", 0) < recipients:
            if time.time() - started > 600:
                raise RuntimeError(f"fan-out not at the gateway after 600 s: {source}")
            await asyncio.sleep(0.25)
            source = (
                await client.get(f"http://127.0.0.1:{gateway_port}/stats/sources/{alert_id}")
            ).json()
    while True:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered, "
            "(SELECT max(sent_at) FROM fanout_batch WHERE source_id = $1) AS handed, "
            "max(updated_at) AS recorded "
            "FROM delivery WHERE source_id = $1",
            alert_id,
        )
        assert row is not None
        if row["delivered"] >= recipients:
            break
        if time.time() - started > 600:
            raise RuntimeError(f"receipts not recorded after 600 s: {dict(row)}")
        await asyncio.sleep(0.5)
    receipts_at = row["recorded"].timestamp()
    return {
        "first_batch_seconds": source["first_batch_at"] - started,
        "all_handed_seconds": row["handed"].timestamp() - started,
        "all_receipts_seconds": receipts_at - started,
        "deliveries_per_second": recipients / (receipts_at - started),
    }


def cpu_used(processes: Processes, dispatch: list[str]) -> dict[str, float]:
    """CPU seconds used so far by the dispatch replicas together, the gateway simulator and
    the servers: where a fan-out's time goes on a machine whose cores are all busy."""
    servers = server_cpu_seconds()
    return {
        "cpu_dispatch_seconds": sum(processes.cpu_seconds(name) for name in dispatch),
        "cpu_gateway_seconds": processes.cpu_seconds("gateway"),
        "cpu_postgres_seconds": servers["postgres"],
        "cpu_rabbitmq_seconds": servers["rabbitmq"],
    }


async def celery_baseline(database_url: str, logs: Path) -> dict[str, Any]:
    queue = f"bench-celery-{uuid.uuid4().hex[:8]}"
    broker = AMQP_URL.rstrip("/") + "//" if AMQP_URL.endswith(":5672/") else AMQP_URL
    env = {
        **os.environ,
        "BENCH_CELERY_BROKER": broker,
        "BENCH_CELERY_QUEUE": queue,
        "BENCH_DATABASE_URL": database_url,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.celery_baseline",
            "worker",
            "-Q",
            queue,
            "-c",
            "2",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        cwd=ROOT,
        stdout=(logs / "celery.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    connection = await aio_pika.connect_robust(AMQP_URL)
    channel = await connection.channel()
    # Declared here as Celery declares it (durable, classic): a passive look at a queue that
    # does not exist yet would close the channel.
    celery_queue = await channel.declare_queue(queue, durable=True)
    runs = []
    try:
        await asyncio.sleep(3)  # the worker connects
        for _ in range(CELERY_RUNS):
            started = time.time()
            # The producer runs as its own process, the way a web app would enqueue.
            producer = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.celery_baseline", env=env, cwd=ROOT
            )
            if await producer.wait() != 0:
                raise RuntimeError("the Celery producer failed")
            published = time.time()
            while True:
                declared = await channel.declare_queue(queue, durable=True)
                left = declared.declaration_result.message_count
                if left == 0:
                    break
                if time.time() - published > 600:
                    raise RuntimeError(f"celery worker still has {left} tasks after 600 s")
                await asyncio.sleep(0.05)
            done = time.time()
            runs.append(
                {
                    "publish_seconds": published - started,
                    "all_done_seconds": done - started,
                    "tasks_per_second": RECIPIENTS / (done - started),
                }
            )
            say(f"  celery run: {runs[-1]}")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        await celery_queue.delete(if_unused=False, if_empty=False)
        await connection.close()
    return {"runs": runs, "median": medians(runs)}


@dataclass(frozen=True)
class SeededDispatch:
    system: BenchSystem
    conn: asyncpg.Connection
    publisher: Publisher
    gateway_port: int
    bins: list[uuid.UUID]


@asynccontextmanager
async def seeded_dispatch(
    recipients: int = RECIPIENTS, bin_count: int = BINS
) -> AsyncIterator[SeededDispatch]:
    """A benchmark system with dispatch's schema seeded with the recipients, the gateway
    simulator answering at once, a connection to dispatch's schema and a publisher; dispatch
    replicas are the benchmark's to start."""
    async with bench_system(BIN_GATEWAY_LATENCY_MS="0") as system:
        system.migrate("dispatch")
        conn = await asyncpg.connect(
            system.database_url, server_settings={"search_path": "dispatch"}
        )
        publisher = Publisher(AMQP_URL, topo.Topology(prefix=system.prefix))
        try:
            say(f"seeding {recipients} recipients across {bin_count} BINs")
            bins = await seed(conn, recipients, bin_count)
            gateway_port = free_port()
            system.processes.start(
                "gateway", [sys.executable, "-m", "services.gateway_simulator"], gateway_port
            )
            await system.processes.ready("gateway")
            await publisher.connect()
            yield SeededDispatch(system, conn, publisher, gateway_port, bins)
        finally:
            await conn.close()
            await publisher.close()


async def replica_runs(
    bench: SeededDispatch, replicas: int, runs: int, recipients: int
) -> dict[str, Any]:
    """``runs`` fan-outs to every seeded BIN through ``replicas`` dispatch replicas: times,
    CPU seconds in all and per 1,000 deliveries of each party, and each replica's peak RSS."""
    processes, conn = bench.system.processes, bench.conn
    database = bench.system.database_url.rsplit("/", 1)[1]
    names = [f"dispatch-{n}" for n in range(replicas)]
    slices = SLICES if replicas > 1 else 1
    for name in names:
        processes.start(
            name, [sys.executable, "-m", "services.dispatch"], free_port(),
            BIN_FANOUT_SLICES=str(slices),
        )  # fmt: skip
    try:
        for name in names:
            await processes.ready(name)
        figures = []
        # The benchmark's own queries (its progress watch counts a million rows) are not
        # the system's work.
        own_pid = await conn.fetchval("SELECT pg_backend_pid()")
        for run in range(runs):
            await settle(conn)
            before = cpu_used(processes, names)
            backends_before = backend_cpu(database, but=own_pid)
            figures.append(
                await one_fanout(
                    bench.publisher, conn, bench.gateway_port, bench.bins, recipients=recipients
                )
            )
            after = cpu_used(processes, names)
            backends_after = backend_cpu(database, but=own_pid)
            used = {k: after[k] - before[k] for k in after}
            # The machine's PostgreSQL is shared: its own backends are what this run cost it.
            used["cpu_postgres_own_backends_seconds"] = backend_cpu_used(
                backends_before, backends_after
            )
            figures[-1].update({k: round(v, 2) for k, v in used.items()})
            figures[-1].update(
                {
                    k.replace("_seconds", "_per_1000_deliveries"): round(v / (recipients / 1000), 4)
                    for k, v in used.items()
                }
            )
            say(f"  {replicas} replica(s), {slices} slice(s), run {run + 1}: {figures[-1]}")
        return {
            "recipients": recipients,
            "bins": len(bench.bins),
            "fanout_slices": slices,
            "runs": figures,
            "median": medians(figures),
            "peak_memory_mb": {n: round(processes.peak_memory_mb(n), 1) for n in names},
        }
    finally:
        for name in names:
            processes.stop(name)


async def main() -> None:
    results: dict[str, Any] = {
        "recipients": RECIPIENTS,
        "bins": BINS,
        "runs": RUNS,
        "machine": {"cpus": os.cpu_count()},
    }

    def write() -> None:
        RESULTS.write_text(json.dumps(results, indent=2))

    if "standard" in CASES:
        async with seeded_dispatch() as bench:
            for replicas in REPLICAS:
                results[f"dispatch_{replicas}_replica"] = await replica_runs(
                    bench, replicas, RUNS, RECIPIENTS
                )
            say("celery baseline: one task per recipient")
            results["celery_task_per_recipient"] = await celery_baseline(
                bench.system.database_url, LOGS
            )
        celery = results["celery_task_per_recipient"]["median"]
        if celery:
            for replicas in REPLICAS:
                dispatch = results[f"dispatch_{replicas}_replica"]["median"]
                results[f"speedup_vs_celery_{replicas}_replica"] = round(
                    dispatch["deliveries_per_second"] / celery["tasks_per_second"], 1
                )
        write()
    if "national" in CASES:
        say(f"national: one alert to {NATIONAL_RECIPIENTS} recipients in {NATIONAL_BINS} BINs")
        async with seeded_dispatch(NATIONAL_RECIPIENTS, NATIONAL_BINS) as bench:
            results["national"] = await replica_runs(bench, 1, NATIONAL_RUNS, NATIONAL_RECIPIENTS)
        write()
    if "many_alerts" in CASES:
        # Imported here: that module builds on this one's seeding.
        from bench import dispatch_many_alerts

        results["many_alerts"] = {
            case.label: await dispatch_many_alerts.one_case(case)
            for case in dispatch_many_alerts.CASES
        }
        write()
    say(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2)[:6000])
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
