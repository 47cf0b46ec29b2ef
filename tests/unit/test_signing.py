import uuid

import pytest

from shared.signing import InvalidLink, LinkExpired, sign_member_token, verify_member_token

SECRET = "s3cret-for-tests-only"


def test_a_signed_link_names_its_member_until_it_expires() -> None:
    member = uuid.uuid4()
    token = sign_member_token(SECRET, member, ttl_seconds=60, now=1_000)
    assert verify_member_token(SECRET, token, now=1_059) == member
    with pytest.raises(InvalidLink, match="expired"):
        verify_member_token(SECRET, token, now=1_061)


@pytest.mark.parametrize("tamper", ["member", "expiry", "secret", "garbage"])
def test_a_tampered_link_is_refused(tamper: str) -> None:
    token = sign_member_token(SECRET, uuid.uuid4(), ttl_seconds=60, now=1_000)
    member, expires, mac = token.split(".")
    forged = {
        "member": f"{uuid.uuid4()}.{expires}.{mac}",
        "expiry": f"{member}.{int(expires) + 10_000}.{mac}",
        "secret": sign_member_token("other-secret", uuid.UUID(member), 60, now=1_000),
        "garbage": "not-a-token",
    }[tamper]
    with pytest.raises(InvalidLink):
        verify_member_token(SECRET, forged, now=1_001)


def test_an_expired_link_still_names_its_member_for_the_page_s_language() -> None:
    member = uuid.uuid4()
    token = sign_member_token(SECRET, member, ttl_seconds=60, now=1_000)
    with pytest.raises(LinkExpired) as expired:
        verify_member_token(SECRET, token, now=2_000)
    assert expired.value.member_id == member
