"""Intake's part of the yearly evaluation: activations, follow-ups, replies (also after the
retention purge deleted them) and feedback on time or missing; and reports losing their
personal details after their retention period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.auth import Role
from tests.integration.intake.conftest import ADMIN, Intake, bearer, operator_of


async def _alert(intake: Intake, bin_id: uuid.UUID) -> str:
    accepted = await intake.client.post(
        "/alerts",
        json={"bin_ids": [str(bin_id)], "texts": {"nl": "Verdachte man"}},
        headers=intake.operator,
    )
    assert accepted.status_code == 202, accepted.text
    alert_id: str = accepted.json()["alert_id"]
    return alert_id


async def test_a_bins_year_of_activations_replies_and_feedback(intake: Intake) -> None:
    bin_id = await intake.known_bin()
    year = datetime.now(UTC).year
    answered = await _alert(intake, bin_id)
    follow_up = await intake.client.post(
        f"/alerts/{answered}/follow-ups",
        json={"texts": {"nl": "Opgepakt, bedankt"}},
        headers=intake.operator,
    )
    assert follow_up.status_code == 202
    given = await intake.client.post(
        f"/alerts/{answered}/feedback",
        json={"subjects": {"nl": "Resultaat"}, "texts": {"nl": "Aangehouden."}},
        headers=intake.operator,
    )
    assert given.status_code == 202, given.text
    for _ in range(2):
        member = uuid.uuid4()
        replied = await intake.client.post(
            f"/alerts/{answered}/responses",
            json={"member_id": str(member), "text": "Gezien aan de kerk"},
            headers=bearer(str(member)),
        )
        assert replied.status_code == 201
    forgotten = await _alert(intake, bin_id)
    async with intake.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE alert SET feedback_due = current_date - 3 WHERE alert_id = $1",
            uuid.UUID(forgotten),
        )

    coordinator = bearer("coordinator", Role.COORDINATOR, bin_ids=[bin_id])
    url = f"/bins/{bin_id}/evaluation/{year}"

    async def figures() -> dict[str, Any]:
        response = await intake.client.get(url, headers=coordinator)
        assert response.status_code == 200, response.text
        total: dict[str, Any] = response.json()["total"]
        return total

    before = await figures()
    assert before["activations"] == 2 and before["follow_ups"] == 1
    assert before["replies"] == 2
    assert before["feedback"] == {"on_time": 1, "late": 0, "missing": 1, "open": 0}
    assert before["activations_by_month"][datetime.now(UTC).month - 1] == 2

    # The replies go after their 30 days; the count stays.
    async with intake.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE response SET received_at = now() - interval '31 days' WHERE alert_id = $1",
            uuid.UUID(answered),
        )
    purged = await intake.app.state.retention.purge()
    assert purged["replies"] >= 2
    assert await figures() == before

    zone = await intake.client.get(
        f"/zones/{intake.zone}/evaluation/{year}", headers=intake.operator
    )
    assert zone.status_code == 200, zone.text
    assert zone.json()["total"]["activations"] == 2
    assert zone.json()["bins"][str(bin_id)]["replies"] == 2

    # Who may read it: the BIN's coordinator, its zone's police, its municipality, admins.
    mayor = bearer("mayor", Role.MAYOR, municipalities=["Leuven"])
    assert (await intake.client.get(url, headers=mayor)).status_code == 200
    assert (await intake.client.get(url, headers=ADMIN)).status_code == 200
    for outsider in (
        operator_of("Elders"),
        bearer("other", Role.COORDINATOR, bin_ids=[uuid.uuid4()]),
        bearer("mayor", Role.MAYOR, municipalities=["Gent"]),
    ):
        assert (await intake.client.get(url, headers=outsider)).status_code == 403
    other_zone = f"/zones/{intake.zone}/evaluation/{year}"
    assert (await intake.client.get(other_zone, headers=mayor)).status_code == 403
    assert (
        await intake.client.get(f"/bins/{uuid.uuid4()}/evaluation/{year}", headers=ADMIN)
    ).status_code == 404
    assert (
        await intake.client.get(f"/bins/{bin_id}/evaluation/1800", headers=ADMIN)
    ).status_code == 422


async def test_reports_lose_their_personal_details_after_their_retention(intake: Intake) -> None:
    report = await intake.report(suspects="Man, rode jas, 1m80")
    report_id = uuid.UUID(report["report_id"])
    async with intake.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE report SET logged_at = now() - interval '366 days' WHERE report_id = $1",
            report_id,
        )
    purged = await intake.app.state.retention.purge()
    assert purged["reports"] >= 1
    kept = (await intake.client.get(f"/reports/{report_id}", headers=intake.operator)).json()
    assert (kept["facts"], kept["suspects"], kept["vehicles"]) == ("", None, None)
    assert kept["place"] == {
        "municipality": "Leuven",
        "street": "Abdijstraat",
        "house_number": None,
    }
    assert kept["category"] == "suspicious_vehicle" and kept["police_zone"] == intake.zone
