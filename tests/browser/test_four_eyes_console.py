"""Four-eyes approval in a real browser against the whole system: an operator alerts a BIN
and its neighbour across the municipal border; the alert waits; the operator cannot approve
it themself; a colleague of the zone sees it appear live on the alerts page and approves it
with one click; the first operator's open page shows who approved and when, and the fan-out
follows to every member."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from shared.auth import AuthSettings, Role, mint_token
from tests.browser.conftest import screenshot
from tests.browser.console import log_in
from tests.e2e.api_client import PLAN, registry_events_consumed
from tests.e2e.system import RunningSystem
from tests.helpers import eventually
from tests.infrastructure import run_sync
from tests.lifecycle import make_official

# Police zone Demerdal - DSZ polices Diest and Scherpenheuvel-Zichem: BINs on either side of
# the border are neighbours, and alerting both needs a second operator.
ZONE = "Demerdal"
DIEST, ZICHEM = "Diest", "Scherpenheuvel-Zichem"
STREET, NEIGHBOUR_STREET = "Schaffensestraat", "Demerstraat"
MEMBERS = 3
FIRST = mint_token(AuthSettings(), "operator-an", [Role.OPERATOR], [ZONE])
SECOND = mint_token(AuthSettings(), "operator-bram", [Role.OPERATOR], [ZONE])
RUNNER = {"Authorization": f"Bearer {FIRST}"}


@dataclass(frozen=True)
class Border:
    covering: str
    across: str


def member(n: int, street: str, municipality: str) -> dict[str, object]:
    return {
        "full_name": f"Grenslid Nummer{n}",
        "birth_date": "1980-05-04",
        "address": {"street": street, "house_number": str(n + 1), "municipality": municipality},
        "phones": [f"0472 30 {n // 100:02d} {n % 100:02d}"],
        "email": f"grens{n}@voorbeeld.be",
        "language": "nl",
        "registration_signed_on": "2026-01-10",
        "house_rules_version": "2024-1",
        "house_rules_accepted_on": "2026-01-10",
    }


async def _bin(
    client: httpx.AsyncClient, system: RunningSystem, name: str, municipality: str, street: str
) -> str:
    registry = system.url("registry")
    created = await client.post(
        f"{registry}/bins",
        json={
            "name": name,
            "kind": "bin",
            "municipality": municipality,
            "police_zone": ZONE,
            "communication_plan": PLAN,
            "streets": [{"street": street}],
        },
        headers=RUNNER,
    )
    assert created.status_code == 201, created.text
    bin_id: str = created.json()["bin_id"]
    coordinator = mint_token(
        AuthSettings(), "coordinator", [Role.COORDINATOR], bin_ids=[uuid.UUID(bin_id)]
    )
    for n in range(MEMBERS):
        added = await client.post(
            f"{registry}/bins/{bin_id}/members",
            json=member(n + (0 if municipality == DIEST else MEMBERS), street, municipality),
            headers={"Authorization": f"Bearer {coordinator}"},
        )
        assert added.status_code == 201, added.text
    return bin_id


async def _border(system: RunningSystem) -> Border:
    async with httpx.AsyncClient(timeout=10) as client:
        across = await _bin(client, system, "Zichem Centrum", ZICHEM, NEIGHBOUR_STREET)
        covering = await _bin(client, system, "Diest Schaffen", DIEST, STREET)
        area = await client.put(
            f"{system.url('registry')}/bins/{covering}/area",
            json={"streets": [{"street": STREET}], "neighbour_ids": [across]},
            headers=RUNNER,
        )
        assert area.status_code == 200, area.text
        for bin_id, municipality in ((across, ZICHEM), (covering, DIEST)):
            await make_official(client, system.url("registry"), bin_id, ZONE, municipality, RUNNER)

        async def known_everywhere() -> bool:
            if await registry_events_consumed(client, system) < 2 + 2 * MEMBERS:
                return False
            known = await client.get(f"{system.url('intake')}/bins/{covering}", headers=RUNNER)
            return (
                known.status_code == 200
                and known.json()["status"] == "active"
                and across in known.json().get("neighbour_ids", [])
            )

        await eventually(known_everywhere, timeout=30)
    return Border(covering, across)


@pytest.fixture(scope="module")
def border(system: RunningSystem) -> Border:
    return run_sync(_border(system))


def log_report(system: RunningSystem) -> str:
    created = httpx.post(
        f"{system.url('intake')}/reports",
        json={
            "police_zone": ZONE,
            "source": "call_101",
            "category": "burglary",
            "facts": "Twee mannen proberen achterdeuren te openen, richting Zichem gevlucht.",
            "place": {"municipality": DIEST, "street": STREET, "house_number": "20"},
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        headers=RUNNER,
    )
    assert created.status_code == 201, created.text
    report_id: str = created.json()["report_id"]
    return report_id


def test_an_alert_across_the_border_waits_for_a_colleague_who_approves_it_live(
    system: RunningSystem, border: Border, page: Page, browser: Browser
) -> None:
    intake = system.url("intake")
    colleague_context = browser.new_context(locale="nl-BE", viewport={"width": 1280, "height": 900})
    colleague = colleague_context.new_page()
    colleague.set_default_timeout(20_000)
    try:
        log_in(colleague, intake, SECOND, "/console/alerts")
        approvals = colleague.locator("#approvals")
        expect(approvals).to_contain_text("Geen alarmen die op goedkeuring wachten.")

        report_id = log_report(system)
        log_in(page, intake, FIRST, f"/console/reports/{report_id}")
        expect(page.get_by_role("checkbox", name="Diest Schaffen")).to_be_checked()
        expect(page.get_by_role("checkbox", name="Zichem Centrum")).to_be_checked()
        page.get_by_role("button", name="Alarm opstellen").click()
        page.wait_for_url("**/alert?**")
        page.get_by_label("Tekst in het Nederlands").fill(
            "Twee mannen proberen achterdeuren te openen in de Schaffensestraat. Bel 101."
        )
        page.get_by_label("Motivering").fill("Daders op de vlucht over de gemeentegrens")
        page.get_by_role("button", name="Alarm versturen").click()
        page.wait_for_url(re.compile(r".*/console/alerts/[0-9a-f-]{36}$"))
        alert_id = page.url.rsplit("/", 1)[1]
        approval = page.locator("#approval")
        expect(approval).to_contain_text("Wacht op goedkeuring door een tweede operator")
        expect(approval).to_contain_text("BIN's van meer dan één gemeente")
        expect(approval).to_contain_text(f"{2 * MEMBERS} leden")
        # One's own alert: no approve button, only the colleague's.
        expect(approval.get_by_role("button")).to_have_count(0)
        expect(approval).to_contain_text("Uw eigen alarm")
        page.evaluate("window.notReloaded = true")

        # The colleague's open page shows it without a reload.
        row = approvals.get_by_role("row", name=re.compile("operator-an"))
        expect(row).to_contain_text("Twee mannen proberen")
        expect(row).to_contain_text("BIN's van meer dan één gemeente")
        screenshot(colleague, "console-four-eyes")
        row.get_by_role("button", name="Goedkeuren en versturen").click()
        colleague.wait_for_url(f"**/console/alerts/{alert_id}")
        expect(colleague.locator("#approval")).to_contain_text("Goedgekeurd door operator-bram")

        # The first operator sees who approved and when, live, and the fan-out follows.
        expect(approval.locator("[data-field=state]")).to_have_text(
            re.compile(r"^Goedgekeurd door operator-bram om \d{4}-\d\d-\d\d \d\d:\d\d$")
        )
        expect(approval).to_have_attribute("data-state", "done")
        progress = page.locator("section.live")
        expect(progress.locator("[data-field=percent]")).to_have_text("100", timeout=30_000)
        expect(progress.locator("[data-field=targeted]")).to_have_text(str(2 * MEMBERS))
        assert page.evaluate("window.notReloaded") is True

        # Approved once: gone from the list; a second approval is refused.
        expect(colleague.locator("#approval").get_by_role("button")).to_have_count(0)
        colleague.goto(f"{intake}/console/alerts")
        expect(approvals).to_contain_text("Geen alarmen die op goedkeuring wachten.")
        again = httpx.post(
            f"{intake}/alerts/{alert_id}/approval", headers={"Authorization": f"Bearer {SECOND}"}
        )
        assert again.status_code == 409, again.text
    finally:
        colleague_context.close()
