"""The privacy guard through intake's API on the real database and broker: certain findings
masked before anything is stored or published, uncertain ones refused with a 422 naming
each until the operator answers mask or keep, and the answers audited as counts only."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.events import AlertIssued, Language
from tests.integration.intake.conftest import Intake

TEXT = "Wagen abc 123 en later 1-ABC-123, rekening BE71 0961 2345 6769, bel 101"


async def test_an_alert_with_an_uncertain_finding_is_refused_naming_each(intake: Intake) -> None:
    bin_id = await intake.known_bin()
    refused = await intake.client.post(
        "/alerts",
        json={"bin_ids": [str(bin_id)], "texts": {"nl": TEXT, "fr": "Voiture xyz 987"}},
        headers=intake.operator,
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert [(f["field"], f["language"], f["text"], f["kind"]) for f in body["findings"]] == [
        ("texts", "nl", "abc 123", "licence_plate"),
        ("texts", "fr", "xyz 987", "licence_plate"),
    ]
    assert TEXT[body["findings"][0]["start"] : body["findings"][0]["end"]] == "abc 123"
    assert len(body["reasons"]) == 2 and body["reasons"][0].startswith("texts.nl: 'abc 123'")
    async with intake.runtime.pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM alert WHERE police_zone = $1", intake.zone
        )
    assert stored == 0  # nothing stored, nothing published


async def test_the_operators_answers_let_it_go_masked_as_chosen(
    intake: Intake, database_url: str
) -> None:
    bin_id = await intake.known_bin()
    accepted = await intake.client.post(
        "/alerts",
        json={
            "bin_ids": [str(bin_id)],
            "texts": {"nl": TEXT, "fr": "Voiture xyz 987"},
            "privacy_decisions": [
                {"text": "abc 123", "action": "mask", "language": "nl"},
                {"text": "xyz 987", "action": "keep"},
            ],
        },
        headers=intake.operator,
    )
    assert accepted.status_code == 202, accepted.text
    changes = accepted.json()["privacy_changes"]
    assert [(c["original"], c["decided_by"]) for c in changes] == [
        ("abc 123", "operator"),
        ("1-ABC-123", "guard"),
        ("BE71 0961 2345 6769", "guard"),
    ]
    [body] = await intake.events("alert.issued.v1")
    issued = AlertIssued.model_validate_json(body)
    assert issued.data.texts[Language.NL] == (
        "Wagen [nummerplaat] en later [nummerplaat], rekening [rekeningnummer], bel 101"
    )
    assert issued.data.texts[Language.FR] == "Voiture xyz 987"  # kept, as asked
    assert b"abc 123" not in body and b"BE71" not in body

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "intake"})
    try:
        detail = await conn.fetchval(
            "SELECT detail FROM audit_log WHERE subject_id = $1 AND action = 'alert.issued'",
            issued.data.alert_id,
        )
    finally:
        await conn.close()
    assert '"kept_on_request": 1' in detail and '"masked_on_request": 1' in detail
    assert '"plates_masked": 2' in detail and '"identifiers_masked": 1' in detail
    assert "abc" not in detail and "xyz" not in detail  # counts, never the texts


async def test_notices_and_news_are_guarded_the_same_way(intake: Intake) -> None:
    await intake.known_bin()
    notice: dict[str, Any] = {
        "scope": "zone",
        "police_zone": intake.zone,
        "subjects": {"nl": "Oplichting met wagen xyz 987"},
        "texts": {"nl": "Oplichters met wagen abc 123"},
    }
    refused = await intake.client.post("/notices", json=notice, headers=intake.operator)
    assert refused.status_code == 422  # every field's findings at once
    assert [(f["field"], f["text"]) for f in refused.json()["findings"]] == [
        ("subjects", "xyz 987"),
        ("texts", "abc 123"),
    ]
    notice["privacy_decisions"] = [
        {"text": "abc 123", "action": "mask"},
        {"text": "xyz 987", "action": "mask"},
    ]
    accepted = await intake.client.post("/notices", json=notice, headers=intake.operator)
    assert accepted.status_code == 202, accepted.text

    news: dict[str, Any] = {
        "police_zone": intake.zone,
        "place": "Leuven",
        "occurred_at": "2026-11-23T10:00:00+01:00",
        "category": "small_theft",
        "published_info": "Fiets gestolen, dader reed weg in abc 123; rrn 85.07.30-033.28",
        "publishable": True,
    }
    refused = await intake.client.post("/news", json=news, headers=intake.operator)
    assert [(f["field"], f["text"]) for f in refused.json()["findings"]] == [
        ("published_info", "abc 123")
    ]
    news["privacy_decisions"] = [{"text": "abc 123", "action": "keep"}]
    recorded = await intake.client.post("/news", json=news, headers=intake.operator)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["published_info"] == (
        "Fiets gestolen, dader reed weg in abc 123; rrn [rijksregisternummer]"
    )


async def test_the_preview_lists_what_waits_for_a_decision(intake: Intake) -> None:
    preview = await intake.client.post(
        "/privacy/preview",
        json={"texts": {"nl": TEXT}},
        headers=intake.operator,
    )
    assert preview.status_code == 200
    assert [f["text"] for f in preview.json()["unresolved"]] == ["abc 123"]
    answered = await intake.client.post(
        "/privacy/preview",
        json={"texts": {"nl": TEXT}, "privacy_decisions": [{"text": "abc 123", "action": "keep"}]},
        headers=intake.operator,
    )
    assert answered.json()["unresolved"] == []
    assert answered.json()["texts"]["nl"].startswith("Wagen abc 123 en later [nummerplaat]")
