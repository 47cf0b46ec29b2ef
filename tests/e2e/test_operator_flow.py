"""An operator's whole story, every service its own process: a report is logged, the BINs
covering the place and their neighbours proposed, the evaluation activates them, the alert
reaches every member through the gateway, the CAP rendering validates; and schemathesis
finds no server error in intake's API."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import xmlschema
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from shared.auth import Role
from tests.e2e.api_client import OPERATOR, bearer, projected, register_bin_with_members
from tests.e2e.system import RunningSystem
from tests.helpers import eventually

ADMIN = bearer(Role.ADMIN)
CAP = xmlschema.XMLSchema(Path(__file__).parents[1] / "schemas" / "CAP-v1.2.xsd")


async def test_report_evaluation_alert_and_delivery(system: RunningSystem) -> None:
    intake = system.url("intake")
    async with httpx.AsyncClient(timeout=10) as client:
        bin_id, members = await register_bin_with_members(client, system, 12)
        await eventually(lambda: projected(client, system, bin_id, len(members)), timeout=30)
        report = await client.post(
            f"{intake}/reports",
            json={
                "police_zone": "Leuven",
                "source": "call_101",
                "category": "attempted_burglary",
                "facts": "Twee mannen proberen een achterdeur te openen.",
                "place": {"municipality": "Leuven", "street": "Abdijstraat", "house_number": "40"},
                "occurred_at": datetime.now(UTC).isoformat(),
                "suspects": "Twee mannen, donkere kledij, rugzak",
            },
            headers=OPERATOR,
        )
        assert report.status_code == 201, report.text
        report_id = report.json()["report_id"]
        proposal = (
            await client.get(f"{intake}/reports/{report_id}/proposal", headers=OPERATOR)
        ).json()
        assert {p["bin_id"]: p["reason"] for p in proposal}[bin_id] == "covers_place"
        # Earlier tests' BINs cover the same street; the operator keeps only this one ticked.

        evaluated = await client.post(
            f"{intake}/reports/{report_id}/evaluation",
            json={
                "decision": "activate",
                "reason": "duidelijke beschrijving, feiten bezig",
                "bin_ids": [bin_id],
                "alert": {
                    "texts": {
                        "nl": "Twee verdachte mannen aan achterdeuren in de Abdijstraat",
                        "fr": "Deux hommes suspects rue de l'Abbaye",
                    }
                },
            },
            headers=OPERATOR,
        )
        assert evaluated.status_code == 201, evaluated.text
        alert_id = evaluated.json()["evaluation"]["outcome_id"]

        async def delivered() -> dict[str, object] | None:
            response = await client.get(
                f"{system.url('dispatch')}/alerts/{alert_id}/progress", headers=OPERATOR
            )
            body: dict[str, object] = response.json() if response.status_code == 200 else {}
            return body if body.get("complete") and body.get("targeted") == 12 else None

        progress = await eventually(delivered, timeout=30)
        assert progress["delivered"] == 12
        assert progress["status"] == "dispatched"
        elsewhere = bearer(Role.OPERATOR, police_zones=["Brussel-Hoofdstad-Elsene"])
        refused = await client.get(
            f"{system.url('dispatch')}/alerts/{alert_id}/progress", headers=elsewhere
        )
        assert refused.status_code == 403

        cap = await client.get(f"{intake}/alerts/{alert_id}/cap", headers=OPERATOR)
        CAP.validate(cap.text)


@pytest.mark.parametrize("service", ["intake", "registry", "dispatch", "digest"])
def test_no_api_answers_with_a_server_error(system: RunningSystem, service: str) -> None:
    """Schemathesis generates requests from the service's own OpenAPI document, valid ones
    and invalid ones; whatever they hold, the answer is never a 5xx."""
    schema = schemathesis.openapi.from_url(f"{system.url(service)}/openapi.json")
    errors: list[str] = []
    calls = 0
    for found in schema.get_all_operations():
        if not isinstance(found, Ok):
            errors.append(f"the OpenAPI document has an invalid operation: {found}")
            continue
        operation = found.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=15,
                deadline=None,
                suppress_health_check=list(hypothesis.HealthCheck),
                derandomize=True,
                database=None,
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case[Any]) -> None:
                nonlocal calls
                calls += 1
                response = case.call(headers=ADMIN, timeout=10)
                if response.status_code >= 500:
                    errors.append(f"{case.method} {case.formatted_path} {case.body!r:.400}")

            # An operation without parameters or body has no invalid input to generate.
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                call()
    assert calls > 50
    assert not errors, "\n".join(errors[:20])
