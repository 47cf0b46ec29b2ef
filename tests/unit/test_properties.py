"""Property-based tests (hypothesis) of the rules where an edge case would hurt: the retry
schedules and the eligibility rules. (The privacy guard's are in tests/unit/intake/.)"""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.dispatch.domain.retry import DeliveryRetryPolicy
from services.registry.domain.eligibility import ADULT_AGE, age_on, eligibility_reasons
from shared.areas import Address, StreetSegment
from shared.messaging.retry import DeadLetter, Retry, decide

DELAYS = st.lists(st.floats(0.1, 3600), min_size=0, max_size=6).map(tuple)


@given(DELAYS, st.integers(1, 20))
def test_a_message_is_retried_once_per_level_then_dead_lettered(
    delays: tuple[float, ...], attempt: int
) -> None:
    outcome = decide(RuntimeError("gateway away"), attempt, len(delays))
    if attempt <= len(delays):
        assert outcome == Retry(level=attempt - 1, attempt=attempt + 1)
    else:
        assert isinstance(outcome, DeadLetter) and "retries exhausted" in outcome.reason


@given(DELAYS, st.integers(0, 2**32), st.floats(0, 0.9))
def test_a_delivery_delay_never_exceeds_its_level_and_never_drops_below_the_jitter(
    delays: tuple[float, ...], seed: int, jitter: float
) -> None:
    policy = DeliveryRetryPolicy(delays, jitter)
    rng = random.Random(seed)
    assert policy.max_attempts == len(delays) + 1
    for attempt in range(1, policy.max_attempts + 2):
        level = policy.level_for(attempt)
        if attempt > len(delays):
            assert level is None
            continue
        assert level == attempt - 1
        delay = policy.delay(level, rng)
        # The delay queue's TTL is the upper bound; jitter only shortens.
        assert delays[level] * (1 - jitter) <= delay <= delays[level]


AREA = [StreetSegment("Abdijstraat"), StreetSegment("Tiensestraat", 1, 99)]
TODAY = date(2026, 11, 23)


@given(st.dates(date(1900, 1, 1), date(2030, 12, 31)))
def test_only_adults_are_eligible_whatever_the_birth_date(birth_date: date) -> None:
    reasons = eligibility_reasons(
        birth_date=birth_date,
        address=Address("Abdijstraat", "1", "Leuven"),
        bin_municipality="Leuven",
        area=AREA,
        registration_signed_on=TODAY,
        house_rules_accepted_on=TODAY,
        today=TODAY,
    )
    adult = birth_date <= TODAY and age_on(birth_date, TODAY) >= ADULT_AGE
    assert (reasons == []) is adult


@given(st.dates(date(1950, 1, 1), date(2010, 12, 31)))
def test_eighteen_is_reached_on_the_birthday(birth_date: date) -> None:
    try:
        eighteenth = birth_date.replace(year=birth_date.year + ADULT_AGE)
    except ValueError:  # born on 29 February
        eighteenth = date(birth_date.year + ADULT_AGE, 3, 1)
    assert age_on(birth_date, eighteenth) == ADULT_AGE
    assert age_on(birth_date, eighteenth - timedelta(days=1)) == ADULT_AGE - 1


@given(st.integers(0, 400), st.sampled_from(["Tiensestraat", "tiensestraat", "TIENSESTRAAT"]))
def test_a_house_number_range_is_inclusive(number: int, street: str) -> None:
    reasons = eligibility_reasons(
        birth_date=date(1980, 1, 1),
        address=Address(street, str(number), "Leuven"),
        bin_municipality="leuven",
        area=AREA,
        registration_signed_on=TODAY,
        house_rules_accepted_on=TODAY,
        today=TODAY,
    )
    assert (reasons == []) is (1 <= number <= 99)
