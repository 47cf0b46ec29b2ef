"""Input limits at the edge: request body size, and a request rate per caller held in
PostgreSQL, so every replica counts against the same bucket."""

from __future__ import annotations

import math
from http.cookies import CookieError, SimpleCookie

import asyncpg
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake.domain.rate_limit import OVERFLOW, RateLimiter
from shared.auth import CONSOLE_COOKIE, InvalidToken, Principal, TokenVerifier
from shared.logging import get_logger
from shared.problems import problem
from shared.rate_limit import TokenBuckets

CALLER_RATES = TokenBuckets(table="caller_rate", key="caller")
UNLIMITED_PATHS = ("/healthz", "/readyz", "/metrics")

log = get_logger(__name__)


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
            response = problem(
                429,
                "too many requests from this caller; slow down",
                headers={"Retry-After": str(math.ceil(wait))},
            )
            await response(scope, receive, send)
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
        principal = await _principal(state.token_verifier, headers)
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
            # Without the database intake cannot serve the request anyway; its own answer
            # (503) says more than a 429 would.
            log.warning("rate_limit.unavailable", error=type(error).__name__)
            return 0.0
        return wait or 0.0


async def _principal(verifier: TokenVerifier, headers: dict[bytes, bytes]) -> Principal | None:
    """Who the caller proves to be, by bearer token or console cookie; None for no token or
    one that does not verify (the route answers 401 for it)."""
    token = presented(headers)
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
