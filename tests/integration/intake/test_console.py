"""The operator console's server side on the real database: the pages, the privacy preview
fragment, and the event streams (dispatch's progress replaced by a scripted stand-in)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
import pytest

from services.intake.console import audit, live
from shared.auth import CONSOLE_COOKIE, AuthSettings, Role, mint_token
from tests.integration.intake.conftest import Intake


def session(subject: str, roles: list[Role], zones: list[str] | None = None) -> dict[str, str]:
    """A console session: the login cookie, as the browser sends it with every page."""
    token = mint_token(AuthSettings(), subject, roles, police_zones=zones or [])
    return {"cookie": f"{CONSOLE_COOKIE}={token}"}


def operator(intake: Intake) -> dict[str, str]:
    return session("op-console", [Role.OPERATOR], [intake.zone])


async def alert_in_zone(intake: Intake) -> str:
    bin_id = await intake.known_bin()
    issued = await intake.client.post(
        "/alerts",
        json={"bin_ids": [str(bin_id)], "texts": {"nl": "Verdachte wagen 1-ABC-123"}},
        headers=intake.operator,
    )
    assert issued.status_code == 202, issued.text
    alert_id: str = issued.json()["alert_id"]
    return alert_id


def events(body: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            found.append((lines.get("event", "message"), orjson.loads(lines["data"])))
    return found


class ScriptedDispatch:
    """Answers the progress polls from a script: what dispatch would say, poll after poll."""

    script: ClassVar[list[dict[str, Any] | None]] = []
    tokens: ClassVar[list[str | None]] = []

    def __init__(self, _: str, token: str | None) -> None:
        self.tokens.append(token)
        self.answers: Iterator[dict[str, Any] | None] = iter(self.script)

    async def __aenter__(self) -> ScriptedDispatch:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def progress(self, _: uuid.UUID) -> dict[str, Any] | None:
        return next(self.answers, self.script[-1])


def answer(targeted: int, delivered: int, planning: bool = False) -> dict[str, Any]:
    return {
        "status": "planning" if planning else "dispatched",
        "targeted": targeted,
        "delivered": delivered,
        "failed": 0,
        "pending": targeted - delivered,
        "complete": targeted == delivered and not planning,
        "channels": {"sms": {"targeted": targeted, "sent": targeted, "delivered": delivered}},
    }


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(live, "RESPONSES_POLL_SECONDS", 0.05)
    monkeypatch.setattr(live, "MAX_STREAM_SECONDS", 2.0)


async def test_the_progress_stream_follows_dispatch_until_the_fanout_is_final(
    intake: Intake, quick: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = await alert_in_zone(intake)
    ScriptedDispatch.script = [None, answer(0, 0, planning=True), answer(3, 1), answer(3, 3)]
    monkeypatch.setattr(live, "ProgressClient", ScriptedDispatch)
    response = await intake.client.get(
        f"/console/alerts/{alert_id}/progress/stream", headers=operator(intake)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    shown = events(response.text)
    assert [name for name, _ in shown] == ["message"] * 3 + ["done"]
    assert shown[0][1]["state"] == "Wachten tot de verzending begint…"
    assert shown[2][1]["percent"] == 33
    last = shown[-1][1]
    assert last["percent"] == 100 and last["delivered"] == 3
    assert last["channels"]["sms"] == {"targeted": 3, "sent": 3, "delivered": 3, "failed": 0}
    assert last["state"] == "Verzending afgerond"
    # The operator's own token goes to dispatch, which checks the zone itself.
    assert ScriptedDispatch.tokens[-1] == operator(intake)["cookie"].split("=", 1)[1]


async def test_the_progress_stream_speaks_the_operators_language(
    intake: Intake, quick: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = await alert_in_zone(intake)
    ScriptedDispatch.script = [answer(1, 1)]
    monkeypatch.setattr(live, "ProgressClient", ScriptedDispatch)
    response = await intake.client.get(
        f"/console/alerts/{alert_id}/progress/stream?lang=fr", headers=operator(intake)
    )
    name, last = events(response.text)[-1]
    assert (name, last["state"]) == ("done", "Envoi terminé")


async def test_the_streams_refuse_another_zone_before_streaming(intake: Intake) -> None:
    alert_id = await alert_in_zone(intake)
    elsewhere = session("op-elsewhere", [Role.OPERATOR], ["Elders"])
    for stream in ("progress", "responses"):
        response = await intake.client.get(
            f"/console/alerts/{alert_id}/{stream}/stream", headers=elsewhere
        )
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
    unknown = await intake.client.get(
        f"/console/alerts/{uuid.uuid4()}/progress/stream", headers=operator(intake)
    )
    assert unknown.status_code == 404


async def test_the_responses_stream_sends_the_replies_rendered(intake: Intake, quick: None) -> None:
    alert_id = await alert_in_zone(intake)
    member_id = str(uuid.uuid4())
    member = {"Authorization": f"Bearer {mint_token(AuthSettings(), member_id, [])}"}
    replied = await intake.client.post(
        f"/alerts/{alert_id}/responses",
        json={"member_id": member_id, "text": "Gezien <b>aan</b> de kerk"},
        headers=member,
    )
    assert replied.status_code == 201, replied.text
    response = await intake.client.get(
        f"/console/alerts/{alert_id}/responses/stream", headers=operator(intake)
    )
    shown = events(response.text)
    assert len(shown) == 1  # sent again only when something changed
    assert shown[0][1]["count"] == 1
    assert "Gezien &lt;b&gt;aan&lt;/b&gt; de kerk" in shown[0][1]["rows"]  # escaped


async def test_the_privacy_preview_shows_what_the_guard_masks(intake: Intake) -> None:
    preview = await intake.client.post(
        "/console/privacy/preview",
        json={
            "decision": "activate",
            "alert": {"texts": {"nl": "Wagen 1-ABC-123 gezien", "fr": "Rien à masquer"}},
        },
        headers=operator(intake),
    )
    assert preview.status_code == 200
    assert "Wagen <del" in preview.text and ">1-ABC-123</del><ins" in preview.text
    assert ">[nummerplaat]</ins> gezien" in preview.text
    assert "Rien à masquer" in preview.text
    # Notices and feedback carry their texts at the top.
    notice = await intake.client.post(
        "/console/privacy/preview", json={"texts": {"fr": "ABC-123"}}, headers=operator(intake)
    )
    assert ">[plaque]</ins>" in notice.text
    empty = await intake.client.post(
        "/console/privacy/preview", json={"alert": {"texts": {}}}, headers=operator(intake)
    )
    assert empty.status_code == 422


async def test_the_privacy_preview_asks_about_what_the_guard_is_not_sure_of(
    intake: Intake,
) -> None:
    form: dict[str, Any] = {
        "decision": "activate",
        "alert": {"texts": {"nl": "Wagen abc 123 en 1-ABC-123"}},
    }
    preview = await intake.client.post(
        "/console/privacy/preview?form=alert-form", json=form, headers=operator(intake)
    )
    assert preview.status_code == 200
    assert "<mark" in preview.text and ">abc 123</mark>" in preview.text
    assert ">[nummerplaat]</ins>" in preview.text  # the certain one is masked
    # One choice per finding, belonging to the form that asked, in the form's own field.
    [select] = re.findall(r"<select[^>]*>", preview.text)
    assert 'form="alert-form"' in select and 'name="alert.privacy_decisions[]"' in select
    assert "niet zeker van 1 passage(s)" in preview.text
    answered = {
        **form,
        "alert": {
            **form["alert"],
            "privacy_decisions": [{"text": "abc 123", "action": "keep", "language": "nl"}],
        },
    }
    again = await intake.client.post(
        "/console/privacy/preview?form=alert-form", json=answered, headers=operator(intake)
    )
    [keep] = re.findall(r"<option[^>]*keep[^>]*>", again.text)
    assert "selected" in keep and "niet zeker" not in again.text
    odd = await intake.client.post(
        "/console/privacy/preview?form=x%22onclick", json=form, headers=operator(intake)
    )
    assert odd.status_code == 422  # the form id is placed in the page: an identifier only


async def test_every_page_opens_for_an_operator_of_the_zone(intake: Intake) -> None:
    alert_id = await alert_in_zone(intake)
    bin_id = await intake.known_bin(streets=[{"street_name": f"Console {intake.zone}"}])
    report = await intake.report(
        place={"municipality": "Leuven", "street": f"Console {intake.zone}", "house_number": "1"}
    )
    pages = [
        "/console/reports",
        "/console/reports?status=open",
        f"/console/reports/{report['report_id']}",
        f"/console/reports/{report['report_id']}/alert?bin={bin_id}",
        "/console/alerts",
        f"/console/alerts/{alert_id}",
        "/console/notices",
        "/console/feedback",
        "/console/feedback?overdue=true",
    ]
    for path in pages:
        page = await intake.client.get(path, headers=operator(intake))
        assert page.status_code == 200, (path, page.text[:500])
        assert "default-src 'self'" in page.headers["content-security-policy"]
    proposal = await intake.client.get(
        f"/console/reports/{report['report_id']}", headers=operator(intake)
    )
    assert f'value="{bin_id}" checked' in proposal.text


async def test_the_audit_trail_is_for_admins_a_page_at_a_time(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    for _ in range(3):
        await intake.report()
    refused = await intake.client.get("/console/audit", headers=operator(intake))
    assert refused.status_code == 403
    admin = session("admin-console", [Role.ADMIN])
    first = await intake.client.get(f"/console/audit?police_zone={intake.zone}", headers=admin)
    assert first.status_code == 200
    assert first.text.count("<td>report.logged</td>") == 2
    older = re.search(r'href="(/console/audit\?[^"]+)"', first.text)
    assert older is not None and f"police_zone={intake.zone}" in older.group(1)
    second = await intake.client.get(html.unescape(older.group(1)), headers=admin)
    assert second.text.count("<td>report.logged</td>") == 1
    assert 'href="/console/audit?' not in second.text  # the last page


async def test_pages_without_a_session_lead_to_the_login(intake: Intake) -> None:
    response = await intake.client.get("/console/alerts", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/alerts"
    coordinator = session("coordinator", [Role.COORDINATOR])
    assert (await intake.client.get("/console/reports", headers=coordinator)).status_code == 403


async def test_every_page_offers_every_language(intake: Intake) -> None:
    alert_id = await alert_in_zone(intake)
    page = await intake.client.get(f"/console/alerts/{alert_id}", headers=operator(intake))
    for language in ("nl", "fr", "de"):
        assert f'href="?lang={language}"' in page.text
