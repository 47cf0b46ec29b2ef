"""Input limits at the edge: request body size, and a request rate per caller."""

from __future__ import annotations

import math
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake.domain.rate_limit import RateLimiter
from shared.auth import CONSOLE_COOKIE
from shared.problems import problem


class InputLimits:
    """ASGI middleware: 413 for a body over ``max_body_bytes`` (declared or streamed), 429
    with Retry-After when a caller (its bearer token, else its address) goes too fast."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, limiter: RateLimiter) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz", "/metrics"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        caller = (
            headers.get(b"authorization", b"").decode(errors="replace")
            or _console_session(headers.get(b"cookie", b""))
            or str((scope.get("client") or ("?",))[0])
        )
        wait = self.limiter.allow(caller)
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


def _console_session(header: bytes) -> str | None:
    """The console's session token: operators behind one proxy address are limited each on
    their own, as API callers are by their bearer token."""
    cookies = SimpleCookie()
    try:
        cookies.load(header.decode("latin-1"))
    except CookieError:
        return None
    found = cookies.get(CONSOLE_COOKIE)
    return f"console {found.value}" if found else None


class BodyTooLarge(Exception):
    pass
