"""Production refuses development settings.

The defaults let ``make run`` and the tests work with nothing configured: a shared token
secret, a link secret, a session cookie that plain http can carry. Deployed, each is a hole:
anyone could mint an operator's token or forge a member's preferences link (and that page can
erase the member). So every service starts only if none of them is in effect, unless
``BIN_ENVIRONMENT=development`` says it runs on a developer's machine or in the tests.

Each composition root lists what it uses (:class:`ServiceRuntime.development_values`), and
:func:`refuse_development_settings` checks the list once, before the service serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.auth import DEVELOPMENT_SECRET, AuthSettings

DEVELOPMENT = "development"
PRODUCTION = "production"

# The members' link secret registry and dispatch share (BIN_LINK_SECRET) when none is given.
DEVELOPMENT_LINK_SECRET = "development-only-link-secret-change-me"  # noqa: S105


@dataclass(frozen=True)
class DevelopmentValue:
    """A setting left at (or set to) a value only fit for development, and what to provide."""

    variable: str
    remedy: str


class DevelopmentSettingsRefused(SystemExit):
    """Raised before a service serves; its message names every setting to provide."""

    def __init__(self, service: str, found: Sequence[DevelopmentValue]) -> None:
        lines = [
            f"{service} refuses to start with development settings "
            f"(BIN_ENVIRONMENT is not {DEVELOPMENT!r}):",
            *(f"  {value.variable}: {value.remedy}" for value in found),
            f"Provide these, or set BIN_ENVIRONMENT={DEVELOPMENT} on a developer's machine only.",
        ]
        super().__init__("\n".join(lines))
        self.found = tuple(found)


def auth_values(settings: AuthSettings) -> list[DevelopmentValue]:
    """The token secret counts only where it verifies tokens: with a JWKS URL or a public key
    configured, HS256 tokens are refused (:class:`shared.auth.TokenVerifier`)."""
    if settings.jwks_url or settings.public_key:
        return []
    if not settings.secret:
        return [
            DevelopmentValue(
                "BIN_AUTH_JWKS_URL",
                "no key verifies tokens: set BIN_AUTH_JWKS_URL (the OIDC provider's keys) "
                "or BIN_AUTH_PUBLIC_KEY",
            )
        ]
    if settings.secret == DEVELOPMENT_SECRET:
        return [
            DevelopmentValue(
                "BIN_AUTH_SECRET",
                "the development token secret lets anyone mint tokens: set BIN_AUTH_JWKS_URL "
                "(the OIDC provider's keys) or BIN_AUTH_PUBLIC_KEY",
            )
        ]
    return []


def link_secret_values(link_secret: str) -> list[DevelopmentValue]:
    if link_secret != DEVELOPMENT_LINK_SECRET:
        return []
    return [
        DevelopmentValue(
            "BIN_LINK_SECRET",
            "the development link secret lets anyone forge members' preferences links: set "
            "a random value of your own (the same for dispatch and the registry)",
        )
    ]


def secure_cookie_values(secure_cookie: bool) -> list[DevelopmentValue]:
    if secure_cookie:
        return []
    return [
        DevelopmentValue(
            "BIN_CONSOLE_SECURE_COOKIE",
            "the console's session cookie would travel over plain http: set it to true "
            "(serve the consoles over TLS)",
        )
    ]


def secret_values(variable: str, value: str, development_value: str) -> list[DevelopmentValue]:
    """Any other secret with a development default (the connectors' address secret)."""
    if value != development_value:
        return []
    return [DevelopmentValue(variable, "still the development value: set a random one of your own")]


def refuse_development_settings(
    service: str, environment: str, values: Iterable[DevelopmentValue]
) -> None:
    found = list(values)
    if environment != DEVELOPMENT and found:
        raise DevelopmentSettingsRefused(service, found)
