"""The pure parts of the registry's pages: paging, the member's link, their choices, the
cost report's line, search patterns, and complete catalogues."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.registry.console import costs
from services.registry.console.choices import NoChannel, preferences_change, ticked
from services.registry.console.links import LinkState, read_link, same_origin
from services.registry.console.paging import Paging
from services.registry.console.setup import SERVICE_DIR, local_time
from services.registry.console.views import pattern
from shared.signing import sign_member_token
from shared.web.i18n import Catalogues

SECRET = "test-secret"


def test_paging_keeps_the_page_within_the_list() -> None:
    assert Paging.of(1, 0).pages == 1
    middle = Paging.of(2, 120, size=50)
    assert (middle.offset, middle.previous, middle.next, middle.pages) == (50, 1, 3, 3)
    beyond = Paging.of(9, 120, size=50)
    assert (beyond.number, beyond.next) == (3, None)


def test_a_link_is_valid_expired_tampered_or_malformed() -> None:
    member = uuid.uuid4()
    token = sign_member_token(SECRET, member, 60, now=1_000)
    assert read_link(SECRET, token, now=1_010).member_id == member
    expired = read_link(SECRET, token, now=5_000)
    assert (expired.state, expired.member_id) == (LinkState.EXPIRED, member)
    assert read_link("another secret", token, now=1_010).state is LinkState.TAMPERED
    for garbage in ("", "abc", "x.y.z", f"{member}.soon.mac", f"{member}.123."):
        assert read_link(SECRET, garbage).state is LinkState.MALFORMED
    assert [s.value for s in (LinkState.MALFORMED, LinkState.TAMPERED, LinkState.EXPIRED)] == [
        400,
        403,
        410,
    ]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("http://127.0.0.1:8001", True),
        ("HTTP://127.0.0.1:8001", True),
        ("http://127.0.0.1:8002", False),
        ("https://127.0.0.1:8001", False),
        ("https://evil.example", False),
        ("null", False),
    ],
)
def test_only_the_page_itself_may_post_its_forms(origin: str | None, allowed: bool) -> None:
    assert same_origin(origin, "http", "127.0.0.1:8001") is allowed


def test_the_members_choices_become_the_api_s_change() -> None:
    change = preferences_change("fr", ["email", "voice"], digest=False)
    assert change.model_dump(exclude_unset=True) == {
        "language": "fr",
        "channels": ["email", "voice"],
        "digest_subscribed": False,
    }
    # Every channel ticked is the BIN's plan, stored as the empty list.
    assert preferences_change("nl", ["sms", "voice", "email", "push"], True).channels == []
    assert ticked([]) == ["sms", "voice", "email", "push"]
    with pytest.raises(NoChannel):
        preferences_change("nl", [], True)
    with pytest.raises(ValidationError):
        preferences_change("nl", ["pigeon"], True)
    with pytest.raises(ValidationError):
        preferences_change("en", ["email"], True)


def test_the_bin_s_line_of_dispatch_s_cost_report() -> None:
    bin_id = uuid.uuid4()
    report = {
        "month": "2026-11",
        "municipalities": [
            {
                "municipality": "Leuven",
                "bins": [
                    {"bin_id": str(uuid.uuid4()), "sms": 9, "voice": 0, "cost_eur": 0.54},
                    {"bin_id": str(bin_id), "sms": 10, "voice": 2, "cost_eur": 0.84},
                ],
            }
        ],
    }
    assert costs.bin_cost(report, bin_id) == costs.MonthCost("2026-11", 10, 2, 0.84)
    assert costs.bin_cost(report, uuid.uuid4()) == costs.MonthCost("2026-11", 0, 0, 0.0)
    assert costs.bin_cost({"unexpected": True}, bin_id) is None


async def test_a_dispatch_that_does_not_answer_makes_the_cost_not_available() -> None:
    # Nothing listens on port 9 (discard) of loopback.
    assert await costs.month_cost("http://127.0.0.1:9", "token", uuid.uuid4(), "2026-11") is None


def test_search_patterns_match_anywhere_and_take_wildcards_literally() -> None:
    assert pattern(None) is None
    assert pattern("  ") is None
    assert pattern("Abdij") == "%Abdij%"
    assert pattern("50%_x") == r"%50\%\_x%"


@pytest.mark.parametrize("language", ["fr", "de"])
def test_every_dutch_text_exists_in_french_and_german(language: str) -> None:
    own = Catalogues([SERVICE_DIR / "console" / "messages"])
    assert own.missing(language) == []


def test_times_are_shown_in_belgian_time() -> None:
    assert local_time(datetime(2026, 11, 23, 20, 56, tzinfo=UTC)) == "23/11/2026 21:56"
    assert local_time(datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == "02/07/2026 00:30"
