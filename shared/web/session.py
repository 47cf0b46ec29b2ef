"""Console sessions: the operator pastes a bearer token (or the OIDC login, shared.web.oidc,
hands one over), kept in an HttpOnly, SameSite=Strict cookie until the token itself expires.

The cookie holds the token unchanged, so there is no session store and every request is
verified exactly like an API call; a revoked or expired token ends the session.
"""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import quote

import jwt
from fastapi import Depends, Request, Response

from shared.auth import CONSOLE_COOKIE, InvalidToken, Principal, TokenVerifier


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the login form."""

    def __init__(self, next_path: str, reason: str | None = None) -> None:
        super().__init__(reason or "login required")
        self.next_path = next_path
        self.reason = reason


def login_url(next_path: str) -> str:
    return f"/console/login?next={quote(next_path, safe='/')}"


def safe_next(candidate: str | None) -> str:
    """Only a path of this console, so the login form cannot be made to redirect elsewhere
    (``//evil.example`` is a URL to another host, hence the second test)."""
    if candidate and candidate.startswith("/console") and not candidate.startswith("//"):
        return candidate
    return "/console"


def token_lifetime(token: str) -> int:
    """Seconds until the (already verified) token expires: the cookie lives no longer."""
    expires = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
    return max(0, int(expires) - int(time.time()))


def start_session(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        CONSOLE_COOKIE,
        token,
        max_age=token_lifetime(token),
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(CONSOLE_COOKIE, path="/")


def _console_user(request: Request) -> Principal:
    token = request.cookies.get(CONSOLE_COOKIE)
    next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(next_path)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(token)
    except InvalidToken as error:
        raise LoginRequired(next_path, str(error)) from None


ConsoleUser = Annotated[Principal, Depends(_console_user)]
