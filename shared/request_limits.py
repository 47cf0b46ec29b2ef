"""Input limits at the edge of every service's HTTP API: request body size, and a request
rate per caller (:mod:`shared.callers`) held in PostgreSQL (the shared migration's
``request_rate``), so every replica of a service counts against the same bucket."""

from __future__ import annotations

import math
from http.cookies import CookieError, SimpleCookie

import asyncpg
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.auth import CONSOLE_COOKIE, VERIFIED_STATE, InvalidToken, Principal, TokenVerifier
from shared.callers import OVERFLOW, LinkFailureLimit, RateLimiter
from shared.database import Connection
from shared.logging import get_logger
from shared.problems import problem
from shared.rate_limit import TokenBuckets
from shared.settings import HttpApiSettings

CALLER_RATES = TokenBuckets(table="request_rate", key="caller")
UNLIMITED_PATHS = ("/healthz", "/readyz", "/metrics")

log = get_logger(__name__)


def install(app: FastAPI, settings: HttpApiSettings) -> None:
    """The limits of ``settings`` on every request but health and metrics."""
    limiter = RateLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst, settings.rate_limit_max_callers
    )
    app.state.caller_limit = limiter
    app.add_middleware(InputLimits, max_body_bytes=settings.max_body_bytes, limiter=limiter)
    # Added last, so it runs first: the limits key callers without a token by the address a
    # trusted proxy names, not by the proxy's own.
    proxies = [proxy.strip() for proxy in settings.trusted_proxies.split(",") if proxy.strip()]
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)


async def failed_link(
    conn: Connection, address: str, limit: LinkFailureLimit, max_callers: int
) -> float:
    """Counts a link that did not verify against its sender's address: the seconds before
    that address may be answered about another one (0: now)."""
    wait = await CALLER_RATES.take_now(
        conn, limit.caller(address), limit.per_second, limit.burst, max_callers
    )
    if wait is None:
        wait = await CALLER_RATES.take_now(
            conn, limit.caller(OVERFLOW), limit.per_second, limit.burst
        )
    return wait or 0.0


def too_many(
    wait: float, reason: str = "too many requests from this caller; slow down"
) -> JSONResponse:
    return problem(429, reason, headers={"Retry-After": str(math.ceil(wait))})


class InputLimits:
    """ASGI middleware: 413 for a body over ``max_body_bytes`` (declared or streamed), 429
    with Retry-After when a caller (its verified principal, else its address) goes too
    fast."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, limiter: RateLimiter) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        wait = await self._wait(scope, headers)
        if wait > 0:
            await too_many(wait)(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await problem(413, f"the body is over {self.max_body_bytes} bytes")(
                scope, receive, send
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await problem(413, f"the body is over {self.max_body_bytes} bytes")(
                scope, receive, send
            )

    async def _wait(self, scope: Scope, headers: dict[bytes, bytes]) -> float:
        state = scope["app"].state
        token = presented(headers)
        principal = await _principal(state.token_verifier, token)
        # The route's own check (shared.auth.authenticated) takes it from here.
        scope.setdefault("state", {})[VERIFIED_STATE] = (token, principal)
        address = str((scope.get("client") or ("?",))[0])
        caller = self.limiter.caller(principal, address)
        limit = self.limiter
        try:
            async with state.runtime.pool.acquire() as conn:
                wait = await CALLER_RATES.take_now(
                    conn, caller, limit.per_second, limit.burst, limit.max_callers
                )
                if wait is None:
                    wait = await CALLER_RATES.take_now(
                        conn, OVERFLOW, limit.per_second, limit.burst
                    )
        except (asyncpg.PostgresError, OSError, RuntimeError) as error:
            # Without the database the service cannot serve the request anyway; its own
            # answer (503) says more than a 429 would.
            log.warning("rate_limit.unavailable", error=type(error).__name__)
            return 0.0
        return wait or 0.0


async def _principal(verifier: TokenVerifier, token: str | None) -> Principal | None:
    """Who the caller proves to be, by bearer token or console cookie; None for no token or
    one that does not verify (the route answers 401 for it)."""
    if token is None:
        return None
    try:
        # A provider's keys may have to be fetched: not on the event loop.
        found: Principal = await run_in_threadpool(verifier.verify, token)
    except InvalidToken:
        return None
    return found


def presented(headers: dict[bytes, bytes]) -> str | None:
    scheme, _, value = headers.get(b"authorization", b"").decode(errors="replace").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return console_token(headers.get(b"cookie", b""))


def console_token(header: bytes) -> str | None:
    """The console's session token: operators behind one proxy address are limited each on
    their own, as API callers are."""
    cookies = SimpleCookie()
    try:
        cookies.load(header.decode("latin-1"))
    except CookieError:
        return None
    found = cookies.get(CONSOLE_COOKIE)
    return found.value if found and found.value else None


class BodyTooLarge(Exception):
    pass
