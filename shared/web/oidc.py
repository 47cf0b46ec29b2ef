"""Console login through the zone's OpenID Connect provider: the authorization-code flow with
PKCE (S256), state and nonce.

The flow ends where pasting a token ends: the token the provider issues (the access token by
default) is verified by the app's :class:`~shared.auth.TokenVerifier`, exactly like an API
call, and kept as the console session (:func:`shared.web.session.start_session`). There is no
server-side store: what the callback needs (state, nonce, PKCE verifier, the page to return
to) travels in a short-lived HttpOnly cookie scoped to the login paths.

Written with httpx and pyjwt, already dependencies: the flow is three requests, and the
libraries that wrap it (Authlib's Starlette client) want a server-side session middleware
this console deliberately does without.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from shared.auth import InvalidToken, TokenVerifier
from shared.logging import get_logger
from shared.web.session import safe_next, start_session

log = get_logger(__name__)

FLOW_COOKIE = "bin_console_oidc"
FLOW_PATH = "/console/login/oidc"
# Long enough to type a password and a second factor, short enough not to linger.
FLOW_SECONDS = 600
# Signing algorithms accepted on the id_token (never "none", never a shared secret).
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


@dataclass(frozen=True)
class OidcConfig:
    """What the console needs from its settings (see ``BIN_CONSOLE_OIDC_*``)."""

    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str
    session_token: str  # "access_token" or "id_token"
    redirect_url: str | None  # None: this console's own callback URL as the browser sees it
    timeout_seconds: float
    secure_cookie: bool


@dataclass(frozen=True)
class Provider:
    """The provider's discovery document, the parts this flow uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    auth_methods: tuple[str, ...]


class LoginFailed(Exception):
    """The login did not complete: shown on the login form as ``reason`` (a catalogue key)
    with ``detail`` (the provider's error code or the token check's reason, never a token)."""

    def __init__(self, reason: str, detail: str = "", status_code: int = 401) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status_code = status_code


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class Flow:
    """One login in progress, kept in the flow cookie between the two legs."""

    state: str
    nonce: str
    verifier: str
    next_path: str

    @classmethod
    def begin(cls, next_path: str | None) -> Flow:
        return cls(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),  # 86 characters: within PKCE's 43..128
            next_path=safe_next(next_path),
        )

    def encode(self) -> str:
        raw = json.dumps([self.state, self.nonce, self.verifier, self.next_path])
        return _b64(raw.encode("utf-8"))

    @classmethod
    def decode(cls, cookie: str | None) -> Flow | None:
        if not cookie:
            return None
        try:
            padded = cookie + "=" * (-len(cookie) % 4)
            state, nonce, verifier, next_path = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (state, nonce, verifier, next_path)):
            return None
        # Re-validated: the cookie comes back from the browser.
        return cls(state, nonce, verifier, safe_next(next_path))


class OidcLogin:
    """The two routes of the flow; :meth:`router` is installed by :class:`Console`."""

    def __init__(
        self, config: OidcConfig, render_failure: Callable[[Request, LoginFailed], Response]
    ) -> None:
        self.config = config
        self._render_failure = render_failure  # the login form with the failure's reason
        self._provider: Provider | None = None
        self._jwks: jwt.PyJWKClient | None = None

    async def provider(self) -> Provider:
        """Discovery, fetched once and kept: the endpoints do not move under a running
        service (a restart picks up a changed provider)."""
        if self._provider is not None:
            return self._provider
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout_seconds) as client:
                answer = await client.get(url)
            answer.raise_for_status()
            document = answer.json()
            provider = Provider(
                issuer=document["issuer"],
                authorization_endpoint=document["authorization_endpoint"],
                token_endpoint=document["token_endpoint"],
                jwks_uri=document["jwks_uri"],
                auth_methods=tuple(
                    document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
                ),
            )
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            log.warning("oidc discovery failed", url=url, error=type(error).__name__)
            raise LoginFailed("oidc_unavailable", type(error).__name__, 502) from None
        # OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer asked.
        if provider.issuer.rstrip("/") != self.config.issuer.rstrip("/"):
            log.warning("oidc discovery names another issuer", issuer=provider.issuer)
            raise LoginFailed("oidc_unavailable", "issuer mismatch", 502)
        self._provider = provider
        self._jwks = jwt.PyJWKClient(provider.jwks_uri, timeout=int(self.config.timeout_seconds))
        return provider

    def redirect_uri(self, request: Request) -> str:
        return self.config.redirect_url or str(request.url_for("console_oidc_callback"))

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get(FLOW_PATH)
        async def start(request: Request, next: str | None = None) -> Response:
            try:
                provider = await self.provider()
            except LoginFailed as failure:
                return self._fail(request, failure)
            flow = Flow.begin(next)
            query = {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.redirect_uri(request),
                "scope": self.config.scopes,
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": pkce_challenge(flow.verifier),
                "code_challenge_method": "S256",
            }
            separator = "&" if "?" in provider.authorization_endpoint else "?"
            response = RedirectResponse(
                f"{provider.authorization_endpoint}{separator}{urlencode(query)}", status_code=303
            )
            # Lax, not Strict: the provider sends the browser back with a top-level cross-site
            # GET, which a Strict cookie would not accompany.
            response.set_cookie(
                FLOW_COOKIE,
                flow.encode(),
                max_age=FLOW_SECONDS,
                httponly=True,
                secure=self.config.secure_cookie,
                samesite="lax",
                path=FLOW_PATH,
            )
            return response

        @router.get(f"{FLOW_PATH}/callback", name="console_oidc_callback")
        async def callback(request: Request) -> Response:
            flow = Flow.decode(request.cookies.get(FLOW_COOKIE))
            try:
                token, next_path = await self._complete(request, flow)
            except LoginFailed as failure:
                return self._fail(request, failure)
            return self._landing(next_path, token)

        return router

    async def _complete(self, request: Request, flow: Flow | None) -> tuple[str, str]:
        """The callback's checks, in order: the token to keep as the session and the page to
        go to, or LoginFailed."""
        params = request.query_params
        if error := params.get("error"):
            # The provider's own refusal (the person cancelled, no access, ...): its code only.
            raise LoginFailed("oidc_provider_refused", error[:100], 401)
        if flow is None:
            raise LoginFailed("oidc_flow_expired", "", 400)
        code, state = params.get("code"), params.get("state")
        if not code or not state:
            raise LoginFailed("oidc_flow_incomplete", "", 400)
        if not secrets.compare_digest(state.encode(), flow.state.encode()):
            raise LoginFailed("oidc_state_mismatch", "", 400)
        provider = await self.provider()
        tokens = await self._exchange(provider, request, code, flow.verifier)
        id_token = tokens.get("id_token")
        if isinstance(id_token, str):
            await self._check_id_token(provider, id_token, flow.nonce)
        elif self.config.session_token == "id_token":  # noqa: S105  (a claim's name)
            raise LoginFailed("oidc_exchange_failed", "no id_token", 401)
        session = tokens.get(self.config.session_token)
        if not isinstance(session, str) or not session:
            raise LoginFailed("oidc_exchange_failed", f"no {self.config.session_token}", 401)
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            # Same rules as every API call (a token without roles logs in; pages refuse it).
            await run_in_threadpool(verifier.verify, session)
        except InvalidToken as error:
            raise LoginFailed("oidc_token_refused", str(error), 401) from None
        return session, flow.next_path

    async def _exchange(
        self, provider: Provider, request: Request, code: str, verifier: str
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri(request),
            "code_verifier": verifier,
            "client_id": self.config.client_id,
        }
        headers = {"Accept": "application/json"}
        if self.config.client_secret:
            # client_secret_basic is the default (RFC 6749 2.3.1); _post where it is all
            # the provider takes. Both parts are form-encoded inside Basic, as the RFC asks.
            if "client_secret_basic" in provider.auth_methods:
                pair = f"{_form_encode(self.config.client_id)}:"
                pair += _form_encode(self.config.client_secret)
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            else:
                form["client_secret"] = self.config.client_secret
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout_seconds) as client:
                answer = await client.post(provider.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as error:
            log.warning("oidc token exchange unreachable", error=type(error).__name__)
            raise LoginFailed("oidc_unavailable", type(error).__name__, 502) from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if answer.status_code != 200 or "error" in body:
            # RFC 6749 5.2: an error code (invalid_grant for a wrong code or PKCE verifier).
            code = str(body.get("error") or f"HTTP {answer.status_code}")[:100]
            log.warning("oidc token exchange refused", status=answer.status_code, error=code)
            raise LoginFailed("oidc_exchange_failed", code, 401)
        return body

    async def _check_id_token(self, provider: Provider, id_token: str, nonce: str) -> None:
        """Signed by the provider, for this client, and answering this login's nonce (so a
        token replayed from another login is refused)."""
        jwks = self._jwks or jwt.PyJWKClient(provider.jwks_uri)  # set with the provider
        try:
            key = await run_in_threadpool(jwks.get_signing_key_from_jwt, id_token)
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=list(ID_TOKEN_ALGORITHMS),
                audience=self.config.client_id,
                issuer=provider.issuer,
                leeway=30,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise LoginFailed("oidc_token_refused", f"id_token: {type(error).__name__}") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise LoginFailed("oidc_token_refused", "id_token: nonce mismatch")

    def _landing(self, next_path: str, token: str) -> Response:
        # Not a redirect: the browser arrives here by a navigation the provider's page began
        # (another site), and a redirect from here still counts as that site's navigation, so
        # the SameSite=Strict session cookie would be withheld from the first page: a login
        # loop (seen in Chromium, tests/browser/test_console_oidc_login.py). A page of our own
        # moving on (meta refresh: no script under the CSP) makes that request same-site.
        page = (
            '<!doctype html><html><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={_html(next_path)}">'
            "<title>BIN</title></head><body>"
            f'<p><a href="{_html(next_path)}">{_html(next_path)}</a></p></body></html>'
        )
        response = HTMLResponse(page, headers={"Cache-Control": "no-store"})
        start_session(response, token, self.config.secure_cookie)
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return response

    def _fail(self, request: Request, failure: LoginFailed) -> Response:
        log.info("console oidc login refused", reason=failure.reason, detail=failure.detail)
        response = self._render_failure(request, failure)
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return response


def _form_encode(value: str) -> str:
    return quote(value, safe="")


def _html(text: str) -> str:
    return escape(text, quote=True)
