"""``make soak`` (not in CI; 30 minutes by default, SOAK_MINUTES to change): mixed traffic
against every service as processes, and each process's memory sampled every minute.

Each second: a member registered (registry), a report logged (intake), every tenth second an
alert to the BIN that reaches all members registered so far (dispatch, gateway simulator),
every thirtieth a police news item (digest) and a digest preview. Reported: requests and
errors per kind, RSS per process at the start (after a minute of warm-up) and the end, and
the growth; JSON in bench/results/soak.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import AMQP_URL, ROOT, bench_system, free_port, say
from bench.intake_load import announce_active_bin
from shared import topology as topo
from shared.auth import AuthSettings, Role, mint_token
from shared.messaging.publisher import Publisher

RESULTS = ROOT / "bench" / "results" / "soak.json"
MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
ADMIN = {"Authorization": f"Bearer {mint_token(AuthSettings(), 'soak', [Role.ADMIN])}"}
SERVICES = {
    "registry": "services.registry",
    "intake": "services.intake",
    "dispatch": "services.dispatch",
    "digest": "services.digest",
    "gateway": "services.gateway_simulator",
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    outcomes: Counter[str] = Counter()
    samples: list[dict[str, float]] = []
    async with bench_system(BIN_GATEWAY_LATENCY_MS="5", BIN_RATE_LIMIT_BURST="100000") as system:
        for service in ("registry", "intake", "dispatch", "digest"):
            system.migrate(service)
        ports = {name: free_port() for name in SERVICES}
        for name, module in SERVICES.items():
            system.processes.start(name, [sys.executable, "-m", module], ports[name])
        for name in SERVICES:
            await system.processes.ready(name)
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        async with httpx.AsyncClient(timeout=30, headers=ADMIN) as client:
            created = await client.post(
                f"{url['registry']}/bins",
                json={
                    "name": "Soak BIN", "kind": "bin", "municipality": "Leuven",
                    "police_zone": "Leuven", "streets": [{"street": "Abdijstraat"}],
                    "communication_plan": {"urgent_channels": ["sms", "email"],
                                           "news_channels": ["email"], "languages": ["nl"]},
                },
            )  # fmt: skip
            bin_id = uuid.UUID(created.json()["bin_id"])
            # Made active for intake and digest the way the registry would announce it (the
            # charter's signatures are not what this measures).
            publisher = Publisher(AMQP_URL, topo.Topology(prefix=system.prefix))
            await publisher.connect()
            await announce_active_bin(publisher, bin_id)
            await publisher.close()

            async def call(kind: str, method: str, target: str, **kwargs: Any) -> None:
                try:
                    response = await client.request(method, target, **kwargs)
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                outcomes[f"{kind} {'ok' if ok else 'error'}"] += 1

            started = time.monotonic()
            second = 0
            while time.monotonic() - started < MINUTES * 60:
                second += 1
                tasks = [
                    call("member", "POST", f"{url['registry']}/bins/{bin_id}/members", json={
                        "full_name": f"Lid {second}", "birth_date": "1980-01-01",
                        "address": {"street": "Abdijstraat", "house_number": str(second),
                                    "municipality": "Leuven"},
                        "email": f"lid{second}@voorbeeld.be", "language": "nl",
                        "registration_signed_on": "2026-01-01", "house_rules_version": "1",
                        "house_rules_accepted_on": "2026-01-01"}),
                    call("report", "POST", f"{url['intake']}/reports", json={
                        "police_zone": "Leuven", "source": "call_101", "category": "theft",
                        "facts": "Fietsdiefstal", "occurred_at": datetime.now(UTC).isoformat(),
                        "place": {"municipality": "Leuven", "street": "Abdijstraat"}}),
                ]  # fmt: skip
                if second % 10 == 0:
                    tasks.append(call("alert", "POST", f"{url['intake']}/alerts", json={
                        "bin_ids": [str(bin_id)], "texts": {"nl": f"Alarm {second}"}}))  # fmt: skip
                if second % 30 == 0:
                    tasks.append(call("news", "POST", f"{url['intake']}/news", json={
                        "police_zone": "Leuven", "category": "small_theft", "publishable": True,
                        "place": "Leuven", "occurred_at": datetime.now(UTC).isoformat(),
                        "published_info": "Fiets gestolen aan het station"}))  # fmt: skip
                    tasks.append(call("preview", "GET",
                                      f"{url['digest']}/bins/{bin_id}/digest/preview"))  # fmt: skip
                await asyncio.gather(*tasks)
                if second % 60 == 0:
                    samples.append(
                        {name: round(rss_mb(p.pid), 1)
                         for name, (p, _) in system.processes.running.items()}
                    )  # fmt: skip
                    say(f"  minute {second // 60}: {samples[-1]} {dict(outcomes)}")
                await asyncio.sleep(max(0.0, started + second - time.monotonic()))
    first, last = (samples[1] if len(samples) > 1 else samples[0]), samples[-1]
    result = {
        "minutes": MINUTES,
        "requests": dict(outcomes),
        "rss_mb_after_warm_up": first,
        "rss_mb_at_end": last,
        "growth_mb": {name: round(last[name] - first[name], 1) for name in last},
    }
    RESULTS.write_text(json.dumps(result, indent=2))
    say(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
