"""The yearly evaluation report, every service its own process: real alerts with real
deliveries through the gateway simulator, and a report whose figures are those deliveries,
the same in JSON, CSV and the printable page, and in the zone's report."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.e2e.api_client import (
    OPERATOR,
    coordinator_of,
    issue_alert_and_follow,
    projected,
    register_bin_with_members,
)
from tests.e2e.system import RunningSystem
from tests.helpers import eventually

SMS_EUR, VOICE_EUR = 0.06, 0.12  # the defaults


async def test_the_report_counts_the_deliveries_made(system: RunningSystem) -> None:
    year = datetime.now(UTC).year
    async with httpx.AsyncClient(timeout=20) as client:
        bin_id, members = await register_bin_with_members(client, system, 9)
        await eventually(lambda: projected(client, system, bin_id, len(members)), timeout=30)
        alerts = [await issue_alert_and_follow(client, system, bin_id, 9) for _ in range(2)]

        # What dispatch says it did, alert by alert: members reached; per channel messages
        # delivered and handed to the gateway (retries included).
        delivered = {c: 0 for c in ("sms", "voice", "email")}
        handed = dict(delivered)
        for progress in alerts:
            assert progress["delivered"] == 9
            for channel, line in progress["channels"].items():  # type: ignore[attr-defined]
                delivered[channel] += line["delivered"]
                handed[channel] += line["sent"]
        # The plan: SMS for the subsidised member of a unit, else voice, else e-mail.
        assert delivered == {"sms": 6, "voice": 6, "email": 6}
        stats = (await client.get(f"{system.url('gateway_simulator')}/stats")).json()
        assert {c: stats["sent"].get(c, 0) for c in handed} == handed

        url = f"{system.url('registry')}/bins/{bin_id}/evaluation/{year}"
        response = await client.get(url, headers=coordinator_of(bin_id))
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()

    assert report["members"] == {"at_start": 0, "joined": 9, "left": 0, "at_end": 9}
    activity = report["activity"]
    assert activity["activations"] == 2 and activity["replies"] == 0
    assert activity["feedback"]["open"] + activity["feedback"]["missing"] == 2
    deliveries = report["deliveries"]
    assert {c: line["delivered"] for c, line in deliveries["channels"].items()} == delivered
    assert {c: line["billable"] for c, line in deliveries["channels"].items()} == handed
    assert (deliveries["targeted"], deliveries["delivered"], deliveries["reach"]) == (18, 18, 1.0)
    assert deliveries["timings"]["activations"] == 2
    timings = deliveries["timings"]
    assert 0 < timings["first_median_s"] <= timings["last_median_s"] < 30
    assert (deliveries["sms"], deliveries["voice"]) == (handed["sms"], handed["voice"])
    cost = round(handed["sms"] * SMS_EUR + handed["voice"] * VOICE_EUR, 2)
    assert deliveries["cost_eur"] == cost

    # The same figures in the CSV and on the printable page.
    async with httpx.AsyncClient(timeout=20) as client:
        as_csv = await client.get(url, params={"format": "csv"}, headers=OPERATOR)
        page = await client.get(url, params={"format": "html"}, headers=OPERATOR)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = {
        (r["section"], r["figure"]): r["value"] for r in csv.DictReader(io.StringIO(as_csv.text))
    }
    expected = {
        ("members", "at end of year"): "9",
        ("activations", "activations"): "2",
        ("reach", "reach"): "100.0%",
        ("reach", "members reached"): "18",
        ("messages: sms", "delivered"): str(delivered["sms"]),
        ("messages: voice", "delivered"): str(delivered["voice"]),
        ("messages: email", "delivered"): str(delivered["email"]),
        ("costs", "SMS billed"): str(handed["sms"]),
        ("costs", "voice messages billed"): str(handed["voice"]),
        ("costs", "cost (EUR)"): f"{cost:.2f}",
    }
    assert {key: rows[key] for key in expected} == expected

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    # Charts drawn on the server; nothing fetched from elsewhere, no script needed.
    assert "<svg" in html and "<script" not in html
    assert not re.search(r"\b(src|href)=|https?://", html)
    cells = re.findall(
        r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td class=\"value\">([^<]*)</td></tr>",
        html,
    )
    on_page = {(section, figure): value for section, figure, value in cells}
    assert {key: on_page[key] for key in expected} == expected
    assert len(cells) == len(rows)

    # The zone's report lists the BIN with the same figures. (Other tests' BINs share the
    # zone: its totals hold this BIN's and more.)
    async with httpx.AsyncClient(timeout=20) as client:
        zone_url = f"{system.url('registry')}/zones/Leuven/evaluation/{year}"
        zone = (await client.get(zone_url, headers=OPERATOR)).json()
        zone_page = await client.get(zone_url, params={"format": "html"}, headers=OPERATOR)
    line = next(b for b in zone["bins"] if b["bin_id"] == bin_id)
    assert line["members"] == report["members"]
    assert line["activity"] == report["activity"]
    assert line["deliveries"] == report["deliveries"]
    assert zone["activity"]["activations"] >= activity["activations"]
    assert zone["deliveries"]["cost_eur"] >= deliveries["cost_eur"]
    assert "Activations per BIN" in zone_page.text
