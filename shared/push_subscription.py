"""A member's Web Push subscription: the browser's ``PushSubscription.toJSON()``.

The registry keeps it as contact data, dispatch carries it as the push channel's address
(``push_token``, the compact JSON of :meth:`PushSubscription.address`), the connectors send
to it. One model for all three, so what the registry accepts is what the connector can
send to. Personal data: the endpoint is a capability URL for one browser on one device,
never logged and never in a public event.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# What a browser gives: Chrome's FCM endpoints are about 200 characters; the address as a
# whole must fit dispatch's push_token and the gateway contract's address (4,096).
MAX_ENDPOINT = 2048
# RFC 8291: the user agent's P-256 public key, uncompressed (65 bytes), and a 16-byte secret.
P256DH_BYTES = 65
AUTH_BYTES = 16


class InvalidSubscription(ValueError):
    pass


def _base64url(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    p256dh: str = Field(min_length=80, max_length=100, pattern=r"^[A-Za-z0-9_-]+=*$")
    auth: str = Field(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_-]+=*$")

    @field_validator("p256dh")
    @classmethod
    def _p256(cls, value: str) -> str:
        raw = _base64url(value)
        if len(raw) != P256DH_BYTES or raw[0] != 0x04:
            raise ValueError("p256dh is not an uncompressed P-256 public key")
        return value.rstrip("=")

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str) -> str:
        if len(_base64url(value)) != AUTH_BYTES:
            raise ValueError("auth is not a 16-byte secret")
        return value.rstrip("=")


class PushSubscription(BaseModel):
    # expirationTime and whatever else a browser adds is not needed to send.
    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint: str = Field(min_length=12, max_length=MAX_ENDPOINT)
    keys: PushKeys

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        # http only for a push service on the same machine (the test push service); whether
        # the connector may call a host at all is its own allowlist.
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("a push endpoint is an https URL")
        if not parts.hostname or parts.username or parts.password or parts.fragment:
            raise ValueError("not a push endpoint URL")
        return value

    def address(self) -> str:
        """The compact JSON dispatch keeps and sends as the push channel's address."""
        return self.model_dump_json()

    def origin(self) -> str:
        """The push service's origin, the VAPID token's audience (RFC 8292 section 2)."""
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    def __repr__(self) -> str:
        # Never the endpoint or the keys, whatever prints it.
        return "PushSubscription(...)"

    __str__ = __repr__


def read_subscription(value: str | bytes) -> PushSubscription:
    """A subscription from its JSON (the browser's, or a stored address)."""
    try:
        return PushSubscription.model_validate_json(value)
    except ValidationError as problem:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "json" for e in problem.errors()})
        # The field names only: the values are personal data.
        raise InvalidSubscription(f"not a push subscription ({', '.join(fields)})") from None
