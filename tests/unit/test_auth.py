import time
import uuid

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared import problems
from shared.auth import (
    AuthSettings,
    CurrentPrincipal,
    InvalidToken,
    Principal,
    Role,
    TokenVerifier,
    mint_token,
    require_roles,
)

SETTINGS = AuthSettings(secret="test-secret-0123456789abcdef0123456789abcdef")


def test_a_minted_token_verifies_to_its_principal() -> None:
    bin_id = uuid.uuid4()
    token = mint_token(SETTINGS, "op-7", [Role.OPERATOR], police_zones=["Leuven"], bin_ids=[bin_id])
    principal = TokenVerifier(SETTINGS).verify(token)
    assert principal == Principal(
        subject="op-7",
        roles=frozenset({Role.OPERATOR}),
        police_zones=frozenset({"Leuven"}),
        bin_ids=frozenset({bin_id}),
    )
    assert principal.acts_in_zone("Leuven")
    assert not principal.acts_in_zone("Brussel-Hoofdstad")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (mint_token(SETTINGS, "x", [Role.OPERATOR], ttl_seconds=-120), "expired"),
        (
            mint_token(AuthSettings(secret="another-secret-0123456789abcdef012345"), "x", []),
            "signature",
        ),
        (mint_token(SETTINGS.model_copy(update={"issuer": "evil"}), "x", []), "issuer"),
        (mint_token(SETTINGS.model_copy(update={"audience": "other"}), "x", []), "audience"),
        ("not-a-jwt", "invalid token"),
        (
            jwt.encode(
                {
                    "sub": "x",
                    "iss": SETTINGS.issuer,
                    "aud": SETTINGS.audience,
                    "exp": int(time.time()) + 60,
                },
                "",
                algorithm="none",
            ),
            "invalid token",
        ),
    ],
    ids=["expired", "bad-signature", "wrong-issuer", "wrong-audience", "garbage", "alg-none"],
)
def test_bad_tokens_are_refused_with_a_reason(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        TokenVerifier(SETTINGS).verify(token)


def test_admins_hold_every_role_and_scope() -> None:
    admin = Principal(subject="a", roles=frozenset({Role.ADMIN}))
    assert admin.has_role(Role.COORDINATOR)
    assert admin.manages_bin(uuid.uuid4())
    assert admin.acts_in_municipality("Gent")


def app() -> FastAPI:
    application = FastAPI()
    application.state.token_verifier = TokenVerifier(SETTINGS)
    problems.install(application)

    @application.get("/who")
    def who(principal: CurrentPrincipal) -> str:
        return principal.subject

    @application.get("/operators-only", dependencies=[require_roles(Role.OPERATOR)])
    def operators_only() -> str:
        return "ok"

    return application


def test_http_401_without_or_with_a_bad_token_and_403_without_the_role() -> None:
    client = TestClient(app())
    missing = client.get("/who")
    assert missing.status_code == 401
    assert missing.json()["detail"] == "a bearer token is required"
    assert missing.headers["content-type"] == "application/problem+json"
    bad = client.get("/who", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    coordinator = mint_token(SETTINGS, "c-1", [Role.COORDINATOR])
    headers = {"Authorization": f"Bearer {coordinator}"}
    assert client.get("/who", headers=headers).json() == "c-1"
    forbidden = client.get("/operators-only", headers=headers)
    assert forbidden.status_code == 403
    assert "operator" in forbidden.json()["detail"]
