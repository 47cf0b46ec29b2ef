"""The platform's VAPID key pair (RFC 8292): the private half signs the push connector's
tokens (``vapid_private_key`` of a ``webpush`` provider), the public half is what members'
browsers subscribe with (the registry's ``BIN_PUSH_VAPID_PUBLIC_KEY``).

    python -m services.connectors.vapid_keys     # prints a new pair, base64url

A subscription is bound to the public key it was made with: a new key pair means every
member subscribes again, so the pair is made once and kept as a secret.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_key_of(private_key: ec.EllipticCurvePrivateKey) -> str:
    """The ``applicationServerKey`` a page passes to ``pushManager.subscribe``."""
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


def generate() -> tuple[str, str]:
    """(private key as base64url of its 32 raw bytes, public key as base64url)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(private), public_key_of(key)


if __name__ == "__main__":
    private, public = generate()
    print(f"vapid_private_key={private}")
    print(f"BIN_PUSH_VAPID_PUBLIC_KEY={public}")
