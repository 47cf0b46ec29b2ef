from datetime import UTC, date, datetime, time

import pytest

from services.digest.domain.calendar import (
    DigestCalendar,
    belgian_public_holidays,
    easter_sunday,
    is_belgian_public_holiday,
)

CALENDAR = DigestCalendar(time(7, 0), is_holiday=is_belgian_public_holiday)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "expected_utc"),
    [
        (date(2026, 3, 27), utc(2026, 3, 27, 6, 0)),  # Friday before the spring change: CET
        (date(2026, 3, 30), utc(2026, 3, 30, 5, 0)),  # Monday after it: CEST
        (date(2026, 10, 23), utc(2026, 10, 23, 5, 0)),  # Friday before the autumn change
        (date(2026, 10, 26), utc(2026, 10, 26, 6, 0)),  # Monday after it: CET again
    ],
)
def test_seven_oclock_brussels_time_summer_and_winter(day: date, expected_utc: datetime) -> None:
    assert CALENDAR.scheduled_at(day) == expected_utc


def test_mondays_digest_covers_the_weekend() -> None:
    start, end = CALENDAR.period(date(2026, 11, 23))  # a Monday
    assert start == CALENDAR.scheduled_at(date(2026, 11, 20))  # Friday 07:00
    assert end == CALENDAR.scheduled_at(date(2026, 11, 23))


def test_no_digest_on_weekends_or_holidays_and_the_next_covers_them() -> None:
    assert not CALENDAR.is_digest_day(date(2026, 11, 21))  # Saturday
    assert not CALENDAR.is_digest_day(date(2026, 11, 11))  # Armistice, a Wednesday
    start, _ = CALENDAR.period(date(2026, 11, 12))
    assert start == CALENDAR.scheduled_at(date(2026, 11, 10))


def test_belgian_holidays_follow_easter() -> None:
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2027) == date(2027, 3, 28)
    holidays = belgian_public_holidays(2026)
    assert {date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25)} <= holidays
    assert len(holidays) == 10


def test_catch_up_after_downtime_takes_the_latest_missed_digest_only() -> None:
    # Down from Friday evening to Monday 09:30 Brussels time: Monday's digest is due.
    assert CALENDAR.latest_due(utc(2026, 11, 23, 8, 30)) == date(2026, 11, 23)
    # Back at Monday 06:30 (before 07:00): Friday's was the last due one.
    assert CALENDAR.latest_due(utc(2026, 11, 23, 5, 30)) == date(2026, 11, 20)


def test_next_run_skips_weekend_and_holiday() -> None:
    assert CALENDAR.next_after(utc(2026, 11, 20, 7, 0)) == CALENDAR.scheduled_at(date(2026, 11, 23))
    assert CALENDAR.next_after(utc(2026, 11, 10, 7, 0)) == CALENDAR.scheduled_at(date(2026, 11, 12))


def test_news_published_after_the_digest_time_goes_into_the_next_digest() -> None:
    # Monday 09:00 Brussels: Monday's digest has gone, the next is Tuesday's.
    assert CALENDAR.upcoming_day(utc(2026, 11, 23, 8, 0)) == date(2026, 11, 24)
    # Monday 06:00 Brussels: Monday's digest is still to come.
    assert CALENDAR.upcoming_day(utc(2026, 11, 23, 5, 0)) == date(2026, 11, 23)
    # Friday evening: Monday's.
    assert CALENDAR.upcoming_day(utc(2026, 11, 20, 18, 0)) == date(2026, 11, 23)
