"""The operators' story over intake's HTTP API, on the real broker and database: a report,
the proposed BINs, the evaluation, the alert and what follows it; and every refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import xmlschema

from shared.auth import Role
from shared.events import AlertIssued, BinStatus, Language, PoliceNewsPublished
from shared.events.dispatch import MemberReplied, MemberRepliedData
from shared.events.intake import AlertCancelled, NoticePublished
from tests.helpers import eventually
from tests.integration.intake.conftest import ADMIN, Intake, bearer, operator_of

CAP = xmlschema.XMLSchema(Path(__file__).parents[2] / "schemas" / "CAP-v1.2.xsd")
ABDIJSTRAAT = [{"street_name": "Abdijstraat"}]


def street_of(intake: Intake) -> str:
    """A street only this test's BINs cover (the database is shared by the whole run)."""
    return f"Abdijstraat {intake.zone}"


async def test_report_proposal_evaluation_and_alert(intake: Intake) -> None:
    neighbour = await intake.known_bin(streets=[{"street_name": "Tiensestraat"}])
    asleep = await intake.known_bin(status=BinStatus.SUSPENDED)
    street = street_of(intake)
    covering = await intake.known_bin(
        streets=[{"street_name": street}], neighbours=[neighbour, asleep]
    )
    report = await intake.report(
        place={"municipality": "Leuven", "street": street, "house_number": "12"}
    )
    assert report["status"] == "open" and report["logged_by"] == "op-1"

    proposal = (
        await intake.client.get(f"/reports/{report['report_id']}/proposal", headers=intake.operator)
    ).json()
    assert [(p["bin_id"], p["reason"], p["selected"]) for p in proposal] == [
        (str(covering), "covers_place", True),
        *sorted(
            [(str(neighbour), "adjacent", True), (str(asleep), "adjacent", False)],
            key=lambda p: p[0],
        ),
    ]
    assert proposal[0]["urgent_channels"] == ["sms", "voice"]

    # The operator unticks nothing but the suspended BIN, and activates.
    evaluated = await intake.client.post(
        f"/reports/{report['report_id']}/evaluation",
        json={
            "decision": "activate",
            "reason": "duidelijke beschrijving van het voertuig",
            "bin_ids": [str(covering), str(neighbour)],
            "alert": {
                "texts": {
                    "nl": "Verdachte witte bestelwagen 1-ABC-123 in de Abdijstraat",
                    "fr": "Camionnette blanche suspecte 1ABC123 rue de l'Abbaye",
                }
            },
        },
        headers=intake.operator,
    )
    assert evaluated.status_code == 201, evaluated.text
    evaluation = evaluated.json()["evaluation"]
    assert evaluation["decision"] == "activate" and evaluation["decided_by"] == "op-1"
    alert_id = evaluation["outcome_id"]

    [body] = await intake.events("alert.issued.v1")
    issued = AlertIssued.model_validate_json(body)
    assert str(issued.data.alert_id) == alert_id
    assert set(issued.data.bin_ids) == {covering, neighbour}
    # The plate never leaves intake.
    assert b"ABC" not in body
    masked = "Verdachte witte bestelwagen [nummerplaat] in de Abdijstraat"
    assert issued.data.texts[Language.NL] == masked

    again = await intake.client.post(
        f"/reports/{report['report_id']}/evaluation",
        json={"decision": "no_action", "reason": "dubbel"},
        headers=intake.operator,
    )
    assert again.status_code == 409

    alert = (await intake.client.get(f"/alerts/{alert_id}", headers=intake.operator)).json()
    assert alert["report_id"] == report["report_id"]
    assert [c["original"] for c in alert["privacy_changes"]] == ["1-ABC-123", "1ABC123"]

    cap = await intake.client.get(f"/alerts/{alert_id}/cap", headers=intake.operator)
    assert cap.headers["content-type"].startswith("application/cap+xml")
    CAP.validate(cap.text)


async def test_only_active_bins_are_alerted(intake: Intake) -> None:
    approved = await intake.known_bin(status=BinStatus.APPROVED)
    refused = await intake.client.post(
        "/alerts",
        json={"bin_ids": [str(approved), str(uuid.uuid4())], "texts": {"nl": "Test"}},
        headers=intake.operator,
    )
    assert refused.status_code == 422
    reasons = refused.json()["reasons"]
    assert "the BIN is approved" in reasons[0] and "no such BIN" in reasons[1]


async def test_operators_act_only_in_their_zone(intake: Intake) -> None:
    bin_id = await intake.known_bin(streets=ABDIJSTRAAT)
    report = await intake.report()
    elsewhere = operator_of("Elders")
    client = intake.client
    assert (
        await client.post("/alerts", json={"bin_ids": [str(bin_id)], "texts": {"nl": "x"}},
                          headers=elsewhere)
    ).status_code == 403  # fmt: skip
    assert (
        await client.get(f"/reports/{report['report_id']}", headers=elsewhere)
    ).status_code == 403
    assert (
        await client.post("/reports", json={**_report_body(intake), "police_zone": intake.zone},
                          headers=elsewhere)
    ).status_code == 403  # fmt: skip
    assert report["report_id"] not in [
        r["report_id"] for r in (await client.get("/reports", headers=elsewhere)).json()
    ]
    # Not police at all: a coordinator's token.
    coordinator = bearer("c-1", Role.COORDINATOR, bin_ids=[bin_id])
    assert (await client.get("/reports", headers=coordinator)).status_code == 403
    assert (await client.get("/reports")).status_code == 401


def _report_body(intake: Intake) -> dict[str, object]:
    return {
        "police_zone": intake.zone,
        "source": "call_112",
        "category": "burglary",
        "facts": "Inbraak",
        "place": {"municipality": "Leuven", "street": "Abdijstraat"},
        "occurred_at": datetime.now(UTC).isoformat(),
    }


async def test_a_picture_of_people_is_refused(intake: Intake) -> None:
    bin_id = await intake.known_bin()
    refused = await intake.client.post(
        "/alerts",
        json={
            "bin_ids": [str(bin_id)],
            "texts": {"nl": "Verdachte gezien"},
            "attachments": [
                {"filename": "camera.jpg", "content_type": "image/jpeg",
                 "url": "https://evidence.example/1", "shows_people": True}
            ],
        },
        headers=intake.operator,
    )  # fmt: skip
    assert refused.status_code == 422
    assert "pictures of people" in refused.json()["reasons"][0]


async def test_confidential_news_is_refused_for_publication_and_the_rest_reaches_the_digest(
    intake: Intake,
) -> None:
    news = {
        "police_zone": intake.zone,
        "place": "Leuven, Abdijstraat",
        "occurred_at": datetime.now(UTC).isoformat(),
        "published_info": "Burenruzie over een haag",
        "publishable": True,
    }
    for category in ("neighbour_dispute", "family_matter", "confidential"):
        refused = await intake.client.post(
            "/news", json={**news, "category": category}, headers=intake.operator
        )
        assert refused.status_code == 422 and "never published" in refused.json()["detail"]
    kept = await intake.client.post(
        "/news",
        json={**news, "category": "confidential", "publishable": False},
        headers=intake.operator,
    )
    assert kept.status_code == 201
    published = await intake.client.post(
        "/news",
        json={**news, "category": "burglary_home", "published_info": "Inbraak, wagen ABC-123"},
        headers=intake.operator,
    )
    assert published.status_code == 201, published.text
    [body] = await intake.events("police_news.published.v1")
    event = PoliceNewsPublished.model_validate_json(body)
    assert event.data.published_info == "Inbraak, wagen [nummerplaat]"


async def test_cancel_follow_up_feedback_and_responses(intake: Intake) -> None:
    bin_id = await intake.known_bin()
    accepted = await intake.client.post(
        "/alerts",
        json={"bin_ids": [str(bin_id)], "texts": {"nl": "Verdachte man in zwarte jas"}},
        headers=intake.operator,
    )
    assert accepted.status_code == 202
    alert_id = accepted.json()["alert_id"]
    follow_up = await intake.client.post(
        f"/alerts/{alert_id}/follow-ups",
        json={"texts": {"nl": "Verdachte opgepakt, bedankt!"}},
        headers=intake.operator,
    )
    assert follow_up.status_code == 202
    feedback = await intake.client.post(
        f"/alerts/{alert_id}/feedback",
        json={"subjects": {"nl": "Resultaat"}, "texts": {"nl": "De verdachte is aangehouden."}},
        headers=intake.operator,
    )
    assert feedback.status_code == 202, feedback.text
    cancelled = await intake.client.post(
        f"/alerts/{alert_id}/cancel", json={"reason": "vergissing"}, headers=intake.operator
    )
    assert cancelled.status_code == 202
    assert cancelled.json()["follow_up_ids"] == [follow_up.json()["alert_id"]]
    assert (
        await intake.client.post(
            f"/alerts/{alert_id}/cancel", json={"reason": "twee keer"}, headers=intake.operator
        )
    ).status_code == 409

    issued = [AlertIssued.model_validate_json(b) for b in await intake.events("alert.issued.v1", 2)]
    assert str(issued[1].data.follows_alert_id) == alert_id
    [notice] = await intake.events("notice.published.v1")
    assert str(NoticePublished.model_validate_json(notice).data.follows_alert_id) == alert_id
    [cancel] = await intake.events("alert.cancelled.v1")
    assert AlertCancelled.model_validate_json(cancel).data.reason == "vergissing"

    # An SMS reply, forwarded by dispatch, and an app's answer.
    member = uuid.uuid4()
    await intake.runtime.publisher.publish(
        MemberReplied.create(
            source="dispatch",
            data=MemberRepliedData(
                alert_id=uuid.UUID(alert_id),
                member_id=member,
                bin_id=bin_id,
                channel="sms",
                text="Ik zie hem aan de bakker",
                received_at=datetime.now(UTC),
            ),
        )
    )
    app_member = uuid.uuid4()
    answered = await intake.client.post(
        f"/alerts/{alert_id}/responses",
        json={"member_id": str(app_member), "text": "Richting station"},
        headers=bearer(str(app_member)),
    )
    assert answered.status_code == 201
    impostor = await intake.client.post(
        f"/alerts/{alert_id}/responses",
        json={"member_id": str(member), "text": "x"},
        headers=bearer(str(app_member)),
    )
    assert impostor.status_code == 403

    async def both() -> list[dict[str, object]] | None:
        found = (
            await intake.client.get(f"/alerts/{alert_id}/responses", headers=intake.operator)
        ).json()
        return found if len(found) == 2 else None

    responses = await eventually(both)
    assert {r["channel"] for r in responses} == {"sms", "app"}


async def test_the_audit_trail_records_every_change_and_cannot_be_rewritten(
    intake: Intake, database_url: str
) -> None:
    bin_id = await intake.known_bin(streets=ABDIJSTRAAT)
    report = await intake.report()
    await intake.client.post(
        f"/reports/{report['report_id']}/evaluation",
        json={
            "decision": "activate",
            "reason": "r",
            "bin_ids": [str(bin_id)],
            "alert": {"texts": {"nl": "Let op"}},
        },
        headers=intake.operator,
    )
    assert (await intake.client.get("/audit", headers=intake.operator)).status_code == 403
    trail = (
        await intake.client.get("/audit", params={"police_zone": intake.zone}, headers=ADMIN)
    ).json()
    assert [e["action"] for e in reversed(trail)] == [
        "report.logged",
        "alert.issued",
        "report.evaluated",
    ]
    assert {e["actor"] for e in trail} == {"op-1"}

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "intake"})
    try:
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_bad_input_gets_a_reason(intake: Intake) -> None:
    client, headers = intake.client, intake.operator
    too_big = await client.post(
        "/privacy/preview", content=b"{" + b" " * 70_000 + b"}", headers=headers
    )
    assert too_big.status_code == 413
    missing = await client.post("/reports", json={"police_zone": intake.zone}, headers=headers)
    assert missing.status_code == 422
    assert {tuple(e["loc"])[-1] for e in missing.json()["errors"]} >= {"facts", "place"}
    naive = await client.post(
        "/reports", json={**_report_body(intake), "occurred_at": "2026-11-23T10:00:00"},
        headers=headers,
    )  # fmt: skip
    assert naive.status_code == 422
    preview = await client.post(
        "/privacy/preview", json={"texts": {"fr": "Plaque 2-XYZ-987"}}, headers=headers
    )
    assert preview.json()["texts"]["fr"] == "Plaque [plaque]"


async def test_an_activation_owes_feedback_by_the_next_working_day_until_it_is_given(
    intake: Intake,
) -> None:
    bin_id = await intake.known_bin()
    accepted = await intake.client.post(
        "/alerts",
        json={"bin_ids": [str(bin_id)], "texts": {"nl": "Inbraak bezig"}},
        headers=intake.operator,
    )
    alert_id = accepted.json()["alert_id"]
    alert = (await intake.client.get(f"/alerts/{alert_id}", headers=intake.operator)).json()
    assert alert["feedback_due"] is not None and alert["feedback_at"] is None

    async def open_feedback(**params: bool) -> list[str]:
        found = await intake.client.get(
            "/alerts/feedback/open", params=params, headers=intake.operator
        )
        return [a["alert_id"] for a in found.json()]

    assert alert_id in await open_feedback()
    assert alert_id not in await open_feedback(overdue=True)
    # Issued long enough ago for the deadline to have passed.
    async with intake.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE alert SET feedback_due = current_date - 3 WHERE alert_id = $1",
            uuid.UUID(alert_id),
        )
    assert alert_id in await open_feedback(overdue=True)
    # Another zone's operator does not see it.
    elsewhere = await intake.client.get("/alerts/feedback/open", headers=operator_of("Elders"))
    assert alert_id not in [a["alert_id"] for a in elsewhere.json()]

    given = await intake.client.post(
        f"/alerts/{alert_id}/feedback",
        json={"subjects": {"nl": "Resultaat"}, "texts": {"nl": "Twee verdachten aangehouden."}},
        headers=intake.operator,
    )
    assert given.status_code == 202
    assert alert_id not in await open_feedback()
    closed = (await intake.client.get(f"/alerts/{alert_id}", headers=intake.operator)).json()
    assert closed["feedback_notice_id"] == given.json()["notice_id"]


async def test_replies_and_alert_texts_are_purged_after_their_retention(intake: Intake) -> None:
    bin_id = await intake.known_bin()
    accepted = await intake.client.post(
        "/alerts",
        json={"bin_ids": [str(bin_id)], "texts": {"nl": "Verdachte man"}},
        headers=intake.operator,
    )
    alert_id = uuid.UUID(accepted.json()["alert_id"])
    member = uuid.uuid4()
    await intake.client.post(
        f"/alerts/{alert_id}/responses",
        json={"member_id": str(member), "text": "Gezien aan de kerk"},
        headers=bearer(str(member)),
    )
    async with intake.runtime.pool.acquire() as conn:
        # As if both were older than the configured periods (30 days, 365 days).
        await conn.execute(
            "UPDATE response SET received_at = now() - interval '31 days' WHERE alert_id = $1",
            alert_id,
        )
        await conn.execute(
            "UPDATE alert SET issued_at = now() - interval '366 days' WHERE alert_id = $1",
            alert_id,
        )
    purged = await intake.app.state.retention.purge()
    assert purged["replies"] >= 1 and purged["alert_texts"] >= 1
    alert = (await intake.client.get(f"/alerts/{alert_id}", headers=intake.operator)).json()
    assert alert["texts"] == {} and alert["bin_ids"] == [str(bin_id)]
    replies = await intake.client.get(f"/alerts/{alert_id}/responses", headers=intake.operator)
    assert replies.json() == []
    trail = (await intake.client.get("/audit", params={"actor": "retention"}, headers=ADMIN)).json()
    assert trail[0]["action"] == "retention.purged"
