"""Four-eyes approval's rule: when an alert waits for a second operator, and who may approve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.console.approvals import approval_view
from services.intake.domain.four_eyes import Policy, Reason, approval_refusal

pytestmark = pytest.mark.unit


def test_below_or_at_the_threshold_nothing_changes() -> None:
    policy = Policy({"default": 100})
    assert policy.reasons(["Leuven"], ["Leuven", "leuven "], 100) == []


def test_more_members_than_the_zone_allows_wait() -> None:
    policy = Policy({"default": 100, "Gent": 1000})
    assert policy.reasons(["Leuven"], ["Leuven"], 101) == [Reason.MEMBERS]
    assert policy.reasons(["Gent"], ["Gent"], 101) == []
    # Several zones at once: the strictest holds.
    assert policy.reasons(["Gent", "Leuven"], ["Gent"], 101) == [Reason.MEMBERS]


def test_several_municipalities_wait_whatever_the_size() -> None:
    assert Policy({}).reasons(["Demerdal"], ["Diest", "Scherpenheuvel-Zichem"], 2) == [
        Reason.MUNICIPALITIES
    ]


def test_an_unknown_reach_waits_where_members_are_counted() -> None:
    assert Policy({"default": 0}).reasons(["Leuven"], ["Leuven"], None) == [Reason.REACH_UNKNOWN]
    # A zone without a threshold (and no default) never asks how many.
    assert not Policy({"Gent": 5}).counts_members(["Leuven"])
    assert Policy({"Gent": 5}).reasons(["Leuven"], ["Leuven"], None) == []


def test_a_zero_threshold_holds_every_alert_with_members() -> None:
    assert Policy({"Leuven": 0}).reasons(["Leuven"], ["Leuven"], 1) == [Reason.MEMBERS]
    assert Policy({"Leuven": 0}).reasons(["Leuven"], ["Leuven"], 0) == []


def test_nobody_approves_their_own_alert() -> None:
    assert approval_refusal("op-1", "op-1") is not None
    assert approval_refusal("op-1", "op-2") is None


def test_the_held_alerts_page_shows_who_approved_and_stops_following() -> None:
    def text(key: str, **values: object) -> str:
        return key + "".join(f" {k}={v}" for k, v in sorted(values.items()))

    waiting = {"approved_at": None, "approved_by": None, "cancelled_at": None}
    assert approval_view(waiting, text) == ({"state": "approval_waiting"}, False)
    approved = {
        **waiting,
        "approved_by": "op-2",
        "approved_at": datetime(2026, 12, 1, 9, tzinfo=UTC),
    }
    shown, final = approval_view(approved, text)
    assert final and shown["state"] == "approval_approved at=2026-12-01 10:00 who=op-2"


def test_a_hold_lapses_after_the_maximum_hold_and_not_before() -> None:
    policy = Policy({}, max_hold=timedelta(minutes=30))
    held_since = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert not policy.hold_lapsed(held_since, held_since + timedelta(minutes=30))
    assert policy.hold_lapsed(held_since, held_since + timedelta(minutes=30, seconds=1))
    assert Policy({}).max_hold == timedelta(minutes=60)
