"""Members and their growth over a year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.registry.domain.growth import Tenure, combined, growth

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


def at(month: int, year: int = 2026) -> datetime:
    return datetime(year, month, 1, 12, tzinfo=UTC)


def test_joined_left_and_counts_at_both_ends_of_the_year() -> None:
    tenures = [
        Tenure(at(3, 2025), None),  # there all year
        Tenure(None, None),  # from before records began
        Tenure(at(5, 2025), at(6)),  # left this year
        Tenure(at(2), None),  # joined this year
        Tenure(at(2), at(9)),  # joined and left this year
        Tenure(at(1, 2024), at(12, 2025)),  # gone before the year
        Tenure(at(1, 2027), None),  # joins after it
        Tenure(START, None),  # joined on the first moment: counts as joined, not at start
    ]
    figures = growth(tenures, START, END)
    assert figures.model_dump() == {"at_start": 3, "joined": 3, "left": 2, "at_end": 4}
    assert combined([figures, figures]).at_end == 8


moments = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
)


@given(st.lists(st.tuples(moments, moments, st.timedeltas(timedelta(0), timedelta(days=900)))))
def test_members_at_the_end_are_those_at_the_start_plus_joined_minus_left(
    raw: list[tuple[datetime | None, datetime | None, timedelta]],
) -> None:
    # A member leaves after joining; within the year both figures move the count.
    tenures = [
        Tenure(joined, None if left is None else (joined + stay if joined else left))
        for joined, left, stay in raw
        if joined is None or joined < END
    ]
    figures = growth(tenures, START, END)
    assert figures.at_end == figures.at_start + figures.joined - figures.left
