"""Who counts as one caller of a service's API: a verified principal by its subject and
zones, else its address; a failed preferences link by its address alone; no key names
either."""

from __future__ import annotations

from shared.auth import Principal, Role
from shared.callers import LinkFailureLimit, RateLimiter
from shared.request_limits import presented

LIMITER = RateLimiter(per_second=2, burst=3)


def principal(subject: str, *zones: str) -> Principal:
    return Principal(
        subject=subject, roles=frozenset({Role.OPERATOR}), police_zones=frozenset(zones)
    )


def test_a_verified_caller_is_one_bucket_whatever_token_it_presents() -> None:
    same = {LIMITER.caller(principal("op-1", "Leuven"), a) for a in ("10.0.0.1", "10.0.0.2")}
    assert len(same) == 1  # a new token or address of the same principal: the same bucket
    assert LIMITER.caller(principal("op-1", "Leuven"), "x") != LIMITER.caller(
        principal("op-1", "Gent"), "x"
    )  # subject *and* zone
    assert LIMITER.caller(principal("op-1", "A", "B"), "x") == LIMITER.caller(
        principal("op-1", "B", "A"), "x"
    )
    assert LIMITER.caller(principal("op-2", "Leuven"), "x") != LIMITER.caller(
        principal("op-1", "Leuven"), "x"
    )


def test_an_unverified_caller_counts_with_its_address_and_the_key_names_neither() -> None:
    key = LIMITER.caller(None, "10.0.0.1")
    assert key == LIMITER.caller(None, "10.0.0.1") != LIMITER.caller(None, "10.0.0.2")
    assert key != LIMITER.caller(principal("10.0.0.1"), "10.0.0.1")
    assert "10.0.0.1" not in key and "op-1" not in LIMITER.caller(principal("op-1"), "x")
    assert len(key) == 64


def test_the_token_presented_is_the_bearer_else_the_console_cookie() -> None:
    assert presented({b"authorization": b"Bearer abc"}) == "abc"
    assert presented({b"authorization": b"Basic abc", b"cookie": b"bin_console=xyz"}) == "xyz"
    assert presented({b"authorization": b"Bearer "}) is None
    assert presented({}) is None


def test_failed_links_are_counted_by_address_apart_from_the_address_requests() -> None:
    key = LinkFailureLimit.caller("10.0.0.1")
    assert key == LinkFailureLimit.caller("10.0.0.1") != LinkFailureLimit.caller("10.0.0.2")
    assert key != LIMITER.caller(None, "10.0.0.1")  # a bucket apart from the address's own
    assert "10.0.0.1" not in key and len(key) == 64
