"""Production refuses development settings (shared.safeguards), and a service configured
with the provider's keys refuses shared-secret tokens."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth import (
    DEVELOPMENT_SECRET,
    AuthSettings,
    InvalidToken,
    Role,
    TokenVerifier,
    mint_token,
)
from shared.safeguards import (
    DEVELOPMENT_LINK_SECRET,
    DevelopmentSettingsRefused,
    auth_values,
    link_secret_values,
    refuse_development_settings,
    secret_values,
    secure_cookie_values,
)

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def test_every_development_value_is_named_with_what_to_provide() -> None:
    found = [
        *auth_values(AuthSettings(secret=DEVELOPMENT_SECRET)),
        *link_secret_values(DEVELOPMENT_LINK_SECRET),
        *secure_cookie_values(False),
        *secret_values("BIN_CONNECTOR_ADDRESS_SECRET", "dev", "dev"),
    ]
    with pytest.raises(DevelopmentSettingsRefused) as refused:
        refuse_development_settings("registry", "production", found)
    message = str(refused.value)
    for variable in (
        "BIN_AUTH_SECRET",
        "BIN_LINK_SECRET",
        "BIN_CONSOLE_SECURE_COOKIE",
        "BIN_CONNECTOR_ADDRESS_SECRET",
    ):
        assert variable in message
    assert message.startswith("registry refuses to start with development settings")
    assert "BIN_AUTH_JWKS_URL" in message  # what to provide instead of the token secret
    # The same on a developer's machine is fine.
    refuse_development_settings("registry", "development", found)


def test_values_of_ones_own_pass() -> None:
    own = [
        *auth_values(AuthSettings(secret="a-secret-of-our-own-0123456789abcdef")),
        *auth_values(AuthSettings(jwks_url="https://login.example.be/certs")),
        *auth_values(AuthSettings(public_key=PUBLIC_PEM)),
        *link_secret_values("another-secret"),
        *secure_cookie_values(True),
        *secret_values("BIN_CONNECTOR_ADDRESS_SECRET", "own", "dev"),
    ]
    assert own == []
    refuse_development_settings("registry", "production", own)


def test_no_key_at_all_is_refused_too() -> None:
    [missing] = auth_values(AuthSettings(secret=""))
    assert missing.variable == "BIN_AUTH_JWKS_URL"


def _rs256(settings: AuthSettings) -> str:
    now = int(time.time())
    claims = {"sub": "op", "iss": settings.issuer, "aud": settings.audience, "exp": now + 60}
    return jwt.encode({**claims, "roles": [Role.OPERATOR.value]}, KEY, algorithm="RS256")


def test_with_a_public_key_configured_shared_secret_tokens_are_refused() -> None:
    settings = AuthSettings(public_key=PUBLIC_PEM)  # the development secret stays the default
    verifier = TokenVerifier(settings)
    assert verifier.verify(_rs256(settings)).subject == "op"
    # Minted with the development secret, which is still set: refused all the same.
    forged = mint_token(settings, "intruder", [Role.ADMIN])
    with pytest.raises(InvalidToken):
        verifier.verify(forged)
    assert "HS256" not in verifier.algorithms and "RS256" in verifier.algorithms


def test_with_a_jwks_url_configured_shared_secret_tokens_are_refused() -> None:
    settings = AuthSettings(jwks_url="http://127.0.0.1:9/certs")
    assert TokenVerifier(settings).algorithms == ["RS256", "ES256"]
    assert TokenVerifier(AuthSettings()).algorithms == ["HS256", "RS256", "ES256"]
