"""A real Prometheus (Debian's package) scrapes the running services; an alert's deliveries
are read back through Prometheus' HTTP query API, as a dashboard would."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.api_client import issue_alert_and_follow, projected, register_bin_with_members
from tests.e2e.system import SERVICES, RunningSystem
from tests.helpers import eventually
from tests.ports import free_port

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"


@pytest.fixture
def prometheus(system: RunningSystem, tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            "prometheus is missing: install it (Debian: apt-get install prometheus)",
            pytrace=False,
        )
    shutil.copy(RULES, tmp_path / "rules.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            {
                "job_name": f"bin-{service.replace('_', '-')}",
                "static_configs": [
                    {
                        "targets": [system.url(service).removeprefix("http://")],
                        "labels": {"service": service},
                    }
                ],
            }
            for service in SERVICES
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


async def query(client: httpx.AsyncClient, prometheus: str, expr: str) -> float | None:
    try:
        response = await client.get(f"{prometheus}/api/v1/query", params={"query": expr})
    except httpx.HTTPError:
        return None  # not listening yet
    result = response.json()["data"]["result"] if response.status_code == 200 else []
    return float(result[0]["value"][1]) if result else None


async def test_prometheus_scrapes_every_service_and_sees_the_deliveries(
    system: RunningSystem, prometheus: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:

        async def every_service_up() -> bool:
            return await query(client, prometheus, 'sum(up{job=~"bin-.*"})') == len(SERVICES)

        await eventually(every_service_up, timeout=60)
        bin_id, members = await register_bin_with_members(client, system, 9)
        await eventually(lambda: projected(client, system, bin_id, len(members)), timeout=30)
        await issue_alert_and_follow(client, system, bin_id, expected=9)

        async def delivered_as_prometheus_sees_it() -> float | None:
            value = await query(
                client,
                prometheus,
                'sum(bin_dispatch_receipts_total{outcome="delivered"})',
            )
            return value if value is not None and value >= 9 else None

        assert await eventually(delivered_as_prometheus_sees_it, timeout=60) == 9
        by_channel = await query(
            client, prometheus, 'sum(bin_dispatch_deliveries_requested_total{priority="urgent"})'
        )
        assert by_channel == 9
        ready = await query(client, prometheus, "min(bin_ready)")
        assert ready == 1
        # The alerting rules load and evaluate against the live series.
        rules = (await client.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
        assert {r["name"] for g in rules for r in g["rules"]} >= {
            "BinServiceDown",
            "BinDeadLettersGrowing",
            "BinUrgentDispatchSlow",
        }
        assert all(r["health"] == "ok" for g in rules for r in g["rules"]), rules
