"""``make bench`` (intake under load): a burst of 1,000 reports and 100 alerts from 50
concurrent clients on loopback, while a 100,000-recipient fan-out runs in dispatch.

Reported: errors (anything but 201/202), latency p50/p95/p99/max per request kind, the burst's
wall time, and the fan-out's time alongside. Registry is not started: the BINs reach intake
and dispatch as the registry's events would (published on the broker), and dispatch's
recipients are seeded directly, as in the dispatch benchmark.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.dispatch_fanout import seed
from bench.harness import AMQP_URL, ROOT, bench_system, free_port, say
from shared import topology as topo
from shared.auth import AuthSettings, Role, mint_token
from shared.events import (
    AlertIssued,
    AlertIssuedData,
    BinKind,
    BinRegistered,
    BinRegisteredData,
    BinStatus,
    BinStatusChanged,
    BinStatusChangedData,
    CommunicationPlan,
    Language,
)
from shared.messaging.publisher import Publisher

RESULTS = ROOT / "bench" / "results" / "intake_load.json"
CLIENTS, REPORTS, ALERTS = 50, 1_000, 100
TOKEN = {
    "Authorization": f"Bearer {mint_token(AuthSettings(), 'load', [Role.OPERATOR], ['Leuven'])}"
}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def announce_active_bin(publisher: Publisher, bin_id: uuid.UUID) -> None:
    await publisher.publish(
        BinRegistered.create(
            source="bench",
            data=BinRegisteredData(
                bin_id=bin_id,
                bin_name="Bench BIN",
                kind=BinKind.BIN,
                municipality="Leuven",
                police_zone="Leuven",
                communication_plan=CommunicationPlan.model_validate(
                    {"urgent_channels": ["sms"], "news_channels": ["email"], "languages": ["nl"]}
                ),
            ),
        )
    )
    await publisher.publish(
        BinStatusChanged.create(
            source="bench",
            data=BinStatusChangedData(
                bin_id=bin_id,
                status=BinStatus.ACTIVE,
                previous_status=BinStatus.APPROVED,
                changed_at=datetime.now(UTC),
            ),
        )
    )


async def burst(intake: str, bin_id: uuid.UUID) -> dict[str, Any]:
    work: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for n in range(REPORTS):
        work.put_nowait(
            (
                "/reports",
                {
                    "police_zone": "Leuven",
                    "source": "call_101",
                    "category": "suspicious_person",
                    "facts": f"Melding {n}: iemand kijkt in auto's",
                    "place": {"municipality": "Leuven", "street": "Abdijstraat"},
                    "occurred_at": datetime.now(UTC).isoformat(),
                },
            )
        )
        if n % (REPORTS // ALERTS) == 0:
            work.put_nowait(("/alerts", {"bin_ids": [str(bin_id)], "texts": {"nl": f"Alarm {n}"}}))
    latencies: dict[str, list[float]] = {"/reports": [], "/alerts": []}
    errors: list[str] = []

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=intake, timeout=30, headers=TOKEN) as client:
            while not work.empty():
                path, body = work.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                    if response.status_code not in (201, 202):
                        errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                except httpx.HTTPError as error:
                    errors.append(f"{path}: {error!r}")
                latencies[path].append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(CLIENTS)))
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "errors": len(errors),
        "first_errors": errors[:5],
        "reports": {"count": len(latencies["/reports"]), **percentiles(latencies["/reports"])},
        "alerts": {"count": len(latencies["/alerts"]), **percentiles(latencies["/alerts"])},
    }


async def main() -> None:
    async with bench_system(BIN_GATEWAY_LATENCY_MS="0", BIN_RATE_LIMIT_BURST="100000") as system:
        for service in ("intake", "dispatch"):
            system.migrate(service)
        conn = await asyncpg.connect(
            system.database_url, server_settings={"search_path": "dispatch"}
        )
        say("seeding 100,000 recipients for the fan-out")
        big_bins = await seed(conn)
        ports = {name: free_port() for name in ("intake", "dispatch", "gateway")}
        modules = {"intake": "services.intake", "dispatch": "services.dispatch",
                   "gateway": "services.gateway_simulator"}  # fmt: skip
        for name, module in modules.items():
            system.processes.start(name, [sys.executable, "-m", module], ports[name])
        for name in modules:
            await system.processes.ready(name)
        publisher = Publisher(AMQP_URL, topo.Topology(prefix=system.prefix))
        await publisher.connect()
        small_bin = uuid.uuid4()
        await announce_active_bin(publisher, small_bin)
        intake = f"http://127.0.0.1:{ports['intake']}"
        async with httpx.AsyncClient(headers=TOKEN) as client:
            for _ in range(100):
                if (await client.get(f"{intake}/bins/{small_bin}")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
        fanout_id = uuid.uuid4()
        fanout_started = time.time()
        await publisher.publish(
            AlertIssued.create(
                source="bench",
                data=AlertIssuedData(
                    alert_id=fanout_id, bin_ids=big_bins, texts={Language.NL: "Groot alarm"}
                ),
            )
        )
        say(f"burst: {REPORTS} reports and {ALERTS} alerts from {CLIENTS} clients")
        load = await burst(intake, small_bin)
        # Polling another process's table: no event of ours to wait on.
        while (  # noqa: ASYNC110
            await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE source_id = $1 AND status = 'delivered'",
                fanout_id,
            )
            < 100_000
        ):
            await asyncio.sleep(0.5)
        load["fanout_alongside_seconds"] = round(time.time() - fanout_started, 2)
        load["peak_memory_mb"] = {
            name: round(system.processes.peak_memory_mb(name), 1) for name in modules
        }
        await publisher.close()
        await conn.close()
    RESULTS.write_text(json.dumps(load, indent=2))
    say(json.dumps(load, indent=2))
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
