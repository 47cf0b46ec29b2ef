"""Signed, expiring links for members (preferences, unsubscribe) that need no login.

A token is ``<member id>.<expiry as unix seconds>.<HMAC-SHA256>``, URL-safe; whoever holds
the secret (dispatch signs, the preferences page verifies) can check it, nobody can forge or
extend one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid


class InvalidLink(Exception):
    pass


class LinkExpired(InvalidLink):
    """A genuine link past its time: the page can still greet the member in their language."""

    def __init__(self, member_id: uuid.UUID) -> None:
        super().__init__("link expired")
        self.member_id = member_id


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_member_token(
    secret: str, member_id: uuid.UUID, ttl_seconds: int, now: float | None = None
) -> str:
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = f"{member_id}.{expires}"
    return f"{payload}.{_mac(secret, payload)}"


def verify_member_token(secret: str, token: str, now: float | None = None) -> uuid.UUID:
    try:
        member, expires, mac = token.split(".")
        member_id = uuid.UUID(member)
        deadline = int(expires)
    except ValueError:
        raise InvalidLink("malformed link") from None
    if not hmac.compare_digest(mac, _mac(secret, f"{member}.{expires}")):
        raise InvalidLink("link signature does not verify")
    if deadline < (now if now is not None else time.time()):
        raise LinkExpired(member_id)
    return member_id
