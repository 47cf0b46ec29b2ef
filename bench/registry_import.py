"""``make bench`` (registry): 100,000 members imported across 200 BINs, the way coordinators
bring their existing lists: one CSV file a BIN, posted to the registry's import endpoint.

Reported, as medians over several runs: the time for all files to be imported (every row
validated, written, its events in the outbox), the time until the outbox relay has
published every member event, members per second, and the registry process's peak memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import asyncpg
import httpx

from bench.harness import ROOT, bench_system, free_port, medians, say
from services.registry.member_csv import COLUMNS
from shared.auth import AuthSettings, Role, mint_token

RESULTS = ROOT / "bench" / "results" / "registry_import.json"
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "100000"))
BINS = int(os.environ.get("BENCH_BINS", "200"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
STREET = "Bankstraat"


def member_list(first: int, count: int) -> bytes:
    """A CSV file as a coordinator keeps it: semicolons, Belgian dates, local numbers."""
    lines = [";".join(COLUMNS)]
    for n in range(first, first + count):
        phone = f"0470 {n // 10000 % 100:02d} {n // 100 % 100:02d} {n % 100:02d}"
        lines.append(
            ";".join(
                [
                    f"Lid {n}",
                    "17/05/1980",
                    STREET,
                    str(n % 400 + 1),
                    "",
                    "3000",
                    "Leuven",
                    "lives",
                    phone,
                    "",
                    f"lid{n}@voorbeeld.be",
                    "nl" if n % 2 else "fr",
                    "",
                    "yes",
                    "10/01/2026",
                    "2024-1",
                    "10/01/2026",
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode()


async def one_run(
    client: httpx.AsyncClient, base: str, conn: asyncpg.Connection
) -> dict[str, float]:
    admin = {"Authorization": f"Bearer {mint_token(AuthSettings(), 'bench', [Role.ADMIN])}"}
    bins = []
    for n in range(BINS):
        created = await client.post(
            f"{base}/bins",
            json={
                "name": f"Bench BIN {n}",
                "kind": "bin",
                "municipality": "Leuven",
                "police_zone": "Leuven",
                "communication_plan": {
                    "urgent_channels": ["sms", "voice"],
                    "news_channels": ["email"],
                    "languages": ["nl", "fr"],
                },
                "streets": [{"street": STREET}],
            },
            headers=admin,
        )
        created.raise_for_status()
        bins.append(created.json()["bin_id"])
    per_bin = MEMBERS // BINS
    files = [member_list(n * per_bin, per_bin) for n in range(BINS)]
    started = time.perf_counter()
    for bin_id, body in zip(bins, files, strict=True):
        imported = await client.post(
            f"{base}/bins/{bin_id}/members/import",
            content=body,
            headers={**admin, "content-type": "text/csv"},
        )
        if imported.status_code != 200 or imported.json()["accepted"] != per_bin:
            raise RuntimeError(f"import refused: {imported.status_code} {imported.text[:500]}")
    imported_at = time.perf_counter()
    # Polling another process's table: no event of ours to wait on.
    while await conn.fetchval("SELECT count(*) FROM registry.outbox") > 0:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    relayed_at = time.perf_counter()
    return {
        "import_seconds": imported_at - started,
        "events_relayed_seconds": relayed_at - started,
        "members_per_second": per_bin * BINS / (imported_at - started),
    }


async def main() -> None:
    results: dict[str, Any] = {"members": MEMBERS, "bins": BINS, "runs": RUNS}
    async with bench_system() as system:
        system.migrate("registry")
        port = free_port()
        system.processes.start("registry", [sys.executable, "-m", "services.registry"], port)
        await system.processes.ready("registry")
        conn = await asyncpg.connect(system.database_url)
        runs = []
        async with httpx.AsyncClient(timeout=120) as client:
            for run in range(RUNS):
                runs.append(await one_run(client, f"http://127.0.0.1:{port}", conn))
                say(f"  registry import, run {run + 1}: {runs[-1]}")
        await conn.close()
        results["import"] = {
            "runs": runs,
            "median": medians(runs),
            "peak_memory_mb": round(system.processes.peak_memory_mb("registry"), 1),
        }
    RESULTS.write_text(json.dumps(results, indent=2))
    say(json.dumps(results, indent=2))
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
