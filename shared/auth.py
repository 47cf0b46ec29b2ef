"""Bearer-token (JWT) authentication and the roles of the BIN platform.

Tokens come from any OIDC provider (or, in development, from ``python -m shared.auth mint``).
They are verified against the configured issuer, audience and key: an HS256 shared secret
(development), a PEM public key (RS256/ES256), or the provider's JWKS URL. Claims:

* ``sub``: who acts (an opaque id; never a name, it ends up in the audit log)
* ``roles``: a list of :class:`Role` values
* ``police_zones``, ``municipalities``, ``bin_ids``: where the roles apply

Missing, expired, badly signed or wrong-issuer tokens get 401; a valid token without the
needed role or scope gets 403 (see :mod:`shared.problems` for the body).
"""

from __future__ import annotations

import argparse
import time
import uuid
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me-0123456789abcdef"  # noqa: S105


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"  # police operator: evaluates reports, activates BINs in their zone
    MANDATED_OFFICER = "mandated_officer"  # the police contact of a BIN
    COORDINATOR = "coordinator"  # manages a BIN's members
    DEPUTY = "deputy"  # steering-group member helping a coordinator
    PREVENTION_OFFICER = "prevention_officer"  # the municipality's
    POLICE_CHIEF = "police_chief"  # signs a BIN's charter for the police zone
    MAYOR = "mayor"  # may sign a BIN's charter for the municipality


class Principal(BaseModel):
    """Who is calling, and where their roles apply."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[Role] = frozenset()
    police_zones: frozenset[str] = frozenset()
    municipalities: frozenset[str] = frozenset()
    bin_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def has_role(self, *roles: Role) -> bool:
        return self.is_admin or bool(self.roles.intersection(roles))

    def acts_in_zone(self, police_zone: str) -> bool:
        return self.is_admin or police_zone in self.police_zones

    def acts_in_municipality(self, municipality: str) -> bool:
        return self.is_admin or municipality in self.municipalities

    def manages_bin(self, bin_id: uuid.UUID) -> bool:
        return self.is_admin or bin_id in self.bin_ids


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIN_AUTH_", extra="ignore")

    issuer: str = "bin-platform-dev"
    audience: str = "bin-platform"
    # One of these three; the secret is for development and tests only.
    secret: str | None = DEVELOPMENT_SECRET
    public_key: str | None = None
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["HS256", "RS256", "ES256"])
    leeway_seconds: int = 30


class _Claims(BaseModel):
    sub: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(default_factory=list)
    police_zones: list[str] = Field(default_factory=list)
    municipalities: list[str] = Field(default_factory=list)
    bin_ids: list[uuid.UUID] = Field(default_factory=list)


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None
        # With the provider's keys configured, a shared-secret (HS256) token is refused: else
        # the development secret, still the default, would mint tokens the service accepts.
        asymmetric = bool(settings.jwks_url or settings.public_key)
        self.algorithms = [
            a for a in settings.algorithms if not (asymmetric and a.upper().startswith("HS"))
        ]

    def _key(self, token: str) -> Any:
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self.settings.public_key:
            return self.settings.public_key
        if self.settings.secret:
            return self.settings.secret
        raise InvalidToken("no verification key configured")

    def verify(self, token: str) -> Principal:
        try:
            payload = jwt.decode(
                token,
                self._key(token),
                algorithms=self.algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            claims = _Claims.model_validate(payload)
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token from an unknown issuer") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token for another audience") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("token signature does not verify") from None
        except (jwt.PyJWTError, ValidationError) as error:
            raise InvalidToken(f"invalid token: {type(error).__name__}") from None
        return Principal(
            subject=claims.sub,
            roles=frozenset(claims.roles),
            police_zones=frozenset(claims.police_zones),
            municipalities=frozenset(claims.municipalities),
            bin_ids=frozenset(claims.bin_ids),
        )


class InvalidToken(Exception):
    pass


def mint_token(
    settings: AuthSettings,
    subject: str,
    roles: list[Role],
    police_zones: list[str] = (),  # type: ignore[assignment]
    municipalities: list[str] = (),  # type: ignore[assignment]
    bin_ids: list[uuid.UUID] = (),  # type: ignore[assignment]
    ttl_seconds: int = 3600,
) -> str:
    """A token signed with the shared secret: for development and tests, never production."""
    if not settings.secret:
        raise ValueError(
            "minting needs BIN_AUTH_SECRET; production tokens come from the OIDC provider"
        )
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "roles": [r.value for r in roles],
        "police_zones": list(police_zones),
        "municipalities": list(municipalities),
        "bin_ids": [str(b) for b in bin_ids],
    }
    return jwt.encode(claims, settings.secret, algorithm="HS256")


_bearer = HTTPBearer(auto_error=False)

# The web consoles keep the operator's token in an HttpOnly, SameSite=Strict cookie. Their
# scripts call the same JSON API with it, marked by a custom header: a custom header cannot
# be sent cross-site without a CORS preflight (which no service answers), so a forged
# request from another site carries neither the cookie nor the header.
CONSOLE_COOKIE = "bin_console"
CONSOLE_HEADER = "X-BIN-Console"


def presented_token(request: Request) -> str | None:
    """The token the caller presented, bearer header or console cookie: what a service passes
    on when it asks another service on the caller's behalf (which then checks it itself)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(CONSOLE_COOKIE) or None


def _console_token(request: Request) -> str | None:
    if request.headers.get(CONSOLE_HEADER) != "1":
        return None
    return request.cookies.get(CONSOLE_COOKIE) or None


# The request's state key under which a middleware that verified the caller's token leaves
# ``(token, principal or None)`` for :func:`authenticated`.
VERIFIED_STATE = "verified_token"


def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    token = credentials.credentials if credentials is not None else _console_token(request)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verified: tuple[str | None, Principal | None] | None = getattr(
        request.state, VERIFIED_STATE, None
    )
    if verified is not None and verified[0] == token and verified[1] is not None:
        return verified[1]  # verified by the request limits already: once per request
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(token)
    except InvalidToken as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            str(error),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def require_roles(*roles: Role) -> Any:
    """FastAPI dependency factory: the caller must hold one of ``roles`` (admins always do)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"needs one of the roles: {', '.join(sorted(r.value for r in roles))}",
            )
        return principal

    return Depends(check)


def _main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shared.auth", description="Mint a development token."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    mint = sub.add_parser("mint")
    mint.add_argument("--subject", default="dev-user")
    mint.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    mint.add_argument("--zone", action="append", default=[], help="police zone (repeatable)")
    mint.add_argument("--municipality", action="append", default=[])
    mint.add_argument("--bin", action="append", default=[], type=uuid.UUID)
    mint.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    args = parser.parse_args()
    print(
        mint_token(
            AuthSettings(),
            args.subject,
            [Role(r) for r in args.role],
            args.zone,
            args.municipality,
            args.bin,
            args.ttl,
        )
    )


if __name__ == "__main__":
    _main()
