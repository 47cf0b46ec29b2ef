from datetime import date
from itertools import pairwise

import pytest

from services.registry.domain.errors import IllegalTransition, SignatureRefused
from services.registry.domain.lifecycle import (
    Signatory,
    allowed_next,
    check_signature,
    check_transition,
    missing_parties,
    next_evaluation_due,
)
from shared.events import BinStatus as S

ROAD_TO_ACTIVE = [
    S.PROPOSED,
    S.CHARTER_DRAFTED,
    S.CHARTER_SIGNED,
    S.SUBMITTED,
    S.APPROVED,
    S.ACTIVE,
]


@pytest.mark.parametrize(("current", "target"), list(pairwise(ROAD_TO_ACTIVE)))
def test_each_step_to_an_active_bin_is_allowed(current: S, target: S) -> None:
    check_transition(current, target)


def test_active_and_suspended_alternate_and_anything_may_dissolve() -> None:
    check_transition(S.ACTIVE, S.SUSPENDED)
    check_transition(S.SUSPENDED, S.ACTIVE)
    for status in S:
        if status is not S.DISSOLVED:
            check_transition(status, S.DISSOLVED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PROPOSED, S.ACTIVE),  # no skipping the charter and the ministry
        (S.CHARTER_DRAFTED, S.APPROVED),
        (S.SUBMITTED, S.ACTIVE),
        (S.APPROVED, S.SUSPENDED),
        (S.ACTIVE, S.PROPOSED),
        (S.DISSOLVED, S.ACTIVE),
        (S.ACTIVE, S.ACTIVE),
    ],
)
def test_illegal_steps_are_refused_naming_the_possible_ones(current: S, target: S) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot become {target}") as refused:
        check_transition(current, target)
    for possible in allowed_next(current):
        assert possible.value in str(refused.value)


def test_the_charter_needs_all_three_parties() -> None:
    assert missing_parties([]) == ["citizens", "police_zone", "municipality"]
    # The police zone signs with its mandated officer and its chief: one is not enough.
    assert missing_parties(
        [Signatory.COORDINATOR, Signatory.MANDATED_OFFICER, Signatory.MAYOR]
    ) == ["police_zone"]
    # The municipality signs with its prevention officer or its mayor.
    assert (
        missing_parties(
            [
                Signatory.COORDINATOR,
                Signatory.MANDATED_OFFICER,
                Signatory.POLICE_CHIEF,
                Signatory.PREVENTION_OFFICER,
            ]
        )
        == []
    )


def test_signatures_only_on_a_drafted_charter_and_once() -> None:
    check_signature(S.CHARTER_DRAFTED, Signatory.MAYOR, [])
    with pytest.raises(SignatureRefused, match="only a drafted charter"):
        check_signature(S.PROPOSED, Signatory.MAYOR, [])
    with pytest.raises(SignatureRefused, match="already has"):
        check_signature(S.CHARTER_DRAFTED, Signatory.MAYOR, [Signatory.MAYOR])


def test_the_yearly_evaluation_is_due_a_year_later() -> None:
    assert next_evaluation_due(date(2026, 3, 4)) == date(2027, 3, 4)
    assert next_evaluation_due(date(2028, 2, 29)) == date(2029, 2, 28)
