"""One service's web console: templates, texts, assets, login, and the headers every page gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import InvalidToken, Principal, TokenVerifier
from shared.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Catalogues, negotiate
from shared.web.oidc import LoginFailed, OidcConfig, OidcLogin
from shared.web.session import (
    LoginRequired,
    end_session,
    login_url,
    safe_next,
    start_session,
)

HERE = Path(__file__).parent

# Pages load nothing from elsewhere and run no inline script; tokens travel in some URLs
# (members' signed links), so no Referer leaves a page.
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIN_CONSOLE_", extra="ignore")

    # Behind TLS (production) the session cookie must be Secure; plain http on loopback
    # (make run, the browser tests) cannot set one.
    secure_cookie: bool = False

    # Login through the zone's OpenID Connect provider (authorization code + PKCE), offered
    # beside the token form when the issuer and the client id are set. The token kept as the
    # session must verify like any API call (BIN_AUTH_JWKS_URL, _ISSUER, _AUDIENCE).
    oidc_issuer: str | None = None  # discovery at <issuer>/.well-known/openid-configuration
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None  # none: a public client, PKCE alone
    oidc_scopes: str = "openid"  # space-separated, as sent
    # The token kept as the session (and passed on to other services): a JWT for the API.
    oidc_session_token: Literal["access_token", "id_token"] = "access_token"  # noqa: S105
    # The callback URL registered with the provider; unset: this console's own
    # /console/login/oidc/callback as the browser reached it (set it behind a proxy).
    oidc_redirect_url: str | None = None
    oidc_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _oidc_complete(self) -> ConsoleSettings:
        if bool(self.oidc_issuer) != bool(self.oidc_client_id):
            raise ValueError("BIN_CONSOLE_OIDC_ISSUER and _CLIENT_ID go together")
        return self

    def oidc(self) -> OidcConfig | None:
        if not self.oidc_issuer or not self.oidc_client_id:
            return None
        return OidcConfig(
            issuer=self.oidc_issuer,
            client_id=self.oidc_client_id,
            client_secret=(
                self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else None
            ),
            scopes=self.oidc_scopes,
            session_token=self.oidc_session_token,
            redirect_url=self.oidc_redirect_url,
            timeout_seconds=self.oidc_timeout_seconds,
            secure_cookie=self.secure_cookie,
        )


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # a catalogue key


class Console:
    """Built by a service's composition root with its own templates and texts
    (``<service>/console/templates`` and ``<service>/console/messages``), which come before
    and refine the shared ones in this package."""

    def __init__(
        self,
        service_dir: Path,
        title: str,
        nav: Sequence[NavItem] = (),
        settings: ConsoleSettings | None = None,
    ) -> None:
        self.title = title
        self.nav = tuple(nav)
        self.settings = settings or ConsoleSettings()
        own = service_dir / "console"
        environment = Environment(
            loader=ChoiceLoader(
                [FileSystemLoader(own / "templates"), FileSystemLoader(HERE / "templates")]
            ),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates = Jinja2Templates(env=environment)
        self.catalogues = Catalogues([HERE / "messages", own / "messages"])
        config = self.settings.oidc()
        self.oidc = OidcLogin(config, self._oidc_refused) if config else None

    def install(self, app: FastAPI) -> None:
        app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="static")
        app.include_router(self._login_router())
        if self.oidc is not None:
            app.include_router(self.oidc.router())
        app.add_middleware(PageHeaders)

        @app.exception_handler(LoginRequired)
        async def to_login(_: Request, error: LoginRequired) -> Response:
            return RedirectResponse(login_url(error.next_path), status_code=303)

    def language(self, request: Request) -> str:
        return negotiate(request)

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        principal: Principal | None = None,
        status_code: int = 200,
        language: str | None = None,
    ) -> HTMLResponse:
        # A page may know the reader's language better than the browser does (a member's
        # own page speaks the member's language unless they switch).
        language = language if language in LANGUAGES else self.language(request)
        page = {
            "request": request,
            "lang": language,
            "languages": LANGUAGES,
            "t": partial(self.catalogues.text, language),
            "console_title": self.title,
            "nav": self.nav,
            "principal": principal,
            **(context or {}),
        }
        response = self.templates.TemplateResponse(request, template, page, status_code=status_code)
        if request.query_params.get("lang") == language:
            response.set_cookie(
                LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax", path="/"
            )
        return response

    def refuse(
        self, request: Request, reason: str, principal: Principal | None, status_code: int = 403
    ) -> HTMLResponse:
        """A page the caller may not see, with the reason (and no hint of what is behind it)."""
        return self.render(
            request, "error.html", {"reason": reason}, principal, status_code=status_code
        )

    def _login_page(
        self, request: Request, next_path: str, error: str | None = None, status_code: int = 200
    ) -> HTMLResponse:
        return self.render(
            request,
            "login.html",
            {"next": next_path, "error": error, "oidc": self.oidc is not None},
            status_code=status_code,
        )

    def _oidc_refused(self, request: Request, failure: LoginFailed) -> Response:
        text = self.catalogues.text(self.language(request), failure.reason)
        reason = f"{text} ({failure.detail})" if failure.detail else text
        # The page the login was for is lost with the flow; the form starts over at /console.
        return self._login_page(request, "/console", reason, failure.status_code)

    def _login_router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get("/console/login")
        async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
            return self._login_page(request, safe_next(next))

        @router.post("/console/login")
        async def login(
            request: Request,
            token: Annotated[str, Form(max_length=8192)],
            next: Annotated[str, Form()] = "/console",
        ) -> Response:
            verifier: TokenVerifier = request.app.state.token_verifier
            try:
                verifier.verify(token.strip())
            except InvalidToken as error:
                return self._login_page(request, safe_next(next), str(error), 401)
            response = RedirectResponse(safe_next(next), status_code=303)
            start_session(response, token.strip(), self.settings.secure_cookie)
            return response

        @router.post("/console/logout")
        async def logout() -> Response:
            response = RedirectResponse("/console/login", status_code=303)
            end_session(response)
            return response

        return router


class PageHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTML response (pure ASGI, so server-sent event
    streams pass through unbuffered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    # A page may set one of them itself, stricter or looser with a reason
                    # (the members' page needs its own Origin sent back with its forms).
                    own = {name.lower() for name, _ in headers}
                    headers.extend(h for h in SECURITY_HEADERS if h[0] not in own)
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
