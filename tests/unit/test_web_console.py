"""The consoles' shared parts: login by token, the cookie the API accepts (only with the
console's header), language negotiation, page headers, complete translations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from shared.auth import (
    CONSOLE_COOKIE,
    CONSOLE_HEADER,
    AuthSettings,
    CurrentPrincipal,
    Role,
    TokenVerifier,
    mint_token,
)
from shared.web import Console
from shared.web.i18n import LANGUAGES, Catalogues
from shared.web.session import ConsoleUser, safe_next

SHARED_MESSAGES = Path(__file__).resolve().parents[2] / "shared" / "web" / "messages"


def make_app(tmp_path: Path) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(AuthSettings())
    console = Console(tmp_path, title="login")
    console.install(app)

    @app.get("/console")
    async def start(request: Request, user: ConsoleUser) -> HTMLResponse:
        return console.render(request, "error.html", {"reason": user.subject}, user)

    @app.get("/api/whoami")
    async def whoami(user: CurrentPrincipal) -> dict[str, Any]:
        return {"subject": user.subject}

    return app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(make_app(tmp_path), follow_redirects=False)


def token() -> str:
    return mint_token(AuthSettings(), "operator-7", [Role.OPERATOR], ["Leuven"])


def test_a_page_without_a_session_redirects_to_the_login_form(client: TestClient) -> None:
    response = client.get("/console?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console%3Fx%3D1"


def test_login_sets_an_http_only_strict_cookie_and_the_page_opens(client: TestClient) -> None:
    response = client.post("/console/login", data={"token": token(), "next": "/console"})
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    page = client.get("/console")
    assert page.status_code == 200
    assert "operator-7" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"


def test_a_bad_token_stays_on_the_form_with_the_reason(client: TestClient) -> None:
    response = client.post("/console/login", data={"token": "not-a-token"})
    assert response.status_code == 401
    assert "invalid token" in response.text
    assert CONSOLE_COOKIE not in response.headers.get("set-cookie", "")


def test_the_api_takes_the_cookie_only_with_the_console_header(client: TestClient) -> None:
    client.cookies.set(CONSOLE_COOKIE, token())
    assert client.get("/api/whoami").status_code == 401
    answer = client.get("/api/whoami", headers={CONSOLE_HEADER: "1"})
    assert answer.status_code == 200
    assert answer.json() == {"subject": "operator-7"}


def test_logout_clears_the_cookie(client: TestClient) -> None:
    client.post("/console/login", data={"token": token()})
    response = client.post("/console/logout")
    assert response.status_code == 303
    assert f'{CONSOLE_COOKIE}=""' in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/console/alerts/1", "/console/alerts/1"),
        ("https://evil.example/console", "/console"),
        ("//evil.example/console", "/console"),
        ("/other", "/console"),
        (None, "/console"),
    ],
)
def test_login_redirects_only_within_the_console(candidate: str | None, expected: str) -> None:
    assert safe_next(candidate) == expected


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("?lang=fr", "nl-BE", "fr"),
        ("", "fr-BE,fr;q=0.9,nl;q=0.8", "fr"),
        ("", "en-GB,de;q=0.5,fr;q=0.7", "fr"),
        ("", "en-GB", "nl"),
        ("?lang=xx", "de-BE", "de"),
    ],
)
def test_the_page_language(client: TestClient, query: str, header: str, expected: str) -> None:
    response = client.get(f"/console/login{query}", headers={"accept-language": header})
    assert f'<html lang="{expected}">' in response.text


def test_every_shared_text_is_translated() -> None:
    catalogues = Catalogues([SHARED_MESSAGES])
    for language in LANGUAGES:
        assert catalogues.missing(language) == [], language


def test_a_missing_text_shows_its_key_instead_of_failing() -> None:
    assert Catalogues([SHARED_MESSAGES]).text("fr", "no_such_key") == "no_such_key"
