"""Console login through an OpenID Connect provider (authorization code + PKCE): a small
console app in-process against the fake provider served on loopback, so discovery, the
token exchange and the JWKS are real HTTP. Every refusal lands on the login form with its
reason, never a 500, never a token in the logs."""

from __future__ import annotations

import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from shared.auth import CONSOLE_COOKIE, AuthSettings, TokenVerifier
from shared.web import Console, ConsoleSettings
from shared.web.oidc import FLOW_COOKIE
from shared.web.session import ConsoleUser
from tests.oidc_provider import FakeProvider, running_provider
from tests.ports import free_port


@pytest.fixture(scope="module")
def served() -> Iterator[FakeProvider]:
    with running_provider() as provider:
        yield provider


@pytest.fixture
def provider(served: FakeProvider) -> Iterator[FakeProvider]:
    """The module's provider, reset after each test's changes."""
    yield served
    served.client_secret = None
    served.access_token_seconds = 300
    served.nonce_override = None
    served.refused.clear()


def make_app(tmp_path: Path, settings: ConsoleSettings, issuer: str | None = None) -> FastAPI:
    app = FastAPI()
    # The services' own verification, pointed at the provider as in production.
    app.state.token_verifier = TokenVerifier(
        AuthSettings(issuer=issuer, secret=None, jwks_url=f"{issuer}/jwks")
        if issuer
        else AuthSettings()
    )
    console = Console(tmp_path, title="login", settings=settings)
    console.install(app)

    @app.get("/console/{rest:path}")
    async def page(request: Request, user: ConsoleUser, rest: str) -> HTMLResponse:
        return console.render(request, "error.html", {"reason": f"{user.subject} /{rest}"}, user)

    return app


def console_client(
    tmp_path: Path, provider: FakeProvider, client_secret: str | None = None
) -> TestClient:
    settings = ConsoleSettings(
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=client_secret,
    )
    app = make_app(tmp_path, settings, provider.issuer)
    return TestClient(app, follow_redirects=False, headers={"accept-language": "nl-BE"})


@pytest.fixture
def client(tmp_path: Path, provider: FakeProvider) -> TestClient:
    return console_client(tmp_path, provider)


def to_provider(client: TestClient, next_path: str = "/console/reports") -> str:
    """The console's first leg, then the provider's approval: the callback URL it sends the
    browser back to."""
    started = client.get("/console/login/oidc", params={"next": next_path})
    assert started.status_code == 303, started.text
    flow_cookie = started.headers["set-cookie"]
    assert "HttpOnly" in flow_cookie
    assert "SameSite=lax" in flow_cookie
    assert "Path=/console/login/oidc" in flow_cookie
    approved = httpx.get(started.headers["location"], follow_redirects=False)
    assert approved.status_code == 302, approved.text
    callback: str = approved.headers["location"]
    assert callback.startswith("http://testserver/console/login/oidc/callback?")
    return callback


def logged_in(response: httpx.Response) -> bool:
    return any(
        c.startswith(f"{CONSOLE_COOKIE}=") and not c.startswith(f'{CONSOLE_COOKIE}=""')
        for c in response.headers.get_list("set-cookie")
    )


def test_the_login_page_offers_the_provider_when_configured(client: TestClient) -> None:
    page = client.get("/console/login", params={"next": "/console/alerts?x=1"})
    assert "Aanmelden met het account van uw zone" in page.text
    assert 'href="/console/login/oidc?next=/console/alerts%3Fx%3D1"' in page.text


def test_without_a_provider_only_the_token_form(tmp_path: Path) -> None:
    app = make_app(tmp_path, ConsoleSettings())
    client = TestClient(app, follow_redirects=False)
    assert "/console/login/oidc" not in client.get("/console/login").text
    # No such route: an ordinary console path, which wants a session first.
    answer = client.get("/console/login/oidc")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=")


def test_issuer_and_client_id_go_together() -> None:
    with pytest.raises(ValueError, match="go together"):
        ConsoleSettings(oidc_issuer="https://login.example")


def test_the_full_flow_logs_in_and_returns_to_the_page(client: TestClient) -> None:
    landed = client.get(to_provider(client, "/console/reports?status=open"))
    assert landed.status_code == 200, landed.text
    # A page of ours moves on, so the Strict session cookie goes with the next request.
    assert 'http-equiv="refresh" content="0;url=/console/reports?status=open"' in landed.text
    session = next(
        c for c in landed.headers.get_list("set-cookie") if c.startswith(f"{CONSOLE_COOKIE}=")
    )
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    assert f'{FLOW_COOKIE}=""' in landed.headers["set-cookie"]  # the flow is used up
    page = client.get("/console/reports?status=open")
    assert page.status_code == 200
    assert "operator-oidc /reports" in page.text


def test_a_confidential_client_authenticates_with_its_secret(
    tmp_path: Path, provider: FakeProvider
) -> None:
    provider.client_secret = "s3cret/with+odd&chars"
    client = console_client(tmp_path, provider, client_secret="s3cret/with+odd&chars")
    assert logged_in(client.get(to_provider(client)))
    wrong = console_client(tmp_path, provider, client_secret="not-it")
    refused = wrong.get(to_provider(wrong))
    assert refused.status_code == 401
    assert "invalid_client" in refused.text


def test_a_state_that_does_not_match_is_refused(client: TestClient) -> None:
    callback = to_provider(client)
    forged = callback.replace("state=", "state=x")
    refused = client.get(forged)
    assert refused.status_code == 400
    assert "hoort niet bij deze aanmelding" in refused.text
    assert not logged_in(refused)
    # The flow is gone too: the genuine answer arriving afterwards cannot be used.
    assert client.get(callback).status_code == 400


def test_a_wrong_pkce_verifier_refused_by_the_provider_is_a_clear_error(
    client: TestClient, provider: FakeProvider
) -> None:
    callback = to_provider(client)
    # The verifier the console sends comes from the flow cookie: change it in the browser.
    cookie = client.cookies.get(FLOW_COOKIE, path="/console/login/oidc")
    assert cookie is not None
    state, nonce, _, next_path = json.loads(urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4)))
    other = json.dumps([state, nonce, "another-verifier-" + "x" * 40, next_path]).encode()
    client.cookies.clear()
    client.cookies.set(
        FLOW_COOKIE, urlsafe_b64encode(other).decode().rstrip("="), path="/console/login/oidc"
    )
    refused = client.get(callback)
    assert refused.status_code == 401
    assert "De aanmeldingsdienst gaf geen toegangstoken (invalid_grant)" in refused.text
    assert provider.refused == ["invalid_grant"]
    assert not logged_in(refused)


def test_an_expired_access_token_is_refused(
    client: TestClient, provider: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.access_token_seconds = -120
    refused = client.get(to_provider(client))
    assert refused.status_code == 401
    assert "token expired" in refused.text
    assert not logged_in(refused)
    logs = capsys.readouterr()
    assert "console oidc login refused" in logs.out + logs.err
    for token in provider.issued:
        assert token not in logs.out + logs.err


def test_an_id_token_for_another_login_is_refused(
    client: TestClient, provider: FakeProvider
) -> None:
    provider.nonce_override = "from-another-login"
    refused = client.get(to_provider(client))
    assert refused.status_code == 401
    assert "nonce mismatch" in refused.text
    assert not logged_in(refused)


@pytest.mark.parametrize("next_path", ["https://evil.example/console", "//evil.example", "/x"])
def test_next_outside_the_console_is_ignored(client: TestClient, next_path: str) -> None:
    landed = client.get(to_provider(client, next_path))
    assert logged_in(landed)
    assert 'content="0;url=/console"' in landed.text


def test_the_provider_refusing_shows_its_reason(client: TestClient) -> None:
    to_provider(client)
    refused = client.get("/console/login/oidc/callback", params={"error": "access_denied"})
    assert refused.status_code == 401
    assert "weigerde de aanmelding (access_denied)" in refused.text


def test_a_callback_without_a_login_in_progress_is_refused(client: TestClient) -> None:
    refused = client.get("/console/login/oidc/callback", params={"code": "c", "state": "s"})
    assert refused.status_code == 400
    assert "verlopen of in een ander venster begonnen" in refused.text


def test_an_unreachable_provider_is_said_so(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    settings = ConsoleSettings(oidc_issuer=nobody, oidc_client_id="bin-console")
    client = TestClient(make_app(tmp_path, settings, nobody), follow_redirects=False)
    refused = client.get("/console/login/oidc")
    assert refused.status_code == 502
    assert "niet bereikbaar" in refused.text
