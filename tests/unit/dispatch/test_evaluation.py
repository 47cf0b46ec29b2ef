"""The year's delivery figures: percentiles, reach, one activation across BINs, costs."""

from __future__ import annotations

import statistics
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.dispatch.domain.evaluation import (
    ActivationOutcome,
    MonthlyMessages,
    delivery_part,
    per_activation,
    percentile,
    reach,
    timings,
)

PRICES = {"sms": 0.06, "voice": 0.12}
A, B = uuid.uuid4(), uuid.uuid4()


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.9) == 3.7
    assert percentile(list(map(float, range(1, 11))), 0.9) == 9.1
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], 1.5)


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=50))
def test_the_median_and_p90_agree_with_the_standard_library(values: list[float]) -> None:
    assert percentile(values, 0.5) == pytest.approx(statistics.median(values), abs=1e-3)
    p90 = statistics.quantiles(values, n=10, method="inclusive")[-1]
    assert percentile(values, 0.9) == pytest.approx(p90, abs=1e-3)


def test_reach_is_delivered_over_targeted() -> None:
    assert reach(0, 0) is None
    assert reach(9, 12) == 0.75
    assert reach(2, 3) == 0.6667


def test_an_alert_to_two_bins_is_one_activation() -> None:
    alert = uuid.uuid4()
    merged = per_activation(
        [
            ActivationOutcome(alert, A, 10, 9, 0.5, 4.0),
            ActivationOutcome(alert, B, 5, 5, 0.3, 2.0),
            ActivationOutcome(uuid.uuid4(), A, 3, 0, None, None),
        ]
    )
    first = next(m for m in merged if m.source_id == alert)
    assert (first.targeted, first.delivered, first.first_s, first.last_s) == (15, 14, 0.3, 4.0)
    assert len(merged) == 2
    summary = timings(merged)
    # The alert nobody was reached by has no time to measure, but it was an activation.
    assert summary.activations == 2
    assert (summary.first_median_s, summary.last_median_s) == (0.3, 4.0)


def test_the_part_sums_channels_months_and_costs_per_bin_and_in_total() -> None:
    messages = [
        MonthlyMessages(1, A, "sms", 10, 0, 10, 10),
        MonthlyMessages(1, A, "voice", 10, 10, 0, 12, confirmed=7),
        MonthlyMessages(3, A, "email", 4, 4, 0, 4),
        MonthlyMessages(3, B, "voice", 5, 5, 0, 5, confirmed=1),
    ]
    outcomes = [
        ActivationOutcome(uuid.uuid4(), A, 10, 10, 1.0, 3.0),
        ActivationOutcome(uuid.uuid4(), B, 5, 5, 2.0, 2.5),
    ]
    part = delivery_part(2026, messages, outcomes, PRICES, per_bin=True)
    total = part.total
    assert (total.sms, total.voice, total.cost_eur) == (10, 17, 2.64)
    assert total.channels["voice"].deliveries == 15
    # Voice: confirmed by a key press apart from delivered to the phone or voicemail.
    assert (total.channels["voice"].delivered, total.channels["voice"].confirmed) == (15, 8)
    assert part.bins[B].channels["voice"].confirmed == 1
    assert total.messages_by_month["voice"][0] == 10 and total.messages_by_month["voice"][2] == 5
    assert (total.targeted, total.delivered, total.reach) == (15, 15, 1.0)
    assert part.bins[A].cost_eur == 2.04 and part.bins[B].voice == 5
    assert part.bins[B].timings.first_median_s == 2.0
    assert delivery_part(2026, messages, outcomes, PRICES, per_bin=False).bins == {}
