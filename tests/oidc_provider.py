"""A small OpenID Connect provider for tests: discovery, an authorization endpoint that
approves at once (no login form: the person is whoever :attr:`FakeProvider.person` says),
a token endpoint that checks the code, the redirect URI, the client and the PKCE verifier
as a real provider does, and its JWKS. RS256 keys are generated per run.

Run it on a free loopback port with :func:`running_provider` (uvicorn in a thread)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from typing import Annotated, Any
from urllib.parse import unquote, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm

from shared.auth import Role
from tests.ports import free_port

KID = "test-key-1"


@dataclass
class Person:
    """Who the provider says logged in: the claims of the access token it issues."""

    subject: str = "operator-oidc"
    roles: list[Role] = field(default_factory=lambda: [Role.OPERATOR])
    police_zones: list[str] = field(default_factory=lambda: ["Leuven"])


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None


@dataclass
class FakeProvider:
    issuer: str
    client_id: str = "bin-console"
    client_secret: str | None = None  # None: a public client (PKCE alone)
    audience: str = "bin-platform"  # of the access tokens, what the services expect
    person: Person = field(default_factory=Person)
    access_token_seconds: int = 300  # negative: issues expired tokens
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    grants: dict[str, Grant] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # the token endpoint's refusals, in order
    issued: list[str] = field(default_factory=list)  # every token handed out
    nonce_override: str | None = None  # a misbehaving provider: this nonce in every id_token
    # A page of the provider's own where the person approves (a real provider's login form):
    # the way back to the console then starts on another site, as it does in production.
    ask_approval: bool = False

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})

    def tokens(self, grant: Grant) -> dict[str, Any]:
        now = int(time.time())
        access = self.sign(
            {
                "iss": self.issuer,
                "aud": self.audience,
                "sub": self.person.subject,
                "iat": now,
                "exp": now + self.access_token_seconds,
                "roles": [r.value for r in self.person.roles],
                "police_zones": self.person.police_zones,
            }
        )
        identity: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "sub": self.person.subject,
            "iat": now,
            "exp": now + 300,
        }
        if grant.nonce is not None:
            identity["nonce"] = self.nonce_override or grant.nonce
        id_token = self.sign(identity)
        self.issued += [access, id_token]
        return {
            "access_token": access,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_seconds,
        }

    def approve(self, query: dict[str, str]) -> Response:
        """A code for this login, and the browser sent back to the client with it."""
        redirect_uri = query["redirect_uri"]
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            self.client_id, redirect_uri, query["code_challenge"], query.get("nonce")
        )
        back = {"code": code, "state": query.get("state", "")}
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": self.jwks_url,
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}

        @app.get("/authorize")
        async def authorize(request: Request) -> Response:
            query = dict(request.query_params)
            if query.get("client_id") != self.client_id or query.get("response_type") != "code":
                return JSONResponse({"error": "unauthorized_client"}, status_code=400)
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            if self.ask_approval:
                fields = "".join(
                    f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                    for k, v in query.items()
                )
                return HTMLResponse(
                    '<!doctype html><html lang="en"><title>Zone login</title>'
                    f'<form method="post" action="/authorize">{fields}'
                    "<button>Approve</button></form></html>"
                )
            return self.approve(query)

        @app.post("/authorize")
        async def approved(request: Request) -> Response:
            form = await request.form()
            return self.approve({k: str(v) for k, v in form.items()})

        @app.post("/token")
        async def token(
            request: Request,
            grant_type: Annotated[str, Form()],
            code: Annotated[str, Form()],
            redirect_uri: Annotated[str, Form()],
            code_verifier: Annotated[str, Form()],
            client_id: Annotated[str | None, Form()] = None,
            client_secret: Annotated[str | None, Form()] = None,
        ) -> Response:
            def refuse(error: str, status_code: int = 400) -> Response:
                self.refused.append(error)
                return JSONResponse({"error": error}, status_code=status_code)

            if grant_type != "authorization_code":
                return refuse("unsupported_grant_type")
            presented = _basic(request.headers.get("authorization", "")) or (
                client_id,
                client_secret,
            )
            if presented[0] != self.client_id or (
                self.client_secret is not None and presented[1] != self.client_secret
            ):
                return refuse("invalid_client", 401)
            grant = self.grants.pop(code, None)  # a code is good once
            if grant is None or grant.redirect_uri != redirect_uri:
                return refuse("invalid_grant")
            digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                return refuse("invalid_grant")
            return JSONResponse(self.tokens(grant), headers={"Cache-Control": "no-store"})

        return app


def _basic(header: str) -> tuple[str | None, str | None] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, password = base64.b64decode(value).decode().partition(":")
    return unquote(user), unquote(password)


@contextmanager
def running_provider(host: str = "127.0.0.1", **options: Any) -> Iterator[FakeProvider]:
    """The provider served by uvicorn in a thread; ``host`` is the name in its issuer URL
    (``localhost`` makes it another site than pages on ``127.0.0.1``, as in production)."""
    port = free_port()
    provider = FakeProvider(issuer=f"http://{host}:{port}", **options)
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OIDC provider did not start")
        time.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
