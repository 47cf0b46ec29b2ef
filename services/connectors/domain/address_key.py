"""A member's number as a keyed hash: how the connector finds which delivery a member's SMS
reply answers without keeping the number itself."""

from __future__ import annotations

import hashlib
import hmac


def normalise_number(number: str) -> str:
    """Digits of an international number as providers write it: ``+32 470 12 34 56``,
    ``0032470123456`` and ``32470123456`` are one number."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[2:] if digits.startswith("00") else digits


def address_key(secret: bytes, number: str) -> bytes:
    return hmac.new(secret, normalise_number(number).encode(), hashlib.sha256).digest()[:16]
